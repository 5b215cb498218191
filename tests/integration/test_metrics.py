"""GET /metrics (API.md §6) and GET /api/v1/openapi.json (API.md §7)."""

import os
import re
import signal
import subprocess
import time
import unittest

import harness
from harness import ALL_PROCS, SERVICES, ClusterTest

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?[0-9]+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
           float("inf")]


def parse_metrics(text):
    """-> (helps {family: n}, types {family: (n, type)}, samples [(name, labels, value)])"""
    helps, types, samples = {}, {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP "):
            fam = line.split()[2]
            helps[fam] = helps.get(fam, 0) + 1
        elif line.startswith("# TYPE "):
            parts = line.split()
            fam = parts[2]
            n = types.get(fam, (0, None))[0]
            types[fam] = (n + 1, parts[3] if len(parts) > 3 else None)
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE_RE.match(line)
            if not m:
                raise AssertionError("unparsable metrics line: %r" % line)
            labels = dict(LABEL_RE.findall(m.group(3) or ""))
            samples.append((m.group(1), labels, m.group(4)))
    return helps, types, samples


def family_of(name, types):
    if name in types:
        return name
    for suf in ("_bucket", "_sum", "_count", "_total", "_created"):
        if name.endswith(suf) and name[:-len(suf)] in types:
            return name[:-len(suf)]
    return None


class MetricsTest(ClusterTest):

    def fetch(self):
        # some traffic so that the gateway's request series exist
        c = self.cluster
        c.admin_req("GET", "/api/v1/admin/settings")
        c.request("GET", "/nope")
        c.request("GET", "/api/v1/admin/health")
        r = c.request("GET", "/metrics")
        self.assertStatus(r, 200)
        return r, r.raw.decode()

    def test_content_type(self):
        r, _ = self.fetch()
        self.assertEqual(r.headers.get("Content-Type"),
                         "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")

    def test_promtool(self):
        tool = harness.find_promtool()
        if not tool:
            self.skipTest("promtool not found (neither on PATH nor at "
                          "build/tools/usr/bin/promtool)")
        _, text = self.fetch()
        p = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, "promtool check metrics failed:\n%s"
                         % p.stdout.decode(errors="replace")[:3000])

    def test_one_help_and_type_per_family(self):
        _, text = self.fetch()
        helps, types, samples = parse_metrics(text)
        for fam, n in helps.items():
            self.assertEqual(n, 1, "family %s has %d HELP lines" % (fam, n))
        for fam, (n, _) in types.items():
            self.assertEqual(n, 1, "family %s has %d TYPE lines" % (fam, n))
        self.assertEqual(set(helps), set(types))
        for name, labels, _ in samples:
            self.assertIsNotNone(family_of(name, types), "sample %s has no TYPE" % name)

    def test_every_series_has_service_label(self):
        _, text = self.fetch()
        _, _, samples = parse_metrics(text)
        for name, labels, _ in samples:
            self.assertIn("service", labels, "%s %r has no service label" % (name, labels))
            self.assertIn(labels["service"], ALL_PROCS, (name, labels))

    def series(self, samples, name, **want):
        return [(lb, v) for n, lb, v in samples
                if n == name and all(lb.get(k) == v2 for k, v2 in want.items())]

    def test_every_service_present(self):
        _, text = self.fetch()
        _, types, samples = parse_metrics(text)
        for s in ALL_PROCS:
            up = self.series(samples, "busbase_service_up", service=s)
            self.assertEqual(len(up), 1, "busbase_service_up{service=%r}: %r" % (s, up))
            self.assertEqual(float(up[0][1]), 1.0, "%s is not up" % s)
            bi = self.series(samples, "busbase_build_info", service=s)
            self.assertEqual(len(bi), 1, "busbase_build_info{service=%r}: %r" % (s, bi))
            self.assertEqual(float(bi[0][1]), 1.0)
            self.assertIn("version", bi[0][0])
            for pm in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                       "process_open_fds", "process_start_time_seconds"):
                self.assertTrue(self.series(samples, pm, service=s),
                                "%s{service=%r} missing" % (pm, s))
        for s in SERVICES:
            br = self.series(samples, "busbase_bus_requests_total", service=s)
            self.assertTrue(br, "busbase_bus_requests_total{service=%r} missing" % s)
            for lb, _ in br:
                self.assertIn("op", lb)
                self.assertIn(lb.get("result"), ("ok", "error"), lb)
            self.assertTrue(self.series(samples, "busbase_db_size_bytes", service=s),
                            "busbase_db_size_bytes{service=%r} missing" % s)
        self.assertTrue(self.series(samples, "busbase_settings_changes_total",
                                    service="admin"))
        for fam, typ in (("busbase_service_up", "gauge"), ("busbase_build_info", "gauge"),
                         ("busbase_bus_requests_total", "counter"),
                         ("busbase_http_requests_total", "counter"),
                         ("busbase_http_request_duration_seconds", "histogram"),
                         ("busbase_bus_request_duration_seconds", "histogram"),
                         ("busbase_pending_requests", "gauge")):
            self.assertIn(fam, types, "family %s missing" % fam)
            self.assertEqual(types[fam][1], typ, fam)

    def test_gateway_http_series(self):
        _, text = self.fetch()
        _, _, samples = parse_metrics(text)
        reqs = self.series(samples, "busbase_http_requests_total", service="gateway")
        self.assertTrue(reqs, "no busbase_http_requests_total")
        routes = {lb.get("route") for lb, _ in reqs}
        self.assertIn("/api/v1/admin/settings", routes)
        self.assertIn("unmatched", routes)
        for lb, _ in reqs:
            self.assertIn("method", lb)
            self.assertRegex(lb.get("status", ""), r"^[1-5][0-9][0-9]$")
        # histogram buckets exactly as §6 says
        b = self.series(samples, "busbase_http_request_duration_seconds_bucket",
                        service="gateway", route="/api/v1/admin/settings", method="GET")
        self.assertEqual([float(lb["le"]) for lb, _ in b], BUCKETS,
                         "http duration buckets: %r" % [lb.get("le") for lb, _ in b])
        vals = [float(v) for _, v in b]
        self.assertEqual(vals, sorted(vals), "buckets are not cumulative")
        bb = self.series(samples, "busbase_bus_request_duration_seconds_bucket",
                         service="admin", op="settings.get")
        self.assertEqual([float(lb["le"]) for lb, _ in bb], BUCKETS,
                         "bus duration buckets: %r" % [lb.get("le") for lb, _ in bb])

    def test_service_down_reported_as_0(self):
        """A service that stays silent is left out and its service_up is 0."""
        pid = self.cluster.pid_of("storage")
        self.assertTrue(pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = self.cluster.request("GET", "/metrics")
            dt = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertStatus(r, 200)
        self.assertLess(dt, 3.0, "/metrics took %.2fs with one service silent" % dt)
        _, _, samples = parse_metrics(r.raw.decode())
        up = self.series(samples, "busbase_service_up", service="storage")
        self.assertEqual(len(up), 1, up)
        self.assertEqual(float(up[0][1]), 0.0)
        self.assertFalse(self.series(samples, "busbase_build_info", service="storage"),
                         "a silent service's series should be left out")
        self.assertEqual(float(self.series(samples, "busbase_service_up",
                                           service="data")[0][1]), 1.0)


class OpenApiTest(ClusterTest):

    def test_openapi(self):
        r = self.cluster.request("GET", "/api/v1/openapi.json")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Type"), "application/json; charset=utf-8")
        d = r.body
        self.assertIsInstance(d, dict, r.raw[:200])
        self.assertEqual(d.get("openapi"), "3.1.0")
        self.assertEqual(d.get("info", {}).get("title"), "BusBase API")
        self.assertIsInstance(d["info"].get("version"), str)
        paths = d.get("paths", {})
        self.assertIn("/api/v1/admin/settings", paths)
        self.assertIn("get", paths["/api/v1/admin/settings"])
        self.assertIn("patch", paths["/api/v1/admin/settings"])
        self.assertIn("/api/v1/auth/login", paths)
        self.assertIn("/api/v1/{collection}/{id}", paths)
        self.assertNotIn("/realtime", paths)
        sch = d.get("components", {}).get("securitySchemes", {})
        for k in ("bearerAuth", "apiKey", "adminSecret"):
            self.assertIn(k, sch, "security scheme %s missing" % k)
        self.assertEqual(sch["apiKey"].get("type"), "apiKey")
        self.assertEqual(sch["apiKey"].get("in"), "header")
        self.assertEqual(sch["apiKey"].get("name"), "X-API-Key")
        self.assertEqual(sch["bearerAuth"].get("scheme", "").lower(), "bearer")
        self.assertEqual(sch["adminSecret"].get("scheme", "").lower(), "bearer")

    def test_openapi_covers_route_table(self):
        rt = os.path.join(harness.ROOT, "proto", "routes.def")
        if not os.path.exists(rt):
            self.skipTest("proto/routes.def not found")
        want = []
        for line in open(rt):
            m = re.match(r'\s*LC_ROUTE\(\s*(\w+)\s*,\s*"([^"]+)"', line)
            if m and m.group(2).startswith("/api/v1/") and m.group(2) != "/api/v1/openapi.json":
                tmpl = re.sub(r":(\w+)", r"{\1}", m.group(2))
                want.append((m.group(1).lower(), tmpl))
        self.assertGreater(len(want), 50)
        paths = self.cluster.request("GET", "/api/v1/openapi.json").body["paths"]
        missing = [(m, p) for m, p in want if p not in paths or m not in paths[p]]
        self.assertFalse(missing, "openapi lacks: %r" % missing[:20])

    def test_openapi_exempt_and_no_credentials(self):
        r = self.cluster.request("GET", "/api/v1/openapi.json", token="garbage")
        self.assertStatus(r, 200)

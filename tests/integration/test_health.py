"""GET /api/v1/admin/health, /healthz, GET /api/v1/admin/stats (API.md §5.9)."""

import time

from harness import ALL_PROCS, SERVICES, ClusterTest, is_int


class HealthTest(ClusterTest):

    def test_health_all_six_ok(self):
        r = self.cluster.request("GET", "/api/v1/admin/health")
        self.assertStatus(r, 200)
        b = r.body
        self.assertIsInstance(b, dict, r.raw)
        self.assertEqual(b.get("status"), "ok", b)
        self.assertIsInstance(b.get("version"), str, b)
        self.assertTrue(is_int(b.get("time")), b)
        self.assertLess(abs(b["time"] - time.time() * 1000), 60000,
                        "time is not Unix milliseconds: %r" % b["time"])
        self.assertEqual(set(b.get("services", {})), set(ALL_PROCS), b)
        for s in ALL_PROCS:
            e = b["services"][s]
            self.assertEqual(e.get("status"), "ok", (s, e))
            self.assertTrue(is_int(e.get("latency_ms")),
                            "%s latency_ms is not an integer: %r" % (s, e))
            self.assertGreaterEqual(e["latency_ms"], 0)

    def test_health_no_credentials_needed_and_json_headers(self):
        r = self.cluster.request("GET", "/api/v1/admin/health")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Type"),
                         "application/json; charset=utf-8")
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        # a valid admin secret changes nothing
        r = self.cluster.admin_req("GET", "/api/v1/admin/health")
        self.assertStatus(r, 200)

    def test_healthz_gateway_liveness(self):
        r = self.cluster.request("GET", "/healthz")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")

    def test_stats(self):
        # make some traffic first so the request counters are > 0
        for _ in range(3):
            self.cluster.request("GET", "/healthz")
        r = self.cluster.admin_req("GET", "/api/v1/admin/stats")
        self.assertStatus(r, 200)
        b = r.body
        self.assertIsInstance(b, dict, r.raw)
        for k in ("users", "sessions", "api_keys", "collections", "records",
                  "files", "storage_bytes"):
            self.assertIn(k, b, "stats lacks %r: %r" % (k, b))
            v = b[k]
            self.assertTrue(v is None or (is_int(v) and v >= 0),
                            "%s = %r is neither null nor a count" % (k, v))
        self.assertTrue(is_int(b.get("uptime_s")) and b["uptime_s"] >= 0, b)
        self.assertEqual(set(b.get("services", {})), set(ALL_PROCS), b)
        for s in ALL_PROCS:
            e = b["services"][s]
            self.assertEqual(e.get("status"), "ok", (s, e))
            self.assertTrue(is_int(e.get("uptime_s")) and e["uptime_s"] >= 0, (s, e))
            self.assertTrue(is_int(e.get("requests")) and e["requests"] >= 0, (s, e))
        self.assertGreaterEqual(b["services"]["gateway"]["requests"], 3, b)
        # every service has answered at least the health probes
        for s in SERVICES:
            self.assertGreaterEqual(b["services"][s]["requests"], 1, (s, b))
        self.assertLessEqual(
            abs(b["uptime_s"] - b["services"]["gateway"]["uptime_s"]), 1,
            "uptime_s is not the gateway's uptime: %r" % b)

    def test_stats_needs_admin(self):
        r = self.cluster.request("GET", "/api/v1/admin/stats")
        self.assertError(r, 401, "auth_required")

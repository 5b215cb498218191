"""POST /api/v1/admin/restart (API.md §5.8 "Restart")."""

import time

from harness import ALL_PROCS, SERVICES, ClusterTest, is_int

R = "/api/v1/admin/restart"


class RestartTest(ClusterTest):

    def started_ms(self, svc):
        r = self.cluster.ctl_call(svc, "svc.info")
        if r.status != 200 or not isinstance(r.body, dict):
            return None
        return r.body.get("started_ms")

    def wait_restarted(self, svc, before, timeout=30):
        end = time.monotonic() + timeout
        cur = None
        while time.monotonic() < end:
            cur = self.started_ms(svc)
            if is_int(cur) and cur > before:
                return cur
            time.sleep(0.2)
        self.fail("%s did not restart within %ds (started_ms %r -> %r)"
                  % (svc, timeout, before, cur))

    def test_bad_service(self):
        for q in ("?service=nope", "?service=DATA", "?service=data,auth"):
            r = self.cluster.admin_req("POST", R + q)
            self.assertError(r, 400, "validation_error", "service", msg=q)

    def test_restart_one(self):
        c = self.cluster
        info = c.ctl_call("data", "svc.info")
        self.assertEqual(info.status, 200, info)
        for k in ("service", "pid", "uptime_s", "requests", "started_ms", "version"):
            self.assertIn(k, info.body)
        before = info.body["started_ms"]
        others = {s: self.started_ms(s) for s in SERVICES if s != "data"}
        t0 = time.monotonic()
        r = c.admin_req("POST", R + "?service=data")
        self.assertStatus(r, 202)
        self.assertEqual(r.body, {"ok": True, "services": ["data"]})
        self.wait_restarted("data", before)
        c.wait_healthy(30)
        self.assertLess(time.monotonic() - t0, 30)
        for s, v in others.items():
            self.assertEqual(self.started_ms(s), v, "%s restarted too" % s)

    def test_restart_admin_itself(self):
        c = self.cluster
        before = self.started_ms("admin")
        r = c.admin_req("POST", R + "?service=admin")
        self.assertStatus(r, 202)
        self.assertEqual(r.body, {"ok": True, "services": ["admin"]})
        self.wait_restarted("admin", before)
        c.wait_healthy(30)
        self.assertStatus(c.admin_req("GET", "/api/v1/admin/settings"), 200)

    def test_z_restart_all(self):
        c = self.cluster
        before = {s: self.started_ms(s) for s in SERVICES}
        for _ in range(150):
            c.request("GET", "/healthz")
        st = c.admin_req("GET", "/api/v1/admin/stats").body
        gw_before = st["services"]["gateway"]["requests"]
        self.assertGreaterEqual(gw_before, 150)
        r = c.admin_req("POST", R)
        self.assertStatus(r, 202)
        self.assertEqual(r.body, {"ok": True, "services": list(ALL_PROCS)})
        for s in SERVICES:
            self.wait_restarted(s, before[s])
        c.wait_healthy(30)
        st = c.admin_req("GET", "/api/v1/admin/stats").body
        self.assertLess(st["services"]["gateway"]["requests"], gw_before,
                        "the gateway's request counter did not restart")

"""A settings PATCH is in effect in every process before its 200 (API.md §5.8
"Propagation"; PLAN.md settings propagation)."""

import os
import signal
import threading
import time
import unittest

from harness import ALL_PROCS, SERVICES, Cluster, ClusterTest, is_int

S = "/api/v1/admin/settings"


def parallel(fns):
    out = [None] * len(fns)

    def run(i, f):
        out[i] = f()
    ts = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


class PropagationTest(ClusterTest):

    def snapshot_version(self):
        r = self.cluster.ctl_call("admin", "settings.snapshot")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(is_int(r.body.get("version")), r.body)
        self.assertIsInstance(r.body.get("settings"), dict, r.body)
        return r.body["version"], r.body["settings"]

    def test_every_service_has_the_version_at_200(self):
        prev, _ = self.snapshot_version()
        for i in range(3):
            r = self.cluster.admin_req("PATCH", S, {"app_name": "prop-%d" % i})
            self.assertStatus(r, 200)
            # ask every service at once, right after the 200
            calls = [lambda s=s: self.cluster.ctl_call(s, "svc.settings")
                     for s in SERVICES]
            calls.append(lambda: self.cluster.ctl_call("admin", "settings.snapshot"))
            res = parallel(calls)
            snap = res[-1]
            self.assertEqual(snap.status, 200, snap)
            v = snap.body["version"]
            self.assertEqual(snap.body["settings"]["app_name"], "prop-%d" % i)
            self.assertGreater(v, prev, "settings version did not increase")
            prev = v
            for s, rr in zip(SERVICES, res[:-1]):
                self.assertEqual(rr.status, 200, (s, rr))
                self.assertEqual(rr.body.get("service"), s, rr.body)
                self.assertEqual(rr.body.get("version"), v,
                                 "%s has settings version %r after the 200, "
                                 "admin has %r" % (s, rr.body.get("version"), v))

    def test_gateway_enforces_on_the_next_request(self):
        try:
            for _ in range(3):
                r = self.cluster.admin_req("PATCH", S, {"maintenance_mode": True})
                self.assertStatus(r, 200)
                n = self.cluster.request("GET", "/api/v1/posts")
                self.assertEqual(n.status, 503, n.body)
                self.assertEqual(n.body.get("code"), "maintenance", n.body)
                r = self.cluster.admin_req("PATCH", S, {"maintenance_mode": False})
                self.assertStatus(r, 200)
                n = self.cluster.request("GET", "/api/v1/posts")
                code = n.body.get("code") if isinstance(n.body, dict) else None
                self.assertNotEqual(code, "maintenance",
                                    "maintenance still on after the 200")
        finally:
            self.cluster.admin_req("PATCH", S, {"maintenance_mode": False})

    def test_patch_waits_for_a_silent_service(self):
        """A respondent that does not answer (SIGSTOP) delays the 200 until
        the survey times out; once it runs again it catches up."""
        pid = self.cluster.pid_of("hooks")
        self.assertTrue(pid, "no busbase-hooks process: %r" % self.cluster.children())
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = self.cluster.admin_req("PATCH", S, {"app_name": "while-stopped"})
            dt = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertStatus(r, 200)
        self.assertGreaterEqual(dt, 1.0,
                                "PATCH answered in %.2fs although hooks could not "
                                "confirm: admin does not wait for confirmations" % dt)
        self.assertLess(dt, 8.0, "PATCH took %.2fs" % dt)
        v, _ = self.snapshot_version()
        end = time.monotonic() + 5
        got = None
        while time.monotonic() < end:
            rr = self.cluster.ctl_call("hooks", "svc.settings")
            got = rr.body.get("version") if isinstance(rr.body, dict) else None
            if got == v:
                break
            time.sleep(0.1)
        self.assertEqual(got, v, "hooks did not catch up after SIGCONT")


class StartupReadinessTest(unittest.TestCase):
    """Once GET /api/v1/admin/health first answers 200 with every service
    ok, the system is ready: the gateway reaches every service, and a
    settings PATCH is confirmed by every process before its 200."""

    def test_ready_when_healthy(self):
        c = Cluster()
        try:
            c.start(wait=False)
            c.wait_healthy(15, ready=False)
            r = c.admin_req("PATCH", S, {"maintenance_mode": True})
            self.assertEqual(r.status, 200, r.body)
            n = c.request("GET", "/api/v1/posts")
            self.assertEqual(n.status, 503, n.body)
            self.assertEqual(n.body.get("code"), "maintenance",
                             "the gateway missed a PATCH made right after health 200")
            snap = c.ctl_call("admin", "settings.snapshot")
            for s in SERVICES:
                v = c.ctl_call(s, "svc.settings")
                self.assertEqual(v.body.get("version"), snap.body["version"],
                                 "%s missed a PATCH made right after health 200" % s)
            m = c.request("GET", "/metrics").raw.decode()
            for s in ALL_PROCS:
                self.assertRegex(m, r'(?m)^busbase_service_up\{[^}]*service="%s"[^}]*\} 1(\.0)?$' % s,
                                 "/metrics right after health 200: %s not up" % s)
            st = c.admin_req("GET", "/api/v1/admin/stats").body
            for s in ALL_PROCS:
                self.assertEqual(st["services"][s]["status"], "ok",
                                 "stats right after health 200: %r" % st["services"])
        finally:
            c.close()

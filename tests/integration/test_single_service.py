"""One service started alone (busbase-admin), driven over the bus with
busbasectl: no gateway, no launcher, no peers (issue 2 Tests)."""

import os
import time
import unittest

from harness import Service, is_int, pids_with_data_dir
from test_settings import DEFAULTS


class AdminAloneTest(unittest.TestCase):
    svc = None

    @classmethod
    def setUpClass(cls):
        cls.svc = Service("admin")
        try:
            cls.svc.start()
        except Exception:
            cls.svc.stop()
            cls.svc.remove()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.svc is not None:
            cls.svc.stop()
            cls.svc.remove()

    def call(self, op, body=None):
        return self.svc.ctl_call("admin", op, body)

    def test_alone(self):
        names = set(pids_with_data_dir(self.svc.data_dir).values())
        self.assertEqual(names, {"busbase-admin"}, names)

    def test_health(self):
        r = self.call("svc.health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.get("status"), "ok")
        self.assertEqual(r.body.get("service"), "admin")
        self.assertTrue(is_int(r.body.get("uptime_s")), r.body)

    def test_info(self):
        r = self.call("svc.info")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.get("service"), "admin")
        self.assertEqual(r.body.get("pid"), self.svc.proc.pid)
        self.assertTrue(is_int(r.body.get("started_ms")))

    def test_metrics(self):
        r = self.call("svc.metrics")
        self.assertEqual(r.status, 200, r)
        fams = r.body.get("families")
        self.assertIsInstance(fams, list, r.body)
        self.assertTrue(fams, "no metric families")
        text = repr(fams)
        self.assertIn("busbase_build_info", text)
        self.assertIn("busbase_bus_requests_total", text)

    def test_settings_get(self):
        r = self.call("settings.get")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body), set(DEFAULTS))

    def test_settings_patch_quick(self):
        t0 = time.monotonic()
        r = self.call("settings.patch", {"app_name": "Alone", "smtp_port": 2600})
        dt = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["app_name"], "Alone")
        self.assertEqual(r.body["smtp_port"], 2600)
        self.assertLess(dt, 1.5, "settings.patch with no peers took %.2fs" % dt)
        g = self.call("settings.get")
        self.assertEqual(g.body["app_name"], "Alone")
        s = self.call("settings.snapshot")
        self.assertEqual(s.status, 200, s)
        self.assertEqual(s.body["settings"]["app_name"], "Alone")
        v = self.call("svc.settings")
        self.assertEqual(v.status, 200, v)
        self.assertEqual(v.body.get("version"), s.body["version"])

    def test_settings_patch_invalid(self):
        r = self.call("settings.patch", {"smtp_port": 0})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.body.get("code"), "validation_error")
        self.assertEqual(r.body.get("field"), "smtp_port")

    def test_unknown_op(self):
        r = self.call("nope.nothing")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.body.get("code"), "not_found")
        self.assertEqual(r.body.get("error"), "Operation 'nope.nothing' is not available.")
        self.assertEqual(self.svc.proc.poll(), None, "admin died")


class AloneNeedsSecretsTest(unittest.TestCase):

    """API.md §1.12: a service started on its own without the secrets
    refuses to start."""

    def _refused(self, name="admin", **kw):
        s = Service(name, **kw)
        try:
            s.start(wait=False)
            try:
                rc = s.proc.wait(5)
            except Exception:
                self.fail("busbase-%s started alone kept running: %r" % (name, kw))
            self.assertNotEqual(rc, 0)
        finally:
            s.stop()
            s.remove()

    def test_admin_refuses_without_secrets(self):
        self._refused("admin", secrets=False)

    def test_auth_refuses_without_secrets(self):
        self._refused("auth", secrets=False)

    def test_refuses_short_secret_key(self):
        self._refused("admin", env_extra={"SECRET_KEY": "too-short"})

    def test_refuses_short_admin_secret(self):
        self._refused("auth", env_extra={"ADMIN_SECRET": "short"})

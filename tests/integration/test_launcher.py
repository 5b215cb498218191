"""The launcher: clean stop, settings across a full restart, generated
secrets, refused short secrets, child log prefixes (issue 2 item 7,
API.md §1.12)."""

import os
import re
import shutil
import stat
import time
import unittest

from harness import ALL_PROCS, Checks, Cluster, pids_with_data_dir


def find_file(root, name):
    for d, _, files in os.walk(root):
        if name in files:
            return os.path.join(d, name)
    return None


def parse_env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            if line.startswith("export "):
                line = line[7:]
            k, v = line.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out[k.strip()] = v
    return out


class LauncherTest(Checks, unittest.TestCase):
    cluster = None

    def tearDown(self):
        if self.cluster is not None:
            self.cluster.close()

    def test_settings_survive_full_restart(self):
        c = self.cluster = Cluster()
        c.start()
        c.patch_settings({"app_name": "Persisted", "smtp_port": 2465,
                          "smtp_pass": "persisted-secret"})
        snap = c.ctl_call("admin", "settings.snapshot")
        self.assertEqual(snap.status, 200, snap)
        audit = c.admin_req("GET", "/api/v1/admin/settings/audit").body
        rc = c.stop()
        self.assertEqual(rc, 0, "launcher exit code on SIGTERM")
        self.assertEqual(c.leftovers, {}, "processes outlived the launcher")
        c.start()
        r = c.admin_req("GET", "/api/v1/admin/settings")
        self.assertStatus(r, 200)
        self.assertEqual(r.body["app_name"], "Persisted")
        self.assertEqual(r.body["smtp_port"], 2465)
        self.assertEqual(r.body["smtp_pass"], "********")
        snap2 = c.ctl_call("admin", "settings.snapshot")
        self.assertEqual(snap2.body["version"], snap.body["version"])
        self.assertEqual(snap2.body["settings"]["smtp_pass"], "persisted-secret")
        # every service follows the stored version after the restart
        for s in ("auth", "data", "storage", "hooks"):
            v = c.ctl_call(s, "svc.settings")
            self.assertEqual(v.body.get("version"), snap.body["version"], (s, v))
        self.assertEqual(c.admin_req("GET", "/api/v1/admin/settings/audit").body, audit)

    def test_sigterm_stops_everything(self):
        c = self.cluster = Cluster()
        c.start()
        kids = c.children()
        self.assertEqual(set(kids), set(ALL_PROCS), "children: %r" % kids)
        t0 = time.monotonic()
        rc = c.stop(timeout=15)
        self.assertLess(time.monotonic() - t0, 12)
        self.assertEqual(rc, 0)
        self.assertEqual(c.leftovers, {})

    def test_child_log_prefixes(self):
        c = self.cluster = Cluster()
        c.start()
        time.sleep(0.3)
        log = c.log_text()
        for name in ALL_PROCS:
            self.assertRegex(log, r"(?m)^\[%s\] " % name,
                             "no line prefixed with [%s]" % name)

    def test_generated_secrets(self):
        c = self.cluster = Cluster(secrets=False)
        c.start()
        path = find_file(c.data_dir, "secrets.env")
        self.assertIsNotNone(path, "no secrets.env under DATA_DIR: %r"
                             % sorted(os.listdir(c.data_dir)))
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, "secrets.env mode %o" % mode)
        env = parse_env_file(path)
        admin = env.get("ADMIN_SECRET", "")
        key = env.get("SECRET_KEY", "")
        self.assertGreaterEqual(len(admin), 16, env.keys())
        self.assertGreaterEqual(len(key), 32)
        log = c.log_text()
        self.assertEqual(log.count(admin), 1,
                         "the admin secret should be printed exactly once")
        self.assertNotIn(key, log, "SECRET_KEY printed")
        with open(path, "rb") as f:
            content = f.read()
        r = c.request("GET", "/api/v1/admin/settings", token=admin)
        self.assertStatus(r, 200)
        r = c.request("GET", "/api/v1/admin/settings", token=admin + "x")
        self.assertEqual(r.status, 401)
        # reused on the next start
        c.stop()
        mark = len(c.log_text())
        c.start()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), content, "secrets.env changed on restart")
        r = c.request("GET", "/api/v1/admin/settings", token=admin)
        self.assertStatus(r, 200)
        self.assertNotIn(key, c.log_text()[mark:])

    def _refused(self, extra, var):
        c = self.cluster = Cluster(env_extra=extra)
        c.start(wait=False)
        try:
            rc = c.proc.wait(10)
        except Exception:
            self.fail("launcher kept running with a too-short %s" % var)
        self.assertNotEqual(rc, 0)
        log = c.log_text()
        self.assertIn(var, log, "the message should name %s" % var)
        time.sleep(0.2)
        left = pids_with_data_dir(c.data_dir)
        self.assertEqual(left, {}, "processes left running: %r" % left)

    def test_short_secret_key_refused(self):
        self._refused({"SECRET_KEY": "x" * 31}, "SECRET_KEY")

    def test_short_admin_secret_refused(self):
        self._refused({"ADMIN_SECRET": "short-secret"}, "ADMIN_SECRET")

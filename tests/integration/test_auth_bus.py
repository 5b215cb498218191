"""busbase-auth started ALONE (no launcher, gateway or admin) and driven
over the bus with busbasectl (ARCHITECTURE.md §8 "One service alone";
proto/README.md envelopes; the ops of proto/messages.def answer with the
statuses and bodies of API.md §2.10, §5.2, §5.3)."""

import os
import tempfile
import time
import unittest

from authlib import (AUTHRESULT_KEYS, PASSWORD, USER_KEYS, MailBox, jwt_decode,
                     uniq_email)
from harness import Checks, Service, pids_with_data_dir

ANON = {"kind": "anon"}
ADMIN = {"kind": "admin"}


class AuthAloneTest(Checks, unittest.TestCase):
    svc = None

    @classmethod
    def setUpClass(cls):
        fd, cls.mail_path = tempfile.mkstemp(prefix="bbmail", suffix=".jsonl", dir="/tmp")
        os.close(fd)
        cls.mailbox = MailBox(cls.mail_path)
        cls.svc = Service("auth", env_extra={"EMAIL_CONSOLE_FILE": cls.mail_path})
        try:
            # Without admin (the settings source) svc.health says 503
            # "starting" for good; the ops answer on default settings.
            cls.svc.start(wait=False)
            end = time.monotonic() + 10
            while True:
                if cls.svc.proc.poll() is not None:
                    raise RuntimeError("busbase-auth exited: %s" % cls.svc.log_tail())
                r = cls.svc.ctl_call("auth", "svc.health", timeout=3)
                if r.status in (200, 503) and isinstance(r.body, dict) \
                        and r.body.get("service") == "auth":
                    break
                if time.monotonic() > end:
                    raise RuntimeError("busbase-auth does not answer: %r" % (r,))
                time.sleep(0.05)
        except Exception:
            cls.svc.stop()
            cls.svc.remove()
            os.unlink(cls.mail_path)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.svc is not None:
            cls.svc.stop()
            cls.svc.remove()
        try:
            os.unlink(cls.mail_path)
        except OSError:
            pass

    def call(self, op, body=None, caller=ANON, params=None, query=None):
        r = self.svc.ctl_call("auth", op, body, caller=caller, params=params, query=query)
        self.assertEqual(r.rc, 0, "busbasectl failed: %r" % (r,))
        return r

    def user_caller(self, ar):
        c = jwt_decode(ar["access_token"])[1]
        return {"kind": "user", "uid": c["sub"], "sid": c["sid"], "email": c["email"],
                "roles": [], "verified": False}

    def register(self, email=None):
        email = email or uniq_email("bus")
        r = self.call("auth.register", {"email": email, "password": PASSWORD})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(set(r.body), AUTHRESULT_KEYS, r.body)
        self.assertEqual(r.body["user"]["email"], email)
        return r.body

    def assertBusError(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, r)
        self.assertEqual(r.body.get("code"), code, r.body)
        self.assertIsInstance(r.body.get("error"), str, r.body)
        if field is not None:
            self.assertEqual(r.body.get("field"), field, r.body)

    def test_alone(self):
        names = set(pids_with_data_dir(self.svc.data_dir).values())
        self.assertEqual(names, {"busbase-auth"}, names)
        r = self.call("svc.health", caller=None)
        self.assertIn(r.status, (200, 503), r)
        self.assertEqual(r.body.get("service"), "auth")
        self.assertIn(r.body.get("status"), ("ok", "starting"), r.body)

    def test_register_login_refresh(self):
        email = uniq_email("bus")
        a = self.register(email)
        self.assertEqual(set(a["user"]), USER_KEYS)
        self.assertIs(a["user"]["is_verified"], False)
        self.assertEqual(a["expires_in"], 900)
        r = self.call("auth.register", {"email": email.upper(), "password": PASSWORD})
        self.assertBusError(r, 409, "email_taken")
        r = self.call("auth.register", {"email": "bad", "password": PASSWORD})
        self.assertBusError(r, 400, "validation_error", "email")
        r = self.call("auth.login", {"email": email, "password": PASSWORD})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["user"]["id"], a["user"]["id"])
        r = self.call("auth.login", {"email": email, "password": "wrong password"})
        self.assertBusError(r, 401, "invalid_credentials")
        self.assertEqual(r.body["error"], "Invalid email or password.")
        r = self.call("auth.refresh", {"refresh_token": a["refresh_token"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(jwt_decode(r.body["access_token"])[1]["sid"],
                         jwt_decode(a["access_token"])[1]["sid"])
        r = self.call("auth.refresh", {"refresh_token": a["refresh_token"]})
        self.assertBusError(r, 401, "refresh_token_reused")

    def test_me_and_logout(self):
        a = self.register()
        caller = self.user_caller(a)
        r = self.call("auth.me_get", caller=caller)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, a["user"])
        r = self.call("auth.session_check", {"uid": caller["uid"], "sid": caller["sid"]},
                      caller={"kind": "service"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.get("uid"), caller["uid"])
        r = self.call("auth.logout", caller=caller)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"ok": True})
        r = self.call("auth.session_check", {"uid": caller["uid"], "sid": caller["sid"]},
                      caller={"kind": "service"})
        self.assertBusError(r, 401, "session_revoked")
        r = self.call("auth.refresh", {"refresh_token": a["refresh_token"]})
        self.assertBusError(r, 401, "invalid_refresh_token")

    def test_admin_ops(self):
        email = uniq_email("busadm")
        a = self.register(email)
        uid = a["user"]["id"]
        r = self.call("users.list", caller=ADMIN, query={"search": email.split("@")[0]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["total"], 1)
        self.assertEqual(r.body["items"][0]["id"], uid)
        r = self.call("users.get", caller=ADMIN, params={"id": uid})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, a["user"])
        r = self.call("users.set_roles", {"roles": ["x", "x", "y"]}, caller=ADMIN,
                      params={"id": uid})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["roles"], ["x", "y"])
        r = self.call("sessions.list", caller=ADMIN, query={"user_id": uid})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["total"], 1)
        r = self.call("users.delete", caller=ADMIN, params={"id": uid})
        self.assertEqual(r.status, 200, r)
        r = self.call("users.get", caller=ADMIN, params={"id": uid})
        self.assertBusError(r, 404, "not_found")

    def test_verify_email_over_the_bus(self):
        email = uniq_email("busmail")
        a = self.register(email)
        m = self.mailbox.wait(email, "verify_email")
        r = self.call("auth.verify_email", {"token": m["token"]})
        self.assertEqual(r.status, 200, r)
        r = self.call("auth.me_get", caller=self.user_caller(a))
        self.assertIs(r.body["is_verified"], True)
        r = self.call("auth.verify_email", {"token": m["token"]})
        self.assertBusError(r, 400, "invalid_email_token")

    def test_unknown_op(self):
        r = self.call("auth.nope", caller=None)
        self.assertBusError(r, 404, "not_found")
        self.assertEqual(r.body["error"], "Operation 'auth.nope' is not available.")
        self.assertIsNone(self.svc.proc.poll(), "auth died")

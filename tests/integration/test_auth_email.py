"""E-mail tokens with the console provider (API.md §2.8, §2.10): verify,
resend, forgot/reset, magic links (sign-up, sign-in, takeover), replay,
registration_closed. Tokens are read from EMAIL_CONSOLE_FILE."""

import time

from authlib import (EMAIL_TOKEN_RE, PASSWORD, AuthTest, jwt_decode,
                     uniq_email)
from harness import is_int

MAIL_KEYS = {"level", "event", "service", "kind", "to", "subject", "link",
             "token", "ts"}


class EmailTest(AuthTest):

    def assertMail(self, m, to, kind, subject, path):
        self.assertTrue(MAIL_KEYS <= set(m), "mail line keys: %r" % (m,))
        self.assertEqual(m["level"], "info")
        self.assertEqual(m["event"], "email")
        self.assertEqual(m["service"], "auth")
        self.assertEqual(m["kind"], kind)
        self.assertEqual(m["to"], to)
        self.assertEqual(m["subject"], subject)
        self.assertRegex(m["token"], EMAIL_TOKEN_RE)
        self.assertEqual(m["link"], "%s?token=%s" % (path, m["token"]))
        self.assertTrue(is_int(m["ts"]), m)
        self.assertLess(abs(m["ts"] - time.time() * 1000), 60000, "ts in ms")

    def assertNoMail(self, to, kind):
        """Nothing was (or will be) sent to `to`: a mail queued after it to a
        marker address arrives first, and a short grace period passes."""
        marker = self.register()["user"]["email"]
        self.mailbox.wait(marker, "verify_email")
        time.sleep(0.3)
        self.assertEqual(self.mailbox.find(to, kind), [], "unexpected %s mail to %s" % (kind, to))

    def magic(self, email):
        n = len(self.mailbox.find(email.strip().lower(), "magic_link"))
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": email}))
        return self.mailbox.wait(email.strip().lower(), "magic_link", after=n)

    def forgot(self, email):
        norm = email.strip().lower()
        n = len(self.mailbox.find(norm, "reset_password"))
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": email}))
        return self.mailbox.wait(norm, "reset_password", after=n)

    # ---- verify-email
    def test_verify_email(self):
        email = uniq_email("ver")
        a = self.register(email)
        m = self.mailbox.wait(email, "verify_email")
        self.assertMail(m, email, "verify_email", "BusBase: verify your email", "/verify-email")
        time.sleep(0.005)
        r = self.req("POST", "/auth/verify-email", {"token": m["token"]})
        self.assertOK(r)
        me = self.me(a["access_token"]).body
        self.assertIs(me["is_verified"], True)
        self.assertGreater(me["updated_at"], a["user"]["updated_at"])
        # single use
        r = self.req("POST", "/auth/verify-email", {"token": m["token"]})
        self.assertError(r, 400, "invalid_email_token")

    def test_verify_email_errors(self):
        for body in ({}, {"token": 5}, {"token": None}, {"token": ["x"]}):
            r = self.req("POST", "/auth/verify-email", body)
            self.assertError(r, 400, "validation_error", "token", msg=repr(body))
        for tok in ("x" * 43, "", "nope"):
            r = self.req("POST", "/auth/verify-email", {"token": tok})
            self.assertIn(r.status, (400,), r.body)
            self.assertIn(r.body.get("code"), ("invalid_email_token", "validation_error"), r.body)
        r = self.req("POST", "/auth/verify-email", {"token": "A" * 64})
        self.assertError(r, 400, "invalid_email_token")

    def test_tokens_bound_to_kind(self):
        email = uniq_email("kind")
        self.register(email)
        v = self.mailbox.wait(email, "verify_email")["token"]
        rs = self.forgot(email)["token"]
        self.assertNotEqual(v, rs)
        r = self.req("POST", "/auth/reset-password", {"token": v, "password": "new password 1"})
        self.assertError(r, 400, "invalid_email_token")
        r = self.req("POST", "/auth/verify-email", {"token": rs})
        self.assertError(r, 400, "invalid_email_token")
        r = self.req("POST", "/auth/magic-link/verify", {"token": v})
        self.assertError(r, 400, "invalid_email_token")
        # both still usable for their own purpose
        self.assertOK(self.req("POST", "/auth/verify-email", {"token": v}))
        self.assertOK(self.req("POST", "/auth/reset-password",
                               {"token": rs, "password": "new password 1"}))

    def test_links_use_app_url_and_name(self):
        self.settings(app_url="https://app.example.com/base/", app_name="My App")
        email = uniq_email("link")
        self.register(email)
        m = self.mailbox.wait(email, "verify_email")
        self.assertMail(m, email, "verify_email", "My App: verify your email",
                        "https://app.example.com/base/verify-email")
        m = self.forgot(email)
        self.assertMail(m, email, "reset_password", "My App: reset your password",
                        "https://app.example.com/base/reset-password")
        m = self.magic(email)
        self.assertMail(m, email, "magic_link", "My App: your sign-in link",
                        "https://app.example.com/base/magic-link")

    # ---- resend
    def test_resend_verification(self):
        email = uniq_email("rsd")
        a = self.register(email)
        first = self.mailbox.wait(email, "verify_email")
        r = self.req("POST", "/auth/resend-verification", token=a["access_token"])
        self.assertOK(r)
        second = self.mailbox.wait(email, "verify_email", after=1)
        self.assertMail(second, email, "verify_email", "BusBase: verify your email",
                        "/verify-email")
        self.assertNotEqual(first["token"], second["token"])
        # earlier tokens stay valid
        self.assertOK(self.req("POST", "/auth/verify-email", {"token": first["token"]}))
        r = self.req("POST", "/auth/resend-verification", token=a["access_token"])
        self.assertError(r, 400, "already_verified")
        self.assertError(self.admin("POST", "/auth/resend-verification"), 403, "user_required")
        self.assertError(self.req("POST", "/auth/resend-verification"), 401, "auth_required")

    # ---- forgot / reset
    def test_forgot_and_reset(self):
        email = uniq_email("fgt")
        a = self.register(email)
        key = self.new_key(a["access_token"])["key"]
        m = self.forgot(" " + email.upper() + " ")
        self.assertMail(m, email, "reset_password", "BusBase: reset your password",
                        "/reset-password")
        r = self.req("POST", "/auth/reset-password", {"token": m["token"], "password": "new password 2"})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, {"ok": True}, "no tokens are issued")
        self.assertRevoked(a["access_token"])
        self.assertKeyDead(key)
        self.assertError(self.login(email, check=False), 401, "invalid_credentials")
        b = self.login(email, "new password 2")
        self.assertIs(b["user"]["is_verified"], True, "reset sets is_verified")
        r = self.req("POST", "/auth/reset-password", {"token": m["token"], "password": "another one 3"})
        self.assertError(r, 400, "invalid_email_token")
        self.login(email, "new password 2")

    def test_forgot_unknown_sends_nothing(self):
        email = uniq_email("ghost")
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": email}))
        self.assertNoMail(email, None)

    def test_forgot_validation(self):
        for body in ({}, {"email": 5}, {"email": "not-an-email"}, {"email": "a@b"},
                     {"email": "x" * 250 + "@example.com"}):
            r = self.req("POST", "/auth/forgot-password", body)
            self.assertError(r, 400, "validation_error", "email", msg=repr(body))

    def test_reset_validation(self):
        email = uniq_email("rv")
        self.register(email)
        tok = self.forgot(email)["token"]
        for body, field in (({"password": "long enough"}, "token"),
                            ({"token": 5, "password": "long enough"}, "token"),
                            ({"token": tok}, "password"),
                            ({"token": tok, "password": "short"}, "password"),
                            ({"token": tok, "password": "p" * 129}, "password"),
                            ({"token": tok, "password": 12345678}, "password")):
            r = self.req("POST", "/auth/reset-password", body)
            self.assertError(r, 400, "validation_error", field, msg=repr(body)[:60])
        self.login(email)  # unchanged
        r = self.req("POST", "/auth/reset-password", {"token": "Z" * 60, "password": "long enough"})
        self.assertError(r, 400, "invalid_email_token")

    def test_reset_invalidates_other_reset_tokens(self):
        email = uniq_email("rst2")
        self.register(email)
        t1 = self.forgot(email)["token"]
        t2 = self.forgot(email)["token"]
        self.assertNotEqual(t1, t2)
        self.assertOK(self.req("POST", "/auth/reset-password", {"token": t2, "password": "second pw 22"}))
        r = self.req("POST", "/auth/reset-password", {"token": t1, "password": "first pw 111"})
        self.assertError(r, 400, "invalid_email_token")
        self.login(email, "second pw 22")

    def test_tokens_die_with_the_account(self):
        email = uniq_email("gone")
        a = self.register(email)
        v = self.mailbox.wait(email, "verify_email")["token"]
        rs = self.forgot(email)["token"]
        self.assertOK(self.req("DELETE", "/auth/me", token=a["access_token"]))
        self.register(email)
        r = self.req("POST", "/auth/reset-password", {"token": rs, "password": "hijack pw 1"})
        self.assertError(r, 400, "invalid_email_token")
        r = self.req("POST", "/auth/verify-email", {"token": v})
        self.assertError(r, 400, "invalid_email_token")
        self.login(email)

    def test_stale_after_email_change(self):
        email = uniq_email("stale")
        a = self.register(email)
        v = self.mailbox.wait(email, "verify_email")["token"]
        rs = self.forgot(email)["token"]
        r = self.admin("PATCH", "/admin/users/" + a["user"]["id"], {"email": uniq_email("moved")})
        self.assertStatus(r, 200)
        self.assertError(self.req("POST", "/auth/verify-email", {"token": v}), 400,
                         "invalid_email_token")
        r = self.req("POST", "/auth/reset-password", {"token": rs, "password": "stale pw 123"})
        self.assertError(r, 400, "invalid_email_token")
        self.assertIs(self.admin("GET", "/admin/users/" + a["user"]["id"]).body["is_verified"],
                      False)

    # ---- magic links
    def test_magic_link_sign_up(self):
        email = uniq_email("mls")
        m = self.magic("  " + email.upper())
        self.assertMail(m, email, "magic_link", "BusBase: your sign-in link", "/magic-link")
        r = self.req("POST", "/auth/magic-link/verify", {"token": m["token"]})
        self.assertStatus(r, 200)
        self.assertAuthResult(r.body, email)
        u = r.body["user"]
        self.assertIs(u["is_verified"], True)
        self.assertEqual(u["roles"], [])
        self.assertEqual(u["metadata"], {})
        self.assertStatus(self.me(r.body["access_token"]), 200)
        self.assertEqual(len(self.sessions_of(u["id"])), 1)
        # no password: every password fails
        for pw in (PASSWORD, "", "anything at all"):
            r2 = self.req("POST", "/auth/login", {"email": email, "password": pw})
            self.assertError(r2, 401, "invalid_credentials", msg=repr(pw))
        # single use
        r = self.req("POST", "/auth/magic-link/verify", {"token": m["token"]})
        self.assertError(r, 400, "invalid_email_token")
        # registering that address now: taken
        r = self.req("POST", "/auth/register", {"email": email, "password": PASSWORD})
        self.assertError(r, 409, "email_taken")

    def test_magic_link_sign_in(self):
        email = uniq_email("mli")
        a = self.register(email)
        self.assertOK(self.req("POST", "/auth/verify-email",
                               {"token": self.mailbox.wait(email, "verify_email")["token"]}))
        key = self.new_key(a["access_token"])["key"]
        m = self.magic(email)
        r = self.req("POST", "/auth/magic-link/verify", {"token": m["token"]})
        self.assertStatus(r, 200)
        self.assertAuthResult(r.body, email)
        self.assertEqual(r.body["user"]["id"], a["user"]["id"])
        self.assertNotEqual(jwt_decode(r.body["access_token"])[1]["sid"],
                            jwt_decode(a["access_token"])[1]["sid"])
        # a verified account keeps everything
        self.assertStatus(self.me(a["access_token"]), 200)
        self.assertStatus(self.me(key=key), 200)
        self.login(email)
        self.assertError(self.req("POST", "/auth/magic-link/verify", {"token": m["token"]}),
                         400, "invalid_email_token")

    def test_magic_link_takeover_of_unverified(self):
        email = uniq_email("victim")
        squatter = self.register(email, password="squatter pw 1")
        skey = self.new_key(squatter["access_token"])["key"]
        s2 = self.login(email, "squatter pw 1")
        m = self.magic(email)
        r = self.req("POST", "/auth/magic-link/verify", {"token": m["token"]})
        self.assertStatus(r, 200)
        self.assertAuthResult(r.body, email)
        self.assertEqual(r.body["user"]["id"], squatter["user"]["id"])
        self.assertIs(r.body["user"]["is_verified"], True)
        # the squatter is out, immediately
        self.assertRevoked(squatter["access_token"])
        self.assertRevoked(s2["access_token"])
        self.assertKeyDead(skey)
        self.assertError(self.req("POST", "/auth/refresh",
                                  {"refresh_token": squatter["refresh_token"]}),
                         401, "invalid_refresh_token")
        self.assertError(self.login(email, "squatter pw 1", check=False), 401,
                         "invalid_credentials")
        # the new owner is in
        self.assertStatus(self.me(r.body["access_token"]), 200)
        self.assertEqual([s["id"] for s in self.sessions_of(r.body["user"]["id"])],
                         [jwt_decode(r.body["access_token"])[1]["sid"]])

    def test_magic_link_validation(self):
        for body in ({}, {"email": 1}, {"email": "bad"}, {"email": "a b@example.com"}):
            r = self.req("POST", "/auth/magic-link", body)
            self.assertError(r, 400, "validation_error", "email", msg=repr(body))
        for body in ({}, {"token": 1}):
            r = self.req("POST", "/auth/magic-link/verify", body)
            self.assertError(r, 400, "validation_error", "token", msg=repr(body))
        r = self.req("POST", "/auth/magic-link/verify", {"token": "Q" * 50})
        self.assertError(r, 400, "invalid_email_token")

    def test_registration_closed(self):
        email = uniq_email("cls")
        early = self.magic(email)              # a sign-up link, sent while open
        existing = self.register()["user"]["email"]
        self.settings(registration_open=False)
        r = self.req("POST", "/auth/register", {"email": uniq_email(), "password": PASSWORD})
        self.assertError(r, 403, "registration_closed")
        # magic links create no accounts: 200, nothing sent
        ghost = uniq_email("ghost")
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": ghost}))
        # the early sign-up link: refused now
        r = self.req("POST", "/auth/magic-link/verify", {"token": early["token"]})
        self.assertError(r, 403, "registration_closed")
        # existing accounts still get links and can sign in
        m = self.magic(existing)
        r = self.req("POST", "/auth/magic-link/verify", {"token": m["token"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["user"]["email"], existing)
        r = self.admin("GET", "/admin/users?search=" + email.split("@")[0])
        self.assertEqual(r.body["total"], 0, "no account was created")
        # the marker below is a register: reopen first, then check nothing came
        self._restore({"registration_open": True})
        self.assertNoMail(ghost, None)

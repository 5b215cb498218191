"""TOTP two-factor authentication (API.md §2.6, §2.7, §2.9, §2.10). Codes are
computed here per RFC 6238 and cross-checked against oathtool."""

import base64
import os
import shutil
import subprocess
import time
import unittest
import urllib.parse

from authlib import (B32_SECRET_RE, PASSWORD, AuthTest, TotpUser,
                     away_from_step_edge, totp_at, totp_step, uniq_email)

BAD_CODES = ["12345", "1234567", "abcdef", "12 345", "", " 123456", "１２３４５６",
             1000000, -1, 1.5, True, None, ["123456"], {"c": 1}]


class TotpTest(AuthTest):

    def setup_2fa(self, token):
        r = self.req("POST", "/auth/2fa/setup", token=token)
        self.assertStatus(r, 200, "2fa setup")
        return r.body

    def enabled_user(self, email=None):
        """A registered user with 2FA on: (AuthResult, TotpUser)."""
        a = self.register(email)
        s = self.setup_2fa(a["access_token"])
        tu = TotpUser(s["secret"])
        step, code = tu.next_code()
        r = self.req("POST", "/auth/2fa/enable", {"code": code}, token=a["access_token"])
        self.assertOK(r, "2fa enable")
        tu.accepted(step)
        return a, tu

    def challenge(self, email, password=PASSWORD):
        r = self.req("POST", "/auth/login", {"email": email, "password": password})
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"totp_required", "totp_token"}, r.body)
        self.assertIs(r.body["totp_required"], True)
        self.assertIsInstance(r.body["totp_token"], str)
        self.assertTrue(r.body["totp_token"])
        return r.body["totp_token"]

    def verify(self, tt, code):
        return self.req("POST", "/auth/2fa/verify", {"totp_token": tt, "code": code})

    # ---- setup
    def test_setup(self):
        email = uniq_email("tot+p")
        a = self.register(email)
        s = self.setup_2fa(a["access_token"])
        self.assertEqual(set(s), {"secret", "otpauth_url"}, s)
        self.assertRegex(s["secret"], B32_SECRET_RE)
        self.assertEqual(len(base64.b32decode(s["secret"])), 20)
        want = ("otpauth://totp/BusBase:%s?secret=%s&issuer=BusBase&algorithm=SHA1"
                "&digits=6&period=30" % (urllib.parse.quote(email, safe=""), s["secret"]))
        self.assertEqual(s["otpauth_url"], want)
        self.assertIn("%2B", s["otpauth_url"])
        self.assertIn("%40", s["otpauth_url"])
        self.assertIs(self.me(a["access_token"]).body["totp_enabled"], False,
                      "setup alone enables nothing")
        s2 = self.setup_2fa(a["access_token"])
        self.assertNotEqual(s2["secret"], s["secret"])
        # login is still plain
        self.assertAuthResult(self.login(email), email)

    def test_otpauth_issuer(self):
        self.settings(app_name="My App & Co")
        email = uniq_email("iss")
        a = self.register(email)
        s = self.setup_2fa(a["access_token"])
        want = ("otpauth://totp/My%%20App%%20%%26%%20Co:%s?secret=%s&issuer=My%%20App%%20%%26%%20Co"
                "&algorithm=SHA1&digits=6&period=30"
                % (urllib.parse.quote(email, safe=""), s["secret"]))
        self.assertEqual(s["otpauth_url"], want)

    @unittest.skipUnless(shutil.which("oathtool"), "oathtool not installed")
    def test_codes_match_oathtool(self):
        a = self.register()
        s = self.setup_2fa(a["access_token"])
        away_from_step_edge(3)
        t = time.time()
        out = subprocess.run(["oathtool", "--totp", "-b", s["secret"]],
                             stdout=subprocess.PIPE, check=True, timeout=10).stdout
        self.assertEqual(out.decode().strip(), totp_at(s["secret"], totp_step(t)))
        # RFC 6238 appendix B vector (SHA1, 8 digits there; 6 digits = last 6)
        rfc = base64.b32encode(b"12345678901234567890").decode()
        self.assertEqual(totp_at(rfc, 59 // 30), "287082")
        # the server agrees with oathtool's code
        r = self.req("POST", "/auth/2fa/enable", {"code": out.decode().strip()},
                     token=a["access_token"])
        self.assertOK(r)

    # ---- enable
    def test_enable_errors_in_order(self):
        a = self.register()
        tok = a["access_token"]
        r = self.req("POST", "/auth/2fa/enable", {"code": "123456"}, token=tok)
        self.assertError(r, 400, "totp_setup_required")
        r = self.req("POST", "/auth/2fa/enable", {"code": "bad"}, token=tok)
        self.assertError(r, 400, "totp_setup_required", msg="setup is checked first")
        s = self.setup_2fa(tok)
        for bad in BAD_CODES:
            r = self.req("POST", "/auth/2fa/enable", {"code": bad}, token=tok)
            self.assertError(r, 400, "validation_error", "code", msg=repr(bad))
        r = self.req("POST", "/auth/2fa/enable", {}, token=tok)
        self.assertError(r, 400, "validation_error", "code")
        away_from_step_edge()
        now = totp_step()
        for step in (now - 3, now - 2, now + 2, now + 3):
            code = totp_at(s["secret"], step)
            if code in {totp_at(s["secret"], x) for x in (now - 1, now, now + 1)}:
                continue
            r = self.req("POST", "/auth/2fa/enable", {"code": code}, token=tok)
            self.assertError(r, 400, "invalid_totp_code", msg="step %+d" % (step - now))
        self.assertIs(self.me(tok).body["totp_enabled"], False)
        # an integer code is left-padded: the right code as a number works
        tu = TotpUser(s["secret"])
        step, code = tu.next_code()
        r = self.req("POST", "/auth/2fa/enable", {"code": int(code)}, token=tok)
        self.assertOK(r)
        tu.accepted(step)
        r = self.req("POST", "/auth/2fa/enable", {"code": "bad"}, token=tok)
        self.assertError(r, 409, "totp_already_enabled", msg="checked before the code")
        r = self.req("POST", "/auth/2fa/setup", token=tok)
        self.assertError(r, 409, "totp_already_enabled")

    def test_window_plus_one(self):
        a = self.register()
        s = self.setup_2fa(a["access_token"])
        away_from_step_edge()
        r = self.req("POST", "/auth/2fa/enable", {"code": totp_at(s["secret"], totp_step() + 1)},
                     token=a["access_token"])
        self.assertOK(r, "code for step t+1")

    def test_setup_replaces_pending_secret(self):
        a = self.register()
        s1 = self.setup_2fa(a["access_token"])
        s2 = self.setup_2fa(a["access_token"])
        away_from_step_edge()
        old = totp_at(s1["secret"], totp_step())
        if old not in {totp_at(s2["secret"], totp_step() + d) for d in (-1, 0, 1)}:
            r = self.req("POST", "/auth/2fa/enable", {"code": old}, token=a["access_token"])
            self.assertError(r, 400, "invalid_totp_code")
        step, code = TotpUser(s2["secret"]).next_code()
        self.assertOK(self.req("POST", "/auth/2fa/enable", {"code": code}, token=a["access_token"]))

    # ---- login with 2FA
    def test_login_challenge_and_verify(self):
        email = uniq_email("chal")
        a, tu = self.enabled_user(email)
        uid = a["user"]["id"]
        me = self.me(a["access_token"])
        self.assertStatus(me, 200, "existing sessions are kept")
        self.assertIs(me.body["totp_enabled"], True)
        n = len(self.sessions_of(uid))
        tt = self.challenge(email)
        self.assertEqual(len(self.sessions_of(uid)), n, "no session before the code")
        # a wrong code does not consume the challenge
        away_from_step_edge()
        wrong = "%06d" % ((int(totp_at(tu.secret, totp_step())) + 500000) % 1000000)
        r = self.verify(tt, wrong)
        self.assertError(r, 401, "invalid_totp_code")
        step, code = tu.next_code()
        r = self.verify(tt, code)
        self.assertStatus(r, 200)
        tu.accepted(step)
        self.assertAuthResult(r.body, email)
        self.assertIs(r.body["user"]["totp_enabled"], True)
        self.assertStatus(self.me(r.body["access_token"]), 200)
        self.assertEqual(len(self.sessions_of(uid)), n + 1)
        self.assertStatus(self.req("POST", "/auth/refresh",
                                   {"refresh_token": r.body["refresh_token"]}), 200)
        # consumed
        step, code = tu.next_code()
        r = self.verify(tt, code)
        self.assertError(r, 401, "invalid_totp_token")

    def test_replay_rejected(self):
        email = uniq_email("replay")
        a, tu = self.enabled_user(email)
        used = totp_at(tu.secret, tu.last)
        tt = self.challenge(email)
        r = self.verify(tt, used)
        self.assertError(r, 401, "invalid_totp_code", msg="the code accepted at enable")
        step, code = tu.next_code()
        r = self.verify(tt, code)
        self.assertStatus(r, 200)
        tu.accepted(step)
        tt2 = self.challenge(email)
        r = self.verify(tt2, code)
        self.assertError(r, 401, "invalid_totp_code", msg="the code accepted at verify")
        r = self.verify(tt2, used)
        self.assertError(r, 401, "invalid_totp_code", msg="an earlier step")
        r = self.req("DELETE", "/auth/2fa/disable", {"code": code}, token=a["access_token"])
        self.assertError(r, 400, "invalid_totp_code", msg="replay at disable")
        self.assertIs(self.me(a["access_token"]).body["totp_enabled"], True)

    @unittest.skipUnless(os.environ.get("IT_SLOW") == "1",
                         "waits 5 minutes; set IT_SLOW=1 to run it")
    def test_challenge_expires_after_5_minutes(self):
        email = uniq_email("texp")
        a, tu = self.enabled_user(email)
        old = self.challenge(email)
        time.sleep(290)
        fresh = self.challenge(email)
        time.sleep(12)              # old is now 302 s old, fresh 12 s
        step, code = tu.next_code()
        self.assertError(self.verify(old, code), 401, "invalid_totp_token")
        r = self.verify(fresh, code)
        self.assertStatus(r, 200)
        tu.accepted(step)

    def test_verify_validation(self):
        email = uniq_email("vv")
        self.enabled_user(email)
        tt = self.challenge(email)
        r = self.req("POST", "/auth/2fa/verify", {"code": "123456"})
        self.assertError(r, 400, "validation_error", "totp_token")
        r = self.req("POST", "/auth/2fa/verify", {"totp_token": 5, "code": "123456"})
        self.assertError(r, 400, "validation_error", "totp_token")
        r = self.req("POST", "/auth/2fa/verify", {"totp_token": tt})
        self.assertError(r, 400, "validation_error", "code")
        for bad in BAD_CODES[:6]:
            r = self.verify(tt, bad)
            self.assertError(r, 400, "validation_error", "code", msg=repr(bad))
        for tok in ("nope", tt[:-1], tt + "x", "A" * len(tt)):
            r = self.verify(tok, "123456")
            self.assertError(r, 401, "invalid_totp_token", msg=tok[:12])

    def test_challenge_is_not_a_credential(self):
        email = uniq_email("notcred")
        self.enabled_user(email)
        tt = self.challenge(email)
        r = self.me(tt)
        self.assertEqual(r.status, 401, r.body)
        self.assertIn(r.body.get("code"), ("invalid_token", "invalid_api_key"))
        r = self.req("POST", "/auth/refresh", {"refresh_token": tt})
        self.assertError(r, 401, "invalid_refresh_token")

    def test_disable(self):
        email = uniq_email("dis")
        a, tu = self.enabled_user(email)
        tok = a["access_token"]
        away_from_step_edge()
        wrong = "%06d" % ((int(totp_at(tu.secret, totp_step())) + 123457) % 1000000)
        r = self.req("DELETE", "/auth/2fa/disable", {"code": wrong}, token=tok)
        self.assertError(r, 400, "invalid_totp_code")
        for bad in ("abc", 1.5, None):
            r = self.req("DELETE", "/auth/2fa/disable", {"code": bad}, token=tok)
            self.assertError(r, 400, "validation_error", "code", msg=repr(bad))
        r = self.req("DELETE", "/auth/2fa/disable", token=tok)
        self.assertError(r, 400, "validation_error", "code")
        step, code = tu.next_code()
        r = self.req("DELETE", "/auth/2fa/disable", {"code": code}, token=tok)
        self.assertOK(r)
        self.assertIs(self.me(tok).body["totp_enabled"], False)
        r = self.req("DELETE", "/auth/2fa/disable", {"code": code}, token=tok)
        self.assertError(r, 400, "totp_not_enabled")
        self.assertAuthResult(self.login(email), email)
        # the secret is gone: enabling again needs a new setup
        r = self.req("POST", "/auth/2fa/enable", {"code": code}, token=tok)
        self.assertError(r, 400, "totp_setup_required")

    def test_disable_with_query_code(self):
        a, tu = self.enabled_user()
        step, code = tu.next_code()
        r = self.req("DELETE", "/auth/2fa/disable?code=" + code, token=a["access_token"])
        self.assertOK(r)
        self.assertIs(self.me(a["access_token"]).body["totp_enabled"], False)

    def test_magic_link_asks_for_the_code(self):
        email = uniq_email("mlt")
        self.enabled_user(email)
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": email}))
        m = self.mailbox.wait(email, "magic_link")
        r = self.req("POST", "/auth/magic-link/verify", {"token": m["token"]})
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"totp_required", "totp_token"}, r.body)
        self.assertIs(r.body["totp_required"], True)

    def test_lockout_through_wrong_codes(self):
        email = uniq_email("tlock")
        a, tu = self.enabled_user(email)
        self.settings(lockout_max_attempts=3, lockout_duration_ms=60000)
        tt = self.challenge(email)
        away_from_step_edge()
        good = {totp_at(tu.secret, totp_step() + d) for d in (-1, 0, 1, 2)}
        wrong = [c for c in ("000001", "999998", "543210", "111112") if c not in good][:3]
        for i, c in enumerate(wrong):
            self.assertError(self.verify(tt, c), 401, "invalid_totp_code", msg="failure %d" % (i + 1))
        step, code = tu.next_code()
        r = self.verify(tt, code)
        self.assertError(r, 429, "account_locked")
        ra = r.headers.get("Retry-After")
        self.assertTrue(ra and ra.isdigit() and 1 <= int(ra) <= 60, ra)
        r = self.req("POST", "/auth/login", {"email": email, "password": PASSWORD})
        self.assertError(r, 429, "account_locked")

    def test_challenge_does_not_reset_lockout(self):
        """§2.6: a correct password that returns a TotpChallenge does not
        reset the counter."""
        email = uniq_email("tcnt")
        self.enabled_user(email)
        self.settings(lockout_max_attempts=3, lockout_duration_ms=60000)
        for _ in range(2):
            self.assertError(self.login(email, "wrong password", check=False), 401,
                             "invalid_credentials")
        self.challenge(email)
        self.assertError(self.login(email, "wrong password", check=False), 401,
                         "invalid_credentials")
        r = self.login(email, check=False)
        self.assertError(r, 429, "account_locked")

    def test_successful_verify_resets_lockout(self):
        email = uniq_email("treset")
        a, tu = self.enabled_user(email)
        self.settings(lockout_max_attempts=3, lockout_duration_ms=60000)
        for _ in range(2):
            self.assertError(self.login(email, "wrong password", check=False), 401,
                             "invalid_credentials")
        tt = self.challenge(email)
        step, code = tu.next_code()
        self.assertStatus(self.verify(tt, code), 200)
        tu.accepted(step)
        for _ in range(2):
            self.assertError(self.login(email, "wrong password", check=False), 401,
                             "invalid_credentials", msg="counter was reset")
        self.challenge(email)

    def test_switch_off(self):
        """§2.7: setup/enable refused; users with 2FA still need their code;
        verify and disable keep working."""
        email = uniq_email("toff")
        a, tu = self.enabled_user(email)
        b = self.register()
        self.settings(auth_totp_enabled=False)
        for path, body in (("/auth/2fa/setup", None), ("/auth/2fa/enable", {"code": "123456"}),
                           ("/auth/2fa/enable", {"code": "bad"}), ("/auth/2fa/enable", b"{x")):
            r = self.req("POST", path, body, token=b["access_token"])
            self.assertError(r, 403, "auth_method_disabled", msg=path)
        tt = self.challenge(email)
        step, code = tu.next_code()
        r = self.verify(tt, code)
        self.assertStatus(r, 200)
        tu.accepted(step)
        step, code = tu.next_code()
        r = self.req("DELETE", "/auth/2fa/disable", {"code": code}, token=a["access_token"])
        self.assertOK(r)
        self.assertAuthResult(self.login(email), email)

    def test_needs_user(self):
        self.assertError(self.req("POST", "/auth/2fa/setup"), 401, "auth_required")
        self.assertError(self.admin("POST", "/auth/2fa/setup"), 403, "user_required")
        self.assertError(self.req("POST", "/auth/2fa/enable", {"code": "123456"}), 401,
                         "auth_required")
        self.assertError(self.req("DELETE", "/auth/2fa/disable", {"code": "123456"}), 401,
                         "auth_required")

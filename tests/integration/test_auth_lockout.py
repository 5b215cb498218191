import unittest
"""Login lockout (API.md §2.6): parallel bursts, Retry-After, reset by
success / expiry / password reset, normalized keys, unknown accounts."""

import time
from collections import Counter

from authlib import PASSWORD, AuthTest, parallel, uniq_email


class LockoutTest(AuthTest):

    def lockout(self, n=5, ms=60000):
        self.settings(lockout_max_attempts=n, lockout_duration_ms=ms)

    def bad_login(self, email):
        return self.req("POST", "/auth/login", {"email": email, "password": "wrong password!"})

    def assertLocked(self, r, max_s=60, msg=None):
        self.assertError(r, 429, "account_locked", msg=msg)
        ra = r.headers.get("Retry-After")
        self.assertTrue(ra is not None and ra.isdigit(), "Retry-After %r" % ra)
        self.assertTrue(1 <= int(ra) <= max_s, "Retry-After %r" % ra)
        return int(ra)

    def test_parallel_burst(self):
        email = uniq_email("burst")
        self.register(email)
        self.lockout(5, 60000)
        res = parallel([lambda: self.bad_login(email)] * 50)
        errs = [r for r in res if isinstance(r, Exception)]
        self.assertEqual(errs, [])
        got = Counter((r.status, r.body.get("code")) for r in res)
        self.assertEqual(got, Counter({(401, "invalid_credentials"): 5,
                                       (429, "account_locked"): 45}), got)
        for r in res:
            if r.status == 429:
                self.assertLocked(r)
            else:
                self.assertError(r, 401, "invalid_credentials")
        # the right password is not even checked while locked
        r = self.login(email, check=False)
        self.assertLocked(r)
        # refresh is not subject to lockout
        # (a session opened before the lock keeps working)

    def test_parallel_correct_logins_never_lock(self):
        """Only failures count (§2.6): 20 logins with the right password at
        once all succeed, however the counter is kept."""
        email = uniq_email("many")
        self.register(email)
        self.lockout(5, 60000)
        res = parallel([lambda: self.login(email, check=False)] * 20)
        got = Counter((r.status, r.body.get("code") if r.status != 200 else None) for r in res)
        self.assertEqual(got, Counter({(200, None): 20}), got)
        self.login(email)
        # and they leave no failures behind: 4 wrong ones are still 401s
        for _ in range(4):
            self.assertError(self.bad_login(email), 401, "invalid_credentials")

    def test_parallel_burst_unknown_account(self):
        email = uniq_email("nobody")
        self.lockout(4, 60000)
        res = parallel([lambda: self.bad_login(email)] * 20)
        got = Counter((r.status, r.body.get("code")) for r in res)
        self.assertEqual(got, Counter({(401, "invalid_credentials"): 4,
                                       (429, "account_locked"): 16}), got)

    def test_exact_sequence(self):
        email = uniq_email("seq")
        a = self.register(email)
        self.lockout(3, 60000)
        for i in range(3):
            self.assertError(self.bad_login(email), 401, "invalid_credentials",
                             msg="failure %d (the one reaching the limit still 401)" % (i + 1))
        self.assertLocked(self.bad_login(email))
        self.assertLocked(self.login(email, check=False))
        # other routes are not locked
        r = self.req("POST", "/auth/refresh", {"refresh_token": a["refresh_token"]})
        self.assertStatus(r, 200, "refresh is not subject to lockout")
        self.assertStatus(self.me(r.body["access_token"]), 200)
        # other keys are independent
        other = uniq_email("other")
        self.register(other)
        self.login(other)

    def test_normalized_key(self):
        email = uniq_email("norm")
        self.register(email)
        self.lockout(3, 60000)
        for spelled in (email.upper(), "  " + email, email.title() + " "):
            self.assertError(self.bad_login(spelled), 401, "invalid_credentials")
        self.assertLocked(self.login(email, check=False))
        self.assertLocked(self.login(email.upper(), check=False))

    def test_success_resets_counter(self):
        email = uniq_email("reset")
        self.register(email)
        self.lockout(3, 60000)
        for _ in range(3):
            for _ in range(2):
                self.assertError(self.bad_login(email), 401, "invalid_credentials")
            self.login(email)
        self.assertError(self.bad_login(email), 401, "invalid_credentials")

    def test_lock_expires_and_is_not_extended(self):
        email = uniq_email("exp")
        self.register(email)
        self.lockout(2, 2000)
        self.assertError(self.bad_login(email), 401, "invalid_credentials")
        t_lock = time.monotonic()
        self.assertError(self.bad_login(email), 401, "invalid_credentials")
        ra = self.assertLocked(self.bad_login(email), max_s=2)
        self.assertEqual(ra, 2)
        time.sleep(1.2)
        ra = self.assertLocked(self.login(email, check=False), max_s=1,
                               msg="still locked; not extended")
        self.assertEqual(ra, 1)
        time.sleep(max(0.0, 2.5 - (time.monotonic() - t_lock)))
        self.login(email)   # the lock ran out 2 s after the failure that set it
        # and the counter started again
        self.assertError(self.bad_login(email), 401, "invalid_credentials")

    def test_counter_reset_on_lock_expiry(self):
        email = uniq_email("exp2")
        self.register(email)
        self.lockout(2, 1000)
        for _ in range(2):
            self.assertError(self.bad_login(email), 401, "invalid_credentials")
        self.assertLocked(self.bad_login(email), max_s=1)
        time.sleep(1.15)
        self.assertError(self.bad_login(email), 401, "invalid_credentials",
                         msg="first failure after expiry")
        self.login(email)

    def test_disabled_with_zero(self):
        email = uniq_email("zero")
        self.register(email)
        self.lockout(0, 60000)
        res = parallel([lambda: self.bad_login(email)] * 15)
        self.assertEqual(Counter(r.status for r in res), Counter({401: 15}))
        self.login(email)

    def test_password_reset_resets_counter(self):
        email = uniq_email("pwr")
        self.register(email)
        self.lockout(5, 60000)
        for _ in range(4):
            self.assertError(self.bad_login(email), 401, "invalid_credentials")
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": email}))
        tok = self.mailbox.wait(email, "reset_password")["token"]
        self.assertOK(self.req("POST", "/auth/reset-password", {"token": tok, "password": PASSWORD}))
        for i in range(4):
            self.assertError(self.bad_login(email), 401, "invalid_credentials",
                             msg="failure %d after the reset" % (i + 1))
        self.login(email)

    def test_magic_link_ignores_lockout(self):
        email = uniq_email("mlk")
        self.register(email)
        self.lockout(2, 60000)
        for _ in range(2):
            self.assertError(self.bad_login(email), 401, "invalid_credentials")
        self.assertLocked(self.login(email, check=False))
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": email}))
        tok = self.mailbox.wait(email, "magic_link")["token"]
        r = self.req("POST", "/auth/magic-link/verify", {"token": tok})
        self.assertStatus(r, 200, "lockout is not checked at magic-link/verify")
        self.assertAuthResult(r.body, email)

    def test_locked_without_argon2(self):
        """429s do not check the password: 30 of them are fast."""
        email = uniq_email("fast")
        self.register(email)
        self.lockout(1, 60000)
        self.assertError(self.bad_login(email), 401, "invalid_credentials")
        t0 = time.monotonic()
        for _ in range(30):
            self.assertLocked(self.bad_login(email))
        dt = time.monotonic() - t0
        self.assertLess(dt, 3.0, "30 locked logins took %.2fs" % dt)

"""Auth switches (API.md §2.7, §1.4): a disabled method answers 403 before
the body is looked at; existing sessions and keys stay valid."""

from authlib import PASSWORD, AuthTest, jwt_decode, uniq_email

# bodies a disabled endpoint must refuse with 403 all the same:
# (body, extra headers)
JUNK = [
    (None, None),
    ({}, None),
    ({"email": 5, "password": [], "token": {}}, None),
    ([1, 2], None),
    (b"{not json", None),
    (b"\xff\xfe", None),
    (b'{"email":"a@example.com"}', {"Content-Type": "text/plain"}),
    (b"x" * (1024 * 1024 + 10), None),
]


class SwitchesTest(AuthTest):

    def assertDisabled(self, path, code="auth_method_disabled", valid=None):
        bodies = ([(valid, None)] if valid is not None else []) + JUNK
        for body, hdrs in bodies:
            r = self.req("POST", path, body, headers=hdrs)
            what = "%s %r" % (path, body if not isinstance(body, bytes) else body[:20])
            self.assertError(r, 403, code, msg=what)

    def test_password_disabled(self):
        email = uniq_email("pwoff")
        a = self.register(email)
        key = self.new_key(a["access_token"])["key"]
        self.settings(auth_password_enabled=False)
        self.assertDisabled("/auth/register", valid={"email": uniq_email(), "password": PASSWORD})
        self.assertDisabled("/auth/login", valid={"email": email, "password": PASSWORD})
        self.assertDisabled("/auth/forgot-password", valid={"email": email})
        self.assertDisabled("/auth/reset-password", valid={"token": "t" * 43, "password": PASSWORD})
        # what exists keeps working; refresh is not a password method
        self.assertStatus(self.me(a["access_token"]), 200)
        self.assertStatus(self.me(key=key), 200)
        r = self.req("POST", "/auth/refresh", {"refresh_token": a["refresh_token"]})
        self.assertStatus(r, 200)
        # magic links are another method (a sign-up: `email` is unverified,
        # and a magic link would take it over, removing its password)
        ml = uniq_email("pwoffml")
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": ml}))
        r = self.req("POST", "/auth/magic-link/verify",
                     {"token": self.mailbox.wait(ml, "magic_link")["token"]})
        self.assertStatus(r, 200)
        # back on: at once
        self._restore({"auth_password_enabled": True})
        self.login(email)

    def test_magic_link_disabled(self):
        email = uniq_email("mloff")
        self.register(email)
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": email}))
        tok = self.mailbox.wait(email, "magic_link")["token"]
        self.settings(auth_magic_link_enabled=False)
        self.assertDisabled("/auth/magic-link", valid={"email": email})
        self.assertDisabled("/auth/magic-link/verify", valid={"token": tok})
        self.login(email)
        self._restore({"auth_magic_link_enabled": True})
        r = self.req("POST", "/auth/magic-link/verify", {"token": tok})
        self.assertStatus(r, 200, "the refused attempt did not use the token up")

    def test_registration_closed(self):
        email = uniq_email("rc")
        self.register(email)
        self.settings(registration_open=False)
        for body in ({"email": uniq_email(), "password": PASSWORD},
                     {"email": 5, "password": PASSWORD},
                     {"email": uniq_email(), "password": "short"},
                     {"email": email, "password": PASSWORD},
                     {}):
            r = self.req("POST", "/auth/register", body)
            self.assertError(r, 403, "registration_closed", msg=repr(body))
        self.login(email)

    def test_switch_applies_on_the_next_request(self):
        email = uniq_email("flip")
        self.register(email)
        for _ in range(3):
            self.settings(auth_password_enabled=False)
            r = self.req("POST", "/auth/login", {"email": email, "password": PASSWORD})
            self.assertError(r, 403, "auth_method_disabled")
            self._restore({"auth_password_enabled": True})
            r = self.req("POST", "/auth/login", {"email": email, "password": PASSWORD})
            self.assertStatus(r, 200)

    def test_single_session_mode(self):
        email = uniq_email("single")
        a = self.register(email)
        b = self.login(email)
        key = self.new_key(a["access_token"])["key"]
        self.settings(single_session_mode=True)
        c = self.login(email)
        for old in (a, b):
            self.assertRevoked(old["access_token"])
            r = self.req("POST", "/auth/refresh", {"refresh_token": old["refresh_token"]})
            self.assertError(r, 401, "invalid_refresh_token")
        self.assertStatus(self.me(c["access_token"]), 200)
        self.assertStatus(self.me(key=key), 200, "keys are not tied to sessions")
        sids = [s["id"] for s in self.sessions_of(a["user"]["id"])]
        self.assertEqual(sids, [jwt_decode(c["access_token"])[1]["sid"]])
        # refresh is not a new session: it revokes nothing
        r = self.req("POST", "/auth/refresh", {"refresh_token": c["refresh_token"]})
        self.assertStatus(r, 200)
        self.assertStatus(self.me(c["access_token"]), 200)
        # a magic-link session applies it too
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": email}))
        r = self.req("POST", "/auth/magic-link/verify",
                     {"token": self.mailbox.wait(email, "magic_link")["token"]})
        self.assertStatus(r, 200)
        self.assertRevoked(c["access_token"])
        self.assertStatus(self.me(r.body["access_token"]), 200)
        # other users are untouched
        other = self.register()
        self.login(other["user"]["email"])
        self.assertStatus(self.me(r.body["access_token"]), 200)

    def test_single_session_mode_off_keeps_sessions(self):
        email = uniq_email("multi")
        a = self.register(email)
        b = self.login(email)
        self.assertStatus(self.me(a["access_token"]), 200)
        self.assertStatus(self.me(b["access_token"]), 200)

    def test_require_email_verification_does_not_block_login(self):
        email = uniq_email("rev")
        a = self.register(email)
        self.settings(require_email_verification=True)
        b = self.login(email)
        self.assertIs(b["user"]["is_verified"], False)
        self.assertStatus(self.me(b["access_token"]), 200)
        self.assertStatus(self.me(a["access_token"]), 200)

"""Two gateways in front of the same services (ARCHITECTURE.md §2-3, API.md
§2.2 "revocation takes effect on the very next request"): a revocation
through gateway 1 is enforced by gateway 2 within 1 s."""

import time

from authlib import AUTH, PASSWORD, AuthTest, uniq_email
from harness import ExtraGateway


class TwoGatewaysTest(AuthTest):
    MAIL = False
    gw2 = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.gw2 = ExtraGateway(cls.cluster).start()
        except Exception:
            cls.cluster.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.gw2 is not None:
            cls.gw2.stop()
        super().tearDownClass()

    def on(self, gw, method, path, body=None, token=None, key=None):
        h = {"X-API-Key": key} if key else None
        return gw.request(method, AUTH + path, body, h, token)

    def until_refused(self, gw, code, token=None, key=None, limit=1.0):
        """Polls GET /auth/me on gw until 401 `code`; returns the seconds it
        took. Fails if it still answers 200 after `limit` s."""
        t0 = time.monotonic()
        while True:
            r = self.on(gw, "GET", "/me", token=token, key=key)
            dt = time.monotonic() - t0
            if r.status == 401:
                self.assertError(r, 401, code)
                return dt
            self.assertStatus(r, 200, "while waiting for the revocation")
            if dt > limit:
                self.fail("gateway %d still accepts the credential %.2fs after the "
                          "revocation" % (gw.port, dt))
            time.sleep(0.01)

    def gw1(self):
        return self.cluster

    def test_both_serve(self):
        email = uniq_email("two")
        r = self.on(self.gw2, "POST", "/register", {"email": email, "password": PASSWORD})
        self.assertStatus(r, 201)
        tok = r.body["access_token"]
        self.assertStatus(self.on(self.gw1(), "GET", "/me", token=tok), 200)
        self.assertStatus(self.on(self.gw2, "GET", "/me", token=tok), 200)

    def test_logout_on_1_refused_by_2(self):
        email = uniq_email("lo2")
        self.register(email)
        for _ in range(3):
            a = self.login(email)
            tok = a["access_token"]
            self.assertStatus(self.on(self.gw2, "GET", "/me", token=tok), 200)
            self.assertOK(self.on(self.gw1(), "POST", "/logout", token=tok))
            self.assertError(self.on(self.gw1(), "GET", "/me", token=tok), 401,
                             "session_revoked")
            self.until_refused(self.gw2, "session_revoked", token=tok)

    def test_logout_on_2_refused_by_1(self):
        email = uniq_email("lo1")
        self.register(email)
        a = self.login(email)
        tok = a["access_token"]
        self.assertStatus(self.on(self.gw1(), "GET", "/me", token=tok), 200)
        self.assertOK(self.on(self.gw2, "POST", "/logout", token=tok))
        self.assertError(self.on(self.gw2, "GET", "/me", token=tok), 401, "session_revoked")
        self.until_refused(self.gw1(), "session_revoked", token=tok)

    def test_logout_all_and_keys(self):
        email = uniq_email("la2")
        a = self.register(email)
        b = self.login(email)
        key = self.new_key(a["access_token"])["key"]
        # warm gateway 2's caches with both credentials
        self.assertStatus(self.on(self.gw2, "GET", "/me", token=b["access_token"]), 200)
        self.assertStatus(self.on(self.gw2, "GET", "/me", key=key), 200)
        r = self.on(self.gw1(), "POST", "/logout-all", token=a["access_token"])
        self.assertStatus(r, 200)
        self.until_refused(self.gw2, "session_revoked", token=b["access_token"])
        self.until_refused(self.gw2, "invalid_api_key", key=key)

    def test_key_delete_and_admin_actions(self):
        a = self.register()
        k = self.new_key(a["access_token"])
        self.assertStatus(self.on(self.gw2, "GET", "/me", key=k["key"]), 200)
        self.assertOK(self.on(self.gw1(), "DELETE", "/api-keys/" + k["id"], token=a["access_token"]))
        self.until_refused(self.gw2, "invalid_api_key", key=k["key"])
        # admin deletes the user through gateway 1
        self.assertStatus(self.on(self.gw2, "GET", "/me", token=a["access_token"]), 200)
        self.assertOK(self.admin("DELETE", "/admin/users/" + a["user"]["id"]))
        self.until_refused(self.gw2, "session_revoked", token=a["access_token"])

    def test_role_change_seen_by_2(self):
        a = self.register()
        self.assertEqual(self.on(self.gw2, "GET", "/me", token=a["access_token"]).body["roles"], [])
        r = self.admin("PATCH", "/admin/users/%s/roles" % a["user"]["id"], {"roles": ["r2"]})
        self.assertStatus(r, 200)
        t0 = time.monotonic()
        while True:
            roles = self.on(self.gw2, "GET", "/me", token=a["access_token"]).body["roles"]
            if roles == ["r2"]:
                break
            self.assertLess(time.monotonic() - t0, 1.0, "gateway 2 still sees roles %r" % roles)
            time.sleep(0.01)

    def test_switch_in_effect_on_2_after_the_200(self):
        """§5.8 Propagation: in effect for every request that reaches a
        gateway after the 200, the second gateway included."""
        email = uniq_email("sw2")
        self.register(email)
        for _ in range(3):
            self.settings(auth_password_enabled=False)
            r = self.on(self.gw2, "POST", "/login", {"email": email, "password": PASSWORD})
            self.assertError(r, 403, "auth_method_disabled")
            self._restore({"auth_password_enabled": True})
            r = self.on(self.gw2, "POST", "/login", {"email": email, "password": PASSWORD})
            self.assertStatus(r, 200)

    def test_refresh_reuse_across_gateways(self):
        a = self.register()
        r = self.on(self.gw2, "POST", "/refresh", {"refresh_token": a["refresh_token"]})
        self.assertStatus(r, 200)
        r2 = self.on(self.gw1(), "POST", "/refresh", {"refresh_token": a["refresh_token"]})
        self.assertError(r2, 401, "refresh_token_reused")
        self.until_refused(self.gw2, "session_revoked", token=r.body["access_token"])
        self.assertError(self.on(self.gw1(), "GET", "/me", token=r.body["access_token"]),
                         401, "session_revoked")

"""Maintenance mode (API.md §1.9, §1.13)."""

from harness import ClusterTest

S = "/api/v1/admin/settings"
BODY = {"error": "Service unavailable: maintenance in progress.",
        "code": "maintenance"}


class MaintenanceTest(ClusterTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster.patch_settings({"maintenance_mode": True})

    def assertMaintenance(self, r, what):
        self.assertEqual(r.status, 503, "%s -> %s %r" % (what, r.status, r.body))
        self.assertEqual(r.body, BODY, what)
        self.assertEqual(r.headers.get("Retry-After"), "60", what)
        self.assertEqual(r.headers.get("Content-Type"),
                         "application/json; charset=utf-8", what)
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff", what)

    def test_non_admin_gets_503(self):
        c = self.cluster
        self.assertMaintenance(c.request("GET", "/api/v1/posts"), "anon GET records")
        self.assertMaintenance(c.request("POST", "/api/v1/posts", {"a": 1}),
                               "anon POST records")
        self.assertMaintenance(c.request("POST", "/api/v1/auth/login",
                                         {"email": "a@b.c", "password": "x"}),
                               "anon login")
        self.assertMaintenance(c.request("GET", S), "anon admin route")
        # maintenance comes before credential checks: an invalid credential
        # is not the admin secret, so it is blocked too
        self.assertMaintenance(c.request("GET", S, token="not-the-secret-123456"),
                               "wrong secret")
        self.assertMaintenance(c.request("GET", "/api/v1/posts",
                                         headers={"X-API-Key": "bb_unknown"}),
                               "api key")

    def test_admin_secret_passes(self):
        r = self.cluster.admin_req("GET", S)
        self.assertStatus(r, 200)
        self.assertTrue(r.body["maintenance_mode"])
        r = self.cluster.admin_req("GET", "/api/v1/admin/stats")
        self.assertStatus(r, 200)
        # admin on a data route is not blocked (data may answer anything but
        # maintenance)
        r = self.cluster.admin_req("GET", "/api/v1/posts")
        self.assertNotEqual(r.body.get("code") if isinstance(r.body, dict) else None,
                            "maintenance", r.body)

    def test_exempt_routes(self):
        c = self.cluster
        r = c.request("GET", "/metrics")
        self.assertStatus(r, 200, "/metrics")
        r = c.request("GET", "/api/v1/openapi.json")
        self.assertStatus(r, 200, "openapi")
        r = c.request("GET", "/api/v1/admin/health")
        self.assertStatus(r, 200, "health")
        self.assertEqual(r.body["status"], "ok")
        for path in ("/api/v1/posts", S, "/api/v1/auth/login"):
            r = c.request("OPTIONS", path)
            self.assertStatus(r, 204, "OPTIONS " + path)
            self.assertIsNone(r.headers.get("Retry-After"))

    def test_route_errors_first(self):
        c = self.cluster
        r = c.request("GET", "/nope")
        self.assertError(r, 404, "not_found")
        r = c.request("GET", "/api/v1/auth/nope")
        self.assertError(r, 404, "not_found")
        r = c.request("PUT", "/api/v1/posts")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("Allow"), "GET, HEAD, POST, OPTIONS")
        r = c.request("DELETE", S)
        self.assertError(r, 405, "method_not_allowed")

    def test_zz_turning_off(self):
        r = self.cluster.admin_req("PATCH", S, {"maintenance_mode": False})
        self.assertStatus(r, 200)
        r = self.cluster.request("GET", S)
        self.assertError(r, 401, "auth_required")
        r = self.cluster.request("GET", "/api/v1/posts")
        self.assertNotEqual(r.body.get("code") if isinstance(r.body, dict) else None,
                            "maintenance")

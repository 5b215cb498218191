"""Rate limiting per class (API.md §1.10). Each test uses its own client IP
(127.0.0.x, bound as the source address) so windows do not mix."""

import re

from harness import ClusterTest

S = "/api/v1/admin/settings"
MSG = "Rate limit exceeded. Try again later."


class RateLimitTest(ClusterTest):
    RAISE_LIMITS = False

    def assertLimited(self, r, what):
        self.assertError(r, 429, "rate_limited", msg=what)
        self.assertEqual(r.body["error"], MSG)
        ra = r.headers.get("Retry-After")
        self.assertIsNotNone(ra, "429 without Retry-After")
        self.assertRegex(ra, r"^[0-9]+$")
        self.assertGreaterEqual(int(ra), 1)
        self.assertLessEqual(int(ra), 60)

    def assertNotLimited(self, r, what):
        self.assertNotEqual(r.status, 429, "%s -> 429 %r" % (what, r.body))

    def test_public_reads(self):
        c = self.cluster
        ip = "127.0.0.11"
        c.patch_settings({"rate_limit_public_reads": 3})
        for i in range(3):
            self.assertNotLimited(c.request("GET", "/api/v1/posts", source=ip), "read %d" % (i + 1))
        self.assertLimited(c.request("GET", "/api/v1/posts", source=ip), "4th public read")
        self.assertLimited(c.request("POST", "/api/v1/posts", {"a": 1}, source=ip),
                           "public write (same class)")
        # X-Forwarded-For is ignored without TRUST_PROXY
        self.assertLimited(c.request("GET", "/api/v1/posts", source=ip,
                                     headers={"X-Forwarded-For": "10.9.8.7"}), "XFF")
        # a rejected credential counts in public_reads (IP-keyed): limited too
        self.assertLimited(c.request("GET", "/api/v1/posts", token="garbage", source=ip),
                           "invalid credential")
        # exempt routes
        for method, path in (("GET", "/metrics"), ("GET", "/api/v1/openapi.json"),
                             ("GET", "/api/v1/admin/health"), ("OPTIONS", "/api/v1/posts")):
            r = c.request(method, path, source=ip)
            self.assertIn(r.status, (200, 204), "%s %s -> %s" % (method, path, r.status))
        # another IP has its own window
        self.assertNotLimited(c.request("GET", "/api/v1/posts", source="127.0.0.12"), "other ip")
        # the admin secret puts a request in the admin class
        self.assertNotLimited(c.admin_req("GET", "/api/v1/posts", source=ip), "admin")
        # the gateway counts what it refused
        m = c.request("GET", "/metrics").raw.decode()
        vals = [float(x) for x in re.findall(
            r'^busbase_rate_limited_total\{[^}]*class="public_reads"[^}]*\} (\S+)$', m, re.M)]
        self.assertTrue(vals and sum(vals) >= 3,
                        "busbase_rate_limited_total{class=\"public_reads\"} missing or < 3")
        # a raised limit applies at once to the current window
        c.patch_settings({"rate_limit_public_reads": 10})
        self.assertNotLimited(c.request("GET", "/api/v1/posts", source=ip), "after raising")
        # 0 = unlimited
        c.patch_settings({"rate_limit_public_reads": 0})
        for i in range(30):
            self.assertNotLimited(c.request("GET", "/api/v1/posts", source=ip), "unlimited %d" % i)

    def test_z_admin(self):
        c = self.cluster
        ip = "127.0.0.21"
        c.patch_settings({"rate_limit_admin": 5})  # from 127.0.0.1
        for i in range(5):
            r = c.admin_req("GET", S, source=ip)
            self.assertStatus(r, 200, "admin request %d" % (i + 1))
        self.assertLimited(c.admin_req("GET", S, source=ip), "6th admin request")
        # anonymous on an admin route counts in admin too (rejected: 401 class)
        self.assertLimited(c.request("GET", S, source=ip), "anon admin route")
        self.assertLimited(c.request("GET", S, token="wrong-secret-xyz", source=ip),
                           "wrong secret")
        # health is exempt
        self.assertStatus(c.request("GET", "/api/v1/admin/health", source=ip), 200)
        # restore from a fresh IP (the restore itself counts in its window)
        r = c.admin_req("PATCH", S, {"rate_limit_admin": 0}, source="127.0.0.22")
        self.assertStatus(r, 200)
        self.assertStatus(c.admin_req("GET", S, source=ip), 200, "after unlimiting")

    def test_y_auth_class(self):
        c = self.cluster
        ip = "127.0.0.31"
        c.admin_req("PATCH", S, {"rate_limit_auth": 2}, source="127.0.0.32")
        for i in range(2):
            self.assertNotLimited(c.request("POST", "/api/v1/auth/login",
                                            {"email": "a@example.com", "password": "x"},
                                            source=ip), "login %d" % (i + 1))
        self.assertLimited(c.request("POST", "/api/v1/auth/register",
                                     {"email": "a@example.com", "password": "x"},
                                     source=ip), "3rd auth-class request")
        # public_reads is another class
        self.assertNotLimited(c.request("GET", "/api/v1/posts", source=ip), "public read")
        c.admin_req("PATCH", S, {"rate_limit_auth": 0}, source="127.0.0.33")

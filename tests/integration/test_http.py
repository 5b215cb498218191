"""Gateway HTTP conventions: routes, 404/405/Allow, HEAD, trailing slash,
request ids, CORS, OPTIONS, common headers, body errors, credentials
(API.md §1.1-§1.6, §1.8)."""

from harness import UUID4_RE, ClusterTest

S = "/api/v1/admin/settings"
EXPOSE = ("X-Request-Id, Retry-After, ETag, Content-Disposition, Content-Range, "
          "Accept-Ranges, Content-Length")
PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-API-Key, "
                                    "X-Request-Id, If-None-Match, Range",
    "Access-Control-Max-Age": "86400",
}
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
MIB = 1024 * 1024


class RoutingTest(ClusterTest):

    def test_404_unknown_paths(self):
        c = self.cluster
        for path in ("/nope", "/api/v2/posts", "/api/v1/auth/nope",
                     "/api/v1/admin/nope", "/api/v1/admin/settings/nope",
                     "/api/v1/posts/" + ULID + "/nope/more", "/api/v1/storage/upload/a/b/c"):
            with self.subTest(path=path):
                self.assertError(c.request("GET", path), 404, "not_found", msg=path)
        self.assertError(c.admin_req("GET", "/api/v1/auth/nope"), 404, "not_found")
        self.assertError(c.request("POST", "/api/v1/auth/nope", {}), 404, "not_found")

    def test_405_allow(self):
        c = self.cluster
        cases = [
            ("PUT", "/api/v1/posts", "GET, HEAD, POST, OPTIONS"),
            ("DELETE", S, "GET, HEAD, PATCH, OPTIONS"),
            ("POST", "/api/v1/admin/health", "GET, HEAD, OPTIONS"),
            ("PUT", "/api/v1/posts/" + ULID, "GET, HEAD, PATCH, DELETE, OPTIONS"),
            ("GET", "/api/v1/auth/login", "POST, OPTIONS"),
            ("DELETE", "/api/v1/openapi.json", "GET, HEAD, OPTIONS"),
            ("POST", "/metrics", "GET, HEAD, OPTIONS"),
            ("PATCH", "/api/v1/admin/restart", "POST, OPTIONS"),
            ("POST", "/api/v1/auth/me", "GET, HEAD, PATCH, DELETE, OPTIONS"),
        ]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                r = c.admin_req(method, path)
                self.assertError(r, 405, "method_not_allowed", msg="%s %s" % (method, path))
                self.assertEqual(r.headers.get("Allow"), allow, "%s %s" % (method, path))
        # also for anonymous callers (route errors come before credentials)
        r = c.request("PUT", "/api/v1/posts")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("Allow"), "GET, HEAD, POST, OPTIONS")

    def test_literals_win(self):
        c = self.cluster
        # "admin" is never a collection name: POST /api/v1/admin -> no route
        r = c.admin_req("POST", "/api/v1/admin", {})
        self.assertError(r, 404, "not_found", msg="POST /api/v1/admin")
        r = c.request("GET", "/api/v1/auth")
        self.assertError(r, 404, "not_found", msg="GET /api/v1/auth")
        r = c.request("GET", "/api/v1/openapi.json")
        self.assertStatus(r, 200)
        self.assertEqual(r.body.get("openapi"), "3.1.0")

    def test_head_like_get(self):
        c = self.cluster
        g = c.admin_req("GET", S)
        h = c.admin_req("HEAD", S)
        self.assertStatus(h, 200)
        self.assertEqual(h.raw, b"")
        self.assertEqual(h.headers.get("Content-Type"), g.headers.get("Content-Type"))
        self.assertEqual(h.headers.get("Cache-Control"), "no-store")
        h = c.request("HEAD", "/api/v1/admin/health")
        self.assertStatus(h, 200)
        self.assertEqual(h.raw, b"")
        h = c.request("HEAD", "/nope")
        self.assertEqual(h.status, 404)
        self.assertEqual(h.raw, b"")
        h = c.request("HEAD", "/metrics")
        self.assertStatus(h, 200)
        self.assertEqual(h.raw, b"")

    def test_trailing_slash(self):
        c = self.cluster
        self.assertStatus(c.admin_req("GET", S + "/"), 200)
        r = c.request("GET", "/api/v1/admin/health/")
        self.assertStatus(r, 200)
        self.assertEqual(r.body["status"], "ok")
        r = c.request("GET", "/api/v1/openapi.json/")
        self.assertStatus(r, 200)
        r = c.admin_req("DELETE", S + "/")
        self.assertEqual(r.status, 405)

    def test_query_string_ignored_for_routing(self):
        r = self.cluster.admin_req("GET", S + "?unknown=1&x=2")
        self.assertStatus(r, 200)
        r = self.cluster.request("GET", "/api/v1/admin/health?x=1")
        self.assertStatus(r, 200)


class HeadersTest(ClusterTest):

    def test_request_id_echo(self):
        c = self.cluster
        for rid in ("abc-123", "A.b_c:d-e", "x" * 128, "0"):
            r = c.request("GET", "/api/v1/admin/health", headers={"X-Request-Id": rid})
            self.assertEqual(r.headers.get("X-Request-Id"), rid)
        # also on errors
        r = c.request("GET", "/nope", headers={"X-Request-Id": "err-1"})
        self.assertEqual(r.headers.get("X-Request-Id"), "err-1")
        r = c.admin_req("GET", S, headers={"X-Request-Id": "svc-1"})
        self.assertEqual(r.headers.get("X-Request-Id"), "svc-1")

    def test_request_id_generated(self):
        c = self.cluster
        seen = set()
        for hdrs in (None, {"X-Request-Id": "bad id"}, {"X-Request-Id": "x" * 129},
                     {"X-Request-Id": "semi;colon"}, {"X-Request-Id": "caf\u00e9".encode().decode("latin-1")},
                     {"X-Request-Id": ""}):
            r = c.request("GET", "/api/v1/admin/health", headers=hdrs)
            rid = r.headers.get("X-Request-Id")
            self.assertIsNotNone(rid, hdrs)
            self.assertRegex(rid, UUID4_RE, "for %r" % (hdrs,))
            seen.add(rid)
        self.assertEqual(len(seen), 6, "generated ids repeat")
        r = c.request("GET", "/nope")
        self.assertRegex(r.headers.get("X-Request-Id") or "", UUID4_RE)

    def test_cors(self):
        c = self.cluster
        for method, path, tok in (("GET", "/api/v1/admin/health", None),
                                  ("GET", S, c.admin), ("GET", "/nope", None),
                                  ("GET", S, None), ("GET", "/metrics", None)):
            r = c.request(method, path, token=tok,
                          headers={"Origin": "https://app.example.com"})
            self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "*", path)
            self.assertEqual(r.headers.get("Access-Control-Expose-Headers"), EXPOSE, path)

    def test_options_preflight(self):
        c = self.cluster
        for path in ("/api/v1/posts", S, "/nope/what/ever", "/metrics",
                     "/api/v1/auth/login", "/"):
            for hdrs in (None, {"Origin": "https://x.example",
                                "Access-Control-Request-Method": "PATCH",
                                "Authorization": "Bearer garbage"}):
                r = c.request("OPTIONS", path, headers=hdrs)
                self.assertEqual(r.status, 204, "OPTIONS %s %r" % (path, r.body))
                self.assertEqual(r.raw, b"")
                for k, v in PREFLIGHT.items():
                    self.assertEqual(r.headers.get(k), v, "%s on OPTIONS %s" % (k, path))
                self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")

    def test_nosniff_everywhere(self):
        c = self.cluster
        for method, path, tok in (("GET", "/healthz", None), ("GET", "/metrics", None),
                                  ("GET", "/api/v1/openapi.json", None),
                                  ("GET", "/api/v1/admin/health", None),
                                  ("GET", S, c.admin), ("GET", S, None),
                                  ("GET", "/nope", None), ("PUT", "/api/v1/posts", None),
                                  ("OPTIONS", "/x", None),
                                  ("GET", S + "/export", c.admin)):
            r = c.request(method, path, token=tok)
            self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff",
                             "%s %s -> %s" % (method, path, r.status))

    def test_json_headers(self):
        c = self.cluster
        for method, path, tok in (("GET", S, c.admin), ("GET", "/nope", None),
                                  ("GET", S, None), ("GET", "/api/v1/admin/health", None),
                                  ("PUT", "/api/v1/posts", None)):
            r = c.request(method, path, token=tok)
            self.assertEqual(r.headers.get("Content-Type"),
                             "application/json; charset=utf-8", "%s %s" % (method, path))
            self.assertEqual(r.headers.get("Cache-Control"), "no-store", "%s %s" % (method, path))


class BodyTest(ClusterTest):

    def test_malformed_json(self):
        c = self.cluster
        for raw in (b"{bad", b'{"a":}', b'{"app_name":"x"', b"nul",
                    b'{"app_name":"\xff\xfe"}', b'{"a":1} trailing'):
            with self.subTest(raw=raw):
                r = c.admin_req("PATCH", S, raw, {"Content-Type": "application/json"})
                self.assertError(r, 400, "invalid_json", msg=repr(raw))

    def test_wrong_top_level(self):
        c = self.cluster
        for raw in (b"[]", b'[{"app_name":"x"}]', b'"str"', b"42", b"true", b"null"):
            with self.subTest(raw=raw):
                r = c.admin_req("PATCH", S, raw, {"Content-Type": "application/json"})
                self.assertError(r, 400, "invalid_body", msg=repr(raw))

    def test_nesting_limit(self):
        """Bodies nest at most 24 levels (README/API notes): deeper is
        invalid_body before the endpoint sees it; 24 reaches the endpoint
        (settings then refuses the unknown key)."""
        c = self.cluster
        def nested(levels):  # {"app_nome":{"k":...1}}, levels deep in all
            v = "1"
            for _ in range(levels - 2):
                v = '{"k":%s}' % v
            return ('{"app_nome":%s}' % v).encode() if levels > 1 else b"{}"
        r = c.admin_req("PATCH", S, nested(25), {"Content-Type": "application/json"})
        self.assertError(r, 400, "invalid_body")
        r = c.admin_req("PATCH", S, b"[" * 30 + b"]" * 30, {"Content-Type": "application/json"})
        self.assertError(r, 400, "invalid_body")
        r = c.admin_req("PATCH", S, nested(24), {"Content-Type": "application/json"})
        self.assertError(r, 400, "validation_error", field="app_nome")
        r = c.admin_req("PATCH", S, b"[" * 3000 + b"]" * 3000, {"Content-Type": "application/json"})
        self.assertStatus(r, 400)

    def test_unsupported_media_type(self):
        c = self.cluster
        for ct in ("text/plain", "application/x-www-form-urlencoded",
                   "multipart/form-data; boundary=x", "application/jsonx"):
            with self.subTest(ct=ct):
                r = c.admin_req("PATCH", S, b'{"app_name":"x"}', {"Content-Type": ct})
                self.assertError(r, 415, "unsupported_media_type", msg=ct)
        # 415 comes before invalid_json
        r = c.admin_req("PATCH", S, b"{bad", {"Content-Type": "text/plain"})
        self.assertError(r, 415, "unsupported_media_type")
        # parameters and case are ignored
        r = c.admin_req("PATCH", S, b"{}", {"Content-Type": "APPLICATION/JSON;charset=utf-8"})
        self.assertStatus(r, 200)

    def test_body_too_large(self):
        c = self.cluster
        big = b'{"app_name":"' + b"x" * MIB + b'"}'
        r = c.admin_req("PATCH", S, big, {"Content-Type": "application/json"})
        self.assertError(r, 413, "body_too_large")
        # 413 before 415 and before invalid_json
        r = c.admin_req("PATCH", S, b"x" * (MIB + 1), {"Content-Type": "text/plain"})
        self.assertError(r, 413, "body_too_large")
        r = c.request("POST", "/api/v1/auth/login", b"{" * (MIB + 1))
        self.assertError(r, 413, "body_too_large")
        # exactly 1 MiB is accepted (then judged as JSON)
        head = b'{"app_name":null,"pad":"'
        body = head + b"p" * (MIB - len(head) - 2) + b'"}'
        self.assertEqual(len(body), MIB)
        r = c.admin_req("PATCH", S, body, {"Content-Type": "application/json"})
        self.assertNotEqual(r.status, 413, r.body)
        self.assertError(r, 400, "validation_error", "pad")

    def test_no_body_endpoint_ignores_body(self):
        r = self.cluster.admin_req("GET", S, b"{garbage", {"Content-Type": "text/plain"})
        self.assertStatus(r, 200)


class CredentialsTest(ClusterTest):

    def test_basic_scheme(self):
        r = self.cluster.request("GET", S, headers={"Authorization": "Basic YWRtaW46eA=="})
        self.assertError(r, 401, "invalid_token")
        # the admin secret under another scheme is not accepted
        r = self.cluster.request("GET", S, headers={"Authorization": "Token " + self.cluster.admin})
        self.assertError(r, 401, "invalid_token")

    def test_bearer_case_insensitive(self):
        r = self.cluster.request("GET", S, headers={"Authorization": "bearer " + self.cluster.admin})
        self.assertStatus(r, 200)
        r = self.cluster.request("GET", S, headers={"Authorization": "BEARER " + self.cluster.admin})
        self.assertStatus(r, 200)

    def test_garbage_bearer(self):
        for tok in ("garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.xxxx"):
            r = self.cluster.request("GET", S, token=tok)
            self.assertError(r, 401, "invalid_token", msg=tok)
        # never downgraded to anonymous, even where anonymous is admitted
        r = self.cluster.request("GET", "/api/v1/posts", token="garbage")
        self.assertError(r, 401, "invalid_token")

    def test_wrong_admin_secret(self):
        s = self.cluster.admin
        for tok in (s[:-1] + ("x" if s[-1] != "x" else "y"), s + "x", s[:-1]):
            r = self.cluster.request("GET", S, token=tok)
            self.assertError(r, 401, "invalid_token", msg=tok)

    def test_api_key_header(self):
        r = self.cluster.request("GET", S, headers={"X-API-Key": "nope"})
        self.assertError(r, 401, "invalid_api_key")
        r = self.cluster.request("GET", "/api/v1/posts", headers={"X-API-Key": "nope"})
        self.assertError(r, 401, "invalid_api_key")
        # Authorization wins: X-API-Key is then ignored
        r = self.cluster.admin_req("GET", S, headers={"X-API-Key": "nope"})
        self.assertStatus(r, 200)

    def test_anonymous_on_admin_route(self):
        for method, path in (("GET", S), ("PATCH", S), ("GET", "/api/v1/admin/stats"),
                             ("POST", "/api/v1/admin/restart"),
                             ("GET", S + "/audit")):
            r = self.cluster.request(method, path, {} if method == "PATCH" else None)
            self.assertError(r, 401, "auth_required", msg="%s %s" % (method, path))

    def test_access_none_ignores_credentials(self):
        # health and openapi have access none: credentials are not evaluated
        r = self.cluster.request("GET", "/api/v1/admin/health", token="garbage")
        self.assertStatus(r, 200)
        r = self.cluster.request("GET", "/api/v1/openapi.json",
                                 headers={"Authorization": "Basic eA=="})
        self.assertStatus(r, 200)

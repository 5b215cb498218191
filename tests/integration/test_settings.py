"""Settings over HTTP (API.md §5.8): get, patch validation, null reset,
secrets, audit, export, import, test-email."""

import time

from harness import ULID_RE, ClusterTest, is_int

S = "/api/v1/admin/settings"
MASK = "********"

# API.md §5.8, written out independently of proto/settings.def.
DEFAULTS = {
    "maintenance_mode": False, "single_session_mode": False,
    "require_email_verification": False, "registration_open": True,
    "log_level": "info", "lockout_max_attempts": 10,
    "lockout_duration_ms": 900000, "access_token_ttl_seconds": 900,
    "refresh_token_ttl_days": 30, "auth_password_enabled": True,
    "auth_magic_link_enabled": True, "auth_totp_enabled": True,
    "auth_api_keys_enabled": True, "auth_oauth_enabled": True,
    "auto_create_collections": True, "auto_create_buckets": False,
    "storage_cdn_url": None, "app_url": None, "app_name": None,
    "email_provider": "console", "email_from": None, "resend_api_key": None,
    "smtp_pass": None, "smtp_host": None, "smtp_user": None, "smtp_port": 587,
    "smtp_secure": False, "rate_limit_public_reads": 200,
    "rate_limit_auth": 10, "rate_limit_authenticated": 500,
    "rate_limit_admin": 50, "rate_limit_file_upload": 20,
    "access_log_max_rows": 10000, "app_log_max_rows": 10000,
    "access_log_max_age_days": 0, "app_log_max_age_days": 0,
}

# (patch, offending field): each must be refused as a whole.
INVALID = [
    ({"no_such_key": 1}, "no_such_key"),
    ({"maintenance_mode": "true"}, "maintenance_mode"),
    ({"registration_open": 1}, "registration_open"),
    ({"smtp_port": "587"}, "smtp_port"),
    ({"smtp_port": 587.5}, "smtp_port"),
    ({"smtp_port": 0}, "smtp_port"),
    ({"smtp_port": 65536}, "smtp_port"),
    ({"lockout_duration_ms": 999}, "lockout_duration_ms"),
    ({"lockout_max_attempts": 1001}, "lockout_max_attempts"),
    ({"access_token_ttl_seconds": 0}, "access_token_ttl_seconds"),
    ({"refresh_token_ttl_days": 366}, "refresh_token_ttl_days"),
    ({"rate_limit_admin": -1}, "rate_limit_admin"),
    ({"rate_limit_public_reads": 1000001}, "rate_limit_public_reads"),
    ({"access_log_max_age_days": 3651}, "access_log_max_age_days"),
    ({"log_level": "verbose"}, "log_level"),
    ({"log_level": 1}, "log_level"),
    ({"email_provider": "sendmail"}, "email_provider"),
    ({"app_url": "ftp://example.com"}, "app_url"),
    ({"app_url": "example.com"}, "app_url"),
    ({"storage_cdn_url": "not a url"}, "storage_cdn_url"),
    ({"app_name": "x" * 101}, "app_name"),
    ({"app_name": 5}, "app_name"),
    ({"email_from": "not an address"}, "email_from"),
    ({"smtp_host": "h" * 2049}, "smtp_host"),
    ({"smtp_pass": 12345}, "smtp_pass"),
    ({"smtp_secure": "yes"}, "smtp_secure"),
]


class SettingsTest(ClusterTest):

    @classmethod
    def before_limits(cls):
        # Before the harness raises the rate limits: the pristine settings.
        cls.pristine = cls.cluster.admin_req("GET", S)

    def get(self):
        r = self.cluster.admin_req("GET", S)
        self.assertStatus(r, 200)
        return r.body

    def patch(self, body, headers=None):
        return self.cluster.admin_req("PATCH", S, body, headers)

    def audit(self, query=""):
        r = self.cluster.admin_req("GET", S + "/audit" + query)
        return r

    # ---- GET
    def test_get_has_every_key_with_defaults(self):
        r = self.pristine
        self.assertStatus(r, 200)
        self.assertIsInstance(r.body, dict, r.raw)
        self.assertEqual(set(r.body), set(DEFAULTS),
                         "missing %s, extra %s" % (set(DEFAULTS) - set(r.body),
                                                    set(r.body) - set(DEFAULTS)))
        for k, v in DEFAULTS.items():
            self.assertEqual(r.body[k], v, "default of %s" % k)
            self.assertIs(type(r.body[k]), type(v), "JSON type of %s" % k)

    def test_get_needs_admin(self):
        r = self.cluster.request("GET", S)
        self.assertError(r, 401, "auth_required")

    # ---- PATCH
    def test_patch_returns_full_object_and_applies(self):
        r = self.patch({"app_name": "Patched", "smtp_port": 2525})
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), set(DEFAULTS))
        self.assertEqual(r.body["app_name"], "Patched")
        self.assertEqual(r.body["smtp_port"], 2525)
        g = self.get()
        self.assertEqual(g["app_name"], "Patched")
        self.assertEqual(g["smtp_port"], 2525)
        self.patch({"app_name": None, "smtp_port": None})

    def test_patch_empty_is_noop(self):
        before = self.get()
        r = self.patch({})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, before)
        # empty body counts as {}; missing Content-Type means JSON
        r = self.cluster.admin_req("PATCH", S, b"", {"Content-Type": None})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, before)
        r = self.cluster.admin_req("PATCH", S, b'{"app_name":"NoCT"}',
                                   {"Content-Type": None})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["app_name"], "NoCT")
        r = self.cluster.admin_req("PATCH", S, b'{"app_name":null}',
                                   {"Content-Type": "Application/JSON; charset=UTF-8"})
        self.assertStatus(r, 200)
        self.assertIsNone(r.body["app_name"])

    def test_patch_validation_errors(self):
        before = self.get()
        for patch, field in INVALID:
            with self.subTest(patch=str(patch)[:60]):
                r = self.patch(patch)
                self.assertError(r, 400, "validation_error", field,
                                 msg="PATCH %s" % str(patch)[:60])
        self.assertEqual(self.get(), before, "a refused PATCH changed settings")

    def test_patch_nothing_applied_on_error(self):
        before = self.get()
        for body in ({"app_name": "Half", "smtp_port": 0},
                     {"smtp_port": 0, "app_name": "Half"},
                     {"maintenance_mode": True, "bogus": 1}):
            r = self.patch(body)
            self.assertEqual(r.status, 400, (body, r.body))
            self.assertEqual(r.body.get("code"), "validation_error")
        after = self.get()
        self.assertEqual(after, before)
        self.assertFalse(after["maintenance_mode"])

    def test_valid_edge_values(self):
        r = self.patch({"smtp_port": 65535, "lockout_max_attempts": 0,
                        "app_url": "https://example.com/app",
                        "storage_cdn_url": "http://cdn.example.com",
                        "app_name": "x" * 100,
                        "email_from": "BusBase <noreply@example.com>",
                        "log_level": "debug"})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["smtp_port"], 65535)
        self.assertEqual(r.body["email_from"], "BusBase <noreply@example.com>")
        r = self.patch({"email_from": "plain@example.com"})
        self.assertStatus(r, 200)
        r = self.patch({k: None for k in ("smtp_port", "lockout_max_attempts",
                                          "app_url", "storage_cdn_url",
                                          "app_name", "email_from", "log_level")})
        self.assertStatus(r, 200)
        for k in ("smtp_port", "lockout_max_attempts", "app_url", "app_name",
                  "log_level"):
            self.assertEqual(r.body[k], DEFAULTS[k], k)

    def test_null_resets_with_reset_audit(self):
        r = self.patch({"refresh_token_ttl_days": 7})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["refresh_token_ttl_days"], 7)
        r = self.patch({"refresh_token_ttl_days": None})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["refresh_token_ttl_days"], 30)
        a = self.audit("?key=refresh_token_ttl_days")
        self.assertStatus(a, 200)
        items = a.body["items"]
        self.assertEqual(len(items), 2, items)
        self.assertEqual(items[0]["source"], "reset")
        self.assertEqual(items[0]["old_value"], 7)
        self.assertEqual(items[0]["new_value"], 30)
        self.assertEqual(items[1]["source"], "patch")
        self.assertEqual(items[1]["old_value"], 30)
        self.assertEqual(items[1]["new_value"], 7)

    def test_secrets_masked(self):
        r = self.patch({"smtp_pass": "hunter2-secret"})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["smtp_pass"], MASK)
        self.assertIsNone(r.body["resend_api_key"])
        self.assertEqual(self.get()["smtp_pass"], MASK)
        # the real value is kept (bus-internal snapshot is unmasked)
        snap = self.cluster.ctl_call("admin", "settings.snapshot")
        self.assertEqual(snap.status, 200, snap)
        self.assertEqual(snap.body["settings"]["smtp_pass"], "hunter2-secret")
        # writing the mask leaves it unchanged, and writes no audit entry
        n_before = self.audit("?key=smtp_pass").body["total"]
        r = self.patch({"smtp_pass": MASK})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["smtp_pass"], MASK)
        snap = self.cluster.ctl_call("admin", "settings.snapshot")
        self.assertEqual(snap.body["settings"]["smtp_pass"], "hunter2-secret")
        a = self.audit("?key=smtp_pass").body
        self.assertEqual(a["total"], n_before)
        for it in a["items"]:
            self.assertNotIn("hunter2", repr(it), "secret leaked in audit")
            self.assertIn(it["new_value"], (MASK, None))
            self.assertIn(it["old_value"], (MASK, None))
        # export masks it too
        e = self.cluster.admin_req("GET", S + "/export")
        self.assertEqual(e.body["settings"]["smtp_pass"], MASK)
        self.assertNotIn(b"hunter2", e.raw)
        r = self.patch({"smtp_pass": None})
        self.assertIsNone(r.body["smtp_pass"])

    # ---- audit
    def test_audit_entries_newest_first(self):
        self.assertStatus(self.patch({"app_name": "AuditA"},
                                     {"X-Request-Id": "audit-req-1"}), 200)
        self.assertStatus(self.patch({"app_name": "AuditB"},
                                     {"X-Request-Id": "audit-req-2"}), 200)
        # no change, no entry
        self.assertStatus(self.patch({"app_name": "AuditB"}), 200)
        a = self.audit("?key=app_name")
        self.assertStatus(a, 200)
        b = a.body
        self.assertEqual(b["limit"], 50)
        self.assertEqual(b["offset"], 0)
        items = [i for i in b["items"] if i["new_value"] in ("AuditA", "AuditB")]
        self.assertEqual([i["new_value"] for i in items], ["AuditB", "AuditA"], b)
        e = items[0]
        self.assertEqual(set(e), {"id", "key", "old_value", "new_value", "source",
                                  "changed_at", "request_id"}, e)
        self.assertRegex(e["id"], ULID_RE)
        self.assertEqual(e["key"], "app_name")
        self.assertEqual(e["old_value"], "AuditA")
        self.assertEqual(e["source"], "patch")
        self.assertEqual(e["request_id"], "audit-req-2")
        self.assertEqual(items[1]["request_id"], "audit-req-1")
        self.assertTrue(is_int(e["changed_at"]))
        self.assertLess(abs(e["changed_at"] - time.time() * 1000), 60000)
        self.assertGreater(e["id"], items[1]["id"])
        for it in b["items"]:
            self.assertEqual(it["key"], "app_name")
        self.assertEqual(b["total"], len(b["items"]))

    def test_audit_one_entry_per_changed_key(self):
        t0 = self.audit().body["total"]
        self.assertStatus(self.patch({"auto_create_buckets": True,
                                      "auth_oauth_enabled": True,  # unchanged
                                      "smtp_user": "u1"}), 200)
        b = self.audit().body
        self.assertEqual(b["total"], t0 + 2, b["items"][:3])
        self.assertEqual({i["key"] for i in b["items"][:2]},
                         {"auto_create_buckets", "smtp_user"})
        self.patch({"auto_create_buckets": None, "smtp_user": None})

    def test_audit_paging(self):
        for v in ("P1", "P2", "P3"):
            self.assertStatus(self.patch({"smtp_host": "h-" + v}), 200)
        full = self.audit("?key=smtp_host").body
        self.assertGreaterEqual(full["total"], 3)
        r = self.audit("?key=smtp_host&limit=1")
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body["items"]), 1)
        self.assertEqual(r.body["limit"], 1)
        self.assertEqual(r.body["total"], full["total"])
        self.assertEqual(r.body["items"][0], full["items"][0])
        r = self.audit("?key=smtp_host&limit=1&offset=1")
        self.assertEqual(r.body["offset"], 1)
        self.assertEqual(r.body["items"][0], full["items"][1])
        r = self.audit("?key=smtp_host&offset=100000")
        self.assertStatus(r, 200)
        self.assertEqual(r.body["items"], [])
        self.assertEqual(r.body["total"], full["total"])
        r = self.audit("?limit=100000")
        self.assertStatus(r, 200)
        self.assertEqual(r.body["limit"], 500)
        for q, field in (("?limit=0", "limit"), ("?limit=abc", "limit"),
                         ("?limit=-3", "limit"), ("?offset=-1", "offset"),
                         ("?offset=x", "offset"), ("?limit=1.5", "limit")):
            with self.subTest(q=q):
                r = self.audit(q)
                self.assertError(r, 400, "invalid_query", field, msg=q)
        self.patch({"smtp_host": None})

    # ---- export / import
    def test_export(self):
        r = self.cluster.admin_req("GET", S + "/export")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("Content-Disposition"),
                         'attachment; filename="busbase-settings.json"')
        b = r.body
        self.assertIsInstance(b, dict, r.raw)
        self.assertEqual(b.get("version"), 1)
        self.assertTrue(is_int(b.get("exported_at")))
        self.assertLess(abs(b["exported_at"] - time.time() * 1000), 60000)
        self.assertEqual(set(b["settings"]), set(DEFAULTS))
        self.assertEqual(b["settings"], self.get())

    def test_import_flat(self):
        self.patch({"app_name": None, "lockout_max_attempts": None})
        r = self.cluster.admin_req("POST", S + "/import",
                                   {"app_name": "Imported",
                                    "lockout_max_attempts": 5,
                                    "registration_open": True})  # unchanged
        self.assertStatus(r, 200)
        self.assertEqual(r.body.get("changed"), 2, r.body)
        self.assertEqual(r.body["settings"]["app_name"], "Imported")
        self.assertEqual(r.body["settings"]["lockout_max_attempts"], 5)
        self.assertEqual(set(r.body["settings"]), set(DEFAULTS))
        a = self.audit("?key=lockout_max_attempts&limit=1").body["items"][0]
        self.assertEqual(a["source"], "import")
        self.assertEqual(a["new_value"], 5)
        # same again: nothing changes
        r = self.cluster.admin_req("POST", S + "/import",
                                   {"app_name": "Imported",
                                    "lockout_max_attempts": 5})
        self.assertStatus(r, 200)
        self.assertEqual(r.body.get("changed"), 0)
        self.patch({"app_name": None, "lockout_max_attempts": None})

    def test_import_export_document(self):
        self.patch({"smtp_pass": "keep-me-secret", "app_name": None})
        doc = self.cluster.admin_req("GET", S + "/export").body
        doc["settings"]["app_name"] = "FromDoc"
        doc["settings"]["access_token_ttl_seconds"] = 1200
        r = self.cluster.admin_req("POST", S + "/import", doc)
        self.assertStatus(r, 200)
        self.assertEqual(r.body.get("changed"), 2, r.body)
        self.assertEqual(r.body["settings"]["app_name"], "FromDoc")
        self.assertEqual(r.body["settings"]["access_token_ttl_seconds"], 1200)
        # the masked secret in the document left the secret unchanged
        snap = self.cluster.ctl_call("admin", "settings.snapshot")
        self.assertEqual(snap.body["settings"]["smtp_pass"], "keep-me-secret")
        self.patch({"smtp_pass": None, "app_name": None,
                    "access_token_ttl_seconds": None})

    def test_import_validation_atomic(self):
        before = self.get()
        r = self.cluster.admin_req("POST", S + "/import",
                                   {"app_name": "Nope", "smtp_port": 99999})
        self.assertError(r, 400, "validation_error", "smtp_port")
        r = self.cluster.admin_req("POST", S + "/import",
                                   {"version": 1, "settings": {"app_name": "Nope",
                                                               "bogus_key": 1}})
        self.assertError(r, 400, "validation_error", "bogus_key")
        self.assertEqual(self.get(), before)

    # ---- test-email
    def test_test_email_validation(self):
        r = self.cluster.admin_req("POST", S + "/test-email", {})
        self.assertError(r, 400, "validation_error", "to")
        r = self.cluster.admin_req("POST", S + "/test-email", {"to": "not-an-email"})
        self.assertError(r, 400, "validation_error", "to")
        r = self.cluster.admin_req("POST", S + "/test-email", {"to": "a@example.com"})
        # console provider; may be email_not_configured until the auth issue
        if r.status == 200:
            self.assertEqual(r.body, {"ok": True, "provider": "console"})
        else:
            self.assertError(r, 400, "email_not_configured")

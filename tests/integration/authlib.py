"""Helpers for the auth integration tests (API.md §2, §5.2, §5.3).

Not a test module (no test_ prefix): test_auth_*.py and test_admin_users.py
import it. Python 3 standard library only; written from the contract, not
from the C code.

  AuthTest      a ClusterTest whose cluster writes console e-mails to a
                file (EMAIL_CONSOLE_FILE), with request/user/settings helpers
  jwt_*         decode and forge HS256 JWTs with the known SECRET_KEY
  totp_*        RFC 6238 codes (HMAC-SHA1, 6 digits, 30 s, T0 = 0)
  MailBox       reads the console provider's JSON lines
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import re
import string
import struct
import tempfile
import threading
import time

from harness import (SECRET_KEY, ULID_RE, ClusterTest, http_request, is_int)

API = "/api/v1"
AUTH = API + "/auth"
ADMIN = API + "/admin"
SETTINGS = ADMIN + "/settings"

PASSWORD = "correct horse 1"
OK = {"ok": True}

USER_KEYS = {"id", "email", "created_at", "updated_at", "is_verified",
             "totp_enabled", "roles", "metadata"}
AUTHRESULT_KEYS = {"access_token", "refresh_token", "expires_in", "user"}
SESSION_KEYS = {"id", "user_id", "created_at", "last_used_at", "expires_at",
                "ip", "user_agent"}
APIKEY_KEYS = {"id", "name", "prefix", "created_at", "expires_at",
               "last_used_at"}
APIKEY_RE = re.compile(r"^bb_[A-Za-z0-9]{40}$")
EMAIL_TOKEN_RE = re.compile(r"^[A-Za-z0-9_~.-]{43,}$")  # URL-safe, >= 43
B32_SECRET_RE = re.compile(r"^[A-Z2-7]{32}$")

DAY_MS = 86400 * 1000

_seq = itertools.count(1)
_run = "".join(random.choice(string.ascii_lowercase) for _ in range(6))


def uniq_email(prefix="u"):
    """A fresh, valid, normalized e-mail address."""
    return "%s%d-%s@example.com" % (prefix, next(_seq), _run)


def now_ms():
    return int(time.time() * 1000)


# ---- JWT -----------------------------------------------------------------

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_dec(s):
    s = s + "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s.encode())


def jwt_decode(token):
    """(header, claims, signature_bytes) without verifying."""
    h, c, s = token.split(".")
    return json.loads(b64url_dec(h)), json.loads(b64url_dec(c)), b64url_dec(s)


def jwt_verifies(token, key=SECRET_KEY):
    h, c, s = token.split(".")
    mac = hmac.new(key.encode(), ("%s.%s" % (h, c)).encode(),
                   hashlib.sha256).digest()
    return hmac.compare_digest(mac, b64url_dec(s))


def jwt_sign(claims, header=None, key=SECRET_KEY, alg="HS256"):
    """A compact JWT over claims. alg HS256/HS384/HS512 sign with key;
    alg "none" gives an empty signature."""
    header = header if header is not None else {"alg": alg, "typ": "JWT"}
    h = b64url(json.dumps(header, separators=(",", ":")))
    c = b64url(json.dumps(claims, separators=(",", ":")))
    signing = ("%s.%s" % (h, c)).encode()
    if alg == "none":
        return "%s.%s." % (h, c)
    fn = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
          "HS512": hashlib.sha512}[alg]
    return "%s.%s.%s" % (h, c, b64url(hmac.new(key.encode(), signing, fn).digest()))


def fake_ulid():
    """A well-formed ULID that no service ever issued (timestamp in 2001)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "00" + "".join(random.choice(alphabet) for _ in range(24))


# ---- TOTP (RFC 6238) ---------------------------------------------------------

def totp_step(t=None):
    return int((time.time() if t is None else t) // 30)


def totp_at(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    v = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % v


def away_from_step_edge(margin=1.5):
    """Sleeps past the next step boundary when one is less than margin s
    away, so a code computed now is judged in the same step."""
    left = 30 - (time.time() % 30)
    if left < margin:
        time.sleep(left + 0.05)


class TotpUser:
    """Tracks the last step the server accepted for one user, so that each
    code the tests present is fresh (§2.9: a code is accepted at most
    once, for a step later than the last accepted one)."""

    def __init__(self, secret):
        self.secret = secret
        self.last = None

    def next_code(self):
        """A code the server must accept now: step max(last+1, now-1),
        waiting (at most one step) until that step is inside now-1..now+1."""
        while True:
            away_from_step_edge()
            now = totp_step()
            step = now - 1 if self.last is None else max(self.last + 1, now - 1)
            if step <= now + 1:
                return step, totp_at(self.secret, step)
            time.sleep(30 - (time.time() % 30) + 0.05)

    def accepted(self, step):
        self.last = step


# ---- console e-mails --------------------------------------------------------

class MailBox:
    """The JSON lines the console provider appends to EMAIL_CONSOLE_FILE."""

    def __init__(self, path):
        self.path = path

    def all(self):
        out = []
        try:
            with open(self.path, "rb") as f:
                data = f.read().decode(errors="replace")
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"_unparsed": line})
        return out

    def find(self, to=None, kind=None):
        return [m for m in self.all()
                if (to is None or m.get("to") == to)
                and (kind is None or m.get("kind") == kind)]

    def wait(self, to, kind, after=0, timeout=5.0):
        """The (after+1)-th mail to `to` of `kind`; waits for it (delivery is
        a background queue that never blocks the HTTP reply)."""
        end = time.monotonic() + timeout
        while True:
            ms = self.find(to, kind)
            if len(ms) > after:
                return ms[after]
            if time.monotonic() > end:
                raise AssertionError(
                    "no %s e-mail #%d to %s within %.1fs; mails to it: %r"
                    % (kind, after + 1, to, timeout, self.find(to)))
            time.sleep(0.02)


# ---- base class -------------------------------------------------------------

class AuthTest(ClusterTest):
    """One cluster per class, console e-mails in a file, helpers."""
    MAIL = True
    EXTRA_ENV = None
    mailbox = None
    _mail_path = None

    @classmethod
    def setUpClass(cls):
        env = dict(cls.EXTRA_ENV or {})
        if cls.MAIL:
            fd, cls._mail_path = tempfile.mkstemp(prefix="bbmail", suffix=".jsonl",
                                                  dir="/tmp")
            os.close(fd)
            env["EMAIL_CONSOLE_FILE"] = cls._mail_path
            cls.mailbox = MailBox(cls._mail_path)
        cls.CLUSTER_ENV = env
        try:
            super().setUpClass()
        except Exception:
            cls._unlink_mail()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls._unlink_mail()

    @classmethod
    def _unlink_mail(cls):
        if cls._mail_path:
            try:
                os.unlink(cls._mail_path)
            except OSError:
                pass

    # ---- HTTP
    def req(self, method, path, body=None, token=None, headers=None,
            key=None, source=None, timeout=15.0):
        """path relative to /api/v1 when it starts with /auth or /admin.
        key: an API key sent as X-API-Key."""
        if path.startswith("/auth") or path.startswith("/admin"):
            path = API + path
        if key is not None:
            headers = dict(headers or {})
            headers["X-API-Key"] = key
        return self.cluster.request(method, path, body, headers, token,
                                    timeout, source=source)

    def admin(self, method, path, body=None, headers=None):
        return self.req(method, path, body, token=self.cluster.admin,
                        headers=headers)

    # ---- settings
    def settings(self, **kv):
        """PATCH settings now; the previous values come back at cleanup."""
        cur = self.admin("GET", "/admin/settings")
        self.assertStatus(cur, 200, "GET settings")
        old = {k: cur.body[k] for k in kv}
        self.addCleanup(self._restore, old)
        r = self.admin("PATCH", "/admin/settings", kv)
        self.assertStatus(r, 200, "PATCH settings %r" % kv)
        return r.body

    def _restore(self, old):
        r = self.admin("PATCH", "/admin/settings", old)
        if r.status != 200:
            raise AssertionError("restoring settings %r -> %s %r"
                                 % (old, r.status, r.body))

    # ---- users
    def register(self, email=None, password=PASSWORD, metadata=None,
                 headers=None, check=True):
        email = email or uniq_email()
        body = {"email": email, "password": password}
        if metadata is not None:
            body["metadata"] = metadata
        r = self.req("POST", "/auth/register", body, headers=headers)
        if check:
            self.assertStatus(r, 201, "register %s" % email)
            self.assertAuthResult(r.body, email)
        return r.body if check else r

    def login(self, email, password=PASSWORD, check=True, headers=None):
        r = self.req("POST", "/auth/login", {"email": email, "password": password},
                     headers=headers)
        if check:
            self.assertStatus(r, 200, "login %s" % email)
            self.assertAuthResult(r.body, email.strip().lower())
            return r.body
        return r

    def me(self, token=None, key=None):
        return self.req("GET", "/auth/me", token=token, key=key)

    def new_key(self, token, name="k", expires_in=None):
        body = {"name": name}
        if expires_in is not None:
            body["expires_in"] = expires_in
        r = self.req("POST", "/auth/api-keys", body, token=token)
        self.assertStatus(r, 201, "create API key")
        return r.body

    def sessions_of(self, uid):
        r = self.admin("GET", "/admin/sessions?user_id=%s&limit=500" % uid)
        self.assertStatus(r, 200, "admin sessions")
        return r.body["items"]

    # ---- assertions
    def assertOK(self, r, msg=None):
        self.assertStatus(r, 200, msg)
        self.assertEqual(r.body, OK, msg)

    def assertUser(self, u, email=None):
        self.assertIsInstance(u, dict, u)
        self.assertEqual(set(u), USER_KEYS, "User keys: %r" % (u,))
        self.assertRegex(u["id"], ULID_RE)
        if email is not None:
            self.assertEqual(u["email"], email)
        self.assertTrue(is_int(u["created_at"]) and is_int(u["updated_at"]), u)
        self.assertGreater(u["created_at"], 1600000000000, "ms timestamps")
        self.assertGreaterEqual(u["updated_at"], u["created_at"])
        self.assertIsInstance(u["is_verified"], bool)
        self.assertIsInstance(u["totp_enabled"], bool)
        self.assertIsInstance(u["roles"], list)
        self.assertIsInstance(u["metadata"], dict)

    def assertAuthResult(self, body, email=None):
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), AUTHRESULT_KEYS, "AuthResult keys: %r" % (body,))
        self.assertIsInstance(body["access_token"], str)
        self.assertEqual(body["access_token"].count("."), 2, body["access_token"])
        rt = body["refresh_token"]
        self.assertIsInstance(rt, str)
        self.assertTrue(0 < len(rt) <= 256, "refresh token length %d" % len(rt))
        self.assertTrue(all(32 < ord(ch) < 127 for ch in rt), "refresh token ASCII")
        self.assertTrue(is_int(body["expires_in"]), body)
        self.assertUser(body["user"], email)

    def assertRevoked(self, token, code="session_revoked", msg=None):
        r = self.me(token)
        self.assertError(r, 401, code, msg=msg)

    def assertKeyDead(self, key, msg=None):
        self.assertError(self.me(key=key), 401, "invalid_api_key", msg=msg)
        self.assertError(self.req("GET", "/auth/me", token=key), 401,
                         "invalid_api_key", msg=msg)


def parallel(fns):
    """Runs the callables at once (one thread each); their results in order."""
    out = [None] * len(fns)
    start = threading.Barrier(len(fns))

    def run(i, f):
        try:
            start.wait(10)
        except threading.BrokenBarrierError:
            pass
        try:
            out[i] = f()
        except Exception as e:  # noqa: BLE001
            out[i] = e
    ts = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def raw_request(port, method, path, body=None, headers=None, token=None):
    return http_request(port, method, path, body, headers, token)

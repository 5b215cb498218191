"""The smtp e-mail provider against a real local SMTP server started by the
test (API.md §2.8 Providers, §5.8 test-email)."""

import base64
import email
import email.policy
import re
import socket
import socketserver
import threading
import time

from authlib import AuthTest, uniq_email
from harness import free_port

FROM = "noreply@example.com"


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(1 << 20)
        if not line:
            raise EOFError
        return line.rstrip(b"\r\n").decode("utf-8", errors="replace")

    def handle(self):
        srv = self.server
        sess = {"helo": None, "from": None, "rcpt": [], "auth": None}
        try:
            self.reply("220 it-smtp ESMTP ready")
            while True:
                cmd = self.readline()
                srv.log.append(cmd)
                verb = cmd.split(" ", 1)[0].upper()
                arg = cmd[len(verb):].strip()
                if verb == "EHLO":
                    sess["helo"] = arg
                    self.reply("250-it-smtp greets %s" % arg)
                    self.reply("250-AUTH PLAIN LOGIN")
                    self.reply("250-8BITMIME")
                    self.reply("250 SIZE 10485760")
                elif verb == "HELO":
                    sess["helo"] = arg
                    self.reply("250 it-smtp")
                elif verb == "AUTH":
                    parts = arg.split()
                    mech = parts[0].upper() if parts else ""
                    if mech == "PLAIN":
                        data = parts[1] if len(parts) > 1 else None
                        if data is None:
                            self.reply("334 ")
                            data = self.readline()
                        raw = base64.b64decode(data + "=" * (-len(data) % 4))
                        _, user, pw = raw.split(b"\0", 2)
                        sess["auth"] = ("PLAIN", user.decode(), pw.decode())
                    elif mech == "LOGIN":
                        if len(parts) > 1:
                            user = base64.b64decode(parts[1]).decode()
                        else:
                            self.reply("334 VXNlcm5hbWU6")
                            user = base64.b64decode(self.readline()).decode()
                        self.reply("334 UGFzc3dvcmQ6")
                        pw = base64.b64decode(self.readline()).decode()
                        sess["auth"] = ("LOGIN", user, pw)
                    else:
                        self.reply("504 unrecognized authentication type")
                        continue
                    self.reply("235 2.7.0 Authentication successful")
                elif verb == "MAIL":
                    m = re.search(r"<([^>]*)>", arg)
                    sess["from"] = m.group(1) if m else arg
                    sess["rcpt"] = []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    m = re.search(r"<([^>]*)>", arg)
                    sess["rcpt"].append(m.group(1) if m else arg)
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        raw = self.rfile.readline(1 << 20)
                        if not raw:
                            raise EOFError
                        if raw in (b".\r\n", b".\n"):
                            break
                        if raw.startswith(b".."):
                            raw = raw[1:]
                        lines.append(raw)
                    with srv.lock:
                        srv.messages.append({"from": sess["from"], "rcpt": list(sess["rcpt"]),
                                             "auth": sess["auth"], "helo": sess["helo"],
                                             "data": b"".join(lines)})
                    self.reply("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    if verb == "RSET":
                        sess["from"], sess["rcpt"] = None, []
                    self.reply("250 OK")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("502 Command not implemented")
        except (EOFError, OSError, ValueError):
            return


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port):
        self.messages = []
        self.log = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, pred, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                for m in self.messages:
                    if pred(m):
                        return m
            time.sleep(0.02)
        raise AssertionError("no matching SMTP message within %.0fs; got %d: %r; log %r"
                             % (timeout, len(self.messages),
                                [m["rcpt"] for m in self.messages], self.log[-20:]))

    def close(self):
        self.shutdown()
        self.server_close()


def parse(m):
    msg = email.message_from_bytes(m["data"], policy=email.policy.default)
    texts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
    return msg, "\n".join(texts)


def closed_port():
    port = free_port()
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        s.close()
        return closed_port()
    except OSError:
        return port


class SmtpTest(AuthTest):
    MAIL = False
    smtp = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.smtp = SmtpServer(free_port())
        except Exception:
            cls.cluster.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.smtp:
            cls.smtp.close()
        super().tearDownClass()

    def use_smtp(self, **extra):
        kv = {"email_provider": "smtp", "smtp_host": "127.0.0.1",
              "smtp_port": self.smtp.server_address[1], "smtp_secure": False,
              "email_from": "BusBase Tests <%s>" % FROM, "smtp_user": None,
              "smtp_pass": None}
        kv.update(extra)
        return self.settings(**kv)

    def for_rcpt(self, to):
        return lambda m: to in m["rcpt"]

    def test_test_email(self):
        self.use_smtp()
        to = uniq_email("smtptest")
        r = self.admin("POST", "/admin/settings/test-email", {"to": to})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, {"ok": True, "provider": "smtp"})
        m = self.smtp.wait(self.for_rcpt(to))
        self.assertEqual(m["from"], FROM)
        self.assertEqual(m["rcpt"], [to])
        self.assertIsNone(m["auth"], "no credentials configured, no AUTH")
        msg, _ = parse(m)
        self.assertEqual(str(msg["Subject"]), "BusBase: test email")
        self.assertIn(to, str(msg["To"]))
        self.assertIn(FROM, str(msg["From"]))

    def test_test_email_subject_uses_app_name(self):
        self.use_smtp(app_name="Smtp App")
        to = uniq_email("smtpname")
        r = self.admin("POST", "/admin/settings/test-email", {"to": to})
        self.assertStatus(r, 200)
        msg, _ = parse(self.smtp.wait(self.for_rcpt(to)))
        self.assertEqual(str(msg["Subject"]), "Smtp App: test email")

    def test_smtp_auth(self):
        self.use_smtp(smtp_user="mailer", smtp_pass="s3cret-pass")
        to = uniq_email("smtpauth")
        r = self.admin("POST", "/admin/settings/test-email", {"to": to})
        self.assertStatus(r, 200)
        m = self.smtp.wait(self.for_rcpt(to))
        self.assertIsNotNone(m["auth"], "no AUTH although smtp_user is set")
        self.assertEqual(m["auth"][1:], ("mailer", "s3cret-pass"))

    def test_register_mail_arrives(self):
        self.use_smtp(app_url="https://app.example.com")
        to = uniq_email("smtpreg")
        a = self.register(to)
        m = self.smtp.wait(self.for_rcpt(to))
        self.assertEqual(m["from"], FROM)
        msg, text = parse(m)
        self.assertEqual(str(msg["Subject"]), "BusBase: verify your email")
        found = re.search(r"https://app\.example\.com/verify-email\?token=([A-Za-z0-9_~.-]{43,})",
                          text)
        self.assertIsNotNone(found, "no verify link in the body: %r" % text[:500])
        r = self.req("POST", "/auth/verify-email", {"token": found.group(1)})
        self.assertOK(r)
        self.assertIs(self.me(a["access_token"]).body["is_verified"], True)

    def test_reset_mail_arrives(self):
        to = uniq_email("smtprst")
        self.use_smtp()
        self.register(to)
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": to}))
        msg, text = parse(self.smtp.wait(lambda m: to in m["rcpt"] and
                                         b"reset your password" in m["data"]))
        self.assertEqual(str(msg["Subject"]), "BusBase: reset your password")
        found = re.search(r"/reset-password\?token=([A-Za-z0-9_~.-]{43,})", text)
        self.assertIsNotNone(found, text[:500])
        self.assertOK(self.req("POST", "/auth/reset-password",
                               {"token": found.group(1), "password": "via smtp 123"}))
        self.login(to, "via smtp 123")

    def test_not_configured(self):
        self.use_smtp(smtp_host=None)
        r = self.admin("POST", "/admin/settings/test-email", {"to": "a@example.com"})
        self.assertError(r, 400, "email_not_configured")
        self.use_smtp(email_from=None)
        r = self.admin("POST", "/admin/settings/test-email", {"to": "a@example.com"})
        self.assertError(r, 400, "email_not_configured")
        self.settings(email_provider="resend", resend_api_key=None, email_from=FROM)
        r = self.admin("POST", "/admin/settings/test-email", {"to": "a@example.com"})
        self.assertError(r, 400, "email_not_configured")

    def test_test_email_validation(self):
        self.use_smtp()
        for body in ({}, {"to": 5}, {"to": "nope"}):
            r = self.admin("POST", "/admin/settings/test-email", body)
            self.assertError(r, 400, "validation_error", "to", msg=repr(body))

    def test_delivery_failure(self):
        self.use_smtp(smtp_port=closed_port())
        r = self.admin("POST", "/admin/settings/test-email", {"to": "a@example.com"})
        self.assertError(r, 502, "email_failed")
        # an auth e-mail that cannot be delivered never changes the response
        to = uniq_email("smtpfail")
        t0 = time.monotonic()
        r = self.req("POST", "/auth/register", {"email": to, "password": "failing mail 1"})
        self.assertStatus(r, 201)
        self.assertLess(time.monotonic() - t0, 5, "register waited for the mail")
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": to}))
        self.assertOK(self.req("POST", "/auth/magic-link", {"email": to}))

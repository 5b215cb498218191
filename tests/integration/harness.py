"""Integration test harness (Python 3 standard library only).

Cluster   starts bin/busbase (the launcher) on a fresh temp DATA_DIR and a
          free PORT, waits for GET /api/v1/admin/health == 200, drives HTTP
          (request) and the bus (ctl / ctl_call through bin/busbasectl), finds
          the child processes (by DATA_DIR in /proc/<pid>/environ) and always
          stops what it started (SIGTERM, then SIGKILL; also at exit).
Service   starts ONE service binary alone (e.g. bin/busbase-admin) for
          bus-only tests.
ExtraGateway
          a second bin/busbase-gateway on another port in front of a
          Cluster's services (test_auth_two_gateways).
ClusterTest
          a unittest.TestCase sharing one Cluster per class (setUpClass).

Every process's output goes to a log file in its temp dir; log_tail() returns
its end, and run.py prints it when a test fails.
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import namedtuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "bin")
LAUNCHER = os.path.join(BIN, "busbase")
CTL = os.path.join(BIN, "busbasectl")

ADMIN_SECRET = "it-admin-secret-0123456789abcdef"
SECRET_KEY = "it-secret-key-0123456789abcdef-0123456789abcdef"

SERVICES = ("auth", "data", "storage", "hooks", "admin")
ALL_PROCS = ("gateway",) + SERVICES

UUID4_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

# Environment variables the harness always controls (never inherited).
_SCRUB = ("PORT", "DATA_DIR", "ADMIN_SECRET", "SECRET_KEY", "TRUST_PROXY",
          "MAX_UPLOAD_BYTES", "EMAIL_CONSOLE_FILE", "BB_WORKERS")

_live = []          # every Cluster/Service started and not yet stopped
closed_logs = []    # (label, log tail) of removed instances, newest last
_live_lock = threading.Lock()


def _cleanup_all():
    with _live_lock:
        items = list(_live)
    for it in items:
        try:
            it.stop()
        except Exception:
            pass
    for it in items:
        try:
            it.remove()
        except Exception:
            pass


atexit.register(_cleanup_all)


def _on_signal(signum, frame):
    _cleanup_all()
    sys.exit(128 + signum)


for _s in (signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_s, _on_signal)
    except (ValueError, OSError):
        pass


def live_objects():
    with _live_lock:
        return list(_live)


def free_port():
    """A port that is free now and outside the kernel's ephemeral range:
    a port from bind(0) is ephemeral, and the many client connections the
    suite opens can take it again before the gateway binds it."""
    lo, hi = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        pass
    candidates = [p for p in range(10000, 30000) if not lo <= p <= hi]
    for _ in range(200):
        port = random.choice(candidates)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found")


def find_promtool():
    p = shutil.which("promtool")
    if p:
        return p
    p = os.path.join(ROOT, "build", "tools", "usr", "bin", "promtool")
    return p if os.access(p, os.X_OK) else None


def base_env(data_dir, port=None, secrets=True, extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUB and not k.startswith("BB_")}
    env["DATA_DIR"] = data_dir
    if port is not None:
        env["PORT"] = str(port)
    if secrets:
        env["ADMIN_SECRET"] = ADMIN_SECRET
        env["SECRET_KEY"] = SECRET_KEY
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


# ---- processes -----------------------------------------------------------

def _read_environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return None


def _proc_name(pid):
    """The binary name of pid: basename of /proc/pid/exe (or argv[0])."""
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
        name = os.path.basename(exe)
        if name.endswith(" (deleted)"):
            name = name[:-len(" (deleted)")]
        return name
    except OSError:
        pass
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        return os.path.basename(argv0)
    except OSError:
        return None


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rindex(")") + 2]
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid):
    st = _proc_state(pid)
    return st is not None and st not in ("Z", "X")


def pids_with_data_dir(data_dir):
    """{pid: name} of live processes whose environment has DATA_DIR=data_dir."""
    want = ("DATA_DIR=" + data_dir).encode()
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        if pid == os.getpid():
            continue
        env = _read_environ(pid)
        if env is None or want not in env:
            continue
        if not pid_alive(pid):
            continue
        name = _proc_name(pid)
        if name:
            out[pid] = name
    return out


def wait_pid_gone(pid, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.01)
    return not pid_alive(pid)


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


# ---- HTTP ------------------------------------------------------------------

class Resp(namedtuple("RespBase", "status headers body")):
    """(status, headers, body): body is parsed JSON when the response says
    application/json and parses, else bytes. .raw holds the raw bytes,
    .elapsed the seconds the request took."""
    raw = b""
    elapsed = 0.0

    def header(self, name, default=None):
        return self.headers.get(name, default)


def http_request(port, method, path, body=None, headers=None, token=None,
                 timeout=15.0, host="127.0.0.1", source=None):
    hdrs = {}
    data = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if headers:
        for k, v in headers.items():
            # None removes a default header (e.g. Content-Type)
            for existing in list(hdrs):
                if existing.lower() == k.lower():
                    del hdrs[existing]
            if v is not None:
                hdrs[k] = v
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(
        host, port, timeout=timeout,
        source_address=(source, 0) if source else None)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        has_len = any(k.lower() == "content-length" for k in hdrs)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if data is not None and not has_len:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        if data:
            try:
                # The server may answer (413) and close before reading it all.
                view = memoryview(data)
                for i in range(0, len(data), 65536):
                    conn.send(view[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
        r = conn.getresponse()
        raw = r.read()
        status = r.status
        rh = r.headers
    finally:
        conn.close()
    parsed = raw
    ctype = (rh.get("Content-Type") or "").lower()
    if raw and ctype.startswith("application/json"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
    res = Resp(status, rh, parsed)
    res.raw = raw
    res.elapsed = time.monotonic() - t0
    return res


# ---- bus through busbasectl -----------------------------------------------

CtlReply = namedtuple("CtlReply", "rc status body stdout stderr elapsed")


def parse_ctl_output(rc, out):
    """busbasectl call prints the reply as JSON. Accepts either a reply
    envelope {"status":N,"body":...} or a bare body (status from rc)."""
    text = out.strip()
    parsed = None
    if text:
        try:
            parsed = json.loads(text)
        except ValueError:
            # maybe a status line followed by JSON
            lines = text.splitlines()
            for i in range(len(lines)):
                try:
                    parsed = json.loads("\n".join(lines[i:]))
                    break
                except ValueError:
                    continue
    if isinstance(parsed, dict) and isinstance(parsed.get("status"), int) \
            and not isinstance(parsed.get("status"), bool) and "body" in parsed:
        return parsed["status"], parsed["body"]
    return (200 if rc == 0 else None), parsed


class _Base:
    data_dir = None
    log_path = None

    def env(self, **extra):
        raise NotImplementedError

    def log_tail(self, n=60):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no log)"
        with open(self.log_path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        # per-request access lines drown the interesting ones
        lines = [l for l in lines if " GW-REQ " not in l]
        return "\n".join(lines[-n:])

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def ctl(self, *args, timeout=15.0, env_extra=None):
        """Runs bin/busbasectl with this instance's environment."""
        env = self.env()
        if env_extra:
            env.update(env_extra)
        t0 = time.monotonic()
        try:
            p = subprocess.run([CTL] + [str(a) for a in args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = -999, e.stdout or b"", (e.stderr or b"") + b"\n(timeout)"
        p_elapsed = time.monotonic() - t0
        return CtlReply(rc, None, None, out.decode(errors="replace"),
                        err.decode(errors="replace"), p_elapsed)

    def ctl_call(self, svc, op, body=None, timeout=15.0, caller=None,
                 query=None, params=None):
        """busbasectl call <svc> <op> [json] [--caller json] [--query json]
        [--params json] -> CtlReply with status/body."""
        args = ["call", svc, op]
        if body is not None:
            args.append(json.dumps(body))
        for flag, v in (("--caller", caller), ("--query", query),
                        ("--params", params)):
            if v is not None:
                args += [flag, json.dumps(v)]
        r = self.ctl(*args, timeout=timeout)
        status, parsed = parse_ctl_output(r.rc, r.stdout)
        return r._replace(status=status, body=parsed)

    def remove(self):
        """Deletes the temp DATA_DIR (keeping the log tail in closed_logs)."""
        if self.data_dir and self._own_dir and os.path.isdir(self.data_dir):
            closed_logs.append((self.label(), self.log_tail(80)))
            del closed_logs[:-20]
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def label(self):
        return "%s %s" % (type(self).__name__, self.data_dir)


class Cluster(_Base):
    """The launcher and its children on a temp DATA_DIR and a free port."""

    def __init__(self, data_dir=None, port=None, secrets=True, env_extra=None,
                 keep_dir=False):
        self._own_dir = data_dir is None and not keep_dir
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="bb", dir="/tmp")
        self.port = port or free_port()
        self.secrets = secrets
        self.env_extra = dict(env_extra or {})
        self.admin = ADMIN_SECRET if secrets else None
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "launcher.log")
        self._log = None
        self.starts = 0

    # environment shared by the launcher and busbasectl
    def env(self, **extra):
        e = base_env(self.data_dir, self.port, self.secrets, self.env_extra)
        e.update(extra)
        return e

    def start(self, wait=True, timeout=15.0):
        if not os.access(LAUNCHER, os.X_OK):
            raise RuntimeError("%s is not built (run make)" % LAUNCHER)
        self.starts += 1
        self._log = open(self.log_path, "ab")
        self._log.write(("\n==== harness: start #%d port %d ====\n"
                         % (self.starts, self.port)).encode())
        self._log.flush()
        self.proc = subprocess.Popen([LAUNCHER], env=self.env(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.data_dir, start_new_session=True)
        with _live_lock:
            if self not in _live:
                _live.append(self)
        if wait:
            try:
                self.wait_healthy(timeout)
            except Exception:
                tail = self.log_tail(80)
                self.stop()
                raise RuntimeError("cluster did not become healthy in %.0fs; "
                                   "launcher log tail:\n%s" % (timeout, tail))
        return self

    def wait_healthy(self, timeout=15.0, need_ok=True, ready=True):
        """Polls GET /api/v1/admin/health until 200 (and every service ok).
        ready: also wait until the gateway reaches every service
        (/metrics: busbase_service_up 1 for all six) and admin reaches the
        gateway (stats: gateway ok), so that tests do not race the start.
        (test_propagation.StartupReadinessTest checks that health 200 alone
        already means ready.)"""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("launcher exited with %s" % self.proc.returncode)
            try:
                r = self.request("GET", "/api/v1/admin/health", timeout=3)
                last = r
                if r.status == 200 and (not need_ok or self._all_ok(r.body)) \
                        and (not ready or self._ready()):
                    return r
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        raise TimeoutError("health not 200 within %.1fs (last: %r)"
                           % (timeout, last if not isinstance(last, Resp)
                              else (last.status, last.body)))

    _UP_RE = re.compile(r'^busbase_service_up\{[^}]*service="(\w+)"[^}]*\} (\S+)$', re.M)

    def _ready(self):
        m = self.request("GET", "/metrics", timeout=3)
        if m.status != 200:
            return False
        up = dict(self._UP_RE.findall(m.raw.decode(errors="replace")))
        if any(up.get(s) not in ("1", "1.0") for s in ALL_PROCS):
            return False
        if self.admin:
            # from a dedicated client IP: never eats the tests' rate windows
            st = self.request("GET", "/api/v1/admin/stats", token=self.admin,
                              timeout=3, source="127.0.0.254")
            if st.status == 429:
                return True
            try:
                return st.status == 200 and all(
                    st.body["services"][s]["status"] == "ok" for s in ALL_PROCS)
            except (KeyError, TypeError):
                return False
        return True

    @staticmethod
    def _all_ok(body):
        try:
            return all(body["services"][s]["status"] == "ok" for s in ALL_PROCS)
        except (KeyError, TypeError):
            return False

    def stop(self, timeout=10.0):
        """SIGTERM the launcher, wait, SIGKILL; then kill any leftover
        process of this DATA_DIR. Returns the launcher's exit code."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except OSError:
                        pass
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
        # leftovers (a child that outlived the launcher)
        left = pids_with_data_dir(self.data_dir)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in left:
            wait_pid_gone(pid, 2)
        if self._log:
            self._log.close()
            self._log = None
        with _live_lock:
            if self in _live:
                _live.remove(self)
        self.leftovers = left
        return rc

    def close(self):
        self.stop()
        self.remove()

    # ---- HTTP
    def request(self, method, path, body=None, headers=None, token=None,
                timeout=15.0, source=None):
        """source: a local address to connect from (e.g. "127.0.0.2"), which
        is the client IP the gateway sees."""
        return http_request(self.port, method, path, body, headers, token,
                            timeout, source=source)

    def admin_req(self, method, path, body=None, headers=None, timeout=15.0,
                  source=None):
        return self.request(method, path, body, headers, self.admin, timeout,
                            source=source)

    def patch_settings(self, patch):
        r = self.admin_req("PATCH", "/api/v1/admin/settings", patch)
        if r.status != 200:
            raise AssertionError("PATCH settings %r -> %s %r"
                                 % (patch, r.status, r.body))
        return r.body

    def raise_limits(self):
        return self.patch_settings({
            "rate_limit_public_reads": 0, "rate_limit_auth": 0,
            "rate_limit_authenticated": 0, "rate_limit_admin": 0,
            "rate_limit_file_upload": 0})

    # ---- processes
    def children(self):
        """{name: pid} of this cluster's processes (launcher excluded)."""
        out = {}
        lp = self.proc.pid if self.proc else None
        for pid, name in pids_with_data_dir(self.data_dir).items():
            if pid == lp or name in ("busbase", "busbasectl"):
                continue
            if name.startswith("busbase-"):
                out[name[len("busbase-"):]] = pid
        return out

    def pid_of(self, svc, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            pid = self.children().get(svc)
            if pid or time.monotonic() >= end:
                return pid
            time.sleep(0.05)

    def launcher_pid(self):
        return self.proc.pid if self.proc else None


class Service(_Base):
    """One service binary alone, e.g. Service("admin")."""

    def __init__(self, name, data_dir=None, secrets=True, env_extra=None):
        self.name = name
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="bb", dir="/tmp")
        self.secrets = secrets
        self.env_extra = dict(env_extra or {})
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "%s.log" % name)
        self._log = None

    def env(self, **extra):
        e = base_env(self.data_dir, None, self.secrets, self.env_extra)
        e.update(extra)
        return e

    def binary(self):
        return os.path.join(BIN, "busbase-" + self.name)

    def start(self, wait=True, timeout=10.0):
        if not os.access(self.binary(), os.X_OK):
            raise RuntimeError("%s is not built (run make)" % self.binary())
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary()], env=self.env(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.data_dir, start_new_session=True)
        with _live_lock:
            _live.append(self)
        if wait:
            end = time.monotonic() + timeout
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited with %s; log:\n%s"
                                       % (self.name, self.proc.returncode,
                                          self.log_tail()))
                r = self.ctl_call(self.name, "svc.health", timeout=3)
                if r.status == 200:
                    break
                if time.monotonic() > end:
                    tail = self.log_tail()
                    self.stop()
                    raise RuntimeError("%s did not answer svc.health within "
                                       "%.0fs (ctl rc %s: %s %s); log:\n%s"
                                       % (self.name, timeout, r.rc, r.stdout,
                                          r.stderr, tail))
                time.sleep(0.1)
        return self

    def stop(self, timeout=10.0):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
        for pid in pids_with_data_dir(self.data_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self._log:
            self._log.close()
            self._log = None
        with _live_lock:
            if self in _live:
                _live.remove(self)
        return rc


class ExtraGateway(_Base):
    """A second bin/busbase-gateway on its own port, in front of a running
    Cluster's services (same DATA_DIR, secrets and bus addresses), started
    outside the launcher. stop() ends this process only; the Cluster's
    stop() would also kill it (same DATA_DIR)."""

    def __init__(self, cluster, port=None):
        self.cluster = cluster
        self._own_dir = False
        self.data_dir = cluster.data_dir
        self.port = port or free_port()
        self.proc = None
        self.log_path = os.path.join(cluster.data_dir, "gateway-%d.log" % self.port)
        self._log = None

    def env(self, **extra):
        e = self.cluster.env(PORT=str(self.port))
        e.update(extra)
        return e

    def start(self, timeout=10.0):
        path = os.path.join(BIN, "busbase-gateway")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([path], env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.data_dir, start_new_session=True)
        with _live_lock:
            _live.append(self)
        end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("second gateway exited with %s; log:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                r = self.request("GET", "/api/v1/admin/health", timeout=2)
                if r.status == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > end:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError("second gateway not healthy within %.0fs; log:\n%s"
                                   % (timeout, tail))
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None, token=None,
                timeout=15.0, source=None):
        return http_request(self.port, method, path, body, headers, token,
                            timeout, source=source)

    def stop(self, timeout=10.0):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
        if self._log:
            self._log.close()
            self._log = None
        with _live_lock:
            if self in _live:
                _live.remove(self)
        return rc


# ---- unittest base ---------------------------------------------------------

class Checks:
    """Assertion helpers (mixed into unittest.TestCase classes)."""

    def assertError(self, r, status, code, field=None, msg=None):
        """status, the {"error","code"[,"field"]} shape, the code and field."""
        ctx = "%s -> %s %r" % (msg or "", r.status, r.body)
        self.assertEqual(r.status, status, ctx)
        self.assertIsInstance(r.body, dict, "error body is not JSON: " + ctx)
        self.assertIsInstance(r.body.get("error"), str, ctx)
        self.assertTrue(r.body.get("error"), ctx)
        self.assertEqual(r.body.get("code"), code, ctx)
        if field is None:
            self.assertNotIn("field", r.body, ctx)
        else:
            self.assertEqual(r.body.get("field"), field, ctx)
        ct = r.headers.get("Content-Type", "")
        self.assertEqual(ct.lower().replace(" ", ""),
                         "application/json;charset=utf-8", ctx)
        extra = set(r.body) - {"error", "code", "field"}
        self.assertFalse(extra, "unexpected keys in error body: %r" % extra)

    def assertStatus(self, r, status, msg=None):
        self.assertEqual(r.status, status,
                         "%s -> %s %r" % (msg or "", r.status, r.body))


class ClusterTest(Checks, unittest.TestCase):
    """One cluster per test class. Subclasses may set:
    RAISE_LIMITS (True): PATCH every rate limit to 0 after start;
    CLUSTER_ENV: extra environment."""
    RAISE_LIMITS = True
    CLUSTER_ENV = None
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(env_extra=cls.CLUSTER_ENV)
        try:
            cls.cluster.start()
            cls.before_limits()
            if cls.RAISE_LIMITS:
                cls.cluster.raise_limits()
        except Exception:
            cls.cluster.close()
            raise

    @classmethod
    def before_limits(cls):
        """Hook: runs after start, before the limits are raised."""

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.close()


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)

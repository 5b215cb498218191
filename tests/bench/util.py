#!/usr/bin/env python3
"""Helpers for tests/bench/run.sh (Python 3 standard library only).

  util.py freeport
  util.py wait-health PORT TIMEOUT          exit 0 when /api/v1/admin/health is 200
  util.py wait-http PORT PATH TIMEOUT       exit 0 when GET PATH answers at all
  util.py status PORT PATH [TOKEN]          prints the status of one GET
  util.py patch-limits PORT TOKEN [LEVEL]   every rate limit -> 0 (unlimited),
                                            and log_level -> LEVEL if given
  util.py gateway-pid DATA_DIR              pid of busbase-gateway for DATA_DIR
  util.py rss PID                           VmRSS in KiB
  util.py idle-rss PORT PID N               open N keep-alive connections, one
                                            request each, keep them open, print
                                            "<ok> <rss_before_kib> <rss_with_kib>"
  util.py wrk-parse FILE                    prints "rps p50_ms p99_ms non2xx errors"
  util.py auth-seed PORT TOKEN DIR N        for the auth benchmarks: access
                                            tokens live 1 h, lockout off; one
                                            user with a JWT and an API key,
                                            N more users whose refresh tokens
                                            (one session each) go to
                                            DIR/auth-refresh.txt; writes
                                            DIR/auth-jwt, auth-key,
                                            auth-email, auth-password
  util.py data-seed PORT TOKEN DIR C N CONNS MAXSEC
                                            for the data benchmarks: a user
                                            (JWT in DIR/data-jwt), collection
                                            C (read public, create
                                            authenticated, update/delete
                                            owner), indexes on cat and score,
                                            then N small records by POST
                                            /C/bulk (500 each) over CONNS
                                            connections with the user's JWT,
                                            stopping early after MAXSEC s;
                                            sample ids -> DIR/data-ids.txt;
                                            prints "<records> <seconds>
                                            <records/s>"
  util.py data-walk PORT TOKEN PATH PAGES   follows next_cursor from PATH
                                            (a list URL) to page PAGES;
                                            prints "<after> <page> <seconds>"
  util.py data-cursor PORT TOKEN PATH PAGE  next_cursor of PATH&page=PAGE
                                            (the `after` of page PAGE+1)
  util.py data-time PORT TOKEN PATH N       N sequential GETs (after one
                                            untimed); prints "<status of the
                                            last> <p50_ms> <max_ms>"
  util.py data-probe PORT TOKEN PATH        one GET; prints "<status>
                                            <total|count|-> <items|->"
"""

import concurrent.futures
import http.client
import json
import random
import string
import os
import re
import resource
import socket
import sys
import time


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    print(p)


def get(port, path, token=None, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wait_health(port, timeout):
    end = time.monotonic() + float(timeout)
    while time.monotonic() < end:
        try:
            st, _ = get(int(port), "/api/v1/admin/health")
            if st == 200:
                return 0
        except OSError:
            pass
        time.sleep(0.1)
    return 1


def wait_http(port, path, timeout):
    end = time.monotonic() + float(timeout)
    while time.monotonic() < end:
        try:
            get(int(port), path)
            return 0
        except OSError:
            time.sleep(0.05)
    return 1


def patch_limits(port, token, log_level=None):
    body = {k: 0 for k in ("rate_limit_public_reads", "rate_limit_auth",
                           "rate_limit_authenticated", "rate_limit_admin",
                           "rate_limit_file_upload")}
    if log_level:
        body["log_level"] = log_level
    st, data = get(int(port), "/api/v1/admin/settings", token, "PATCH", body)
    print(st)
    return 0 if st == 200 else 1


def gateway_pid(data_dir):
    want = ("DATA_DIR=" + data_dir).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
            exe = os.path.basename(os.readlink("/proc/%s/exe" % d))
        except OSError:
            continue
        if want in env and exe.startswith("busbase-gateway"):
            print(d)
            return 0
    return 1


def rss(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def idle_rss(port, pid, n):
    port, n = int(port), int(n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        except (ValueError, OSError):
            pass
    before = rss(pid)
    socks = []
    req = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n"
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(req)
            socks.append(s)
        except OSError:
            break
    ok = 0
    for s in socks:
        try:
            data = s.recv(65536)
            if data.startswith(b"HTTP/1.1 200"):
                ok += 1
        except OSError:
            pass
    time.sleep(1.0)
    # still open? (a closed connection reads EOF immediately)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(1)
            if d:
                alive += 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    with_conns = rss(pid)
    print(ok, alive, before, with_conns)
    for s in socks:
        s.close()
    return 0


def wrk_parse(path):
    text = open(path, errors="replace").read()

    def ms(v, unit):
        v = float(v)
        return v * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    rps = re.search(r"Requests/sec:\s*([0-9.]+)", text)
    p50 = re.search(r"^\s*50%\s+([0-9.]+)(us|ms|s|m)\s*$", text, re.M)
    p99 = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s|m)\s*$", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*([0-9]+)", text)
    errs = re.search(r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), "
                     r"timeout ([0-9]+)", text)
    print("%s %s %s %s %s" % (
        rps.group(1) if rps else "0",
        "%.3f" % ms(*p50.groups()) if p50 else "nan",
        "%.3f" % ms(*p99.groups()) if p99 else "nan",
        non2xx.group(1) if non2xx else "0",
        sum(int(x) for x in errs.groups()) if errs else 0))
    return 0


BENCH_PASSWORD = "bench password 1"


def auth_seed(port, token, out_dir, n):
    port, n = int(port), int(n)
    # lockout off: the login runs hammer one account, and a lockout (of
    # this account or, with a lockout bug, of correct logins) would turn
    # them into a 429 benchmark.
    st, data = get(port, "/api/v1/admin/settings", token, "PATCH",
                   {"access_token_ttl_seconds": 3600, "lockout_max_attempts": 0})
    if st != 200:
        print("PATCH access_token_ttl_seconds, lockout_max_attempts -> %s %s"
              % (st, data[:200]))
        return 1
    tag = "".join(random.choice(string.ascii_lowercase) for _ in range(8))

    def register(i):
        email = "bench-%s-%d@example.com" % (tag, i)
        st, data = get(port, "/api/v1/auth/register", None, "POST",
                       {"email": email, "password": BENCH_PASSWORD})
        if st != 201:
            raise RuntimeError("register %s -> %s %s" % (email, st, data[:200]))
        return email, json.loads(data)

    try:
        email, main_user = register(0)
        jwt = main_user["access_token"]
        st, data = get(port, "/api/v1/auth/api-keys", jwt, "POST", {"name": "bench"})
        if st != 201:
            raise RuntimeError("create API key -> %s %s" % (st, data[:200]))
        key = json.loads(data)["key"]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            users = list(ex.map(register, range(1, n + 1)))
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        print("seeding failed: %s" % e)
        return 1
    files = {"auth-jwt": jwt, "auth-key": key, "auth-email": email,
             "auth-password": BENCH_PASSWORD,
             "auth-refresh.txt": "\n".join(u["refresh_token"] for _, u in users) + "\n"}
    for name, text in files.items():
        with open(os.path.join(out_dir, name), "w") as f:
            f.write(text)
    print("ok %d sessions" % n)
    return 0


# ---- data benchmarks (tests/bench/data.sh) ----------------------------------

class Conn:
    """A keep-alive connection; a GET is retried once on a dropped socket
    (a write is not: it might have been applied)."""

    def __init__(self, port, token=None):
        self.port, self.token, self.c = port, token, None

    def req(self, method, path, body=None, raw=None):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            h["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.c.request(method, path, body=raw, headers=h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = None
                if attempt or method != "GET":
                    raise


# word pool of the text column; RARE is in every 1000th record (0.1%)
DATA_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
              "hotel", "india", "juliet", "kilo", "lima", "mike", "november",
              "oscar", "papa", "quebec", "romeo", "sierra", "tango")
DATA_RARE = "zephyrine"


def data_record(i):
    # cat: i % 100 (cat:eq:42 matches 1%); score: a permutation-like spread;
    # views: PATCHed by the bench; title: 3 words (+ the rare one).
    w = DATA_WORDS
    t = "%s %s %s %d" % (w[i % 20], w[(i // 20) % 20], w[(i // 400) % 20], i)
    if i % 1000 == 7:
        t += " " + DATA_RARE
    return '{"cat":%d,"score":%d,"views":0,"title":"%s"}' % (
        i % 100, (i * 7919) % 1000003, t)


def data_seed(port, token, out_dir, coll, n, conns, maxsec):
    port, n, conns, maxsec = int(port), int(n), int(conns), float(maxsec)
    admin = Conn(port, token)
    st, data = admin.req("PATCH", "/api/v1/admin/settings",
                         {"access_token_ttl_seconds": 3600})
    if st != 200:
        print("PATCH access_token_ttl_seconds -> %s %s" % (st, data[:200]))
        return 1
    tag = "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    st, data = Conn(port).req("POST", "/api/v1/auth/register",
                              {"email": "bench-data-%s@example.com" % tag,
                               "password": BENCH_PASSWORD})
    if st != 201:
        print("register -> %s %s" % (st, data[:200]))
        return 1
    jwt = json.loads(data)["access_token"]
    admin.req("DELETE", "/api/v1/admin/collections/" + coll)
    st, data = admin.req("POST", "/api/v1/admin/collections",
                         {"name": coll, "rules": {"read": "public", "create": "authenticated",
                                                  "update": "owner", "delete": "owner"}})
    if st != 201:
        print("create collection -> %s %s" % (st, data[:200]))
        return 1
    user = Conn(port, jwt)
    bulk = "/api/v1/%s/bulk" % coll
    # the first batch creates the columns, then the indexes (so that the
    # bulk inserts maintain them, as in an app that declared them first)
    first = min(500, n)
    st, data = user.req("POST", bulk, raw=("[" + ",".join(
        data_record(i) for i in range(first)) + "]").encode())
    if st != 201:
        print("bulk -> %s %s" % (st, data[:200]))
        return 1
    ids = re.findall(rb'"_id":"([0-9A-Z]{26})"', data)[::10]
    for col in ("cat", "score"):
        st, d = admin.req("POST", "/api/v1/admin/collections/%s/indexes" % coll,
                          {"column": col})
        if st != 201:
            print("index %s -> %s %s" % (col, st, d[:200]))
            return 1
    nreq = (n - first + 499) // 500
    t0 = time.monotonic()
    deadline = t0 + maxsec
    err = []

    def worker(k):
        c = Conn(port, jwt)
        done, mine = 0, []
        j = k
        while j < nreq and not err:
            if time.monotonic() > deadline:
                break
            lo = first + j * 500
            hi = min(lo + 500, n)
            body = ("[" + ",".join(data_record(i) for i in range(lo, hi)) + "]").encode()
            try:
                st, d = c.req("POST", bulk, raw=body)
            except (http.client.HTTPException, OSError) as e:
                err.append("bulk: %s" % e)
                break
            if st != 201:
                err.append("bulk -> %s %s" % (st, d[:200]))
                break
            done += hi - lo
            if j % 4 == 0:
                # ~1000 ids spread over the collection for GET and PATCH
                mine.extend(re.findall(rb'"_id":"([0-9A-Z]{26})"', d)[::200])
            j += conns
        return done, mine

    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
        res = list(ex.map(worker, range(conns)))
    dt = time.monotonic() - t0
    if err:
        print("seeding failed: %s" % err[0])
        return 1
    seeded = sum(r[0] for r in res)
    for r in res:
        ids.extend(r[1])
    random.shuffle(ids)
    with open(os.path.join(out_dir, "data-jwt"), "w") as f:
        f.write(jwt)
    with open(os.path.join(out_dir, "data-ids.txt"), "w") as f:
        f.write("\n".join(i.decode() for i in ids) + "\n")
    print("%d %.2f %.0f" % (first + seeded, dt, seeded / dt if dt > 0 else 0))
    return 0


def data_walk(port, token, path, pages):
    port, pages = int(port), int(pages)
    c = Conn(port, token)
    sep = "&" if "?" in path else "?"
    after, page = None, 1
    t0 = time.monotonic()
    while page < pages:
        st, data = c.req("GET", path + (sep + "after=" + after if after else ""))
        if st != 200:
            print("page %d -> %s %s" % (page + 1, st, data[:200]))
            return 1
        nxt = json.loads(data).get("next_cursor")
        if not nxt:
            break
        after, page = nxt, page + 1
    print("%s %d %.2f" % (after or "-", page, time.monotonic() - t0))
    return 0


def data_cursor(port, token, path, page):
    sep = "&" if "?" in path else "?"
    st, data = Conn(int(port), token).req("GET", "%s%spage=%d" % (path, sep, int(page)))
    if st != 200:
        print("page %s -> %s %s" % (page, st, data[:200]))
        return 1
    print(json.loads(data).get("next_cursor") or "-")
    return 0


def data_time(port, token, path, n):
    c = Conn(int(port), token)
    st, _ = c.req("GET", path)
    ts = []
    for _ in range(int(n)):
        t0 = time.monotonic()
        st, _ = c.req("GET", path)
        ts.append(1000 * (time.monotonic() - t0))
    ts.sort()
    print("%s %.3f %.3f" % (st, ts[len(ts) // 2], ts[-1]))
    return 0


def data_probe(port, token, path):
    try:
        st, data = Conn(int(port), token).req("GET", path)
    except (http.client.HTTPException, OSError) as e:
        print("error %s" % e)
        return 1
    tot, items = "-", "-"
    try:
        j = json.loads(data)
        if isinstance(j, dict):
            if "total" in j:
                tot = j["total"]
            elif "count" in j:
                tot = j["count"]
            if isinstance(j.get("items"), list):
                items = len(j["items"])
    except ValueError:
        pass
    print(st, tot, items)
    return 0


def main(a):
    cmd = a[0]
    if cmd == "freeport":
        freeport()
        return 0
    if cmd == "wait-health":
        return wait_health(a[1], a[2])
    if cmd == "wait-http":
        return wait_http(a[1], a[2], a[3])
    if cmd == "status":
        try:
            print(get(int(a[1]), a[2], a[3] if len(a) > 3 else None)[0])
        except OSError as e:
            print("error:", e)
            return 1
        return 0
    if cmd == "patch-limits":
        return patch_limits(a[1], a[2], a[3] if len(a) > 3 else None)
    if cmd == "gateway-pid":
        return gateway_pid(a[1])
    if cmd == "rss":
        print(rss(a[1]))
        return 0
    if cmd == "idle-rss":
        return idle_rss(a[1], a[2], a[3])
    if cmd == "wrk-parse":
        return wrk_parse(a[1])
    if cmd == "auth-seed":
        return auth_seed(a[1], a[2], a[3], a[4])
    if cmd == "data-seed":
        return data_seed(*a[1:8])
    if cmd == "data-walk":
        return data_walk(a[1], a[2], a[3], a[4])
    if cmd == "data-cursor":
        return data_cursor(a[1], a[2], a[3], a[4])
    if cmd == "data-time":
        return data_time(a[1], a[2], a[3], a[4])
    if cmd == "data-probe":
        return data_probe(a[1], a[2], a[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""kill -9 of the data service during a stream of writes (issue 4 Tests;
API.md §1.11, §3.8): every create that got a 2xx is present, with its
data, after the launcher restarted the service; bulk writes are all or
nothing across the crash."""

import collections
import os
import signal
import threading
import time

from datalib import DataTest, q, uniq_coll
from harness import pid_alive, wait_pid_gone


class Stream:
    """Writers in threads: fn(worker, seq) -> Resp; remembers what was acked."""

    def __init__(self, fn, workers=4):
        self.fn = fn
        self.workers = workers
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []            # (worker, seq, body)
        self.failed = collections.Counter()
        self.acked_at = []         # monotonic time of each ack
        self.threads = []

    def run(self, w):
        seq = 0
        while not self.stop.is_set():
            seq += 1
            try:
                r = self.fn(w, seq)
            except Exception as e:   # noqa: BLE001 - a dropped connection is not an ack
                with self.lock:
                    self.failed[type(e).__name__] += 1
                time.sleep(0.005)
                continue
            with self.lock:
                if 200 <= r.status < 300:
                    self.acked.append((w, seq, r.body))
                    self.acked_at.append(time.monotonic())
                else:
                    code = r.body.get("code") if isinstance(r.body, dict) else r.status
                    self.failed["%s %s" % (r.status, code)] += 1
            if r.status >= 500:
                time.sleep(0.005)

    def start(self):
        for w in range(self.workers):
            t = threading.Thread(target=self.run, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)

    def wait_acks(self, n, since=0.0, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if sum(1 for t in self.acked_at if t > since) >= n:
                    return True
            time.sleep(0.01)
        return False

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


class CrashTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def kill_data(self):
        c = self.cluster
        pid = c.pid_of("data")
        self.assertTrue(pid, "no busbase-data process: %r" % c.children())
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_pid_gone(pid, 3), "data pid %d still running" % pid)
        return pid

    def restarted(self, oldpid):
        self.cluster.wait_healthy(15)
        newpid = self.cluster.pid_of("data")
        self.assertTrue(newpid and newpid != oldpid and pid_alive(newpid),
                        "data was not restarted (old %s, new %s)" % (oldpid, newpid))
        # the gateway's own bus connection reconnects on its own (100 ms backoff)
        end = time.monotonic() + 3
        while True:
            r = self.rec("GET", "/crash_probe/count")
            if r.status != 503 or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.assertStatus(r, 200, "data reachable through the gateway after the restart")

    def fresh(self):
        """An auto-created collection (the crash test needs only the record
        endpoints, not the admin ones)."""
        coll = uniq_coll("crash")
        self.create(coll, {"w": -1, "seq": 0, "i": -1}, token=self.alice.token)
        return coll

    def all_items(self, coll):
        out, after = [], None
        while True:
            params = [("limit", 500), ("include_deleted", "true")]
            if after:
                params.append(("after", after))
            r = self.rec("GET", "/%s%s" % (coll, q(*params)), token=self.cluster.admin)
            self.assertStatus(r, 200)
            out += [x for x in r.body["items"] if x["w"] != -1]
            after = r.body["next_cursor"]
            if not after:
                return out

    def test_acked_creates_survive(self):
        coll = self.fresh()
        tok = self.alice.token

        def create(w, seq):
            return self.rec("POST", "/" + coll, {"w": w, "seq": seq,
                                                 "txt": "crashword tok%dx%d" % (w, seq),
                                                 "pad": "p" * 200}, token=tok)
        s = Stream(create)
        s.start()
        try:
            self.assertTrue(s.wait_acks(50), "no creates before the kill: %r" % s.failed)
            t_kill = time.monotonic()
            old = self.kill_data()
            # keep writing through the outage until writes succeed again
            ok = s.wait_acks(50, since=t_kill + 0.001, timeout=20)
        finally:
            s.finish()
        self.assertTrue(ok, "creates did not resume after the restart: %r" % s.failed)
        self.assertTrue(s.failed, "the kill went unnoticed (no failed create)")
        self.restarted(old)
        bad = set(s.failed) - {"503 service_unavailable"} - {
            k for k in s.failed if not k[0].isdigit()}
        self.assertFalse(bad, "unexpected failures during the outage: %r" % s.failed)
        acked = {b["_id"]: (w, seq) for w, seq, b in s.acked}
        self.assertEqual(len(acked), len(s.acked), "an id was acked twice")
        present = {x["_id"]: (x["w"], x["seq"]) for x in self.all_items(coll)}
        missing = [i for i in acked if i not in present]
        self.assertFalse(missing, "%d of %d acked creates lost, e.g. %r"
                         % (len(missing), len(acked), missing[:5]))
        wrong = [i for i in acked if present[i] != acked[i]]
        self.assertFalse(wrong, "records with other data: %r" % wrong[:5])
        # no record appears twice for one (worker, seq)
        self.assertEqual(len(set(present.values())), len(present), "duplicate writes")
        self.assertEqual(self.count(coll), len(present) + 1)
        # the full-text index was written in the same transactions: it
        # matches the table exactly after the crash
        self.assertEqual(self.count(coll, q(search="crashword")), len(present))
        for w, seq, body in s.acked[:: max(1, len(s.acked) // 10)]:
            r = self.rec("GET", "/%s%s" % (coll, q(search="tok%dx%d" % (w, seq))))
            self.assertStatus(r, 200)
            self.assertEqual([x["_id"] for x in r.body["items"]], [body["_id"]])

    def test_bulk_all_or_nothing(self):
        coll = self.fresh()
        tok = self.alice.token
        size = 50

        def bulk(w, seq):
            return self.rec("POST", "/%s/bulk" % coll,
                            [{"w": w, "seq": seq, "i": i} for i in range(size)], token=tok)
        s = Stream(bulk, workers=3)
        s.start()
        try:
            self.assertTrue(s.wait_acks(10), "no bulks before the kill: %r" % s.failed)
            t_kill = time.monotonic()
            old = self.kill_data()
            ok = s.wait_acks(5, since=t_kill + 0.001, timeout=20)
        finally:
            s.finish()
        self.assertTrue(ok, "bulks did not resume: %r" % s.failed)
        self.assertTrue(s.failed, "the kill went unnoticed (no failed bulk)")
        self.restarted(old)
        groups = collections.Counter()
        for x in self.all_items(coll):
            groups[(x["w"], x["seq"])] += 1
        partial = {k: v for k, v in groups.items() if v != size}
        self.assertFalse(partial, "bulks applied partly: %r" % partial)
        for w, seq, body in s.acked:
            self.assertEqual(groups.get((w, seq)), size, "acked bulk %r lost" % ((w, seq),))

    def test_acked_updates_survive(self):
        coll = self.fresh()
        tok = self.alice.token
        rids = [self.create(coll, {"w": w, "seq": 0, "v": 0}, token=tok)["_id"] for w in range(4)]
        attempted = collections.Counter()

        def update(w, seq):
            attempted[w] = seq
            return self.rec("PATCH", "/%s/%s" % (coll, rids[w]), {"v": seq}, token=tok)
        s = Stream(update)
        s.start()
        try:
            self.assertTrue(s.wait_acks(50), "no updates before the kill: %r" % s.failed)
            t_kill = time.monotonic()
            old = self.kill_data()
            ok = s.wait_acks(50, since=t_kill + 0.001, timeout=20)
        finally:
            s.finish()
        self.assertTrue(ok, "updates did not resume: %r" % s.failed)
        self.assertTrue(s.failed, "the kill went unnoticed (no failed update)")
        self.restarted(old)
        last_acked = {}
        for w, seq, body in s.acked:
            last_acked[w] = max(last_acked.get(w, 0), seq)
            self.assertEqual(body["v"], seq)
        for w in range(4):
            g = self.get(coll, rids[w])
            self.assertStatus(g, 200)
            self.assertGreaterEqual(g.body["v"], last_acked.get(w, 0), "acked update lost (w%d)" % w)
            self.assertLessEqual(g.body["v"], attempted[w])

"""busbase-data started ALONE (no launcher, gateway, auth or admin) and
driven over the bus with busbasectl (issue 4 Tests; proto/README.md
envelopes: the caller map carries the current roles and verified flag, which
the data service must use as given; the ops answer with the statuses and
bodies of API.md §3.8 and §5.1)."""

import json
import queue
import subprocess
import threading
import time
import unittest

from harness import CTL, ULID_RE, Checks, Service, pids_with_data_dir

ANON = {"kind": "anon"}
ADMIN = {"kind": "admin"}


def user(uid, roles=(), verified=True):
    return {"kind": "user", "uid": uid, "sid": "01HVZ3K8Q4J2M5N6P7R8S9T0VW",
            "email": "%s@example.com" % uid.lower(), "roles": list(roles),
            "verified": verified}


U1 = "01HVZ3K8Q4J2M5N6P7R8S9T0AA"
U2 = "01HVZ3K8Q4J2M5N6P7R8S9T0BB"


class DataAloneTest(Checks, unittest.TestCase):
    svc = None

    @classmethod
    def setUpClass(cls):
        cls.svc = Service("data")
        try:
            cls.svc.start(wait=False)
            end = time.monotonic() + 10
            while True:
                if cls.svc.proc.poll() is not None:
                    raise RuntimeError("busbase-data exited: %s" % cls.svc.log_tail())
                r = cls.svc.ctl_call("data", "svc.health", timeout=3)
                if r.status in (200, 503) and isinstance(r.body, dict) \
                        and r.body.get("service") == "data":
                    break
                if time.monotonic() > end:
                    raise RuntimeError("busbase-data does not answer: %r" % (r,))
                time.sleep(0.05)
        except Exception:
            cls.svc.stop()
            cls.svc.remove()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.svc is not None:
            cls.svc.stop()
            cls.svc.remove()

    def call(self, op, body=None, caller=ANON, params=None, query=None):
        r = self.svc.ctl_call("data", op, body, caller=caller, params=params, query=query)
        self.assertIsNotNone(r.status, "busbasectl failed: %r" % (r,))
        return r

    def assertBusError(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, r)
        self.assertEqual(r.body.get("code"), code, r.body)
        self.assertIsInstance(r.body.get("error"), str, r.body)
        if field is not None:
            self.assertEqual(r.body.get("field"), field, r.body)

    def test_alone(self):
        names = set(pids_with_data_dir(self.svc.data_dir).values())
        self.assertEqual(names, {"busbase-data"}, names)

    def test_records_over_the_bus(self):
        r = self.call("collections.create", {"name": "busposts"}, caller=ADMIN)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["name"], "busposts")
        p = {"collection": "busposts"}
        r = self.call("records.create", {"title": "t", "_owner_id": U2}, caller=user(U1), params=p)
        self.assertEqual(r.status, 201, r)
        rec = r.body
        self.assertRegex(rec["_id"], ULID_RE)
        self.assertEqual(rec["_owner_id"], U1)
        self.assertEqual(rec["title"], "t")
        r = self.call("records.get", caller=ANON, params=dict(p, id=rec["_id"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, rec)
        r = self.call("records.list", caller=ANON, params=p, query={"limit": "10"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["_id"] for x in r.body["items"]], [rec["_id"]])
        self.assertEqual(r.body["total"], 1)
        r = self.call("records.count", caller=ANON, params=p)
        self.assertEqual((r.status, r.body), (200, {"count": 1}))
        r = self.call("records.create", {"title": "x"}, caller=ANON, params=p)
        self.assertBusError(r, 401, "auth_required")
        r = self.call("records.update", {"title": "u"}, caller=user(U2), params=dict(p, id=rec["_id"]))
        self.assertBusError(r, 403, "forbidden")
        r = self.call("records.update", {"title": "u"}, caller=user(U1), params=dict(p, id=rec["_id"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["title"], "u")
        r = self.call("records.delete", caller=user(U1), params=dict(p, id=rec["_id"]))
        self.assertEqual((r.status, r.body), (200, {"ok": True}))
        r = self.call("records.get", caller=ANON, params=dict(p, id=rec["_id"]))
        self.assertBusError(r, 404, "record_not_found")
        r = self.call("records.restore", caller=user(U1), params=dict(p, id=rec["_id"]))
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.body["_deleted_at"])
        r = self.call("records.get", caller=ANON, params={"collection": "nope_x", "id": rec["_id"]})
        self.assertBusError(r, 404, "collection_not_found")

    def test_caller_roles_and_verified_are_used_as_given(self):
        r = self.call("collections.create", {"name": "busroles",
                                             "rules": {"read": {"role": "ed"}, "create": {"role": "ed"}}},
                      caller=ADMIN)
        self.assertEqual(r.status, 201, r)
        p = {"collection": "busroles"}
        r = self.call("records.create", {"a": 1}, caller=user(U1, roles=[]), params=p)
        self.assertBusError(r, 403, "forbidden")
        r = self.call("records.create", {"a": 1}, caller=user(U1, roles=["x", "ed"]), params=p)
        self.assertEqual(r.status, 201, r)
        r = self.call("records.list", caller=user(U1, roles=["x"]), params=p)
        self.assertBusError(r, 403, "forbidden")
        r = self.call("records.list", caller=user(U2, roles=["ed"]), params=p)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["total"], 1)
        r = self.call("records.list", caller=ANON, params=p)
        self.assertBusError(r, 401, "auth_required")
        r = self.call("records.list", caller=ADMIN, params=p)
        self.assertEqual(r.status, 200, r)
        # an unknown caller kind is treated as anonymous (least privilege)
        r = self.call("records.list", caller={"kind": "root"}, params=p)
        self.assertBusError(r, 401, "auth_required")

    def test_events(self):
        """record.* events carry {collection, record}, published after the
        COMMIT; deleting a collection publishes collection.deleted
        {collection} (the hooks service drops the collection's hooks)."""
        r = self.call("collections.create", {"name": "busevents"}, caller=ADMIN)
        self.assertEqual(r.status, 201, r)
        p = {"collection": "busevents"}
        ev = subprocess.Popen([CTL, "events", "record.created", "record.updated",
                               "collection.deleted"], env=self.svc.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in ev.stdout], daemon=True).start()

        def next_event(timeout=5.0):
            return json.loads(lines.get(timeout=timeout))

        try:
            # the subscriber dials in the background: create until heard
            first = None
            for _ in range(100):
                r = self.call("records.create", {"n": 0}, caller=user(U1), params=p)
                self.assertEqual(r.status, 201, r)
                try:
                    first = next_event(timeout=0.1)
                    break
                except queue.Empty:
                    continue
            self.assertIsNotNone(first, "no event heard")
            self.assertEqual(first["topic"], "record.created")
            self.assertEqual(first["payload"]["collection"], "busevents")
            while not lines.empty():   # creates of the dial-in loop
                next_event()
            rid = first["payload"]["record"]["_id"]
            r = self.call("records.update", {"n": 5}, caller=user(U1), params=dict(p, id=rid))
            self.assertEqual(r.status, 200, r)
            e = next_event()
            self.assertEqual((e["topic"], e["payload"]["collection"]), ("record.updated", "busevents"))
            self.assertEqual(e["payload"]["record"], r.body)
            self.assertGreater(e["seq"], first["seq"])
            # a failed write publishes nothing; a deleted collection is told
            r = self.call("records.update", {"n": 6}, caller=user(U2), params=dict(p, id=rid))
            self.assertBusError(r, 403, "forbidden")
            r = self.call("collections.delete", caller=ADMIN, params={"name": "busevents"})
            self.assertEqual(r.status, 200, r)
            e = next_event()
            self.assertEqual((e["topic"], e["payload"]), ("collection.deleted", {"collection": "busevents"}))
        finally:
            ev.kill()
            ev.wait()

    def test_collections_list(self):
        # (admin-only access is enforced by the gateway's route table)
        r = self.call("collections.list", caller=ADMIN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body), {"items", "total", "page", "limit"})

    def test_unknown_op(self):
        r = self.call("records.nope", caller=None)
        self.assertBusError(r, 404, "not_found")
        self.assertEqual(r.body["error"], "Operation 'records.nope' is not available.")
        self.assertIsNone(self.svc.proc.poll(), "data died")

#!/usr/bin/env python3
"""Runs the integration suite: every tests/integration/test_*.py.

Usage: run.py [-v] [pattern ...]   (a pattern selects modules, classes or
tests whose id contains it, e.g. `run.py test_http` or `run.py maintenance`)

Prints one line per test and ends with exactly one line
"integration: N passed, M failed" (skipped tests count in neither; they are
listed before it). Exit status 1 when M > 0.
"""

import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def _iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter_tests(t)
        else:
            yield t


class Result(unittest.TestResult):
    def __init__(self, verbose=False):
        super().__init__()
        self.verbose = verbose
        self.passed = 0
        self.failed_names = []
        self.skipped_names = []
        self._t0 = 0.0
        self._closed_mark = 0

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        self._closed_mark = len(harness.closed_logs)

    def _line(self, word, test, extra=""):
        dt = time.monotonic() - self._t0
        print("%-5s %s (%.2fs)%s" % (word, test.id(), dt, extra), flush=True)

    def _logs(self, test):
        shown = set()
        objs = []
        for attr in ("cluster", "svc", "service"):
            o = getattr(test, attr, None)
            if isinstance(o, harness._Base):
                objs.append(o)
        objs += harness.live_objects()
        for o in objs:
            if id(o) in shown:
                continue
            shown.add(id(o))
            print("  ---- log tail: %s ----" % o.label())
            print("  " + o.log_tail(40).replace("\n", "\n  "))
        for label, tail in harness.closed_logs[self._closed_mark:]:
            print("  ---- log tail (stopped): %s ----" % label)
            print("  " + "\n".join(tail.splitlines()[-40:]).replace("\n", "\n  "))

    def _report(self, word, test, err):
        self._line(word, test)
        self.failed_names.append(test.id())
        text = self._exc_info_to_string(err, test) if err else ""
        print("  " + text.rstrip().replace("\n", "\n  "))
        try:
            self._logs(test)
        except Exception:
            traceback.print_exc()
        sys.stdout.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self._line("ok", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report("FAIL", test, err)

    def addError(self, test, err):
        super().addError(test, err)
        # setUpClass/tearDownClass errors arrive as _ErrorHolder "tests"
        self._report("ERROR", test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_names.append("%s: %s" % (test.id(), reason))
        self._line("skip", test, " -- " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._line("ok", test, " (expected failure)")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed_names.append(test.id())
        self._line("FAIL", test, " (unexpected success)")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            word = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._report(word, subtest, err)


def _count_class_errors(result, suite_tests):
    """A setUpClass error skips the whole class: count each of its tests."""
    extra = 0
    for holder, _ in result.errors:
        desc = getattr(holder, "description", "")
        if desc.startswith("setUpClass ("):
            cls = desc[len("setUpClass ("):-1]
            n = sum(1 for t in suite_tests
                    if "%s.%s" % (type(t).__module__, type(t).__qualname__) == cls)
            extra += max(n - 1, 0)
        elif desc.startswith("setUpModule ("):
            mod = desc[len("setUpModule ("):-1]
            n = sum(1 for t in suite_tests if type(t).__module__ == mod)
            extra += max(n - 1, 0)
    return extra


def main(argv):
    verbose = "-v" in argv
    patterns = [a for a in argv if not a.startswith("-")]
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(_iter_tests(suite))
    if patterns:
        tests = [t for t in tests if any(p in t.id() for p in patterns)]
    # keep discovery order (module, class, method) so classes share clusters
    run_suite = unittest.TestSuite(tests)
    result = Result(verbose)
    t0 = time.monotonic()
    try:
        run_suite.run(result)
    finally:
        harness._cleanup_all()
    failed = len(result.failed_names) + _count_class_errors(result, tests)
    # failures reported by errors in setUpClass were counted once in
    # failed_names; the extra covers the class's other tests.
    dt = time.monotonic() - t0
    if result.skipped_names:
        print("skipped %d:" % len(result.skipped_names))
        for s in result.skipped_names:
            print("  " + s)
    if result.failed_names:
        print("failed:")
        for n in result.failed_names:
            print("  " + n)
    print("elapsed: %.1fs" % dt)
    print("integration: %d passed, %d failed" % (result.passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""tap.py - run a unittest module and report in TAP for automake's
tap-driver (every test method is one TAP line). Standard library only.

Use at the end of a test script:

    if __name__ == "__main__":
        tap.main()
"""
import atexit
import os
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        name = test.id().split(".", 1)[-1]
        self.stream.write("%s %d - %s%s\n" % ("ok" if ok else "not ok", self.n, name, extra))
        self.stream.flush()

    def _diag(self, text):
        for line in text.rstrip().splitlines():
            self.stream.write("# " + line + "\n")
        self.stream.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag("".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag("".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success")


def main(module="__main__"):
    """Run every test of module; print a TAP plan first; exit 1 on failure."""
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules[module])
    if len(sys.argv) > 1:  # optional name filter: tap.py-script Class.test_x
        wanted = sys.argv[1:]
        flat = []

        def walk(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    walk(t)
                elif any(w in t.id() for w in wanted):
                    flat.append(t)
        walk(suite)
        suite = unittest.TestSuite(flat)
    total = suite.countTestCases()
    out = sys.stdout
    out.write("1..%d\n" % total)
    out.flush()
    result = TapResult(out)
    suite.run(result)
    if result.n < total:  # a setUpClass failure skips tests silently
        for _ in range(total - result.n):
            result.n += 1
            out.write("not ok %d - not run (set-up failed)\n" % result.n)
    for test, err in result.errors:
        if not hasattr(test, "id") or "setUpClass" in str(test) or "tearDownClass" in str(test):
            out.write("# %s\n" % str(test))
            for line in err.splitlines():
                out.write("# " + line + "\n")
    out.flush()
    # os._exit skips atexit, where harness.py stops stray processes and
    # removes the temporary directories: run those handlers first.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    os._exit(0 if result.wasSuccessful() and result.n == total else 1)

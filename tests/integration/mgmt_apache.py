#!/usr/bin/env python3
"""mgmt_apache.py - the management API suite (mgmtlib.EndpointSuite)
through Apache 2.4 + mod_fcgid with several responder processes
(conf/apache/cliproxy-mgmt.conf), plus what only a multi-process server
shows: eight concurrent writers lose nothing (DESIGN 4)."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import tap  # noqa: E402

WRITERS = 8
ROUNDS = 8


def responder_pids(binary):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % d) == binary:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


class Apache(mgmtlib.EndpointSuite, unittest.TestCase):
    KIND = "apache"

    def test_apache_authorization_header_arrives(self):
        # CGIPassAuth On: without it Apache hides Authorization and the
        # right key would be "missing"
        self.assertResp(self.req("GET", "/debug"), 200, {"debug": False})
        self.assertError(self.req("GET", "/debug", key="not-the-key"), 401,
                         "invalid management key")

    def test_apache_concurrent_writers_lose_nothing(self):
        self.assertResp(self.req("PUT", "/api-keys",
                                 body=["placeholder-%d" % i for i in range(WRITERS)]), 200)
        before = self.dep.read_config().decode()
        errors = []
        seen = set()
        scalars = [("/debug", "debug"), ("/request-log", "request-log"),
                   ("/allow-localhost-unauthenticated", "allow-localhost-unauthenticated"),
                   ("/quota-exceeded/switch-preview-model", "switch-preview-model")]
        start = threading.Barrier(WRITERS)

        def writer(i):
            try:
                start.wait()
                for n in range(ROUNDS):
                    r = self.req("PATCH", "/api-keys", body={"index": i, "value": "w%d-%d" % (i, n)})
                    if r.status != 200:
                        errors.append("writer %d patch %d: %r" % (i, n, r))
                    if i < len(scalars):
                        r = self.req("PUT", scalars[i][0], body={"value": n % 2 == 0})
                        if r.status != 200:
                            errors.append("writer %d scalar %d: %r" % (i, n, r))
                    if n == 0:
                        ct, body = harness.multipart([("file", "w%d.json" % i,
                                                       b'{"writer":%d}' % i)])
                        r = self.req("POST", "/auth-files", body=body,
                                     headers={"Content-Type": ct})
                        if r.status != 200:
                            errors.append("writer %d upload: %r" % (i, r))
                seen.update(responder_pids(self.dep.binary))
            except Exception as e:  # reported below, not lost in a thread
                errors.append("writer %d: %s" % (i, e))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(seen), 2, "mod_fcgid ran a single responder process")
        self.assertEqual(self.get("/api-keys"),
                         {"api-keys": ["w%d-%d" % (i, ROUNDS - 1) for i in range(WRITERS)]})
        last = (ROUNDS - 1) % 2 == 0
        for path, key in scalars:
            self.assertEqual(self.get(path), {key: last})
        self.assertEqual(sorted(f["name"] for f in self.get("/auth-files")["files"]),
                         sorted("w%d.json" % i for i in range(WRITERS)))
        # comments and untouched lines survived the storm
        after = self.dep.read_config().decode()
        head = before[:before.index("debug:")]
        self.assertTrue(after.startswith(head), mgmtlib.redact(after))
        self.assertConfigHas("# end of file", after)
        self.assertConfigHas("  nested: [1, 2, 3]   # flow style stays", after)
        # no temp files left behind
        self.assertEqual([n for n in os.listdir(self.dep.cfgdir) if ".tmp" in n], [])


if __name__ == "__main__":
    tap.main()

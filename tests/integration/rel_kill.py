#!/usr/bin/env python3
"""rel_kill.py - kill mid-write (issue 5 "Faults"; DESIGN.md 4).

Writers loop through the real web server (lighttpd mod_fastcgi, max-procs
4, conf/lighttpd/cliproxy-mgmt.conf) while responder processes are
SIGKILLed at random moments. After every kill: the config loads with the
real loader, every slot holds either the last acknowledged change or a
later attempted one (never an older state), every auth file parses and
likewise holds an acknowledged-or-later state, and no lock is left held
(the next write succeeds within the lock timeout). At the end the dot-temp
files killed writers left behind are removed by the next write once they
are older than a minute (fio_clean_stale_temps), and young ones are not.
"""
import json
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import rellib  # noqa: E402
import tap  # noqa: E402

KILLS = rellib.scaled("REL_KILLS", 200, 100)
WRITERS = 4
LOCK_TIMEOUT = 5.0   # CP_LOCK_TIMEOUT_MS


def server_side_failure(r):
    """An answer a killed responder explains: the connection dropped, or
    lighttpd's own 500/502/503 page (not JSON: our responder always answers
    JSON, and a JSON error here, e.g. "config is busy" or "failed to save
    config", would be a real failure)."""
    if r is None:
        return True
    return r.status in (500, 502, 503) and not r.body.startswith(b"{")


def pause(r):
    # lighttpd disables a backend for a second after a refused connect;
    # do not spin on its 503s
    if r is None or r.status != 200:
        time.sleep(0.01)


class KillMidWrite(mgmtlib.DeploymentPerClass, unittest.TestCase):
    KIND = "lighttpd"

    def req(self, method, path, body=None, timeout=60):
        return harness.http_request(self.dep.server.port, method, mgmtlib.PREFIX + path, body,
                                    {"Authorization": "Bearer " + self.dep.key}, timeout)

    def req_settled(self, method, path, body=None):
        """The request once lighttpd has its backends back: its own 503
        page (backends killed a moment ago, restarted within a second or
        two) is retried for up to 15 s; any answer of ours is returned."""
        deadline = time.monotonic() + 15
        while True:
            r = self.req(method, path, body)
            if not server_side_failure(r) or time.monotonic() > deadline:
                return r
            time.sleep(0.1)

    def test_1_kills_lose_no_acknowledged_write(self):
        dep = self.dep
        dep.reset()
        r = self.req("PUT", "/api-keys", body=["w%d--1" % i for i in range(WRITERS)])
        self.assertEqual(r.status, 200, r)
        lock = threading.Lock()
        acked_cfg = [-1] * WRITERS        # last acknowledged sequence per slot
        tried_cfg = [-1] * WRITERS        # last attempted sequence per slot
        acked_auth = [None] * WRITERS
        tried_auth = [-1] * WRITERS
        ack_times = []
        statuses = {}
        problems = []
        stop = threading.Event()

        def writer(i):
            try:
                write_loop(i)
            except Exception as e:  # reported, not lost in a thread
                with lock:
                    problems.append("writer %d: %r" % (i, e))

        def write_loop(i):
            k = 0
            while not stop.is_set():
                with lock:
                    tried_cfg[i] = k
                try:
                    r = self.req("PATCH", "/api-keys", body={"index": i, "value": "w%d-%d" % (i, k)},
                                 timeout=30)
                    st = r.status
                except OSError as e:  # connection reset when the responder dies
                    r, st = None, "conn:%s" % type(e).__name__
                with lock:
                    statuses[st] = statuses.get(st, 0) + 1
                    if st == 200:
                        acked_cfg[i] = k
                        ack_times.append(time.monotonic())
                    elif not server_side_failure(r):
                        problems.append("writer %d patch %d: %r" % (i, k, r))
                pause(r)
                with lock:
                    tried_auth[i] = k
                try:
                    r = self.req("POST", "/auth-files?name=w%d.json" % i,
                                 body=json.dumps({"writer": i, "seq": k}), timeout=30)
                    st = r.status
                except OSError as e:
                    r, st = None, "conn:%s" % type(e).__name__
                with lock:
                    statuses[st] = statuses.get(st, 0) + 1
                    if st == 200:
                        acked_auth[i] = k
                        ack_times.append(time.monotonic())
                    elif not server_side_failure(r):
                        problems.append("writer %d upload %d: %r" % (i, k, r))
                pause(r)
                k += 1

        threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(WRITERS)]
        for t in threads:
            t.start()
        rng = random.Random(int(os.environ.get("REL_SEED", str(os.getpid()))))
        kills = checks = 0
        worst_gap = 0.0
        pids_seen = set()
        t0 = time.monotonic()
        try:
            while kills < KILLS and time.monotonic() - t0 < 240:
                time.sleep(rng.uniform(0.005, 0.06))
                pids = rellib.responder_pids(dep.binary, dep.config)
                pids_seen.update(pids)
                if not pids:
                    continue
                victim = rng.choice(pids)
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                kills += 1
                killed_at = time.monotonic()
                # the state right after the kill: snapshot acks before
                # reading the files and attempts after, so that concurrent
                # writers cannot make a correct state look wrong
                with lock:
                    lo_cfg, lo_auth = list(acked_cfg), list(acked_auth)
                cfg = rellib.load_config(dep.config)
                files = {}
                for i in range(WRITERS):
                    try:
                        with open(os.path.join(dep.auth_dir, "w%d.json" % i), "rb") as f:
                            files[i] = f.read()
                    except FileNotFoundError:
                        files[i] = None
                with lock:
                    hi_cfg, hi_auth = list(tried_cfg), list(tried_auth)
                keys = cfg["api-keys"]
                self.assertEqual(len(keys), WRITERS, "api-keys length changed: %d" % len(keys))
                for i in range(WRITERS):
                    prefix, _, seq = keys[i].rpartition("-")
                    if keys[i].endswith("--1"):
                        prefix, seq = "w%d" % i, "-1"
                    self.assertEqual(prefix, "w%d" % i, "slot %d holds another writer's value" % i)
                    seq = int(seq)
                    self.assertTrue(lo_cfg[i] <= seq <= hi_cfg[i],
                                    "slot %d: seq %d outside acked %d .. tried %d (kill %d)"
                                    % (i, seq, lo_cfg[i], hi_cfg[i], kills))
                    if files[i] is None:
                        self.assertIsNone(lo_auth[i], "acknowledged auth file w%d.json lost" % i)
                    else:
                        doc = json.loads(files[i].decode())   # must parse
                        self.assertEqual(doc["writer"], i)
                        self.assertTrue((lo_auth[i] or 0) <= doc["seq"] <= hi_auth[i],
                                        "w%d.json: seq %d outside acked %s .. tried %d"
                                        % (i, doc["seq"], lo_auth[i], hi_auth[i]))
                checks += 1
                # no lock left held: some write is acknowledged within the
                # lock timeout after the kill
                while True:
                    with lock:
                        later = [t for t in ack_times[-64:] if t > killed_at]
                    if later:
                        worst_gap = max(worst_gap, min(later) - killed_at)
                        break
                    if time.monotonic() - killed_at > LOCK_TIMEOUT + 5:
                        self.fail("no write acknowledged within %.0fs after kill %d; answers %r%s"
                                  % (LOCK_TIMEOUT + 5, kills, statuses, dep.server.error_log()))
                    time.sleep(0.005)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(problems, [])
        self.assertEqual(kills, KILLS, "only %d kills in 240 s" % kills)
        acks = statuses.get(200, 0)
        # the final state is exactly the last acknowledged one (writers stopped)
        cfg = rellib.load_config(dep.config)
        for i in range(WRITERS):
            seq = int(cfg["api-keys"][i].rpartition("-")[2]) if not cfg["api-keys"][i].endswith("--1") else -1
            self.assertTrue(acked_cfg[i] <= seq <= tried_cfg[i], "slot %d final: %d outside %d .. %d"
                            % (i, seq, acked_cfg[i], tried_cfg[i]))
        # and a write goes through at once: no lock is left held (a held
        # lock would answer our JSON 503 "config is busy" after 5 s)
        t1 = time.monotonic()
        r = self.req_settled("PATCH", "/api-keys", body={"index": 0, "value": "after"})
        self.assertEqual(r.status, 200, r)
        rellib.figure("first write after the last kill acknowledged in %.2fs"
                      % (time.monotonic() - t1))
        self.assertGreaterEqual(len(pids_seen), 4, "lighttpd did not run/restart several responders")
        lost = 0
        rellib.figure("kills: %d, responder pids seen: %d, state checks after kills: %d, "
                      "acknowledged writes: %d, lost: %d" % (kills, len(pids_seen), checks, acks, lost))
        rellib.figure("answers: %s" % ", ".join("%s=%d" % (k, v) for k, v in
                                                sorted(statuses.items(), key=lambda x: str(x[0]))))
        rellib.figure("longest time from a kill to the next acknowledged write: %.2fs "
                      "(lock timeout %.0fs)" % (worst_gap, LOCK_TIMEOUT))
        left = rellib.temps(dep.cfgdir) + rellib.temps(dep.auth_dir)
        rellib.figure("dot-temps left by killed writers: %d" % len(left))

    def test_2_stale_temps_are_cleaned_by_next_write(self):
        dep = self.dep
        old = time.time() - 120    # past both ages (60 s for auth-dir and config dir)
        planted = []
        for d, name in ((dep.cfgdir, ".config.yaml.tmpAbC123"), (dep.auth_dir, ".w0.json.tmpXyZ789")):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write("partial")
            harness.give(p)
            planted.append(p)
        young = os.path.join(dep.auth_dir, ".w1.json.tmpYoung1")
        with open(young, "w") as f:
            f.write("a writer still busy")
        # every temp now present (planted + left by killed writers) is aged
        aged = 0
        for d in (dep.cfgdir, dep.auth_dir):
            for n in rellib.temps(d):
                p = os.path.join(d, n)
                if p != young:
                    os.utime(p, (old, old))
                    aged += 1
        self.assertGreaterEqual(aged, 2)
        r = self.req_settled("PATCH", "/api-keys", body={"index": 0, "value": "clean"})
        self.assertEqual(r.status, 200, r)
        r = self.req_settled("POST", "/auth-files?name=w0.json", body=b'{"writer":0,"seq":-5}')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(rellib.temps(dep.cfgdir), [])
        self.assertEqual(rellib.temps(dep.auth_dir), [".w1.json.tmpYoung1"],
                         "young temps must stay, stale ones go")
        os.unlink(young)
        rellib.figure("stale temps aged and cleaned by the next write: %d, young temp kept: 1" % aged)


if __name__ == "__main__":
    tap.main()

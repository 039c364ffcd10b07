#!/usr/bin/env python3
"""cliproxyd hot reload (DESIGN 6): atomic rename, sed -i, in-place
truncate+write, vim-style backup rename, broken YAML keeps the last good
snapshot (status file shows the error), content-hash compare, SIGHUP,
auth-dir files, auth-dir deleted and re-created, auth-dir moved."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402


def cfg_for(m, keys, models=(("up", "m"),), **extra):
    cfg = {"api-keys": list(keys),
           "openai-compatibility": [ps.compat("mock", m.base_url, ["k-ok"], list(models))]}
    cfg.update(extra)
    return cfg


class Reload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = openai_mock.MockUpstream().start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        self.d = ps.Daemon(cfg_for(self.m, ["old-key"]))
        self.d.start()

    def tearDown(self):
        rc = self.d.stop()
        errs = self.d.sanitizer_errors()
        log = self.d.log_text()
        self.d.cleanup()
        self.assertEqual(rc, 0, log)
        self.assertEqual(errs, [], log)

    def ok(self, key, model="m"):
        return self.d.chat(key, model)[0]

    def wait_key(self, key, want=200, timeout=5):
        got = ps.wait_until(lambda: self.ok(key) == want, timeout=timeout, step=0.02)
        self.assertTrue(got, "key never reached status %d" % want)

    def sha(self):
        return self.d.status()["config-sha256"]

    def test_atomic_rename(self):
        self.assertEqual(self.ok("old-key"), 200)
        self.d.write_config(cfg_for(self.m, ["new-key"]))
        self.wait_key("new-key")
        self.assertEqual(self.ok("old-key"), 401)
        st = self.d.status()
        self.assertIsNone(st["last-error"])
        self.assertEqual(st["reloads"], 1)

    def test_broken_yaml_keeps_last_good(self):
        old = self.sha()
        self.d.write_config("api-keys: [\"broken-key\"\n  - what: : :\n")
        st = self.d.wait_status(lambda s: s["last-error"] is not None)
        self.assertIn("config", st["last-error"])
        self.assertEqual(st["config-sha256"], old)
        self.assertEqual(st["reload-errors"], 1)
        self.assertEqual(self.ok("old-key"), 200)
        self.assertEqual(self.ok("broken-key"), 401)
        # A semantically invalid file is refused the same way.
        self.d.write_config(self.d.config_text(cfg_for(self.m, ["x"], **{"request-retry": 1000})))
        self.d.wait_status(lambda s: s["reload-errors"] == 2)
        self.assertEqual(self.ok("old-key"), 200)
        # Fixed: the error goes away and the new key works.
        self.d.write_config(cfg_for(self.m, ["fixed-key"]))
        self.wait_key("fixed-key")
        st = self.d.wait_status(lambda s: s["last-error"] is None)
        self.assertNotEqual(st["config-sha256"], old)

    def test_sed_in_place(self):
        r = subprocess.run(["sed", "-i", "s/old-key/sed-key/", self.d.config])
        self.assertEqual(r.returncode, 0)
        self.wait_key("sed-key")
        self.assertEqual(self.ok("old-key"), 401)

    def test_truncate_and_write(self):
        self.d.write_config(cfg_for(self.m, ["inplace-key"]), how="inplace")
        self.wait_key("inplace-key")
        self.assertEqual(self.ok("old-key"), 401)

    def test_vim_style_backup_rename(self):
        text = self.d.config_text(cfg_for(self.m, ["vim-key"]))
        os.rename(self.d.config, self.d.config + "~")
        with open(self.d.config, "w") as f:
            f.write(text)
        os.unlink(self.d.config + "~")
        self.wait_key("vim-key")

    def test_cp_over(self):
        src = os.path.join(self.d.dir, "other.yaml")
        with open(src, "w") as f:
            f.write(self.d.config_text(cfg_for(self.m, ["cp-key"])))
        subprocess.run(["cp", src, self.d.config], check=True)
        self.wait_key("cp-key")

    def test_same_content_no_rebuild(self):
        with open(self.d.config) as f:
            text = f.read()
        for _ in range(3):
            self.d.write_config(text)
            self.d.write_config(text, how="inplace")
        time.sleep(0.3)
        self.assertEqual(self.d.status()["reloads"], 0)
        # Other files in the config directory are not even looked at.
        with open(os.path.join(self.d.cfgdir, "unrelated.yaml"), "w") as f:
            f.write("junk: [\n")
        time.sleep(0.2)
        st = self.d.status()
        self.assertEqual((st["reloads"], st["reload-errors"]), (0, 0))

    def test_sighup_forces_reload(self):
        self.d.proc.send_signal(signal.SIGHUP)
        self.d.wait_status(lambda s: s["reloads"] == 1)
        self.assertEqual(self.ok("old-key"), 200)

    def test_empty_config_says_why(self):
        # Issue 10: the last good snapshot stays, and the status says why.
        with open(self.d.config, "w"):
            pass
        st = self.d.wait_status(lambda s: s["last-error"] is not None)
        self.assertIn("is empty", st["last-error"])
        self.assertEqual(self.ok("old-key"), 200)
        self.d.write_config(cfg_for(self.m, ["after-empty"]))
        self.wait_key("after-empty")
        self.d.wait_status(lambda s: s["last-error"] is None)

    def test_directory_in_place_of_config_says_what_it_is(self):
        os.unlink(self.d.config)
        os.mkdir(self.d.config)
        # (the unlink's own "not found" may come first)
        st = self.d.wait_status(lambda s: "is a directory" in (s["last-error"] or ""))
        self.assertIn("is a directory", st["last-error"])
        self.assertNotIn("not permitted", st["last-error"])
        self.assertEqual(self.ok("old-key"), 200)
        os.rmdir(self.d.config)
        self.d.write_config(cfg_for(self.m, ["after-dir"]))
        self.wait_key("after-dir")

    def test_duplicate_key_text_never_in_status_or_log(self):
        secret = "sk-duplicate-secret-0123456789"
        self.d.write_config('api-keys:\n  - {%s: 1, %s: 2}\n' % (secret, secret))
        st = self.d.wait_status(lambda s: s["last-error"] is not None)
        self.assertIn("duplicate key", st["last-error"])
        self.assertNotIn(secret, json.dumps(st))
        self.assertNotIn(secret[5:21], self.d.log_text())

    def test_symlinked_config_reloads(self):
        # The config path is a symlink to a file in another directory: a
        # write to the target (as the responder's atomic rename does it)
        # reloads, and so does pointing the link at another file.
        other = os.path.join(self.d.dir, "real")
        os.mkdir(other)
        target = os.path.join(other, "config.yaml")
        shutil.copy(self.d.config, target)
        tmp = self.d.config + ".lnk"
        os.symlink(target, tmp)
        os.replace(tmp, self.d.config)
        time.sleep(0.2)
        self.assertEqual(self.ok("old-key"), 200)
        ttmp = os.path.join(other, ".config.yaml.tmp")
        with open(ttmp, "w") as f:
            f.write(self.d.config_text(cfg_for(self.m, ["via-target"])))
        os.replace(ttmp, target)
        self.wait_key("via-target")
        self.assertEqual(self.ok("old-key"), 401)
        # Re-pointed: the new target's directory is watched from now on.
        third = os.path.join(self.d.dir, "third")
        os.mkdir(third)
        t3 = os.path.join(third, "c.yaml")
        with open(t3, "w") as f:
            f.write(self.d.config_text(cfg_for(self.m, ["third-key"])))
        os.symlink(t3, tmp)
        os.replace(tmp, self.d.config)
        self.wait_key("third-key")
        with open(t3 + ".tmp", "w") as f:
            f.write(self.d.config_text(cfg_for(self.m, ["third-key-2"])))
        os.replace(t3 + ".tmp", t3)
        self.wait_key("third-key-2")
        self.assertTrue(os.path.islink(self.d.config))

    def test_models_follow_config(self):
        self.d.write_config(cfg_for(self.m, ["old-key"], models=(("up2", "m2"),)))
        self.assertTrue(ps.wait_until(lambda: self.ok("old-key", "m2") == 200, 5))
        self.assertEqual(self.ok("old-key", "m"), 404)
        st, _, body = self.d.request("GET", "/v1/models",
                                     headers={"Authorization": "Bearer old-key"})
        self.assertEqual([x["id"] for x in json.loads(body)["data"]], ["m2"])

    def test_continuous_changes_still_reload(self):
        # A config rewritten every 5 ms (faster than the 20 ms debounce)
        # for 1.5 s: the debounce must not be pushed back by every event,
        # so cliproxyd follows the changes while they go on, not only
        # once they stop.
        seen_during = 0
        t_end = time.monotonic() + 1.5
        i = 0
        while time.monotonic() < t_end:
            self.d.write_config(cfg_for(self.m, ["churn-%d" % i]))
            i += 1
            time.sleep(0.005)
            st = self.d.status()
            if st is not None:
                seen_during = max(seen_during, st["reloads"])
        self.assertGreaterEqual(seen_during, 2, "no reload while the config kept changing")
        self.assertLess(seen_during, i, "every one of %d writes made a reload" % i)
        self.wait_key("churn-%d" % (i - 1))
        print("# %d writes in 1.5 s, %d reloads while they went on" % (i, seen_during))

    def test_burst_debounced(self):
        for i in range(20):
            self.d.write_config(cfg_for(self.m, ["burst-%d" % i]))
        self.wait_key("burst-19")
        time.sleep(0.2)
        self.assertLess(self.d.status()["reloads"], 20)


class AuthDir(unittest.TestCase):
    def setUp(self):
        self.m = openai_mock.MockUpstream().start()
        self.d = ps.Daemon(cfg_for(self.m, ["k"]))
        with open(os.path.join(self.d.auth, "first.json"), "w") as f:
            json.dump({"type": "gemini", "token": "t"}, f)
        self.d.start()

    def tearDown(self):
        rc = self.d.stop()
        errs = self.d.sanitizer_errors()
        log = self.d.log_text()
        self.d.cleanup()
        self.m.stop()
        self.assertEqual(rc, 0, log)
        self.assertEqual(errs, [], log)

    def files(self):
        return self.d.status()["credentials"]["auth-files"]

    def wait_files(self, n):
        self.d.wait_status(lambda s: s["credentials"]["auth-files"] == n)

    def put(self, d, name, obj):
        tmp = os.path.join(d, "." + name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, os.path.join(d, name))

    def test_files_added_and_removed(self):
        self.assertEqual(self.files(), 1)
        self.put(self.d.auth, "second.json", {"type": "claude"})
        self.wait_files(2)
        reloads = self.d.status()["reloads"]
        with open(os.path.join(self.d.auth, ".hidden.json"), "w") as f:
            f.write("{}")
        with open(os.path.join(self.d.auth, "notes.txt"), "w") as f:
            f.write("x")
        time.sleep(0.3)
        self.assertEqual(self.d.status()["reloads"], reloads, "dot/non-json files reloaded")
        os.unlink(os.path.join(self.d.auth, "first.json"))
        self.wait_files(1)
        # Content change of an existing file is a change too.
        before = self.d.status()["reloads"]
        self.put(self.d.auth, "second.json", {"type": "claude", "v": 2})
        self.d.wait_status(lambda s: s["reloads"] > before)

    def test_files_past_the_cap_are_counted_in_status(self):
        # Issue 10 item 7: past 10,000 files the daemon loaded a readdir-
        # order subset and said so only in its log; the status file must
        # say how many it ignores, and why (it had no such field).
        self.assertEqual(self.d.status()["credentials"]["auth-files-ignored"], 0)
        self.assertNotIn("auth-files-ignored-why", self.d.status()["credentials"])
        for i in range(10000):
            with open(os.path.join(self.d.auth, "f%05d.json" % i), "w") as f:
                f.write('{"type":"gemini"}')
        with open(os.path.join(self.d.auth, "bad.json"), "w") as f:
            f.write("[1]")
        # 10,002 files: first.json, f00000..f09999, bad.json
        st = self.d.wait_status(lambda s: s["credentials"]["auth-files"] +
                                s["credentials"]["auth-files-ignored"] == 10002, timeout=30)
        cr = st["credentials"]
        self.assertIn(cr["auth-files-ignored"], (2, 3), cr)
        self.assertRegex(cr["auth-files-ignored-why"],
                         r"^[0-9]+ past the limit of 10000 files, [01] not a JSON object$")
        os.unlink(os.path.join(self.d.auth, "bad.json"))
        os.unlink(os.path.join(self.d.auth, "f00000.json"))
        os.unlink(os.path.join(self.d.auth, "f00001.json"))
        st = self.d.wait_status(lambda s: s["credentials"]["auth-files-ignored"] == 0, timeout=30)
        self.assertEqual(st["credentials"]["auth-files"], 9999)
        self.assertNotIn("auth-files-ignored-why", st["credentials"])

    def test_deleted_and_recreated(self):
        shutil.rmtree(self.d.auth)
        self.wait_files(0)
        os.mkdir(self.d.auth)
        self.put(self.d.auth, "again.json", {"type": "codex"})
        self.wait_files(1)
        # And the new directory is watched.
        self.put(self.d.auth, "more.json", {})
        self.wait_files(2)
        self.assertIsNone(self.d.status()["last-error"])
        self.assertEqual(self.d.chat("k", "m")[0], 200)

    def test_auth_dir_is_config_dir(self):
        # One inode, one inotify watch for both roles: both filters apply.
        self.d.write_config(cfg_for(self.m, ["k"], **{"auth-dir": self.d.cfgdir}))
        self.wait_files(0)
        self.put(self.d.cfgdir, "c.json", {"type": "qwen"})
        self.wait_files(1)
        self.d.write_config(cfg_for(self.m, ["k2"], **{"auth-dir": self.d.cfgdir}))
        self.assertTrue(ps.wait_until(lambda: self.d.chat("k2", "m")[0] == 200, 5))
        self.put(self.d.cfgdir, "d.json", {})
        self.wait_files(2)
        # Moving away from it keeps the config watch alive.
        self.d.write_config(cfg_for(self.m, ["k3"]))
        self.wait_files(1)
        self.d.write_config(cfg_for(self.m, ["k4"]))
        self.assertTrue(ps.wait_until(lambda: self.d.chat("k4", "m")[0] == 200, 5))

    def test_auth_dir_moves(self):
        other = os.path.join(self.d.dir, "auth2")
        os.mkdir(other)
        self.put(other, "x.json", {})
        self.put(other, "y.json", {})
        self.d.write_config(cfg_for(self.m, ["k"], **{"auth-dir": other}))
        self.wait_files(2)
        self.assertEqual(self.d.status()["auth-dir"], other)
        self.put(other, "z.json", {})
        self.wait_files(3)
        # The old directory is no longer watched.
        reloads = self.d.status()["reloads"]
        self.put(self.d.auth, "ignored.json", {})
        time.sleep(0.3)
        self.assertEqual(self.d.status()["reloads"], reloads)


if __name__ == "__main__":
    tap.main()

#!/usr/bin/env python3
"""rel_secrets.py - no secret ever lands in a log (issue 5 "Secrets";
DESIGN.md 5 "No secret ... is ever written to a log", 6 request-log).

A representative workload with fresh random secrets: management writes
through lighttpd with the management key (right and wrong, loopback and
remote, Bearer and X-Management-Key), client API keys and upstream keys
put, patched, deleted and refused by validation, auth files with tokens
uploaded (raw and multipart) and refused; then cliproxyd with debug and
request-log on, proxying plain and streaming requests (through API keys
and through OAuth accounts of every kind, one of them refused 401) with
client keys in every accepted place (Authorization, X-Api-Key, X-Goog-Api-Key, ?key= in
any case),
wrong keys, upstream errors. Afterwards every file under the temporary
dirs (web server logs, responder output, ban table, daemon log, status
file, request logs) and every error body and response header is searched
for every secret, whole and as a 16-byte middle slice: zero hits.
The config and the auth files themselves are where keys and tokens live
(by design) and are not searched, except that the management key must
never be there in plain text after the first request.
"""
import json
import os
import secrets
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mock"))
import oauth_mock  # noqa: E402
import api_mock  # noqa: E402
import subprocess  # noqa: E402
import urllib.parse  # noqa: E402
from ctl_login import get as http_get  # noqa: E402
import rellib  # noqa: E402
import tap  # noqa: E402


def tok(prefix):
    return prefix + secrets.token_hex(16)


def needles(labelled):
    """{needle bytes: label} for [(label, secret)]: the whole secret and a
    16-byte middle slice (what a prefix/suffix mask would not show)."""
    out = {}
    for label, s in labelled:
        out[s.encode()] = label
        mid = len(s) // 2
        out[s[mid - 8:mid + 8].encode()] = label + " (slice)"
    return out


def scan(root, skip, needle_set, echoes=()):
    """(files, bytes, hits) over every regular file below root not in skip.
    echoes: byte strings removed before searching (the mock upstream
    tags its answers with the key it received, "[<key>]": that is the
    upstream speaking, which the request log records as it came)."""
    files = size = 0
    hits = []
    for dirpath, dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if p in skip or os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            for e in echoes:
                data = data.replace(e, b"")
            files += 1
            size += len(data)
            for s in needle_set:
                if s in data:
                    # never print the secret: where, and which kind
                    hits.append("%s holds the %s" % (p, needle_set[s]))
    return files, size, hits


class Secrets(unittest.TestCase):
    def test_no_secret_in_any_log_body_or_header(self):
        S = {"client": [tok("sk-cli-") for _ in range(4)],
             "upstream": [tok("sk-up-") for _ in range(4)],
             "token": [tok("ya29.") for _ in range(4)],
             "wrong": [tok("wrong-") for _ in range(4)],
             # accounts the daemon serves (issue 12): claude, gemini,
             # codex, qwen, and a claude one the upstream refuses (401)
             "account": [tok("sk-ant-oat01-"), tok("ya29."), tok("codex-"), tok("qwen-"),
                         tok("sk-ant-oat01-err401-")]}
        dep = mgmtlib.Deployment("lighttpd")
        labelled = [("management key", dep.key)] + [
            ("%s key #%d" % (kind, i), v) for kind, vs in S.items() for i, v in enumerate(vs)]
        all_secret = [v for _, v in labelled]
        needle_set = needles(labelled)
        answers = []      # (status, headers text, body) of every answer

        def req(*a, **kw):
            r = dep.req(*a, **kw)
            answers.append(r)
            return r

        omock = oauth_mock.OAuthMock().start()
        try:
            dep.start()
            dep.reset(dep.config_text(allow_remote=True) + omock.endpoints_yaml())
            cli, up, tk, wr = S["client"], S["upstream"], S["token"], S["wrong"]
            steps = [
                ("PUT", "/debug", {"value": True}, True, None),
                ("PUT", "/api-keys", [cli[0], cli[1]], True, None),
                ("PATCH", "/api-keys", {"old": cli[0], "new": cli[2]}, True, None),
                ("PATCH", "/api-keys", {"old": wr[0], "new": cli[3]}, True, None),
                ("PATCH", "/api-keys", {"index": 7, "value": cli[3]}, True, None),
                ("DELETE", "/api-keys?value=" + cli[1], None, True, None),
                ("DELETE", "/api-keys?value=" + wr[1], None, True, None),
                ("PUT", "/claude-api-key", [{"api-key": up[0], "base-url": "ftp://no"}], True, None),
                ("PUT", "/claude-api-key", [{"api-key": up[0]}], True, None),
                ("PATCH", "/claude-api-key", {"match": wr[2], "value": {"api-key": up[1]}}, True, None),
                ("PUT", "/codex-api-key", [{"api-key": up[1], "base-url": 5}], True, None),
                ("PUT", "/openai-compatibility", [{"name": "p", "base-url": "http://127.0.0.1:9/v1",
                                                   "api-keys": [up[2]], "models": [{"alias": "x"}]}],
                 True, None),
                ("PUT", "/generative-language-api-key", [up[3], 7], True, None),
                ("PUT", "/generative-language-api-key", [up[3]], True, None),
                ("POST", "/auth-files?name=a.json",
                 {"type": "gemini", "access_token": tk[0], "refresh_token": tk[1]}, True, None),
                ("POST", "/auth-files?name=bad.json", '{"access_token":"%s"' % tk[2], True, None),
                ("POST", "/auth-files?name=../%s.json" % tk[3], {"t": tk[3]}, True, None),
                ("GET", "/debug", None, wr[0], None),
                ("GET", "/debug", None, wr[1], "203.0.113.20"),
                ("PUT", "/debug", {"value": False}, wr[2], "203.0.113.20"),
                ("GET", "/debug", None, None, None),
            ]
            for m, p, b, key, xff in steps:
                req(m, p, body=b, key=key, xff=xff)
            ct, body = harness.multipart([("file", "m.json", json.dumps(
                {"access_token": tk[2], "refresh_token": tk[3]}).encode())])
            req("POST", "/auth-files", body=body, headers={"Content-Type": ct})
            ct, body = harness.multipart([("file", "n.json", b'{"access_token":"' + tk[0].encode())])
            req("POST", "/auth-files", body=body, headers={"Content-Type": ct})
            for i in range(6):  # a ban from another address, with secret-looking keys
                req("GET", "/debug", key=wr[i % 4], xff="198.51.100.30")
            req("GET", "/debug", key=None, headers={"X-Management-Key": wr[3]})
            req("GET", "/debug", key=None, headers={"X-Management-Key": dep.key})
            # OAuth logins (issue 12): through the management API (one that
            # succeeds, one the token endpoint refuses, qwen's device poll,
            # a disable) and by cliproxyctl with its output kept in the
            # scanned tree; the tokens the mock issued join the needles
            omock.device_interval = 1
            omock.device_pending = 0
            for prov, fail in (("codex", None), ("anthropic", "invalid_grant")):
                j = req("GET", "/%s-auth-url" % prov).json()
                loc = http_get(j["url"])[1]
                if fail:
                    omock.fail_next("claude", fail)
                req("POST", "/oauth-callback", body={"provider": prov, "redirect_url": loc})
                req("GET", "/get-auth-status?state=" + j["state"])
            j = req("GET", "/qwen-auth-url?alias=q").json()
            req("GET", "/get-auth-status?state=" + j["state"])
            req("PATCH", "/auth-files/status", body={"name": "qwen-q.json", "disabled": True})
            req("GET", "/auth-files")
            ctl_out = os.path.join(dep.dir, "cliproxyctl.out")
            with open(ctl_out, "wb") as out:
                p = subprocess.Popen([harness.build_path("src/ctl/cliproxyctl"), "login", "claude",
                                      "--no-browser", "-c", dep.config], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=out)
                url = p.stdout.readline() and p.stdout.readline().decode().strip()
                p.stdin.write(http_get(url)[1].encode() + b"\n")
                p.stdin.close()
                out.write(p.stdout.read())
                self.assertEqual(p.wait(60), 0)
            self.assertGreaterEqual(len(omock.issued), 6)   # 3 logins, 2 tokens each
            needle_set.update(needles([("oauth token #%d" % i, t)
                                       for i, t in enumerate(omock.issued)]))
            ok_status = sum(1 for r in answers if r.status == 200)
            self.assertGreaterEqual(ok_status, 8, [r for r in answers])
            cfg_text = dep.read_config()
            self.assertNotIn(dep.key.encode(), cfg_text, "the management key is stored in plain text")
            self.assertIn(b"$2b$", cfg_text)
        finally:
            dep.stop()
            omock.stop()

        # the daemon: debug and request-log on, every way of giving a key
        mock = openai_mock.MockUpstream().start()
        amock = api_mock.ApiMock().start()
        d = None
        try:
            au = amock.url
            acct = S["account"]
            accounts = {
                "claude-a.json": {"type": "claude", "access_token": acct[0],
                                  "refresh_token": S["token"][2], "expired": "2099-01-01T00:00:00Z"},
                "g-p.json": {"token": {"access_token": acct[1], "refresh_token": S["token"][3],
                                       "expiry": "2099-01-01T00:00:00Z"}, "project_id": "p1"},
                "codex-c.json": {"type": "codex", "access_token": acct[2], "account_id": "a1",
                                 "refresh_token": S["token"][2], "expired": "2099-01-01T00:00:00Z"},
                "qwen-q.json": {"type": "qwen", "access_token": acct[3], "resource_url": "h.example",
                                "refresh_token": S["token"][3], "expired": "2099-01-01T00:00:00Z"},
                "claude-b.json": {"type": "claude", "access_token": acct[4],
                                  "refresh_token": S["token"][1], "expired": "2099-01-01T00:00:00Z"},
            }
            cfg = {"debug": True, "request-log": True, "api-keys": [S["client"][0], S["client"][1]],
                   "claude-api-key": [{"api-key": S["upstream"][0], "base-url": "http://127.0.0.1:9"}],
                   "openai-compatibility": [
                       ps.compat("mock", mock.base_url, [S["upstream"][1]], [("m-up", "m")]),
                       ps.compat("err", mock.base_url, ["k-500"], [("m-err", "e")]),
                       ps.compat("lim", mock.base_url, ["k-429-ra1"], [("m-lim", "l")])],
                   # every account upstream and token endpoint on the mock
                   "endpoints": {"gemini-cli": au, "claude": au, "codex": au + "/backend-api/codex",
                                 "qwen": au + "/qwen/v1", "claude-token-url": au + "/oauth/token",
                                 "gemini-cli-token-url": au + "/oauth/token",
                                 "codex-token-url": au + "/oauth/token",
                                 "qwen-token-url": au + "/oauth/token"}}
            d = ps.Daemon(cfg)
            cfg["request-log-dir"] = os.path.join(d.dir, "reqlog")
            d.write_config(cfg)
            with open(os.path.join(d.auth, "acct.json"), "w") as f:
                json.dump({"type": "gemini", "access_token": S["token"][0],
                           "refresh_token": S["token"][1], "project_id": "p"}, f)
            for name, doc in accounts.items():
                with open(os.path.join(d.auth, name), "w") as f:
                    json.dump(doc, f)
            d.start()
            proxied = []
            for hdr in ("bearer", "x-api-key", "x-goog-api-key", "query"):
                for stream in (False, True):
                    proxied.append(d.chat(S["client"][0], "m", stream=stream, header=hdr))
            # The key parameter in any case (issue 10: ?KEY= was accepted and
            # logged in clear), percent-encoded in its name, and beside a
            # %0A that must not forge a request-log line.
            for q in ("KEY", "Key", "kEy", "%4Bey"):
                proxied.append(d.request("POST", "/v1/chat/completions?note=a%%0Ab&%s=%s" %
                                         (q, S["client"][0]), {"model": "m"}))
            proxied.append(d.chat(S["client"][1], "e"))
            proxied.append(d.chat(S["client"][1], "l"))
            proxied.append(d.chat(S["wrong"][0], "m"))
            proxied.append(d.chat(S["wrong"][1], "m", header="query"))
            proxied.append(d.chat(S["client"][0], "gemini-2.5-pro"))
            proxied.append(d.request("GET", "/v1/models", headers={"Authorization": "Bearer " + S["client"][0]}))
            # every account kind, streamed and not; claude-b answers 401
            for model in ("claude-sonnet-4-5", "claude-sonnet-4-5", "gemini-2.5-flash", "gpt-5",
                          "qwen3-coder-plus"):
                for stream in (False, True):
                    proxied.append(d.chat(S["client"][0], model, stream=stream))
            # the mock notes a status once its handler returns
            ps.wait_until(lambda: all("status" in r for r in amock.requests()), 2)
            acct_ok = sum(1 for r in amock.requests() if r.get("status") == 200)
            self.assertGreaterEqual(acct_ok, 10, [(r["api"], r.get("status"), r["error"])
                                                  for r in amock.requests()])
            self.assertTrue(any(r.get("status") == 401 for r in amock.requests()),
                            "the refused account was not tried")
            served = sum(1 for p in proxied if p[0] == 200)
            self.assertGreaterEqual(served, 8, [p[0] for p in proxied])
            up_seen = sum(1 for r in mock.requests()
                          if r["headers"].get("authorization") == "Bearer " + S["upstream"][1])
            self.assertGreaterEqual(up_seen, 8, "the upstream key did not reach the mock")
            time.sleep(1.2)  # the status file is rewritten at most once a second
            rc = d.stop()
            self.assertEqual(rc, 0)
            reqlogs = []
            for root, _, names in os.walk(os.path.join(d.dir, "reqlog")):
                reqlogs += names
            self.assertTrue(reqlogs, "request-log on, but no request log written")
            for root, _, names in os.walk(os.path.join(d.dir, "reqlog")):
                for n in names:
                    with open(os.path.join(root, n), "rb") as f:
                        self.assertNotIn(b"a\nb", f.read(), "a decoded %0A in a request log")
            skip = {d.config, os.path.join(d.auth, "acct.json")}
            skip.update(os.path.join(d.auth, n) for n in accounts)
            echo = b"[" + S["upstream"][1].encode() + b"]"
            files_d, bytes_d, hits_d = scan(d.dir, skip, needle_set, [echo])
            echoed = sum(1 for p in proxied if echo in p[2])
            self.assertGreater(echoed, 0, "the mock did not tag its answers")
            for st, hdrs, body in proxied:
                if st != 200:
                    for s in needle_set:
                        if s in body.replace(echo, b""):
                            hits_d.append("daemon error body %d holds the %s" % (st, needle_set[s]))
                for k, v in hdrs.items():
                    for s in needle_set:
                        if s in v.encode():
                            hits_d.append("daemon header %s holds the %s" % (k, needle_set[s]))
        finally:
            if d is not None:
                d.cleanup()
            mock.stop()
            amock.stop()

        # management side: every file except the config, its kept versions
        # (.cliproxy-history: copies of the config, issue 13) and the auth
        # files; the audit log (state/audit.log) is searched like any log
        skip = {dep.config}
        skip.update(os.path.join(dep.auth_dir, n) for n in os.listdir(dep.auth_dir))
        hist = os.path.join(dep.cfgdir, ".cliproxy-history")
        versions = [os.path.join(hist, n) for n in os.listdir(hist)] if os.path.isdir(hist) else []
        skip.update(versions)
        files_m, bytes_m, hits_m = scan(dep.dir, skip, needle_set)
        self.assertTrue(os.path.isfile(os.path.join(dep.cfgdir, "state", "audit.log")))
        self.assertGreater(len(versions), 0)
        # the plaintext management key is hashed before any version is kept
        for v in versions:
            if dep.key.encode() in harness.read_file(v):
                hits_m.append("%s holds the management key" % v)
        for r in answers:
            if r.status != 200 or r.body.startswith(b'{"error"'):
                for s in needle_set:
                    if s in r.body:
                        hits_m.append("error body %d holds the %s" % (r.status, needle_set[s]))
            for k, v in r.headers.items():
                for s in needle_set:
                    if s in v.encode():
                        hits_m.append("response header %s holds the %s" % (k, needle_set[s]))
        self.maxDiff = None
        self.assertEqual(hits_m + hits_d, [])
        rellib.figure("secrets checked: %d (management key, %d client keys, %d upstream keys, %d "
                      "tokens, %d wrong keys, %d served account tokens) and %d OAuth tokens from "
                      "logins, each whole and as a 16-byte slice"
                      % (len(all_secret), 4, 4, 4, 4, len(S["account"]), len(omock.issued)))
        rellib.figure("management: %d requests, %d files / %d bytes of logs and state scanned; "
                      "daemon: %d requests, %d files / %d bytes scanned (%d request logs); hits: 0"
                      % (len(answers), files_m, bytes_m, len(proxied), files_d, bytes_d,
                         len(reqlogs)))


if __name__ == "__main__":
    tap.main()

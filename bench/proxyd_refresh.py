#!/usr/bin/env python3
"""proxyd_refresh.py - what a 401 of an OAuth account costs (issue 12):
cliproxyd with one Claude account against the mock authorization server
and the four-API mock upstream (which honours only live access tokens).

Each round loads a new account file whose access token the upstream no
longer accepts, then sends one request: the upstream answers 401, the
daemon refreshes the token (token call + write-back under the auth-dir
lock) and retries. Printed, over N rounds (default 100): the whole
request; the time from the upstream's 401 to the retried request reaching
the upstream (the refresh); and from the 401 to the client's answer. For
comparison, the same request with a live token. Loopback only.

    CLIPROXY_BUILDDIR=_build python3 bench/proxyd_refresh.py [rounds]
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
import proxyd_support as ps  # noqa: E402
import api_mock  # noqa: E402
import oauth_mock  # noqa: E402

KEY = "bench-key"


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def doc(tok):
    return {"type": "claude", "access_token": tok["access_token"],
            "refresh_token": tok["refresh_token"], "id_token": "", "email": "b@example.com",
            "expired": "2099-01-01T00:00:00Z"}


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    oa = oauth_mock.OAuthMock()
    oa.revoke_old = True
    oa.start()
    up = api_mock.ApiMock().start()
    up.keys = oa.live
    eps = dict(oa.endpoints())
    eps["claude"] = up.url
    d = ps.Daemon({"api-keys": [KEY], "endpoints": eps})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}]}
    hdr = {"Authorization": "Bearer " + KEY, "anthropic-version": "2023-06-01"}

    def loaded(name):
        st = d.status() or {}
        return any(c.get("file") == name for c in (st.get("credentials") or {}).get("list", []))

    def one(name, revoke):
        tok = oa.add_account("claude")
        tmp = os.path.join(d.auth, "." + name)
        with open(tmp, "w") as f:
            json.dump(doc(tok), f)
        os.replace(tmp, os.path.join(d.auth, name))
        if not ps.wait_until(lambda: loaded(name), 5, 0.002):
            raise SystemExit("the daemon did not load %s" % name)
        if revoke:
            oa.revoke(tok["access_token"])
        up.reset()
        t0 = time.time()
        st, _, out = d.request("POST", "/v1/messages", body, hdr)
        t1 = time.time()
        if st != 200:
            raise SystemExit("request failed: %d %r" % (st, out[:200]))
        ps.wait_until(lambda: all("status" in r for r in up.requests()), 2)
        recs = up.requests("claude")
        os.unlink(os.path.join(d.auth, name))
        ps.wait_until(lambda: not loaded(name), 5, 0.002)
        if not revoke:
            return t1 - t0, None, None
        if [r["status"] for r in recs] != [401, 200]:
            raise SystemExit("unexpected upstream statuses %r" % [r["status"] for r in recs])
        # the mock notes "t" when a request arrives; the 401 is answered
        # within a millisecond of that
        return t1 - t0, recs[1]["t"] - recs[0]["t"], t1 - recs[0]["t"]

    try:
        d.start()
        plain = [one("plain-%d.json" % i, False)[0] for i in range(rounds)]
        whole, refresh, answer = [], [], []
        for i in range(rounds):
            w, r, a = one("r-%d.json" % i, True)
            whole.append(w)
            refresh.append(r)
            answer.append(a)
        calls = oa.token_calls("claude")
    finally:
        d.cleanup()
        up.stop()
        oa.stop()
    ms = lambda v: "median %.1f ms, p90 %.1f ms" % (pct(v, 50) * 1000, pct(v, 90) * 1000)
    print("rounds: %d, token calls: %d" % (rounds, calls))
    print("request with a live token:                   %s" % ms(plain))
    print("request whose token the upstream refuses:    %s" % ms(whole))
    print("  from the 401 to the retry reaching upstream: %s" % ms(refresh))
    print("  from the 401 to the client's answer:         %s" % ms(answer))


if __name__ == "__main__":
    main()

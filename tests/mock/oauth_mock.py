#!/usr/bin/env python3
"""oauth_mock.py - a mock of the four OAuth identity providers of
PROVIDERS.md section 4 (Google for Gemini CLI, Anthropic for Claude Code,
OpenAI for Codex, Qwen's device flow) plus Google userinfo and the Code
Assist project discovery of section 3, strict where the real services
are strict.

Python standard library only; listens on 127.0.0.1 on a port chosen at
run time. In-process:

    m = OAuthMock().start()
    m.endpoints()        # {endpoints: name -> URL} for a cliproxy config
    m.requests(what=None), m.reset()
    m.fail_next(kind, mode, n=1)   # mode: invalid_grant | 500 | hang | junk |
                                   # no_access (200 without access_token) |
                                   # slow (answers after slow_seconds)
    m.add_account(kind)  # a logged-in account without the browser dance:
                         # its token answer (access/refresh tokens ...)
    m.token_calls(kind)  # how many POST /{kind}/token it answered
    m.revoke_old = True  # a refresh retires the old access token, so the
                         # upstream (ApiMock(keys=m.live)) refuses it
    m.live               # a container of the access tokens still valid
    m.revoke(access_token)  # the upstream refuses it from now on
    m.slow_seconds = 0.2 # every token answer waits this long
    m.device_pending = 2  # qwen polls answered authorization_pending first
    m.device_script = []  # or an explicit list of answers per poll:
                          # "pending", "slow_down", "expired_token",
                          # "access_denied", "ok"
    m.project = None      # loadCodeAssist has no project: onboarding runs
    m.onboard_polls = 2   # onboardUser answers done:false this many - 1 times
    m.stop()

or standalone: `oauth_mock.py [--port-file F]` prints "PORT <n>" and
serves until killed (GET /_mock/requests lists what it saw). Control
endpoints of a standalone mock (JSON bodies): POST /_mock/account
{"kind"} -> the token answer of a new account; POST /_mock/fail {"kind",
"mode", "n"}; POST /_mock/set {"hang_seconds", "slow_seconds",
"expires_in", "revoke_old"}; GET /_mock/count?kind=K -> {"count": token
calls of K}.

Endpoints ({k} is gemini, claude, codex or qwen):
  GET  /{k}/authorize   checks client_id, response_type=code, redirect_uri
                        (a loopback http URL), scope, state, and (claude,
                        codex) code_challenge with method S256 (gemini:
                        none); answers 302 to redirect_uri?code=...&state=...
                        A test GETs it to play the browser.
  POST /{k}/token       authorization_code (gemini, codex: form; claude:
                        JSON, the content type checked), code single-use,
                        redirect_uri and client_id as at /authorize,
                        code_verifier whose S256 is the challenge, gemini's
                        client_secret; refresh_token grant per kind with
                        exactly the fields of PROVIDERS 4 (codex: scope
                        "openid profile email"); qwen's device_code grant
                        with its code_verifier. Errors are RFC 6749 JSON
                        (400 invalid_request / invalid_grant /
                        invalid_client, 401 for a wrong client).
  POST /qwen/device/code  form client_id, scope, code_challenge,
                        code_challenge_method=S256 -> device_code,
                        user_code, verification_uri(_complete), interval.
  GET  /gemini/userinfo Bearer -> {"email": ...}
  POST /gemini-cli/v1internal:loadCodeAssist, :onboardUser (Bearer).

Answers: claude carries account.email_address; codex an id_token JWT whose
payload has email and https://api.openai.com/auth.chatgpt_account_id;
qwen resource_url. Refreshes rotate the refresh token except Google's
(which answer none, as Google does). Tokens are random per run; a record
never holds a token in a place a test prints (repr shows the path only).
"""
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = {
    "gemini": {"client_id": "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
               "client_secret": "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",
               "pkce": False, "json": False, "path": "/oauth2callback",
               "scope": "https://www.googleapis.com/auth/cloud-platform "
                        "https://www.googleapis.com/auth/userinfo.email "
                        "https://www.googleapis.com/auth/userinfo.profile"},
    "claude": {"client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e", "pkce": True, "json": True,
               "path": "/callback", "scope": "org:create_api_key user:profile user:inference"},
    "codex": {"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "pkce": True, "json": False,
              "path": "/auth/callback", "scope": "openid email profile offline_access"},
    "qwen": {"client_id": "f0304373b74a44d2b584a3fb70ca9e56", "pkce": True, "json": False,
             "scope": "openid profile email model.completion"},
}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
HANG_SECONDS = 60


def s256(verifier):
    d = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload):
    return "%s.%s.%s" % (b64url(b'{"alg":"RS256","typ":"JWT"}'),
                         b64url(json.dumps(payload).encode()), b64url(b"not-a-signature"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # quiet: tokens travel in URLs' queries
        pass

    @property
    def mock(self):
        return self.server.mock

    def _send(self, status, obj=None, headers=None, raw=None):
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw is None and obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _err(self, status, code, desc):
        self._send(status, {"error": code, "error_description": desc})

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _bearer(self):
        a = self.headers.get("Authorization") or ""
        return a[7:] if a.startswith("Bearer ") else None

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        self.mock._record({"method": "GET", "path": u.path, "query": q, "headers": dict(self.headers)})
        parts = u.path.strip("/").split("/")
        if u.path == "/_mock/requests":
            return self._send(200, self.mock.requests())
        if u.path == "/_mock/count":
            return self._send(200, {"count": self.mock.token_calls(q.get("kind", [""])[0])})
        if len(parts) == 2 and parts[1] == "authorize" and parts[0] in KINDS:
            return self._authorize(parts[0], q)
        if u.path == "/gemini/userinfo":
            tok = self._bearer()
            acct = self.mock._account_of(tok)
            if acct is None:
                return self._send(401, {"error": {"code": 401, "message": "invalid credentials"}})
            return self._send(200, {"email": acct["email"], "verified_email": True, "id": "1"})
        return self._send(404, {"error": "not found"})

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        body = self._body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        rec = {"method": "POST", "path": u.path, "ctype": ctype, "body": body.decode("utf-8", "replace"),
               "headers": dict(self.headers)}
        self.mock._record(rec)
        parts = u.path.strip("/").split("/")
        if u.path.startswith("/_mock/"):
            return self._control(u.path, body)
        if len(parts) == 2 and parts[1] == "token" and parts[0] in KINDS:
            with self.mock._lock:
                self.mock._token_calls[parts[0]] = self.mock._token_calls.get(parts[0], 0) + 1
            return self._token(parts[0], ctype, body)
        if u.path == "/qwen/device/code":
            return self._device_code(ctype, body)
        if u.path == "/gemini-cli/v1internal:loadCodeAssist":
            return self._load_code_assist(body)
        if u.path == "/gemini-cli/v1internal:onboardUser":
            return self._onboard(body)
        return self._send(404, {"error": "not found"})

    def _control(self, path, body):
        try:
            obj = json.loads(body.decode() or "{}")
        except ValueError:
            return self._send(400, {"error": "json"})
        if path == "/_mock/account" and obj.get("kind") in KINDS:
            return self._send(200, self.mock.add_account(obj["kind"]))
        if path == "/_mock/fail" and obj.get("kind") in KINDS:
            self.mock.fail_next(obj["kind"], obj.get("mode", "500"), int(obj.get("n", 1)))
            return self._send(200, {"status": "ok"})
        if path == "/_mock/set":
            for k in ("hang_seconds", "slow_seconds", "expires_in", "revoke_old"):
                if k in obj:
                    setattr(self.mock, k, obj[k])
            return self._send(200, {"status": "ok"})
        return self._send(404, {"error": "not found"})

    # ------------------------------------------------------------ authorize

    def _authorize(self, kind, q):
        k = KINDS[kind]
        one = {n: v[0] for n, v in q.items() if len(v) == 1}
        if any(len(v) != 1 for v in q.values()):
            return self._err(400, "invalid_request", "repeated parameter")
        if one.get("client_id") != k["client_id"]:
            return self._err(401, "invalid_client", "unknown client")
        if kind == "qwen":
            return self._err(400, "unsupported_response_type", "device flow only")
        if one.get("response_type") != "code":
            return self._err(400, "unsupported_response_type", "response_type must be code")
        ru = one.get("redirect_uri", "")
        p = urllib.parse.urlsplit(ru)
        if p.scheme != "http" or p.hostname not in ("localhost", "127.0.0.1") or p.path != k["path"]:
            return self._err(400, "invalid_request", "redirect_uri is not the registered one")
        if one.get("scope") != k["scope"]:
            return self._err(400, "invalid_scope", "scope")
        if not one.get("state"):
            return self._err(400, "invalid_request", "state missing")
        ch = None
        if k["pkce"]:
            if one.get("code_challenge_method") != "S256" or len(one.get("code_challenge", "")) != 43:
                return self._err(400, "invalid_request", "PKCE S256 required")
            ch = one["code_challenge"]
        elif "code_challenge" in one:
            return self._err(400, "invalid_request", "unexpected PKCE")
        if kind == "gemini" and (one.get("access_type") != "offline" or one.get("prompt") != "consent"):
            return self._err(400, "invalid_request", "access_type=offline and prompt=consent")
        if kind == "codex" and one.get("codex_cli_simplified_flow") != "true":
            return self._err(400, "invalid_request", "codex flags")
        code = "code-%s-%s" % (kind, secrets.token_hex(8))
        with self.mock._lock:
            self.mock._codes[code] = {"kind": kind, "redirect_uri": ru, "challenge": ch,
                                      "state": one["state"]}
        loc = ru + ("&" if "?" in ru else "?") + urllib.parse.urlencode(
            {"code": code, "state": one["state"]})
        return self._send(302, None, {"Location": loc})

    # ---------------------------------------------------------------- token

    def _params(self, kind, ctype, body):
        k = KINDS[kind]
        want = "application/json" if k["json"] else "application/x-www-form-urlencoded"
        if ctype != want:
            return None, "content type must be %s" % want
        try:
            if k["json"]:
                obj = json.loads(body.decode())
                if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
                    return None, "body must be an object of strings"
                return obj, None
            q = urllib.parse.parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return None, "malformed body"
        if any(len(v) != 1 for v in q.values()):
            return None, "repeated field"
        return {n: v[0] for n, v in q.items()}, None

    def _token(self, kind, ctype, body):
        fail = self.mock._take_failure(kind)
        if self.mock.slow_seconds:
            time.sleep(self.mock.slow_seconds)
        if fail == "hang":
            time.sleep(self.mock.hang_seconds)
            return self._send(504, {"error": "temporarily_unavailable"})
        if fail == "slow":
            time.sleep(self.mock.hang_seconds)
            fail = None
        if fail == "no_access":
            return self._send(200, {"token_type": "Bearer", "expires_in": 3600})
        if fail == "500":
            return self._send(500, raw=b"<html>internal error</html>",
                              headers={"Content-Type": "text/html"})
        if fail == "junk":
            return self._send(200, raw=b"\x00not json{", headers={"Content-Type": "application/json"})
        if fail == "invalid_grant":
            return self._err(400, "invalid_grant", "the grant is revoked")
        k = KINDS[kind]
        p, why = self._params(kind, ctype, body)
        if p is None:
            return self._err(400, "invalid_request", why)
        gt = p.get("grant_type")
        if p.get("client_id") != k["client_id"]:
            return self._err(401, "invalid_client", "unknown client")
        if kind == "gemini" and p.get("client_secret") != k["client_secret"]:
            return self._err(401, "invalid_client", "client secret")
        if gt == "authorization_code" and kind != "qwen":
            return self._exchange(kind, p)
        if gt == "refresh_token":
            return self._refresh(kind, p)
        if gt == DEVICE_GRANT and kind == "qwen":
            return self._device_poll(p)
        return self._err(400, "unsupported_grant_type", "grant_type")

    def _exchange(self, kind, p):
        fields = {"gemini": {"code", "client_id", "client_secret", "redirect_uri", "grant_type"},
                  "claude": {"code", "state", "grant_type", "client_id", "redirect_uri", "code_verifier"},
                  "codex": {"grant_type", "client_id", "code", "redirect_uri", "code_verifier"}}[kind]
        if set(p) != fields:
            return self._err(400, "invalid_request", "fields %s" % sorted(set(p) ^ fields))
        with self.mock._lock:
            c = self.mock._codes.pop(p["code"], None)   # single use
        if c is None or c["kind"] != kind:
            return self._err(400, "invalid_grant", "unknown or used code")
        if p["redirect_uri"] != c["redirect_uri"]:
            return self._err(400, "invalid_grant", "redirect_uri differs from the authorize request")
        if kind == "claude" and p["state"] != c["state"]:
            return self._err(400, "invalid_grant", "state")
        if c["challenge"] is not None and s256(p["code_verifier"]) != c["challenge"]:
            return self._err(400, "invalid_grant", "code_verifier does not match the challenge")
        return self._send(200, self.mock._issue(kind, new_account=True))

    def _refresh(self, kind, p):
        fields = {"gemini": {"grant_type", "refresh_token", "client_id", "client_secret"},
                  "claude": {"client_id", "grant_type", "refresh_token"},
                  "codex": {"client_id", "grant_type", "refresh_token", "scope"},
                  "qwen": {"grant_type", "refresh_token", "client_id"}}[kind]
        if set(p) != fields:
            return self._err(400, "invalid_request", "fields %s" % sorted(set(p) ^ fields))
        if kind == "codex" and p["scope"] != "openid profile email":
            return self._err(400, "invalid_scope", "scope")
        with self.mock._lock:
            acct = self.mock._refresh.get(p["refresh_token"])
        if acct is None or acct["kind"] != kind:
            return self._err(400, "invalid_grant", "unknown refresh token")
        return self._send(200, self.mock._issue(kind, account=acct, old_refresh=p["refresh_token"]))

    # --------------------------------------------------------------- device

    def _device_code(self, ctype, body):
        p, why = self._params("qwen", ctype, body)
        if p is None:
            return self._err(400, "invalid_request", why)
        if p.get("client_id") != KINDS["qwen"]["client_id"]:
            return self._err(401, "invalid_client", "unknown client")
        if set(p) != {"client_id", "scope", "code_challenge", "code_challenge_method"} or \
                p["code_challenge_method"] != "S256" or p["scope"] != KINDS["qwen"]["scope"]:
            return self._err(400, "invalid_request", "device code fields")
        dc = "dev-" + secrets.token_hex(8)
        uc = secrets.token_hex(3).upper()
        with self.mock._lock:
            self.mock._devices[dc] = {"challenge": p["code_challenge"], "polls": 0,
                                      "script": list(self.mock.device_script),
                                      "pending": self.mock.device_pending, "last": 0.0}
        base = "http://127.0.0.1:%d/qwen/verify" % self.server.server_address[1]
        return self._send(200, {"device_code": dc, "user_code": uc, "verification_uri": base,
                                "verification_uri_complete": base + "?user_code=" + uc,
                                "expires_in": 600, "interval": self.mock.device_interval})

    def _device_poll(self, p):
        if set(p) != {"grant_type", "client_id", "device_code", "code_verifier"}:
            return self._err(400, "invalid_request", "device poll fields")
        with self.mock._lock:
            d = self.mock._devices.get(p["device_code"])
            if d is None:
                return self._err(400, "invalid_grant", "unknown device code")
            if s256(p["code_verifier"]) != d["challenge"]:
                return self._err(400, "invalid_grant", "code_verifier does not match the challenge")
            d["polls"] += 1
            now = time.monotonic()
            d["gaps"] = d.get("gaps", []) + ([now - d["last"]] if d["last"] else [])
            d["last"] = now
            if d["script"]:
                step = d["script"].pop(0)
            elif d["pending"] > 0:
                d["pending"] -= 1
                step = "pending"
            else:
                step = "ok"
            if step == "ok":
                del self.mock._devices[p["device_code"]]
                self.mock.device_gaps.append(d["gaps"])
        if step == "pending":
            return self._err(400, "authorization_pending", "waiting for the user")
        if step in ("slow_down", "expired_token", "access_denied"):
            return self._err(400, step, step)
        return self._send(200, self.mock._issue("qwen", new_account=True))

    # ----------------------------------------------------------- code assist

    def _load_code_assist(self, body):
        acct = self.mock._account_of(self._bearer())
        if acct is None:
            return self._send(401, {"error": {"code": 401, "message": "unauthenticated"}})
        try:
            obj = json.loads(body.decode())
            md = obj["metadata"]
            assert md["ideType"] and md["platform"] and md["pluginType"] == "GEMINI"
        except Exception:
            return self._send(400, {"error": {"code": 400, "message": "metadata required"}})
        if self.mock.project:
            return self._send(200, {"cloudaicompanionProject": self.mock.project,
                                    "currentTier": {"id": "standard-tier"}})
        return self._send(200, {"allowedTiers": [{"id": "legacy-tier"},
                                                 {"id": "free-tier", "isDefault": True}]})

    def _onboard(self, body):
        acct = self.mock._account_of(self._bearer())
        if acct is None:
            return self._send(401, {"error": {"code": 401, "message": "unauthenticated"}})
        try:
            obj = json.loads(body.decode())
            assert obj["tierId"] == "free-tier" and obj["metadata"]["pluginType"] == "GEMINI"
        except Exception:
            return self._send(400, {"error": {"code": 400, "message": "tierId and metadata required"}})
        with self.mock._lock:
            self.mock.onboard_calls.append(time.monotonic())
            n = len(self.mock.onboard_calls)
        if n < self.mock.onboard_polls:
            return self._send(200, {"name": "operations/onboard-1", "done": False})
        return self._send(200, {"name": "operations/onboard-1", "done": True,
                                "response": {"cloudaicompanionProject": {
                                    "id": self.mock.onboard_project, "name": "Onboarded"}}})


class _Live:
    """The access tokens the mock still honours, as a container an
    ApiMock(keys=...) checks keys against."""

    def __init__(self, mock):
        self._m = mock

    def __contains__(self, tok):
        return self._m._account_of(tok) is not None

    def __iter__(self):
        with self._m._lock:
            return iter(list(self._m._access))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class OAuthMock:
    """The mock in a background thread of the calling process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reqs = []
        self._codes = {}
        self._devices = {}
        self._access = {}       # access token -> account
        self._refresh = {}      # refresh token -> account
        self._fail = {}         # kind -> [modes]
        self.accounts = []      # every account a login created
        self.issued = []        # every token the mock handed out (secrets scans)
        self.device_pending = 2
        self.device_script = []
        self.device_interval = 1
        self.device_gaps = []
        self.hang_seconds = HANG_SECONDS
        self.project = None
        self.onboard_project = "onboarded-proj-1"
        self.onboard_polls = 2
        self.onboard_calls = []
        self.expires_in = 3600
        self.slow_seconds = 0
        self.revoke_old = False
        self._token_calls = {}
        self.live = _Live(self)
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.mock = self
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thr = None

    def endpoints(self):
        u = self.url
        return {"gemini-cli-auth-url": u + "/gemini/authorize",
                "gemini-cli-token-url": u + "/gemini/token",
                "gemini-cli-userinfo-url": u + "/gemini/userinfo",
                "gemini-cli": u + "/gemini-cli",
                "claude-auth-url": u + "/claude/authorize",
                "claude-token-url": u + "/claude/token",
                "codex-auth-url": u + "/codex/authorize",
                "codex-token-url": u + "/codex/token",
                "qwen-device-url": u + "/qwen/device/code",
                "qwen-token-url": u + "/qwen/token"}

    def endpoints_yaml(self, indent=2):
        return "endpoints:\n" + "".join("%s%s: %s\n" % (" " * indent, k, v)
                                        for k, v in self.endpoints().items())

    def start(self):
        self._thr = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self._thr.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def fail_next(self, kind, mode, n=1):
        with self._lock:
            self._fail.setdefault(kind, []).extend([mode] * n)

    def _take_failure(self, kind):
        with self._lock:
            lst = self._fail.get(kind)
            return lst.pop(0) if lst else None

    def add_account(self, kind):
        """A new account as a login would leave it: its token answer."""
        return self._issue(kind, new_account=True)

    def revoke(self, access_token):
        """The upstream refuses this access token from now on (it expired)."""
        with self._lock:
            self._access.pop(access_token, None)

    def token_calls(self, kind):
        with self._lock:
            return self._token_calls.get(kind, 0)

    def _record(self, rec):
        with self._lock:
            self._reqs.append(rec)

    def requests(self, path=None):
        with self._lock:
            return [r for r in self._reqs if path is None or r["path"] == path]

    def reset(self):
        with self._lock:
            self._reqs = []
            self.onboard_calls = []
            self.device_gaps = []

    def _account_of(self, tok):
        with self._lock:
            return self._access.get(tok) if tok else None

    def _issue(self, kind, new_account=False, account=None, old_refresh=None):
        with self._lock:
            if new_account:
                n = len(self.accounts) + 1
                account = {"kind": kind, "email": "user%d.%s@example.com" % (n, kind),
                           "account_id": "acct-%d" % n, "n": n}
                self.accounts.append(account)
            at = "at-%s-%s" % (kind, secrets.token_hex(12))
            tok = {"access_token": at, "token_type": "Bearer", "expires_in": self.expires_in}
            if self.revoke_old and account.get("access_token"):
                self._access.pop(account["access_token"], None)
            self._access[at] = account
            self.issued.append(at)
            rotate = new_account or kind != "gemini"
            if rotate:
                rt = "rt-%s-%s" % (kind, secrets.token_hex(12))
                tok["refresh_token"] = rt
                self._refresh[rt] = account
                self.issued.append(rt)
                if old_refresh is not None:
                    self._refresh.pop(old_refresh, None)
            account["access_token"] = at
        if kind == "claude":
            tok["account"] = {"uuid": "u-%d" % account["n"], "email_address": account["email"]}
            tok["organization"] = {"uuid": "org-1", "name": "Org"}
        elif kind == "codex":
            tok["id_token"] = make_jwt({"email": account["email"], "https://api.openai.com/auth": {
                "chatgpt_account_id": account["account_id"], "chatgpt_plan_type": "plus"}})
        elif kind == "qwen":
            tok["resource_url"] = "portal.qwen.example"
        return tok


def main():
    m = OAuthMock().start()
    if len(sys.argv) == 3 and sys.argv[1] == "--port-file":
        tmp = sys.argv[2] + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % m.port)
        os.replace(tmp, sys.argv[2])
    print("PORT %d" % m.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        m.stop()


if __name__ == "__main__":
    main()

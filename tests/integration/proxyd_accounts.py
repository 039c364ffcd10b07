#!/usr/bin/env python3
"""cliproxyd serves OAuth accounts from auth-dir (issue 12 "Serving",
PROVIDERS.md 2, 3, 7): each account kind's upstream request as the real
service wants it (the strict four-API mock, tests/mock/api_mock.py,
refuses anything else), for every client API, streamed and not; disabled,
broken and incomplete auth files skipped with their reason in the status
file; auth files hot-reloaded (add, edit, delete, disable); an account's
cooldown surviving a reload and a token change; no token in the log or
the status file. Loopback only, standard library only."""
import base64
import json
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402

sys.path.insert(0, os.path.join(ps.SRCDIR, "tests", "mock"))
import api_mock  # noqa: E402

KEY = "acct-client-key"
SYSTEM = "Be brief, client system prompt."
CC = api_mock.CLAUDE_CODE_SYSTEM

# Tokens: each one is a secret that must never reach the log or the status.
CLAUDE_TOK = "sk-ant-oat01-claude-account-token-A"
CLAUDE_TOK2 = "sk-ant-oat01-claude-account-token-B"
CODEX_TOK = "codex-access-token-secret-C"


def jwt(payload):
    b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
    return "%s.%s.%s" % (b({"alg": "RS256", "typ": "JWT"}), b(payload), "c2lnbmF0dXJl")


CODEX_ID_TOKEN = jwt({"email": "c@example.com",
                      "https://api.openai.com/auth": {"chatgpt_account_id": "acct-from-jwt"}})
GEMINI_TOK = "ya29.gemini-access-token-secret-G"
QWEN_TOK = "qwen-access-token-secret-Q"
SECRETS = [QWEN_TOK, "qwen-refresh-secret", GEMINI_TOK, "1//gemini-refresh-secret", CLAUDE_TOK, CLAUDE_TOK2, "rt-claude-refresh-secret", CODEX_TOK, CODEX_ID_TOKEN,
           "rt-codex-refresh-secret"]


def write_auth(d, name, doc):
    """Atomically (dot temp + rename, as the management API writes)."""
    tmp = os.path.join(d.auth, ".%s.tmp" % name)
    with open(tmp, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    os.replace(tmp, os.path.join(d.auth, name))


def claude_file(tok=CLAUDE_TOK, **extra):
    doc = {"type": "claude", "access_token": tok, "refresh_token": "rt-claude-refresh-secret",
           "id_token": "", "email": "a@example.com", "expired": "2099-01-01T00:00:00+08:00",
           "last_refresh": "2025-08-31T12:00:00+08:00"}
    doc.update(extra)
    return doc


def gemini_file(tok=GEMINI_TOK, project="proj-1", typed=True, **extra):
    doc = {"token": {"access_token": tok, "token_type": "Bearer",
                     "refresh_token": "1//gemini-refresh-secret",
                     "expiry": "2099-01-01T00:00:00.000000000Z", "token_uri":
                     "https://oauth2.googleapis.com/token", "scopes": ["x"]},
           "project_id": project, "email": "g@example.com", "auto": False, "checked": True}
    if typed:
        doc["type"] = "gemini"
    doc.update(extra)
    return doc


def qwen_file(tok=QWEN_TOK, **extra):
    doc = {"type": "qwen", "access_token": tok, "refresh_token": "qwen-refresh-secret",
           "resource_url": "portal.qwen.ai", "email": "my-alias",
           "expired": "2099-01-01T00:00:00Z", "last_refresh": "2025-08-31T12:00:00Z"}
    doc.update(extra)
    return doc


def codex_file(tok=CODEX_TOK, **extra):
    doc = {"type": "codex", "access_token": tok, "refresh_token": "rt-codex-refresh-secret",
           "id_token": CODEX_ID_TOKEN, "account_id": "acct-123", "email": "c@example.com",
           "expired": "2099-01-01T00:00:00Z", "last_refresh": "2025-08-31T12:00:00Z"}
    doc.update(extra)
    return doc


# --------------------------------------------------------- client requests

def client_request(api, model, stream):
    """(path, body) of a plain "hi" request with a system prompt in the
    client API's own shape."""
    if api == "chat":
        return "/v1/chat/completions", {
            "model": model, "stream": stream,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}]}
    if api == "responses":
        return "/v1/responses", {"model": model, "stream": stream, "instructions": SYSTEM,
                                 "input": "hi"}
    if api == "claude":
        return "/v1/messages", {"model": model, "stream": stream, "max_tokens": 200,
                                "system": SYSTEM, "messages": [{"role": "user", "content": "hi"}]}
    if api == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return "/v1beta/models/%s:%s" % (model, action), {
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    raise ValueError(api)


def answer_text(api, stream, body):
    """The answer's text, whatever the client API (streamed or not)."""
    if not stream:
        j = json.loads(body)
        if api == "chat":
            return j["choices"][0]["message"]["content"]
        if api == "responses":
            return "".join(c["text"] for it in j["output"] if it["type"] == "message"
                           for c in it["content"] if c["type"] == "output_text")
        if api == "claude":
            return "".join(b["text"] for b in j["content"] if b["type"] == "text")
        return "".join(p.get("text", "") for p in j["candidates"][0]["content"]["parts"])
    out = []
    for line in body.decode().splitlines():
        if not line.startswith("data:") or line.strip() == "data: [DONE]":
            continue
        ev = json.loads(line[5:])
        if api == "chat":
            for ch in ev.get("choices", []):
                out.append((ch.get("delta") or {}).get("content") or "")
        elif api == "responses":
            if ev.get("type") == "response.output_text.delta":
                out.append(ev["delta"])
        elif api == "claude":
            if ev.get("type") == "content_block_delta" and ev["delta"].get("type") == "text_delta":
                out.append(ev["delta"]["text"])
        else:
            for c in ev.get("candidates", []):
                out.extend(p.get("text", "") for p in (c.get("content") or {}).get("parts", []))
    return "".join(out)


APIS = ("chat", "responses", "claude", "gemini")


class Accounts(ps.DaemonPerClass, unittest.TestCase):
    """One mock and one daemon; each test writes the auth files it needs."""

    MOCK = api_mock.ApiMock
    SECRETS = SECRETS

    @classmethod
    def cfg(cls, m):
        u = m.url
        return {
            "api-keys": [KEY],
            "request-retry": 1,
            # token endpoints too: a refresh (a 401) never leaves loopback
            "endpoints": {"gemini-cli": u, "claude": u, "codex": u + "/backend-api/codex",
                          "qwen": u + "/qwen/v1", "claude-token-url": u + "/oauth/token",
                          "gemini-cli-token-url": u + "/oauth/token",
                          "codex-token-url": u + "/oauth/token",
                          "qwen-token-url": u + "/oauth/token"},
        }

    def setUp(self):
        for n in os.listdir(self.d.auth):
            os.unlink(os.path.join(self.d.auth, n))
        self.wait_creds(lambda cl: not cl)
        super().setUp()

    # -- helpers
    def creds(self, st=None):
        st = st or self.d.status() or {}
        return (st.get("credentials") or {}).get("list", [])

    def wait_creds(self, pred, timeout=5):
        return self.d.wait_status(lambda st: pred(self.creds(st)), timeout)

    def wait_file(self, name, timeout=5):
        """Until auth file name is a credential; returns its status entry."""
        st = self.wait_creds(lambda cl: any(c.get("file") == name for c in cl), timeout)
        return [c for c in self.creds(st) if c.get("file") == name][0]

    def skipped(self, st=None):
        st = st or self.d.status() or {}
        return {s["name"]: s["reason"] for s in
                (st.get("credentials") or {}).get("auth-files-skipped", [])}

    def wait_skipped(self, name, timeout=5):
        st = self.d.wait_status(lambda st: name in self.skipped(st), timeout)
        return self.skipped(st)[name]

    def mlast(self, api):
        """The mock's last record of api, once its status is noted (the
        mock notes it after its handler returns)."""
        ps.wait_until(lambda: all("status" in r for r in self.m.requests()), 2)
        return self.m.last(api)

    def ask(self, api, model, stream=False):
        path, body = client_request(api, model, stream)
        return self.d.request("POST", path, body, {"Authorization": "Bearer " + KEY})

    def assert_served(self, api, model, stream, upstream_api):
        self.m.reset()
        st, h, body = self.ask(api, model, stream)
        self.assertEqual(st, 200, (api, stream, body[:400]))
        self.assertEqual(answer_text(api, stream, body), api_mock.TEXT, (api, stream, body[:400]))
        # the mock notes its status once its handler returns
        self.mlast(None)
        recs = self.m.requests(upstream_api)
        self.assertEqual(len(recs), 1, [(r["api"], r["status"], r["error"])
                                        for r in self.m.requests()])
        self.assertEqual(recs[0]["status"], 200, recs[0]["error"])
        return recs[0]

    def assert_no_secret_in_status(self):
        with open(os.path.join(self.d.state, "cliproxyd.status")) as f:
            text = f.read()
        for s in SECRETS:
            self.assertNotIn(s, text)

    def test_tool_names_renamed_for_the_upstream_and_back(self):
        # Gemini allows '.' and ':' in a function name, Claude does not:
        # the upstream gets a valid name, the client its own name back,
        # streamed and not (the relay hands the client's request to the
        # answer's translation).
        write_auth(self.d, "claude-a@example.com.json", claude_file())
        self.wait_file("claude-a@example.com.json")
        body = {"contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
                "tools": [{"functionDeclarations": [{
                    "name": "weather.get:v1", "description": "d",
                    "parameters": {"type": "OBJECT", "properties": {
                        "city": {"type": "STRING"}}, "required": ["city"]}}]}]}
        for action in ("generateContent", "streamGenerateContent?alt=sse"):
            self.m.reset()
            st, _, out = self.d.request(
                "POST", "/v1beta/models/claude-sonnet-4-5-tools:" + action,
                body, {"Authorization": "Bearer " + KEY})
            self.assertEqual(st, 200, out[:400])
            rec = self.mlast("claude")
            self.assertEqual(rec["status"], 200, rec["error"])
            up = rec["json"]["tools"][0]["name"]
            self.assertRegex(up, r"^[a-zA-Z0-9_-]{1,64}$")
            self.assertIn(b'"weather.get:v1"', out, out[:600])
            self.assertNotIn(up.encode(), out, out[:600])

    # -- Claude Code accounts
    def test_claude_every_client_api(self):
        write_auth(self.d, "claude-a@example.com.json", claude_file())
        c = self.wait_file("claude-a@example.com.json")
        self.assertEqual(c["kind"], "claude-account")
        self.assertTrue(c["expires"].startswith("2098-12-31T16:00:00"), c)
        for api in APIS:
            for stream in (False, True):
                rec = self.assert_served(api, "claude-sonnet-4-5", stream, "claude")
                h = rec["headers"]
                self.assertEqual(h["authorization"], "Bearer " + CLAUDE_TOK)
                self.assertNotIn("x-api-key", h)
                self.assertEqual(h["anthropic-version"], "2023-06-01")
                betas = [b.strip() for b in h["anthropic-beta"].split(",")]
                self.assertIn("oauth-2025-04-20", betas)
                self.assertIn("claude-code-20250219", betas)
                j = rec["json"]
                self.assertEqual(j["model"], "claude-sonnet-4-5")
                self.assertEqual(j.get("stream", False), stream)
                # the Claude Code block first, the client's own prompt kept
                self.assertEqual([b["text"] for b in j["system"]], [CC, SYSTEM], (api, j))
                # no message of ours: only the client's one turn
                self.assertEqual(len(j["messages"]), 1, j)
                self.assertNotIn("ignore", json.dumps(j).lower())
        self.assert_no_secret_in_status()

    def test_claude_system_prompt_shapes(self):
        write_auth(self.d, "claude-a.json", claude_file())
        self.wait_file("claude-a.json")
        hdr = {"Authorization": "Bearer " + KEY}
        base = {"model": "claude-sonnet-4-5", "max_tokens": 50,
                "messages": [{"role": "user", "content": "hi"}]}
        cases = [
            (None, [CC]),
            ("", [CC]),
            ([{"type": "text", "text": "one"}, {"type": "text", "text": "two",
                                                 "cache_control": {"type": "ephemeral"}}],
             [CC, "one", "two"]),
            # Claude Code sends the block itself: not doubled
            ([{"type": "text", "text": CC}, {"type": "text", "text": "mine"}], [CC, "mine"]),
        ]
        for system, want in cases:
            body = dict(base)
            if system is not None:
                body["system"] = system
            self.m.reset()
            st, _, out = self.d.request("POST", "/v1/messages", body, hdr)
            self.assertEqual(st, 200, (system, out[:300]))
            got = self.mlast("claude")["json"]["system"]
            self.assertEqual([b["text"] for b in got], want)
            if isinstance(system, list) and len(system) == 2 and system[1].get("cache_control"):
                self.assertEqual(got[2]["cache_control"], {"type": "ephemeral"})

    def test_claude_count_tokens(self):
        write_auth(self.d, "claude-a.json", claude_file())
        self.wait_file("claude-a.json")
        hdr = {"Authorization": "Bearer " + KEY}
        st, _, out = self.d.request("POST", "/v1/messages/count_tokens", {
            "model": "claude-sonnet-4-5", "system": SYSTEM,
            "messages": [{"role": "user", "content": "hi"}]}, hdr)
        self.assertEqual(st, 200, out)
        self.assertGreater(json.loads(out)["input_tokens"], 0)
        rec = self.mlast("claude_count")
        self.assertEqual(rec["status"], 200, rec["error"])
        self.assertEqual(rec["json"]["system"][0]["text"], CC)
        # a Gemini client's count through the Claude account
        st, _, out = self.d.request("POST", "/v1beta/models/claude-sonnet-4-5:countTokens", {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, hdr)
        self.assertEqual(st, 200, out)
        self.assertGreater(json.loads(out)["totalTokens"], 0)

    # -- Gemini CLI accounts
    def test_gemini_every_client_api(self):
        write_auth(self.d, "g@example.com-proj-1.json", gemini_file(typed=False))
        c = self.wait_file("g@example.com-proj-1.json")
        self.assertEqual(c["kind"], "gemini-account")
        self.assertTrue(c["expires"].startswith("2099-01-01T00:00:00"), c)
        for api in APIS:
            for stream in (False, True):
                rec = self.assert_served(api, "gemini-2.5-pro", stream, "gemini_cli")
                h = rec["headers"]
                self.assertEqual(rec["action"], "streamGenerateContent" if stream else
                                 "generateContent")
                self.assertEqual(rec["query"], "alt=sse" if stream else "")
                self.assertEqual(h["authorization"], "Bearer " + GEMINI_TOK)
                self.assertEqual(h["user-agent"], "google-api-nodejs-client/9.15.1")
                self.assertEqual(h["x-goog-api-client"], "gl-node/22.17.0")
                self.assertEqual(h["client-metadata"], "ideType=IDE_UNSPECIFIED,platform="
                                 "PLATFORM_UNSPECIFIED,pluginType=GEMINI")
                j = rec["json"]
                self.assertEqual(sorted(j), ["model", "project", "request"])
                self.assertEqual(j["project"], "proj-1")
                self.assertEqual(j["model"], "gemini-2.5-pro")
                self.assertNotIn("model", j["request"])
                self.assertEqual(j["request"]["systemInstruction"]["parts"][0]["text"], SYSTEM)
        self.assert_no_secret_in_status()

    def test_gemini_json_array_stream_unwrapped(self):
        write_auth(self.d, "g.json", gemini_file())
        self.wait_file("g.json")
        st, h, body = self.d.request(
            "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            client_request("gemini", "gemini-2.5-pro", False)[1],
            {"Authorization": "Bearer " + KEY})
        self.assertEqual(st, 200, body[:300])
        arr = json.loads(body)
        self.assertGreater(len(arr), 1)
        self.assertEqual("".join(p.get("text", "") for e in arr for c in e["candidates"]
                                 for p in c["content"]["parts"]), api_mock.TEXT)
        self.assertNotIn("response", arr[0])
        self.assertEqual(self.mlast("gemini_cli")["query"], "")

    def test_gemini_count_tokens(self):
        write_auth(self.d, "g.json", gemini_file())
        self.wait_file("g.json")
        hdr = {"Authorization": "Bearer " + KEY}
        st, _, out = self.d.request("POST", "/v1beta/models/gemini-2.5-pro:countTokens", {
            "contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}, hdr)
        self.assertEqual(st, 200, out)
        self.assertGreater(json.loads(out)["totalTokens"], 0)
        rec = self.mlast("gemini_cli")
        self.assertEqual(rec["status"], 200, rec["error"])
        self.assertEqual(rec["action"], "countTokens")
        self.assertEqual(rec["json"]["request"]["model"], "models/gemini-2.5-pro")
        # generateContentRequest form, and a Claude client's count
        st, _, out = self.d.request("POST", "/v1beta/models/gemini-2.5-pro:countTokens", {
            "generateContentRequest": {"contents": [{"role": "user",
                                                     "parts": [{"text": "hi"}]}]}}, hdr)
        self.assertEqual(st, 200, out)
        st, _, out = self.d.request("POST", "/v1/messages/count_tokens", {
            "model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]}, hdr)
        self.assertEqual(st, 200, out)
        self.assertGreater(json.loads(out)["input_tokens"], 0)

    def test_gemini_needs_project_and_token(self):
        write_auth(self.d, "noproj.json", gemini_file(project=""))
        write_auth(self.d, "notok.json", {"type": "gemini", "project_id": "p", "token": {}})
        self.assertEqual(self.wait_skipped("noproj.json"), "no project_id")
        self.assertEqual(self.wait_skipped("notok.json"), "no token.access_token")
        self.assertEqual(self.ask("gemini", "gemini-2.5-pro")[0], 404)

    def test_gemini_preview_models_for_accounts(self):
        # every account cooling down for gemini-2.5-flash: its preview
        # names are tried (quota-exceeded.switch-preview-model, default on)
        write_auth(self.d, "g-preview.json", gemini_file())
        self.wait_file("g-preview.json")
        self.m.script("gemini-2.5-flash", "err429x300")
        try:
            st, _, body = self.ask("chat", "gemini-2.5-flash")
        finally:
            self.m.script("gemini-2.5-flash", "")
        self.assertEqual(st, 200, body[:300])
        self.assertEqual([r["json"]["model"] for r in self.m.requests("gemini_cli")],
                         ["gemini-2.5-flash", "gemini-2.5-flash-preview-04-17"])

    # -- ChatGPT/Codex accounts
    def test_codex_every_client_api(self):
        write_auth(self.d, "codex-c@example.com.json", codex_file())
        c = self.wait_file("codex-c@example.com.json")
        self.assertEqual(c["kind"], "codex-account")
        sessions = set()
        for api in APIS:
            for stream in (False, True):
                rec = self.assert_served(api, "gpt-5", stream, "codex")
                h = rec["headers"]
                self.assertEqual(rec["path"], "/backend-api/codex/responses")
                self.assertEqual(h["authorization"], "Bearer " + CODEX_TOK)
                self.assertEqual(h["chatgpt-account-id"], "acct-123")
                self.assertEqual(h["originator"], "codex_cli_rs")
                self.assertEqual(h["openai-beta"], "responses=experimental")
                self.assertEqual(h["accept"], "text/event-stream")
                self.assertRegex(h["session_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                                 r"[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
                sessions.add(h["session_id"])
                j = rec["json"]
                # the backend only streams: a non-streaming client's
                # answer was gathered from the stream
                self.assertIs(j["stream"], True)
                self.assertIs(j["store"], False)
                self.assertIn("reasoning.encrypted_content", j["include"])
                self.assertEqual(j["instructions"], SYSTEM, (api, j))
                for k in ("max_output_tokens", "temperature", "top_p"):
                    self.assertNotIn(k, j)
        self.assertEqual(len(sessions), 8)  # one per request
        self.assert_no_secret_in_status()

    def test_codex_account_id_from_id_token_and_skips(self):
        doc = codex_file()
        del doc["account_id"]
        write_auth(self.d, "codex-jwt.json", doc)
        write_auth(self.d, "codex-noid.json", codex_file(account_id="", id_token=""))
        self.wait_file("codex-jwt.json")
        self.assertIn("no account_id", self.wait_skipped("codex-noid.json"))
        rec = self.assert_served("responses", "gpt-5", True, "codex")
        self.assertEqual(rec["headers"]["chatgpt-account-id"], "acct-from-jwt")

    def test_codex_effort_aliases(self):
        write_auth(self.d, "codex-a.json", codex_file())
        self.wait_file("codex-a.json")
        for effort in ("minimal", "low", "medium", "high"):
            rec = self.assert_served("chat", "gpt-5-" + effort, False, "codex")
            self.assertEqual(rec["json"]["model"], "gpt-5")
            self.assertEqual(rec["json"]["reasoning"]["effort"], effort)
        # a client's own reasoning members are kept, the alias sets effort
        self.m.reset()
        st, _, out = self.d.request("POST", "/v1/responses", {
            "model": "gpt-5-high", "input": "hi", "stream": True,
            "reasoning": {"effort": "low", "summary": "auto"}},
            {"Authorization": "Bearer " + KEY})
        self.assertEqual(st, 200, out[:300])
        j = self.mlast("codex")["json"]
        self.assertEqual(j["reasoning"], {"effort": "high", "summary": "auto"})
        self.assertEqual(j["model"], "gpt-5")

    def test_codex_count_is_a_local_estimate(self):
        write_auth(self.d, "codex-a.json", codex_file())
        self.wait_file("codex-a.json")
        st, _, out = self.d.request("POST", "/v1/messages/count_tokens", {
            "model": "gpt-5", "messages": [{"role": "user", "content": "hello there"}]},
            {"Authorization": "Bearer " + KEY})
        self.assertEqual(st, 200, out)
        self.assertGreater(json.loads(out)["input_tokens"], 0)
        self.assertEqual(self.m.requests(), [])

    # -- Qwen Code accounts
    def test_qwen_every_client_api(self):
        write_auth(self.d, "qwen-my-alias.json", qwen_file())
        c = self.wait_file("qwen-my-alias.json")
        self.assertEqual(c["kind"], "qwen-account")
        for api in APIS:
            for stream in (False, True):
                rec = self.assert_served(api, "qwen3-coder-plus", stream, "chat")
                # endpoints: qwen wins over the file's resource_url
                # (PROVIDERS 7; the resource_url URL: test_proxyd_catalogue)
                self.assertEqual(rec["path"], "/qwen/v1/chat/completions")
                self.assertEqual(rec["headers"]["authorization"], "Bearer " + QWEN_TOK)
                j = rec["json"]
                self.assertEqual(j["model"], "qwen3-coder-plus")
                self.assertEqual(j.get("stream", False), stream)
                if stream:
                    self.assertIs(j["stream_options"]["include_usage"], True)
                else:
                    self.assertNotIn("stream_options", j)
                self.assertEqual(j["messages"][0], {"role": "system", "content": SYSTEM}, api)
        # a count: the local estimate (Qwen has no count endpoint)
        self.m.reset()
        st, _, out = self.d.request("POST", "/v1beta/models/qwen3-coder-plus:countTokens", {
            "contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
            {"Authorization": "Bearer " + KEY})
        self.assertEqual(st, 200, out)
        self.assertGreater(json.loads(out)["totalTokens"], 0)
        self.assertEqual(self.m.requests(), [])
        self.assert_no_secret_in_status()

    def test_every_kind_at_once_round_robin(self):
        write_auth(self.d, "c1.json", claude_file())
        write_auth(self.d, "c2.json", claude_file(CLAUDE_TOK2))
        write_auth(self.d, "g.json", gemini_file())
        write_auth(self.d, "x.json", codex_file())
        write_auth(self.d, "q.json", qwen_file())
        self.wait_creds(lambda cl: len(cl) == 5)
        seen = set()
        for _ in range(4):
            rec = self.assert_served("chat", "claude-sonnet-4-5", False, "claude")
            seen.add(rec["headers"]["authorization"])
        self.assertEqual(seen, {"Bearer " + CLAUDE_TOK, "Bearer " + CLAUDE_TOK2})
        self.assert_served("claude", "gemini-2.5-pro", True, "gemini_cli")
        self.assert_served("gemini", "gpt-5", False, "codex")
        self.assert_served("responses", "qwen3-coder-flash", True, "chat")
        st, _, out = self.d.request("GET", "/v1/models", None, {"Authorization": "Bearer " + KEY})
        ids = {m["id"] for m in json.loads(out)["data"]}
        for want in ("claude-sonnet-4-5", "gemini-2.5-pro", "gpt-5-high", "qwen3-coder-plus"):
            self.assertIn(want, ids)

    def test_refused_account_refresh_fails_next_serves(self):
        # a 401: the account's refresh is tried (the mock's token endpoint
        # refuses it), the account cools down, the other one answers
        write_auth(self.d, "claude-bad.json", claude_file("sk-ant-oat01-bad-err401"))
        write_auth(self.d, "claude-good.json", claude_file())
        self.wait_creds(lambda cl: len(cl) == 2)
        tried = []
        for _ in range(3):
            self.m.reset()
            st, _, body = self.ask("claude", "claude-opus-4-1-20250805")
            self.assertEqual(st, 200, body[:300])
            ps.wait_until(lambda: all("status" in r for r in self.m.requests()), 2)
            tried.append([(r["headers"]["authorization"][7:], r["status"])
                          for r in self.m.requests("claude")])
        # the bad account is tried once (401), then cools down
        self.assertEqual(sum(1 for t in tried for tok, st in t if st == 401), 1, tried)
        self.assertEqual([t[-1] for t in tried], [(CLAUDE_TOK, 200)] * 3)
        self.wait_creds(lambda cl: any(c["file"] == "claude-bad.json" and c["state"] != "ok"
                                       for c in cl))

    # -- skipped files
    def test_skipped_files_say_why(self):
        write_auth(self.d, "off.json", claude_file(disabled=True))
        write_auth(self.d, "broken.json", '{"type": "claude", "access_token": ')
        write_auth(self.d, "dup.json", '{"type": "claude", "type": "codex"}')
        write_auth(self.d, "notoken.json", {"type": "claude", "email": "x@example.com"})
        write_auth(self.d, "weird.json", {"type": "nonesuch", "access_token": "t"})
        write_auth(self.d, "offstr.json", claude_file(disabled="yes"))
        write_auth(self.d, "crlf.json", claude_file("sk-ant-oat01-x\r\nX-Evil: 1"))
        write_auth(self.d, "huge.json", claude_file("sk-ant-oat01-" + "x" * 9000))
        write_auth(self.d, "good.json", claude_file())
        self.wait_file("good.json")
        st = self.d.wait_status(lambda st: len(self.skipped(st)) == 8)
        sk = self.skipped(st)
        self.assertEqual(sk["off.json"], "disabled")
        self.assertIn("not a JSON object", sk["broken.json"])
        self.assertIn("not a JSON object", sk["dup.json"])
        self.assertEqual(sk["notoken.json"], "no access_token")
        self.assertEqual(sk["weird.json"], "unknown type 'nonesuch'")
        self.assertEqual(sk["crlf.json"], "access token is not printable ASCII")
        self.assertEqual(sk["huge.json"], "access token too long")
        self.assertEqual(sk["offstr.json"], '"disabled" is not true or false')
        self.assertEqual([c["file"] for c in self.creds(st) if "file" in c], ["good.json"])
        self.assert_no_secret_in_status()

    # -- hot reload
    def test_hot_reload_add_edit_disable_delete(self):
        st, _, _ = self.ask("claude", "claude-sonnet-4-5")
        self.assertEqual(st, 404)  # nobody serves claude-* yet
        write_auth(self.d, "claude-a.json", claude_file())
        self.wait_file("claude-a.json")
        self.assert_served("claude", "claude-sonnet-4-5", False, "claude")
        # edit: the new token is used at once
        write_auth(self.d, "claude-a.json", claude_file(CLAUDE_TOK2))
        ps.wait_until(lambda: self.ask("chat", "claude-sonnet-4-5")[0] == 200 and
                      self.mlast("claude")["headers"]["authorization"] == "Bearer " + CLAUDE_TOK2)
        rec = self.assert_served("chat", "claude-sonnet-4-5", False, "claude")
        self.assertEqual(rec["headers"]["authorization"], "Bearer " + CLAUDE_TOK2)
        # disable: not served, the status says why
        write_auth(self.d, "claude-a.json", claude_file(CLAUDE_TOK2, disabled=True))
        self.assertEqual(self.wait_skipped("claude-a.json"), "disabled")
        self.m.reset()
        st, _, _ = self.ask("claude", "claude-sonnet-4-5")
        self.assertEqual(st, 404)
        self.assertEqual(self.m.requests(), [])
        # enable again, then delete
        write_auth(self.d, "claude-a.json", claude_file(CLAUDE_TOK2, disabled=False))
        self.wait_file("claude-a.json")
        self.assert_served("claude", "claude-sonnet-4-5", True, "claude")
        os.unlink(os.path.join(self.d.auth, "claude-a.json"))
        self.wait_creds(lambda cl: not cl)
        self.m.reset()
        self.assertEqual(self.ask("claude", "claude-sonnet-4-5")[0], 404)
        self.assertEqual(self.m.requests(), [])

    def test_cooldown_survives_reload_and_new_token(self):
        # the mock answers 429 (Retry-After 300) to this token
        write_auth(self.d, "claude-cool.json", claude_file("sk-ant-oat01-cool-err429x300"))
        c = self.wait_file("claude-cool.json")
        st, h, _ = self.ask("claude", "claude-sonnet-4-5")
        self.assertEqual(st, 429)
        self.assertEqual(len(self.m.requests("claude")), 1)
        self.wait_creds(lambda cl: any(x.get("file") == "claude-cool.json" and
                                       x["state"] == "cooling" for x in cl))
        # a new token (a refresh or an upload) and another field: same
        # account, same id, still cooling; the upstream is not asked
        write_auth(self.d, "claude-cool.json", claude_file(CLAUDE_TOK, note="edited"))
        self.d.wait_status(lambda st: st.get("reloads", 0) > 0 and any(
            x.get("file") == "claude-cool.json" for x in self.creds(st)))
        time.sleep(0.3)
        c2 = self.wait_file("claude-cool.json")
        self.assertEqual(c2["id"], c["id"])
        self.assertEqual(c2["state"], "cooling")
        self.m.reset()
        st, h, _ = self.ask("claude", "claude-sonnet-4-5")
        self.assertEqual(st, 429)
        self.assertGreater(int(h["retry-after"]), 200)
        self.assertEqual(self.m.requests(), [])


if __name__ == "__main__":
    tap.main()

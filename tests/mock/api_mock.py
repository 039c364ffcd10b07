#!/usr/bin/env python3
"""api_mock.py - one mock upstream that speaks the four upstream APIs of
cliproxyd (PROVIDERS.md 3) as the real services do, and refuses what they
refuse, in each service's own error shape.

Python standard library only. Listens on 127.0.0.1 on a port chosen at run
time (bind port 0). In-process:

    m = ApiMock(keys=None).start()   # keys: None = any non-empty key
    m.port, m.url                     # "http://127.0.0.1:<port>"
    m.requests(api=None), m.last(api=None), m.events(), m.reset()
    m.script(name, tokens)            # script a model/credential (below)
    m.drip_interval = 0.1; m.slow_seconds = 3.0; m.model_lists[...]
    m.stop()

or standalone: `api_mock.py [--port-file F]` prints "PORT <n>" (and writes
the port to F) and serves until killed. Either way GET /_mock/requests and
/_mock/events return what it saw (JSON lists), POST /_mock/reset forgets it,
POST /_mock/script {"name": ..., "script": "err429"} scripts a name.

Endpoints (paths match at any base prefix: "/openai/v1/chat/completions"
is Chat Completions with prefix "/openai/v1", the path of the base URL a
test configures; every record names the api and the prefix it matched):

  api          method + path                                   auth
  chat         POST {p}/chat/completions                       Bearer
  completions  POST {p}/completions                            Bearer
  responses    POST {p}/v1/responses                           Bearer
  codex        POST {p}/responses (prefix not ending in /v1)   Bearer +
               chatgpt-account-id, originator, OpenAI-Beta: responses=...;
               only streams (stream: true, store: false required)
  claude       POST {p}/v1/messages (claude_count: {p}/v1/messages/count_tokens)
               anthropic-version required; x-api-key or Bearer (an API key,
               as the current SDK sends it); Bearer with anthropic-beta
               containing oauth-2025-04-20 is an account token (then the
               system prompt must start with the Claude Code block
               CLAUDE_CODE_SYSTEM); a Bearer "sk-ant-oat..." token without
               that beta is refused 401 as Anthropic does
  gemini       POST {p}/v1beta/models/{m}:generateContent,
               :streamGenerateContent (?alt=sse: SSE; else a JSON array),
               :countTokens                                    x-goog-api-key or ?key=
  gemini_cli   POST {p}/v1internal:generateContent|streamGenerateContent|
               countTokens, body {"project", "model", "request"} (countTokens:
               {"request"}); answers (each SSE event too) wrapped in
               {"response": ...}, countTokens unwrapped      Bearer
  models       GET {p}/models (OpenAI; Claude shape with anthropic-version)
  gemini_models GET {p}/v1beta/models (Gemini)
  gemini_model GET {p}/v1beta/models/{m} (Gemini; 404 for a model not listed)

A cliproxyd config points every upstream at one mock like this (U is m.url):

    endpoints: {gemini: U, gemini-cli: U, claude: U, codex: U/backend-api/codex,
                codex-api: U/v1}
    openai-compatibility: [{name: mock, base-url: U/v1, ...}]

Keys: any non-empty key is accepted unless ApiMock(keys=[...]) lists the
valid ones (then others get the service's 401/400 for a wrong key).

Behaviour is chosen per request by tokens found in the model name (for
Gemini the model of the path or envelope), in the credential (key or token:
errNNN, midstream, midclose only), or set for a model or credential name by
ApiMock.script(name, tokens) / POST /_mock/script {"name", "script"} (for
names that cannot carry tokens, e.g. a real model name whose preview
fallback a test exercises). So a test can script one credential to fail and
another to serve:

  token        behaviour
  (none)       text "Hello from the mock." (words streamed one by one)
  tools        two tool calls in one turn, to the first two tools the request
               declares (one tool: called twice), arguments built from each
               schema (string "Paris"/"Tokyo", number 1, boolean true, enum:
               first value), streamed in 7-byte argument deltas; stop reason
               tool use.  Without declared tools: plain text.
  (any model)  when the last user turn carries tool results, the answer is
               text "Tool results: <r1> | <r2>." (the round trip's answer)
  think        reasoning first: Claude a thinking block (only with "thinking"
               enabled) with signature sig_for(THINK_TEXT); Chat
               "reasoning_content"; Responses a reasoning item (summary text
               when reasoning.summary is set, encrypted_content ENC_CONTENT
               when include asks for reasoning.encrypted_content); Gemini a
               thought part (with includeThoughts) and thoughtSignature
               GEMINI_SIGNATURE on the first answer part; usage reasoning tokens
  cache        usage reports input // 2 cached tokens
  length       answer cut after 2 words, stop reason max tokens (also when
               the request's own max tokens is below the answer's word count)
  errNNN       that status in the service's error shape (401, 403, 404 =
               model not found, 429, 500, 503, 529 ...); errNNNxS sets the
               retry delay S (default 7): 429 carries Retry-After: S (OpenAI,
               Claude), RetryInfo retryDelay "Ss" (Gemini), resets_in_seconds
               S (Codex)
  midstream    streams: two text deltas, then the service's in-stream error
               (Claude event: error overloaded_error; Chat data {"error"};
               Responses response.failed; Gemini data {"error"}), then the
               stream ends (terminating chunk) and the connection closes
  midclose     streams: two text deltas, then the connection closes (chunked
               stream truncated, no terminator)
  drip         60 text deltas, one every drip_interval (0.1 s); a client that
               goes away is recorded as event {"kind": "client_closed"}
  slow         answer after slow_seconds (3 s) (client close recorded)
Stop sequences of the request are honoured on text: the text is cut before
the first one found, stop reason stop sequence.

Usage is deterministic: input tokens = count_tokens_of(text of the request) =
ceil(characters / 4) over every string of the conversation, system and
tools; output tokens = number of streamed pieces (words, argument deltas,
thinking words); reasoning tokens = thinking words. Count endpoints answer
the same input figure. Ids and times are fixed: chatcmpl-mock, cmpl-mock,
resp_mock, msg_mock (Responses message item), rs_mock, fc_mock_N,
call_mock_N, msg_mock (Claude), toolu_mock_N, created 1700000000,
Gemini responseId "mock-response".

Strictness (each refusal names what was wrong, see the validators below):
Claude: unknown top-level fields, model/max_tokens/messages required,
messages non-empty, roles user/assistant alternating starting with user
(stricter than today's API, which merges consecutive turns: a proxy that
sends two user turns in a row is caught),
empty text blocks, tool_use only from the assistant and answered by a
tool_result with the same id in the next user turn (and no stray
tool_result), tool names ^[a-zA-Z0-9_-]{1,64}$, input_schema type object,
tool_choice naming a declared tool, thinking budget >= 1024 and < max_tokens
(and with thinking: temperature 1 or unset, no top_k, no forced tool_choice),
with thinking enabled the assistant turn of an open tool loop starts with a
thinking block, thinking signatures verified, temperature 0..1.
OpenAI Chat: model, messages non-empty, roles, tool messages answer the
preceding assistant tool_calls by tool_call_id (every call answered), tool
names, content part types, stream_options only with stream, max_tokens
refused for o-series/gpt-5 models (Chat and Responses: so is a temperature
or top_p other than 1).  Responses: model, input item types and
roles, content part types per role (assistant: output_text/refusal), flat
function tools with names, function_call_output call_id matching an earlier
function_call and every function_call answered, encrypted reasoning content
verified; Codex: its headers, stream true, store false, no
max_output_tokens/temperature/top_p.  Gemini: unknown field names (top
level, generationConfig, schemas: additionalProperties, $schema, $ref ... are
"Unknown name"), contents non-empty, roles user/model, parts non-empty with
data, function call turns after a user/function-response turn and answered
by the same number of functionResponse parts with matching names, function
names, schema type names, thoughtSignature verified (and required on
function calls of "think" models, as Gemini 3 does).

A request of the wrong shape that no rule above names still gets a 400 in
the service's shape ("a member has the wrong type"); an exception anywhere
else is a mock bug: 500 {"error": {"type": "mock_bug"}} and an event.

Records (requests() and /_mock/requests), in arrival order: {"method",
"path", "query", "api" (the first column above, null for no route),
"prefix", "action" (Gemini), "headers" (lower-case names), "body", "json",
"status" (what the mock answered), "error" (the refusal message or null),
"t", and for an answered generate or count request "usage" (the figures the
answer reports: {"input", "output", "cached", "reasoning"}; a count: {"input"})}.
Events (events() and /_mock/events): {"kind": "client_closed" | "done"
| "midstream" | "midclose" | "mock_bug", "model", "sent" (events sent) ...}.
"""
import base64
import hashlib
import json
import math
import os
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREATED = 1700000000
TEXT = "Hello from the mock."
THINK_TEXT = "Let me think about this step by step."
CLAUDE_CODE_SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
TOOL_ARG_VALUES = ["Paris", "Tokyo"]
ARG_CHUNK = 7
DEFAULT_RETRY = 7


def sig_for(text):
    """The Claude thinking signature the mock issues for a thinking text."""
    return "sig_mock_" + hashlib.sha256(text.encode()).hexdigest()[:32]


ENC_CONTENT = "enc_mock_" + hashlib.sha256(b"enc:" + THINK_TEXT.encode()).hexdigest()[:32]
GEMINI_SIGNATURE = base64.b64encode(sig_for("gemini:" + THINK_TEXT).encode()).decode()


def count_tokens_of(strings):
    n = sum(len(s) for s in strings)
    return max(1, math.ceil(n / 4))


def _strings(obj, out):
    """Every string value in obj (keys not included), in order."""
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _strings(v, out)
    return out


def pieces(text):
    """How text is streamed: one word (with its leading space) per delta."""
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


def chunks(s, n=ARG_CHUNK):
    return [s[i:i + n] for i in range(0, len(s), n)] or [""]


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Refuse(Exception):
    """An answer other than success: status, JSON body, extra headers."""

    def __init__(self, status, body, headers=None, message=None):
        super().__init__(message or "")
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.message = message


# ---------------------------------------------------------------- errors

def _claude_type(status):
    return {400: "invalid_request_error", 401: "authentication_error",
            403: "permission_error", 404: "not_found_error", 413: "request_too_large",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")


def claude_error(status, msg, headers=None):
    return Refuse(status, {"type": "error", "error": {"type": _claude_type(status), "message": msg},
                           "request_id": "req_mock"}, headers, msg)


def openai_error(status, msg, param=None, code=None, etype=None, headers=None):
    if etype is None:
        etype = {401: "invalid_request_error", 403: "invalid_request_error",
                 404: "invalid_request_error", 429: "requests",
                 400: "invalid_request_error"}.get(status, "server_error")
    return Refuse(status, {"error": {"message": msg, "type": etype, "param": param,
                                     "code": code}}, headers, msg)


def codex_detail(status, msg):
    return Refuse(status, {"detail": msg}, None, msg)


_GSTATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
            404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
            503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def gemini_error(status, msg, details=None, headers=None):
    err = {"code": status, "message": msg, "status": _GSTATUS.get(status, "UNKNOWN")}
    if details:
        err["details"] = details
    return Refuse(status, {"error": err}, headers, msg)


def gemini_unknown_name(name, where):
    at = (" at '%s'" % where) if where else ""
    msg = 'Invalid JSON payload received. Unknown name "%s"%s: Cannot find field.' % (name, at)
    return gemini_error(400, msg, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                    "fieldViolations": [{"field": where or name,
                                                         "description": msg}]}])


def checked(fmt, fn, *args):
    """Run a validator; a value of the wrong type deep inside the request
    (which the validators do not all spell out) is still a 400 in the
    service's shape, never a dropped connection."""
    try:
        return fn(*args)
    except Refuse:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as e:
        msg = "Invalid request: a member has the wrong type (%s: %s)" % (type(e).__name__, e)
        if fmt == "claude":
            raise claude_error(400, msg)
        if fmt == "codex":
            raise codex_detail(400, msg)
        if fmt == "gemini":
            raise gemini_error(400, "Invalid JSON payload received. " + msg)
        raise openai_error(400, msg, None, "invalid_type")


# ---------------------------------------------------------------- scripting

_ERR_RE = re.compile(r"err(\d{3})(?:x(\d+))?")


class Script:
    """What the request asks of the mock, from model name, credential and
    the tokens a test set for that model or credential (ApiMock.scripts)."""

    def __init__(self, model, cred, extra=""):
        self.model = model or ""
        mdl = self.model + " " + extra
        s = mdl + " " + (cred or "")
        m = _ERR_RE.search(s)
        self.err = int(m.group(1)) if m else None
        self.retry = int(m.group(2)) if m and m.group(2) else DEFAULT_RETRY
        self.tools = "tools" in mdl
        self.think = "think" in mdl
        self.cache = "cache" in mdl
        self.length = "length" in mdl
        self.midstream = "midstream" in s
        self.midclose = "midclose" in s
        self.drip = "drip" in mdl
        self.slow = "slow" in mdl


def schema_args(schema, i):
    """Deterministic arguments that satisfy a tool's JSON schema."""
    def value(sch):
        if not isinstance(sch, dict):
            return TOOL_ARG_VALUES[i % 2]
        if sch.get("enum"):
            return sch["enum"][0]
        t = sch.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), "string")
        t = str(t or "string").lower()
        if t in ("number", "integer"):
            return 1
        if t == "boolean":
            return True
        if t == "array":
            return [value(sch.get("items") or {})]
        if t == "object":
            return obj(sch)
        return TOOL_ARG_VALUES[i % 2]

    def obj(sch):
        props = sch.get("properties") or {}
        req = sch.get("required")
        names = req if isinstance(req, list) and req else list(props)
        return {n: value(props.get(n) or {}) for n in names}

    if not isinstance(schema, dict) or not (schema.get("properties") or {}):
        return {}
    return obj(schema)


class Plan:
    """The answer, independent of the wire format: blocks, stop, usage."""

    def __init__(self, script, norm):
        self.blocks = []
        self.stop = "end"
        self.stop_seq = None
        self.script = script
        think_words = 0
        if script.think:
            think_words = len(pieces(THINK_TEXT))
            if norm.get("show_thinking"):
                self.blocks.append({"kind": "thinking", "text": THINK_TEXT,
                                    "sig": sig_for(THINK_TEXT)})
        tools = norm.get("tools") or []
        results = norm.get("tool_results")
        out_pieces = think_words
        if results:
            text = "Tool results: " + " | ".join(results) + "."
        elif script.tools and tools:
            text = None
            for i in range(2):
                name, schema = tools[i % len(tools)]
                args = dumps(schema_args(schema, i))
                self.blocks.append({"kind": "tool", "n": i + 1, "name": name, "args": args})
                out_pieces += len(chunks(args))
            self.stop = "tool"
        elif script.drip:
            text = " ".join("word%d" % i for i in range(60))
        else:
            text = TEXT
        if text is not None:
            for seq in norm.get("stop") or []:
                if isinstance(seq, str) and seq and seq in text:
                    text = text[:text.index(seq)]
                    self.stop, self.stop_seq = "stop_seq", seq
                    break
            words = pieces(text)
            limit = 2 if script.length else norm.get("max_tokens")
            if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < len(words):
                words = words[:limit]
                text = "".join(words)
                self.stop, self.stop_seq = "max", None
            self.blocks.append({"kind": "text", "text": text})
            out_pieces += len(words)
        inp = norm.get("input_tokens") or 1
        self.usage = {"input": inp, "output": max(1, out_pieces),
                      "cached": inp // 2 if script.cache else 0,
                      "reasoning": think_words}

    def text(self):
        return "".join(b["text"] for b in self.blocks if b["kind"] == "text")


# ---------------------------------------------------------------- Claude

CLAUDE_FIELDS = {"model", "messages", "max_tokens", "system", "metadata", "stop_sequences",
                 "stream", "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking",
                 "service_tier", "container", "mcp_servers", "context_management"}
CLAUDE_COUNT_FIELDS = {"model", "messages", "system", "tools", "tool_choice", "thinking",
                       "mcp_servers", "context_management"}
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CLAUDE_BLOCKS = {"text", "image", "document", "tool_use", "tool_result", "thinking",
                 "redacted_thinking", "server_tool_use", "web_search_tool_result",
                 "search_result"}


def _claude_blocks(content):
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content


def _system_texts(system):
    if system is None:
        return []
    if isinstance(system, str):
        return [system]
    if isinstance(system, list):
        return [b.get("text", "") for b in system if isinstance(b, dict)]
    return []


def claude_validate(req, count, oauth):
    allowed = CLAUDE_COUNT_FIELDS if count else CLAUDE_FIELDS
    for k in req:
        if k not in allowed:
            raise claude_error(400, "%s: Extra inputs are not permitted" % k)
    for k in ("model", "messages") + (() if count else ("max_tokens",)):
        if k not in req:
            raise claude_error(400, "%s: Field required" % k)
    if not isinstance(req["model"], str) or not req["model"]:
        raise claude_error(400, "model: Input should be a valid string")
    if not count:
        mt = req["max_tokens"]
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise claude_error(400, "max_tokens: Input should be a valid integer greater than or equal to 1")
    ss = req.get("stop_sequences")
    if ss is not None and not (isinstance(ss, list) and all(isinstance(x, str) for x in ss)):
        raise claude_error(400, "stop_sequences: Input should be a valid list of strings")
    t = req.get("temperature")
    if t is not None and (not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1):
        raise claude_error(400, "temperature: Input should be less than or equal to 1")
    sys_ = req.get("system")
    if sys_ is not None and not isinstance(sys_, (str, list)):
        raise claude_error(400, "system: Input should be a valid string or list of text blocks")
    if isinstance(sys_, list):
        for i, b in enumerate(sys_):
            if not isinstance(b, dict) or b.get("type") != "text" or not isinstance(b.get("text"), str):
                raise claude_error(400, "system.%d: Input should be a text block" % i)
            if not b["text"]:
                raise claude_error(400, "system: text content blocks must be non-empty")
    if oauth:
        first = _system_texts(sys_)
        if not first or not first[0].startswith(CLAUDE_CODE_SYSTEM):
            raise claude_error(400, "This credential is only authorized for use with Claude Code and "
                               "cannot be used for other API requests. (system prompt must start "
                               "with the Claude Code block)")
    # tools
    names = set()
    tools = req.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise claude_error(400, "tools: Input should be a valid list")
        for i, tl in enumerate(tools):
            if not isinstance(tl, dict):
                raise claude_error(400, "tools.%d: Input should be an object" % i)
            if tl.get("type") not in (None, "custom"):
                continue  # server tools (web_search_...) are not checked
            name = tl.get("name")
            if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
                raise claude_error(400, "tools.%d.custom.name: String should match pattern "
                                   "'^[a-zA-Z0-9_-]{1,64}$' (got %r)" % (i, name))
            if name in names:
                raise claude_error(400, "tools: Tool names must be unique (%s)" % name)
            names.add(name)
            sch = tl.get("input_schema")
            if not isinstance(sch, dict):
                raise claude_error(400, "tools.%d.custom.input_schema: Field required" % i)
            if sch.get("type") != "object":
                raise claude_error(400, "tools.%d.custom.input_schema.type: Input should be 'object'" % i)
            for k in tl:
                if k not in ("type", "name", "description", "input_schema", "cache_control"):
                    raise claude_error(400, "tools.%d.custom.%s: Extra inputs are not permitted" % (i, k))
    tc = req.get("tool_choice")
    if tc is not None:
        if not isinstance(tc, dict) or tc.get("type") not in ("auto", "any", "tool", "none"):
            raise claude_error(400, "tool_choice: Input tag %r found using 'type' does not match any "
                               "of the expected tags: 'auto', 'any', 'tool', 'none'"
                               % (tc.get("type") if isinstance(tc, dict) else tc))
        if tc["type"] == "tool" and tc.get("name") not in names:
            raise claude_error(400, "tool_choice.tool.name: tool %r is not in tools" % tc.get("name"))
    thinking = req.get("thinking")
    think_on = False
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
            raise claude_error(400, "thinking: Input tag %r found using 'type' does not match any of "
                               "the expected tags: 'enabled', 'disabled'"
                               % (thinking.get("type") if isinstance(thinking, dict) else thinking))
        if thinking["type"] == "enabled":
            think_on = True
            b = thinking.get("budget_tokens")
            if not isinstance(b, int) or isinstance(b, bool):
                raise claude_error(400, "thinking.enabled.budget_tokens: Field required")
            if b < 1024:
                raise claude_error(400, "thinking.enabled.budget_tokens: Input should be greater than "
                                   "or equal to 1024")
            if not count and req["max_tokens"] <= b:
                raise claude_error(400, "`max_tokens` must be greater than `thinking.budget_tokens`. "
                                   "Please consult our documentation at https://docs.claude.com/en/docs/"
                                   "build-with-claude/extended-thinking#max-tokens-and-context-window-size")
            if req.get("temperature") not in (None, 1):
                raise claude_error(400, "`temperature` may only be set to 1 when thinking is enabled. "
                                   "Please consult our documentation at https://docs.claude.com/en/"
                                   "docs/build-with-claude/extended-thinking#feature-compatibility")
            if req.get("top_k") is not None:
                raise claude_error(400, "`top_k` must be unset when thinking is enabled.")
            if isinstance(tc, dict) and tc.get("type") in ("any", "tool"):
                raise claude_error(400, "Thinking may not be enabled when tool_choice forces tool "
                                   "use.")
    # messages
    msgs = req["messages"]
    if not isinstance(msgs, list):
        raise claude_error(400, "messages: Input should be a valid list")
    if not msgs:
        raise claude_error(400, "messages: at least one message is required")
    prev_role = None
    pending = []  # tool_use ids of the previous assistant turn
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise claude_error(400, "messages.%d: Input should be an object" % i)
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise claude_error(400, "messages.%d.role: Input should be 'user' or 'assistant'" % i)
        if "content" not in m:
            raise claude_error(400, "messages.%d.content: Field required" % i)
        for k in m:
            if k not in ("role", "content"):
                raise claude_error(400, "messages.%d.%s: Extra inputs are not permitted" % (i, k))
        if i == 0 and role != "user":
            raise claude_error(400, "messages: first message must use the \"user\" role")
        if role == prev_role:
            raise claude_error(400, "messages: roles must alternate between \"user\" and \"assistant\", "
                               "but found multiple \"%s\" roles in a row (messages.%d)" % (role, i))
        content = m["content"]
        if not isinstance(content, (str, list)):
            raise claude_error(400, "messages.%d.content: Input should be a valid string or list" % i)
        if isinstance(content, str) and content == "" and not (role == "assistant" and i == len(msgs) - 1):
            raise claude_error(400, "messages.%d: all messages must have non-empty content except for "
                               "the optional final assistant message" % i)
        if isinstance(content, list) and not content:
            raise claude_error(400, "messages.%d: all messages must have non-empty content except for "
                               "the optional final assistant message" % i)
        blocks = _claude_blocks(content)
        results = []
        uses = []
        for j, b in enumerate(blocks):
            where = "messages.%d.content.%d" % (i, j)
            if not isinstance(b, dict) or b.get("type") not in CLAUDE_BLOCKS:
                raise claude_error(400, "%s: Input tag %r found using 'type' does not match any of the "
                                   "expected tags" % (where, b.get("type") if isinstance(b, dict) else b))
            bt = b["type"]
            if bt == "text":
                if not isinstance(b.get("text"), str):
                    raise claude_error(400, "%s.text.text: Field required" % where)
                if b["text"] == "":
                    raise claude_error(400, "messages: text content blocks must be non-empty")
            elif bt == "image":
                src = b.get("source")
                if not isinstance(src, dict) or src.get("type") not in ("base64", "url", "file"):
                    raise claude_error(400, "%s.image.source: Input tag %r found using 'type' does not "
                                       "match any of the expected tags: 'base64', 'url', 'file'"
                                       % (where, src.get("type") if isinstance(src, dict) else src))
                if src["type"] == "base64":
                    if src.get("media_type") not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
                        raise claude_error(400, "%s.image.source.base64.media_type: Input should be "
                                           "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'" % where)
                    try:
                        base64.b64decode(src.get("data") or "", validate=True)
                    except ValueError:
                        raise claude_error(400, "%s.image.source.base64.data: invalid base64 data" % where)
                elif src["type"] == "url" and not isinstance(src.get("url"), str):
                    raise claude_error(400, "%s.image.source.url.url: Field required" % where)
            elif bt == "tool_use":
                if role != "assistant":
                    raise claude_error(400, "%s: tool_use blocks are only allowed in assistant "
                                       "messages" % where)
                if not isinstance(b.get("id"), str) or not isinstance(b.get("name"), str) \
                        or not isinstance(b.get("input"), dict):
                    raise claude_error(400, "%s.tool_use: id, name and input (an object) are "
                                       "required" % where)
                uses.append(b["id"])
            elif bt == "tool_result":
                if role != "user":
                    raise claude_error(400, "%s: tool_result blocks are only allowed in user "
                                       "messages" % where)
                if not isinstance(b.get("tool_use_id"), str):
                    raise claude_error(400, "%s.tool_result.tool_use_id: Field required" % where)
                rc = b.get("content")
                if rc is not None and not isinstance(rc, (str, list)):
                    raise claude_error(400, "%s.tool_result.content: Input should be a valid string "
                                       "or list" % where)
                results.append(b["tool_use_id"])
            elif bt == "thinking":
                if role != "assistant":
                    raise claude_error(400, "%s: thinking blocks are only allowed in assistant "
                                       "messages" % where)
                if not isinstance(b.get("thinking"), str) or not isinstance(b.get("signature"), str):
                    raise claude_error(400, "%s.thinking: thinking and signature are required" % where)
                if b["signature"] != sig_for(b["thinking"]):
                    raise claude_error(400, "%s: Invalid `signature` in `thinking` block" % where)
        if role == "user":
            missing = [u for u in pending if u not in results]
            if missing:
                raise claude_error(400, "messages.%d: `tool_use` ids were found without `tool_result` "
                                   "blocks immediately after: %s. Each `tool_use` block must have a "
                                   "corresponding `tool_result` block in the next message."
                                   % (i - 1, ", ".join(missing)))
            stray = [r for r in results if r not in pending]
            if stray:
                raise claude_error(400, "messages.%d.content.0: unexpected `tool_use_id` found in "
                                   "`tool_result` blocks: %s. Each `tool_result` block must have a "
                                   "corresponding `tool_use` block in the previous message."
                                   % (i, ", ".join(stray)))
            pending = []
        else:
            pending = uses
            if uses and think_on and i == len(msgs) - 2:
                if blocks[0].get("type") not in ("thinking", "redacted_thinking"):
                    raise claude_error(400, "messages.%d.content.0.type: Expected `thinking` or "
                                       "`redacted_thinking`, but found `%s`. When `thinking` is "
                                       "enabled, a final `assistant` message must start with a "
                                       "thinking block (preceeding the lastmost set of `tool_use` "
                                       "and `tool_result` blocks)." % (i, blocks[0].get("type")))
        prev_role = role
    if pending:
        raise claude_error(400, "messages.%d: `tool_use` ids were found without `tool_result` blocks "
                           "immediately after: %s. Each `tool_use` block must have a corresponding "
                           "`tool_result` block in the next message."
                           % (len(msgs) - 1, ", ".join(pending)))
    return think_on


def _result_text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return "" if content is None else dumps(content)


def claude_norm(req, think_on):
    last = req["messages"][-1]
    results = []
    if last.get("role") == "user":
        for b in _claude_blocks(last["content"]):
            if b.get("type") == "tool_result":
                results.append(_result_text(b.get("content")))
    tools = [(t["name"], t.get("input_schema")) for t in req.get("tools") or []
             if isinstance(t, dict) and "name" in t]
    return {"tools": tools, "tool_results": results, "stop": req.get("stop_sequences"),
            "max_tokens": req.get("max_tokens"), "show_thinking": think_on,
            "input_tokens": count_tokens_of(_strings([req.get("system"), req["messages"],
                                                      req.get("tools")], []))}


def claude_message(plan, model):
    content = []
    for b in plan.blocks:
        if b["kind"] == "thinking":
            content.append({"type": "thinking", "thinking": b["text"], "signature": b["sig"]})
        elif b["kind"] == "text":
            content.append({"type": "text", "text": b["text"]})
        else:
            content.append({"type": "tool_use", "id": "toolu_mock_%d" % b["n"], "name": b["name"],
                            "input": json.loads(b["args"])})
    return {"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": _claude_stop(plan), "stop_sequence": plan.stop_seq,
            "usage": _claude_usage(plan)}


def _claude_stop(plan):
    return {"end": "end_turn", "max": "max_tokens", "stop_seq": "stop_sequence",
            "tool": "tool_use"}[plan.stop]


def _claude_usage(plan, output=None):
    u = plan.usage
    return {"input_tokens": u["input"] - u["cached"], "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": u["cached"],
            "output_tokens": u["output"] if output is None else output}


def claude_stream(plan, model):
    """Yield (event, data) pairs of a Claude Messages stream."""
    start = {"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": _claude_usage(plan, 1)}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for idx, b in enumerate(plan.blocks):
        if b["kind"] == "thinking":
            yield "content_block_start", {"type": "content_block_start", "index": idx,
                                          "content_block": {"type": "thinking", "thinking": "",
                                                            "signature": ""}}
            for p in pieces(b["text"]):
                yield "content_block_delta", {"type": "content_block_delta", "index": idx,
                                              "delta": {"type": "thinking_delta", "thinking": p}}
            yield "content_block_delta", {"type": "content_block_delta", "index": idx,
                                          "delta": {"type": "signature_delta", "signature": b["sig"]}}
        elif b["kind"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": idx,
                                          "content_block": {"type": "text", "text": ""}}
            for p in pieces(b["text"]):
                yield "content_block_delta", {"type": "content_block_delta", "index": idx,
                                              "delta": {"type": "text_delta", "text": p}}
                yield "text", None  # marker: a text piece went out (mid-stream faults)
        else:
            yield "content_block_start", {"type": "content_block_start", "index": idx,
                                          "content_block": {"type": "tool_use",
                                                            "id": "toolu_mock_%d" % b["n"],
                                                            "name": b["name"], "input": {}}}
            for c in chunks(b["args"]):
                yield "content_block_delta", {"type": "content_block_delta", "index": idx,
                                              "delta": {"type": "input_json_delta", "partial_json": c}}
        yield "content_block_stop", {"type": "content_block_stop", "index": idx}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": _claude_stop(plan), "stop_sequence": plan.stop_seq},
                            "usage": {"output_tokens": plan.usage["output"]}}
    yield "message_stop", {"type": "message_stop"}


# ---------------------------------------------------------------- OpenAI Chat

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CHAT_PARTS = ("text", "image_url", "input_audio", "refusal", "file")
REASONING_MODEL_RE = re.compile(r"^(o1|o3|o4|gpt-5)")


def _reasoning_temperature(req):
    """o-series and gpt-5 models take only the default temperature / top_p."""
    if not REASONING_MODEL_RE.match(req["model"]):
        return
    for k in ("temperature", "top_p"):
        v = req.get(k)
        if v is not None and v != 1:
            raise openai_error(400, "Unsupported value: '%s' does not support %s with this model. "
                               "Only the default (1) value is supported." % (k, json.dumps(v)),
                               k, "unsupported_value")


def _openai_tools(tools, flat):
    """[(name, schema)] of OpenAI tools; flat: Responses spelling."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise openai_error(400, "Invalid type for 'tools': expected an array.", "tools", "invalid_type")
    out = []
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or "type" not in t:
            raise openai_error(400, "Missing required parameter: 'tools[%d].type'." % i,
                               "tools[%d].type" % i, "missing_required_parameter")
        if t["type"] != "function":
            continue
        if flat:
            if "function" in t and "name" not in t:
                raise openai_error(400, "Missing required parameter: 'tools[%d].name'." % i,
                                   "tools[%d].name" % i, "missing_required_parameter")
            fn, where = t, "tools[%d]" % i
        else:
            fn, where = t.get("function"), "tools[%d].function" % i
            if not isinstance(fn, dict):
                raise openai_error(400, "Missing required parameter: 'tools[%d].function'." % i,
                                   "tools[%d].function" % i, "missing_required_parameter")
        name = fn.get("name")
        if not isinstance(name, str):
            raise openai_error(400, "Missing required parameter: '%s.name'." % where,
                               "%s.name" % where, "missing_required_parameter")
        if not TOOL_NAME_RE.match(name):
            raise openai_error(400, "Invalid '%s.name': string does not match pattern. Expected a "
                               "string that matches the pattern '^[a-zA-Z0-9_-]+$' (got %r)."
                               % (where, name), "%s.name" % where, "invalid_value")
        params = fn.get("parameters")
        if params is not None and (not isinstance(params, dict) or params.get("type") != "object"):
            raise openai_error(400, "Invalid schema for function '%s': schema must be a JSON Schema "
                               "of 'type: \"object\"', got 'type: \"%s\"'."
                               % (name, params.get("type") if isinstance(params, dict) else params),
                               "%s.parameters" % where, "invalid_function_parameters")
        out.append((name, params))
    return out


def chat_validate(req, completions=False):
    if "model" not in req:
        raise openai_error(400, "you must provide a model parameter", None, None)
    if not isinstance(req["model"], str):
        raise openai_error(400, "Invalid type for 'model': expected a string.", "model", "invalid_type")
    so = req.get("stream_options")
    if so is not None and not isinstance(so, dict):
        raise openai_error(400, "Invalid type for 'stream_options': expected an object.",
                           "stream_options", "invalid_type")
    stop = req.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and all(isinstance(x, str) for x in stop)):
        raise openai_error(400, "Invalid type for 'stop': expected one of a string or array of "
                           "strings.", "stop", "invalid_type")
    for k in ("max_tokens", "max_completion_tokens", "n"):
        v = req.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise openai_error(400, "Invalid type for '%s': expected an integer." % k, k,
                               "invalid_type")
    if req.get("stream_options") is not None and req.get("stream") is not True:
        raise openai_error(400, "The 'stream_options' parameter is only allowed when 'stream' is "
                           "enabled.", "stream_options", None)
    if completions:
        if "prompt" not in req:
            raise openai_error(400, "Missing required parameter: 'prompt'.", "prompt",
                               "missing_required_parameter")
        return []
    _reasoning_temperature(req)
    if "max_tokens" in req and REASONING_MODEL_RE.match(req["model"]):
        raise openai_error(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                           "model. Use 'max_completion_tokens' instead.", "max_tokens",
                           "unsupported_parameter")
    tools = _openai_tools(req.get("tools"), False)
    msgs = req.get("messages")
    if msgs is None:
        raise openai_error(400, "Missing required parameter: 'messages'.", "messages",
                           "missing_required_parameter")
    if not isinstance(msgs, list):
        raise openai_error(400, "Invalid type for 'messages': expected an array.", "messages",
                           "invalid_type")
    if not msgs:
        raise openai_error(400, "[] is too short - 'messages'", "messages", None)
    open_calls = None  # tool_call ids of the last assistant message not yet answered
    open_at = None
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise openai_error(400, "Invalid type for 'messages[%d]': expected an object." % i,
                               "messages[%d]" % i, "invalid_type")
        role = m.get("role")
        if role not in CHAT_ROLES:
            raise openai_error(400, "Invalid value: %r. Supported values are: 'system', 'assistant', "
                               "'user', 'function', 'tool', and 'developer'." % (role,),
                               "messages[%d].role" % i, "invalid_value")
        if role != "tool" and open_calls:
            raise openai_error(400, "An assistant message with 'tool_calls' must be followed by tool "
                               "messages responding to each 'tool_call_id'. The following "
                               "tool_call_ids did not have response messages: %s"
                               % ", ".join(open_calls), "messages.[%d].role" % open_at, None)
        content = m.get("content")
        if role == "tool":
            if open_calls is None:
                raise openai_error(400, "Invalid parameter: messages with role 'tool' must be a "
                                   "response to a preceeding message with 'tool_calls'.",
                                   "messages.[%d].role" % i, None)
            tid = m.get("tool_call_id")
            if not isinstance(tid, str):
                raise openai_error(400, "Missing required parameter: 'messages[%d].tool_call_id'." % i,
                                   "messages[%d].tool_call_id" % i, "missing_required_parameter")
            if tid not in open_calls:
                raise openai_error(400, "Invalid parameter: 'tool_call_id' of '%s' not found in "
                                   "'tool_calls' of previous message." % tid,
                                   "messages.[%d].tool_call_id" % i, None)
            open_calls.remove(tid)
        elif role == "assistant":
            calls = m.get("tool_calls")
            if content is None and not calls:
                raise openai_error(400, "Missing required parameter: 'messages[%d].content'." % i,
                                   "messages[%d].content" % i, "missing_required_parameter")
            open_calls = None
            if calls is not None:
                if not isinstance(calls, list):
                    raise openai_error(400, "Invalid type for 'messages[%d].tool_calls': expected an "
                                       "array." % i, "messages[%d].tool_calls" % i, "invalid_type")
                open_calls = []
                for j, c in enumerate(calls):
                    w = "messages[%d].tool_calls[%d]" % (i, j)
                    if not isinstance(c, dict) or not isinstance(c.get("id"), str):
                        raise openai_error(400, "Missing required parameter: '%s.id'." % w, w + ".id",
                                           "missing_required_parameter")
                    fn = c.get("function")
                    if c.get("type") != "function" or not isinstance(fn, dict) \
                            or not isinstance(fn.get("name"), str) \
                            or not isinstance(fn.get("arguments"), str):
                        raise openai_error(400, "Missing required parameter: '%s.function' (type "
                                           "function, name and arguments as a string)." % w,
                                           w + ".function", "missing_required_parameter")
                    open_calls.append(c["id"])
                open_at = i
                if not open_calls:
                    open_calls = None
        else:
            open_calls = None
            if content is None:
                raise openai_error(400, "Missing required parameter: 'messages[%d].content'." % i,
                                   "messages[%d].content" % i, "missing_required_parameter")
        if isinstance(content, list):
            for j, p in enumerate(content):
                w = "messages[%d].content[%d]" % (i, j)
                if not isinstance(p, dict) or p.get("type") not in CHAT_PARTS:
                    raise openai_error(400, "Invalid value: %r. Supported values are: 'text', "
                                       "'image_url', 'input_audio', 'refusal', and 'file'."
                                       % (p.get("type") if isinstance(p, dict) else p,),
                                       w + ".type", "invalid_value")
                if p["type"] == "text" and not isinstance(p.get("text"), str):
                    raise openai_error(400, "Missing required parameter: '%s.text'." % w, w + ".text",
                                       "missing_required_parameter")
                if p["type"] == "image_url" and not isinstance((p.get("image_url") or {}).get("url"), str):
                    raise openai_error(400, "Missing required parameter: '%s.image_url.url'." % w,
                                       w + ".image_url.url", "missing_required_parameter")
        elif content is not None and not isinstance(content, str):
            raise openai_error(400, "Invalid type for 'messages[%d].content': expected one of a "
                               "string or array of objects." % i, "messages[%d].content" % i,
                               "invalid_type")
    if open_calls:
        raise openai_error(400, "An assistant message with 'tool_calls' must be followed by tool "
                           "messages responding to each 'tool_call_id'. The following tool_call_ids "
                           "did not have response messages: %s" % ", ".join(open_calls),
                           "messages.[%d].role" % open_at, None)
    tc = req.get("tool_choice")
    if isinstance(tc, dict):
        name = (tc.get("function") or {}).get("name")
        if name not in [n for n, _ in tools]:
            raise openai_error(400, "Invalid value for 'tool_choice': tool '%s' is not in 'tools'."
                               % name, "tool_choice", "invalid_value")
    elif tc is not None and tc not in ("none", "auto", "required"):
        raise openai_error(400, "Invalid value: %r. Supported values are: 'none', 'auto', and "
                           "'required'." % (tc,), "tool_choice", "invalid_value")
    return tools


def chat_norm(req, tools, completions=False):
    results = []
    if not completions:
        for m in reversed(req["messages"]):
            if m.get("role") != "tool":
                break
            results.insert(0, _result_text(m.get("content")))
    stop = req.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    mt = req.get("max_completion_tokens", req.get("max_tokens"))
    return {"tools": tools, "tool_results": results, "stop": stop, "max_tokens": mt,
            "show_thinking": True,
            "input_tokens": count_tokens_of(_strings([req.get("messages"), req.get("prompt"),
                                                      req.get("tools")], []))}


def _chat_finish(plan):
    return {"end": "stop", "max": "length", "stop_seq": "stop", "tool": "tool_calls"}[plan.stop]


def _chat_usage(plan):
    u = plan.usage
    return {"prompt_tokens": u["input"], "completion_tokens": u["output"],
            "total_tokens": u["input"] + u["output"],
            "prompt_tokens_details": {"cached_tokens": u["cached"], "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": u["reasoning"], "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def chat_json(plan, model):
    msg = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    calls = []
    for b in plan.blocks:
        if b["kind"] == "text":
            msg["content"] = b["text"]
        elif b["kind"] == "thinking":
            msg["reasoning_content"] = b["text"]
        else:
            calls.append({"id": "call_mock_%d" % b["n"], "type": "function",
                          "function": {"name": b["name"], "arguments": b["args"]}})
    if calls:
        msg["tool_calls"] = calls
    return {"id": "chatcmpl-mock", "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": msg, "logprobs": None,
                         "finish_reason": _chat_finish(plan)}],
            "usage": _chat_usage(plan), "service_tier": "default", "system_fingerprint": "fp_mock"}


def chat_stream(plan, model, include_usage):
    """Yield (event, data) pairs (event None) of a Chat Completions stream."""
    def chunk(delta, finish=None):
        c = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": CREATED,
             "model": model, "service_tier": "default", "system_fingerprint": "fp_mock",
             "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            c["usage"] = None
        return c
    yield None, chunk({"role": "assistant", "content": "", "refusal": None})
    tool_index = 0
    for b in plan.blocks:
        if b["kind"] == "thinking":
            for p in pieces(b["text"]):
                yield None, chunk({"reasoning_content": p})
        elif b["kind"] == "text":
            for p in pieces(b["text"]):
                yield None, chunk({"content": p})
                yield "text", None
        else:
            yield None, chunk({"tool_calls": [{"index": tool_index, "id": "call_mock_%d" % b["n"],
                                               "type": "function",
                                               "function": {"name": b["name"], "arguments": ""}}]})
            for c in chunks(b["args"]):
                yield None, chunk({"tool_calls": [{"index": tool_index, "function": {"arguments": c}}]})
            tool_index += 1
    yield None, chunk({}, _chat_finish(plan))
    if include_usage:
        yield None, {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": CREATED,
                     "model": model, "service_tier": "default", "system_fingerprint": "fp_mock",
                     "choices": [], "usage": _chat_usage(plan)}


def completions_json(plan, model):
    return {"id": "cmpl-mock", "object": "text_completion", "created": CREATED, "model": model,
            "choices": [{"text": plan.text(), "index": 0, "logprobs": None,
                         "finish_reason": "length" if plan.stop == "max" else "stop"}],
            "usage": {"prompt_tokens": plan.usage["input"], "completion_tokens": plan.usage["output"],
                      "total_tokens": plan.usage["input"] + plan.usage["output"]}}


def completions_stream(plan, model, include_usage):
    for p in pieces(plan.text()):
        yield None, {"id": "cmpl-mock", "object": "text_completion", "created": CREATED,
                     "model": model, "choices": [{"text": p, "index": 0, "logprobs": None,
                                                  "finish_reason": None}]}
        yield "text", None
    yield None, {"id": "cmpl-mock", "object": "text_completion", "created": CREATED, "model": model,
                 "choices": [{"text": "", "index": 0, "logprobs": None,
                              "finish_reason": "length" if plan.stop == "max" else "stop"}]}
    if include_usage:
        yield None, {"id": "cmpl-mock", "object": "text_completion", "created": CREATED,
                     "model": model, "choices": [],
                     "usage": completions_json(plan, model)["usage"]}


# ---------------------------------------------------------------- Responses

RESP_FIELDS = {"model", "input", "instructions", "tools", "tool_choice", "reasoning", "stream",
               "store", "include", "max_output_tokens", "previous_response_id", "text",
               "temperature", "top_p", "parallel_tool_calls", "metadata", "user",
               "prompt_cache_key", "service_tier", "truncation", "background", "prompt",
               "safety_identifier", "stream_options", "top_logprobs", "max_tool_calls",
               "conversation"}
USER_PARTS = ("input_text", "input_image", "input_file", "input_audio")
ASSISTANT_PARTS = ("output_text", "refusal")


def responses_validate(req, codex):
    for k in req:
        if k not in RESP_FIELDS:
            raise openai_error(400, "Unknown parameter: '%s'." % k, k, "unknown_parameter")
    if "model" not in req:
        raise openai_error(400, "Missing required parameter: 'model'.", "model",
                           "missing_required_parameter")
    if not isinstance(req["model"], str):
        raise openai_error(400, "Invalid type for 'model': expected a string.", "model",
                           "invalid_type")
    mot = req.get("max_output_tokens")
    if mot is not None and (not isinstance(mot, int) or isinstance(mot, bool)):
        raise openai_error(400, "Invalid type for 'max_output_tokens': expected an integer.",
                           "max_output_tokens", "invalid_type")
    if not codex:
        _reasoning_temperature(req)
    if codex:
        if req.get("stream") is not True:
            raise codex_detail(400, "Stream must be set to true")
        if req.get("store") is not False:
            raise codex_detail(400, "Store must be set to false")
        for k in ("max_output_tokens", "temperature", "top_p"):
            if k in req:
                raise codex_detail(400, "Unsupported parameter: %s" % k)
        if not isinstance(req.get("instructions"), str):
            raise codex_detail(400, "Instructions are required")
    tools = _openai_tools(req.get("tools"), True)
    inp = req.get("input")
    if inp is None:
        inp = []
    if isinstance(inp, str):
        inp = [{"role": "user", "content": inp}]
    if not isinstance(inp, list):
        raise openai_error(400, "Invalid type for 'input': expected one of a string or array of "
                           "input items.", "input", "invalid_type")
    calls = {}      # call_id -> index, not yet answered
    answered = set()
    for i, it in enumerate(inp):
        w = "input[%d]" % i
        if not isinstance(it, dict):
            raise openai_error(400, "Invalid type for '%s': expected an object." % w, w, "invalid_type")
        t = it.get("type", "message" if "role" in it else None)
        if t == "message":
            role = it.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise openai_error(400, "Invalid value: %r. Supported values are: 'assistant', "
                                   "'system', 'developer', and 'user'." % (role,), w + ".role",
                                   "invalid_value")
            if calls and role != "assistant":
                pass  # an unanswered call followed by more input: checked at the end
            content = it.get("content")
            if isinstance(content, list):
                ok = ASSISTANT_PARTS if role == "assistant" else USER_PARTS
                for j, p in enumerate(content):
                    pt = p.get("type") if isinstance(p, dict) else p
                    if pt not in ok:
                        raise openai_error(400, "Invalid value: %r. Supported values are: %s."
                                           % (pt, " and ".join("'%s'" % x for x in ok)
                                              if len(ok) == 2 else
                                              ", ".join("'%s'" % x for x in ok)),
                                           "%s.content[%d]" % (w, j), "invalid_value")
                    if pt in ("input_text", "output_text") and not isinstance(p.get("text"), str):
                        raise openai_error(400, "Missing required parameter: '%s.content[%d].text'."
                                           % (w, j), "%s.content[%d].text" % (w, j),
                                           "missing_required_parameter")
            elif not isinstance(content, str):
                raise openai_error(400, "Missing required parameter: '%s.content'." % w,
                                   w + ".content", "missing_required_parameter")
        elif t == "function_call":
            for k in ("call_id", "name", "arguments"):
                if not isinstance(it.get(k), str):
                    raise openai_error(400, "Missing required parameter: '%s.%s'." % (w, k),
                                       "%s.%s" % (w, k), "missing_required_parameter")
            calls[it["call_id"]] = i
        elif t == "function_call_output":
            cid = it.get("call_id")
            if not isinstance(cid, str):
                raise openai_error(400, "Missing required parameter: '%s.call_id'." % w,
                                   w + ".call_id", "missing_required_parameter")
            if cid not in calls and not req.get("previous_response_id"):
                raise openai_error(400, "No tool call found for function call output with call_id "
                                   "%s." % cid, "input", None)
            calls.pop(cid, None)
            answered.add(cid)
            if not isinstance(it.get("output"), (str, list)):
                raise openai_error(400, "Missing required parameter: '%s.output'." % w,
                                   w + ".output", "missing_required_parameter")
        elif t == "reasoning":
            enc = it.get("encrypted_content")
            if enc is not None and enc != ENC_CONTENT:
                raise openai_error(400, "The encrypted content for item %s could not be verified."
                                   % it.get("id"), None, "invalid_encrypted_content")
            if enc is None and req.get("store") is False:
                raise openai_error(400, "Item with id '%s' not found. Items are not persisted when "
                                   "`store` is set to false. Try again with `store` set to true, or "
                                   "remove this item from your input." % it.get("id"), "input", None)
            if not isinstance(it.get("summary"), list):
                raise openai_error(400, "Missing required parameter: '%s.summary'." % w,
                                   w + ".summary", "missing_required_parameter")
        elif t == "item_reference":
            pass
        else:
            raise openai_error(400, "Invalid value: %r. Supported values are: 'message', "
                               "'function_call', 'function_call_output', 'reasoning' and "
                               "'item_reference'." % (t,), w + ".type", "invalid_value")
    if calls:
        cid = sorted(calls, key=calls.get)[0]
        raise openai_error(400, "No tool output found for function call %s." % cid, "input", None)
    return tools, inp


def responses_norm(req, tools, inp):
    results = []
    for it in reversed(inp):
        if it.get("type") != "function_call_output":
            break
        results.insert(0, _result_text(it.get("output")))
    r = req.get("reasoning") or {}
    return {"tools": tools, "tool_results": results, "stop": None,
            "max_tokens": req.get("max_output_tokens"),
            "show_thinking": True, "summary": bool(r.get("summary")),
            "encrypted": "reasoning.encrypted_content" in (req.get("include") or []),
            "input_tokens": count_tokens_of(_strings([req.get("instructions"), inp,
                                                      req.get("tools")], []))}


def _resp_usage(plan):
    u = plan.usage
    return {"input_tokens": u["input"], "input_tokens_details": {"cached_tokens": u["cached"]},
            "output_tokens": u["output"],
            "output_tokens_details": {"reasoning_tokens": u["reasoning"]},
            "total_tokens": u["input"] + u["output"]}


def _resp_items(plan, norm):
    """The finished output items."""
    items = []
    for b in plan.blocks:
        if b["kind"] == "thinking":
            it = {"id": "rs_mock", "type": "reasoning", "summary": []}
            if norm.get("summary"):
                it["summary"] = [{"type": "summary_text", "text": b["text"]}]
            if norm.get("encrypted"):
                it["encrypted_content"] = ENC_CONTENT
            items.append(it)
        elif b["kind"] == "text":
            items.append({"id": "msg_mock", "type": "message", "status": "completed",
                          "role": "assistant",
                          "content": [{"type": "output_text", "text": b["text"],
                                       "annotations": [], "logprobs": []}]})
        else:
            items.append({"id": "fc_mock_%d" % b["n"], "type": "function_call",
                          "status": "completed", "arguments": b["args"],
                          "call_id": "call_mock_%d" % b["n"], "name": b["name"]})
    return items


def responses_object(plan, model, req, norm, status, items, usage):
    r = {"id": "resp_mock", "object": "response", "created_at": CREATED, "status": status,
         "background": False, "error": None, "incomplete_details": None,
         "instructions": req.get("instructions"), "max_output_tokens": req.get("max_output_tokens"),
         "model": model, "output": items, "parallel_tool_calls": req.get("parallel_tool_calls", True),
         "previous_response_id": req.get("previous_response_id"),
         "reasoning": {"effort": (req.get("reasoning") or {}).get("effort"),
                       "summary": (req.get("reasoning") or {}).get("summary")},
         "store": req.get("store", True), "temperature": req.get("temperature", 1.0),
         "text": {"format": {"type": "text"}}, "tool_choice": req.get("tool_choice", "auto"),
         "tools": req.get("tools") or [], "top_p": req.get("top_p", 1.0), "truncation": "disabled",
         "usage": usage, "user": None, "metadata": req.get("metadata") or {}}
    if status == "incomplete":
        r["incomplete_details"] = {"reason": "max_output_tokens"}
    return r


def responses_json(plan, model, req, norm):
    status = "incomplete" if plan.stop == "max" else "completed"
    return responses_object(plan, model, req, norm, status, _resp_items(plan, norm), _resp_usage(plan))


def responses_stream(plan, model, req, norm):
    """Yield (event, data) pairs of a Responses stream (sequence numbers set here)."""
    seq = [0]

    def ev(name, data):
        d = {"type": name}
        d.update(data)
        d["sequence_number"] = seq[0]
        seq[0] += 1
        return name, d

    yield ev("response.created", {"response": responses_object(plan, model, req, norm, "in_progress",
                                                                 [], None)})
    yield ev("response.in_progress", {"response": responses_object(plan, model, req, norm,
                                                                     "in_progress", [], None)})
    done = _resp_items(plan, norm)
    for oi, (b, item) in enumerate(zip(plan.blocks, done)):
        if b["kind"] == "thinking":
            yield ev("response.output_item.added", {"output_index": oi,
                                                    "item": {"id": "rs_mock", "type": "reasoning",
                                                             "summary": []}})
            if norm.get("summary"):
                part = {"type": "summary_text", "text": ""}
                yield ev("response.reasoning_summary_part.added",
                         {"item_id": "rs_mock", "output_index": oi, "summary_index": 0, "part": part})
                for p in pieces(b["text"]):
                    yield ev("response.reasoning_summary_text.delta",
                             {"item_id": "rs_mock", "output_index": oi, "summary_index": 0,
                              "delta": p})
                yield ev("response.reasoning_summary_text.done",
                         {"item_id": "rs_mock", "output_index": oi, "summary_index": 0,
                          "text": b["text"]})
                yield ev("response.reasoning_summary_part.done",
                         {"item_id": "rs_mock", "output_index": oi, "summary_index": 0,
                          "part": {"type": "summary_text", "text": b["text"]}})
        elif b["kind"] == "text":
            yield ev("response.output_item.added",
                     {"output_index": oi, "item": {"id": "msg_mock", "type": "message",
                                                   "status": "in_progress", "role": "assistant",
                                                   "content": []}})
            yield ev("response.content_part.added",
                     {"item_id": "msg_mock", "output_index": oi, "content_index": 0,
                      "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})
            for p in pieces(b["text"]):
                yield ev("response.output_text.delta", {"item_id": "msg_mock", "output_index": oi,
                                                        "content_index": 0, "delta": p,
                                                        "logprobs": []})
                yield "text", None
            yield ev("response.output_text.done", {"item_id": "msg_mock", "output_index": oi,
                                                   "content_index": 0, "text": b["text"],
                                                   "logprobs": []})
            yield ev("response.content_part.done",
                     {"item_id": "msg_mock", "output_index": oi, "content_index": 0,
                      "part": item["content"][0]})
        else:
            fid = "fc_mock_%d" % b["n"]
            added = dict(item, status="in_progress", arguments="")
            yield ev("response.output_item.added", {"output_index": oi, "item": added})
            for c in chunks(b["args"]):
                yield ev("response.function_call_arguments.delta",
                         {"item_id": fid, "output_index": oi, "delta": c})
            yield ev("response.function_call_arguments.done",
                     {"item_id": fid, "output_index": oi, "name": b["name"],
                      "arguments": b["args"]})
        yield ev("response.output_item.done", {"output_index": oi, "item": item})
    status = "incomplete" if plan.stop == "max" else "completed"
    yield ev("response.incomplete" if status == "incomplete" else "response.completed",
             {"response": responses_object(plan, model, req, norm, status, done, _resp_usage(plan))})


def responses_failed(model, req, norm, seq):
    r = responses_object(None, model, req, norm, "failed", [], None)
    r["error"] = {"code": "server_error", "message": "The mock failed in the middle of the stream."}
    return "response.failed", {"type": "response.failed", "response": r, "sequence_number": seq}


# ---------------------------------------------------------------- Gemini

def _snake_to_camel(k):
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k)


GEMINI_TOP = {"contents", "tools", "toolConfig", "safetySettings", "systemInstruction",
              "generationConfig", "cachedContent", "model", "labels"}
GEMINI_GEN = {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
              "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP",
              "topK", "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs",
              "logprobs", "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig",
              "mediaResolution", "imageConfig", "_responseJsonSchema"}
GEMINI_THINK = {"thinkingBudget", "includeThoughts", "thinkingLevel"}
GEMINI_SCHEMA = {"type", "format", "title", "description", "nullable", "enum", "maxItems",
                 "minItems", "properties", "required", "minProperties", "maxProperties",
                 "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
                 "default", "items", "minimum", "maximum"}
GEMINI_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT",
                "NULL"}
GEMINI_PART = {"text", "inlineData", "functionCall", "functionResponse", "fileData",
               "executableCode", "codeExecutionResult", "thought", "thoughtSignature",
               "videoMetadata", "partMetadata"}
GEMINI_DATA = ("text", "inlineData", "functionCall", "functionResponse", "fileData",
               "executableCode", "codeExecutionResult")
GEMINI_FN_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")


def _gkeys(obj, allowed, where):
    for k in obj:
        if _snake_to_camel(k) not in allowed:
            raise gemini_unknown_name(k, where)


def _gget(obj, key, default=None):
    """A member by its camelCase name or its snake_case spelling."""
    if key in obj:
        return obj[key]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key)
    return obj.get(snake, default)


def gemini_schema(sch, where):
    if not isinstance(sch, dict):
        raise gemini_error(400, "Invalid JSON payload received. Expected an object at '%s'." % where)
    _gkeys(sch, GEMINI_SCHEMA, where)
    t = sch.get("type")
    if t is not None:
        if isinstance(t, list):
            raise gemini_error(400, "Invalid JSON payload received. Proto field is not repeating, "
                               "cannot start list at '%s.type'." % where)
        if not isinstance(t, str) or t.upper() not in GEMINI_TYPES:
            raise gemini_error(400, "Invalid value at '%s.type' (type.googleapis.com/google.ai."
                               "generativelanguage.v1beta.Type), %s" % (where, json.dumps(t)))
    for name, sub in (sch.get("properties") or {}).items():
        gemini_schema(sub, "%s.properties[%s].value" % (where, name))
    if "items" in sch:
        gemini_schema(sch["items"], where + ".items")
    for i, sub in enumerate(sch.get("anyOf") or []):
        gemini_schema(sub, "%s.any_of[%d]" % (where, i))


def gemini_validate(req, think_model, where_prefix=""):
    """Validate a GenerateContentRequest; returns (tools, think_on)."""
    if not isinstance(req, dict):
        raise gemini_error(400, "Invalid JSON payload received. Expected an object.")
    _gkeys(req, GEMINI_TOP, where_prefix.rstrip("."))
    gen = _gget(req, "generationConfig") or {}
    _gkeys(gen, GEMINI_GEN, "generation_config")
    if not isinstance(gen, dict):
        raise gemini_error(400, "Invalid JSON payload received. Expected an object at "
                           "'generation_config'.")
    ss = _gget(gen, "stopSequences")
    if ss is not None and not (isinstance(ss, list) and all(isinstance(x, str) for x in ss)):
        raise gemini_error(400, "Invalid value at 'generation_config.stop_sequences': expected a "
                           "list of strings")
    mot = _gget(gen, "maxOutputTokens")
    if mot is not None and (not isinstance(mot, int) or isinstance(mot, bool)):
        raise gemini_error(400, "Invalid value at 'generation_config.max_output_tokens' "
                           "(TYPE_INT32), %s" % json.dumps(mot))
    tc = _gget(gen, "thinkingConfig") or {}
    if not isinstance(tc, dict):
        raise gemini_error(400, "Invalid JSON payload received. Expected an object at "
                           "'generation_config.thinking_config'.")
    _gkeys(tc, GEMINI_THINK, "generation_config.thinking_config")
    tools = []
    for i, tl in enumerate(req.get("tools") or []):
        if not isinstance(tl, dict):
            raise gemini_error(400, "Invalid JSON payload received. Expected an object at 'tools[%d]'." % i)
        for j, fd in enumerate(_gget(tl, "functionDeclarations") or []):
            w = "tools[%d].function_declarations[%d]" % (i, j)
            _gkeys(fd, {"name", "description", "parameters", "parametersJsonSchema", "response",
                        "responseJsonSchema", "behavior"}, w)
            name = fd.get("name")
            if not isinstance(name, str) or not GEMINI_FN_RE.match(name):
                raise gemini_error(400, "* GenerateContentRequest.%s.name: Invalid function name. "
                                   "Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, "
                                   "or contain underscores, dots, colons and dashes, with a maximum "
                                   "length of 64. (got %s)" % (w, json.dumps(name)))
            if "parameters" in fd:
                gemini_schema(fd["parameters"], w + ".parameters")
                params = fd["parameters"]
            else:
                params = _gget(fd, "parametersJsonSchema")
            tools.append((name, params))
    contents = req.get("contents")
    if not contents:
        raise gemini_error(400, "* GenerateContentRequest.contents: contents is not specified")
    if not isinstance(contents, list):
        raise gemini_error(400, "Invalid JSON payload received. Expected a list at 'contents'.")
    prev = None  # "user", "call" (model turn with calls: names), "response", "model"
    calls = []
    for i, c in enumerate(contents):
        if not isinstance(c, dict):
            raise gemini_error(400, "Invalid JSON payload received. Expected an object at "
                               "'contents[%d]'." % i)
        _gkeys(c, {"role", "parts"}, "contents[%d]" % i)
        role = c.get("role", "user")
        if role not in ("user", "model"):
            raise gemini_error(400, "Please use a valid role: user, model. (contents[%d].role is %s)"
                               % (i, json.dumps(role)))
        parts = c.get("parts")
        if not parts or not isinstance(parts, list):
            raise gemini_error(400, "* GenerateContentRequest.contents[%d].parts: contents.parts must "
                               "not be empty." % i)
        fcalls, fresps = [], []
        for j, p in enumerate(parts):
            w = "contents[%d].parts[%d]" % (i, j)
            if not isinstance(p, dict):
                raise gemini_error(400, "Invalid JSON payload received. Expected an object at '%s'." % w)
            _gkeys(p, GEMINI_PART, w)
            if not any(_gget(p, k) is not None for k in GEMINI_DATA):
                raise gemini_error(400, "* GenerateContentRequest.%s.data: required oneof field "
                                   "'data' must have one initialized field" % w)
            sig = _gget(p, "thoughtSignature")
            if sig is not None and sig != GEMINI_SIGNATURE:
                raise gemini_error(400, "Corrupted thought signature. (%s.thought_signature)" % w)
            fc = _gget(p, "functionCall")
            if fc is not None:
                if role != "model":
                    raise gemini_error(400, "Please ensure that function call turns come from the "
                                       "model (%s has role %s)." % (w, role))
                if not isinstance(fc, dict) or not isinstance(fc.get("name"), str):
                    raise gemini_error(400, "* GenerateContentRequest.%s.function_call.name: "
                                       "name is required" % w)
                if think_model and sig is None and not fcalls:
                    raise gemini_error(400, "Function call is missing a thought_signature in "
                                       "functionCall parts. This is required for tools to work "
                                       "correctly, and missing thought_signature may lead to "
                                       "degraded model performance. Additional data, function "
                                       "call `default_api:%s` , position %d. Please refer to "
                                       "https://ai.google.dev/gemini-api/docs/thought-signatures "
                                       "for more details." % (fc["name"], i + 1))
                fcalls.append(fc["name"])
            fr = _gget(p, "functionResponse")
            if fr is not None:
                if not isinstance(fr, dict) or not isinstance(fr.get("name"), str):
                    raise gemini_error(400, "* GenerateContentRequest.%s.function_response.name: "
                                       "name is required" % w)
                if not isinstance(fr.get("response"), dict):
                    raise gemini_error(400, "* GenerateContentRequest.%s.function_response.response:"
                                       " response must be an object" % w)
                fresps.append(fr["name"])
        if fcalls:
            if prev not in ("user", "response"):
                raise gemini_error(400, "Please ensure that function call turn comes immediately "
                                   "after a user turn or after a function response turn. "
                                   "(contents[%d])" % i)
            calls, prev = fcalls, "call"
        elif fresps:
            if prev != "call":
                raise gemini_error(400, "Please ensure that function response turn comes "
                                   "immediately after a function call turn. (contents[%d] answers "
                                   "%s)" % (i, ", ".join(fresps)))
            if len(fresps) != len(calls):
                raise gemini_error(400, "Please ensure that the number of function response parts is "
                                   "equal to the number of function call parts of the function "
                                   "call turn. (contents[%d]: %d responses for %d calls)"
                                   % (i, len(fresps), len(calls)))
            if sorted(fresps) != sorted(calls):
                raise gemini_error(400, "Please ensure that the function response names match the "
                                   "function call names. (contents[%d]: responses %s, calls %s)"
                                   % (i, ", ".join(fresps), ", ".join(calls)))
            prev, calls = "response", []
        else:
            if prev == "call":
                raise gemini_error(400, "Please ensure that function response turn comes "
                                   "immediately after a function call turn. (contents[%d] does not "
                                   "answer %s)" % (i, ", ".join(calls)))
            prev = role if role == "user" else "model"
    if prev == "call":
        raise gemini_error(400, "Please ensure that the last turn is a user turn or a function "
                           "response turn (contents end with calls to %s)." % ", ".join(calls))
    return tools, bool(_gget(tc, "includeThoughts"))


def gemini_norm(req, tools, think_on):
    last = req["contents"][-1]
    results = []
    for p in last.get("parts") or []:
        fr = _gget(p, "functionResponse")
        if fr is not None:
            results.append(_result_text(fr["response"].get("output", fr["response"].get("content",
                                                                                         fr["response"]))))
    gen = _gget(req, "generationConfig") or {}
    return {"tools": tools, "tool_results": results, "stop": _gget(gen, "stopSequences"),
            "max_tokens": _gget(gen, "maxOutputTokens"), "show_thinking": think_on,
            "input_tokens": count_tokens_of(_strings([_gget(req, "systemInstruction"),
                                                      req["contents"], req.get("tools")], []))}


def _gemini_usage(plan):
    u = plan.usage
    d = {"promptTokenCount": u["input"], "candidatesTokenCount": u["output"] - u["reasoning"],
         "totalTokenCount": u["input"] + u["output"],
         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u["input"]}]}
    if u["cached"]:
        d["cachedContentTokenCount"] = u["cached"]
    if u["reasoning"]:
        d["thoughtsTokenCount"] = u["reasoning"]
    return d


def _gemini_finish(plan):
    return "MAX_TOKENS" if plan.stop == "max" else "STOP"


def gemini_parts(plan, stream):
    """Lists of parts: one list per stream chunk (one list in all when not stream)."""
    out = []
    signed = not plan.script.think
    for b in plan.blocks:
        if b["kind"] == "thinking":
            for p in (pieces(b["text"]) if stream else [b["text"]]):
                out.append([{"text": p, "thought": True}])
        elif b["kind"] == "text":
            for p in (pieces(b["text"]) if stream else [b["text"]]):
                part = {"text": p}
                if not signed:
                    part["thoughtSignature"] = GEMINI_SIGNATURE
                    signed = True
                out.append([part])
        else:
            part = {"functionCall": {"name": b["name"], "args": json.loads(b["args"])}}
            if not signed:
                part["thoughtSignature"] = GEMINI_SIGNATURE
                signed = True
            if stream and out and "functionCall" in out[-1][0]:
                out[-1].append(part)  # Gemini sends parallel calls in one chunk
            else:
                out.append([part])
    if not stream:
        return [[p for lst in out for p in lst]]
    return out


def gemini_response(parts, plan, model, last):
    cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
    r = {"candidates": [cand]}
    if last:
        cand["finishReason"] = _gemini_finish(plan)
    r["usageMetadata"] = _gemini_usage(plan) if last else {
        "promptTokenCount": plan.usage["input"], "totalTokenCount": plan.usage["input"]}
    r["modelVersion"] = model
    r["responseId"] = "mock-response"
    return r


def gemini_json(plan, model):
    return gemini_response(gemini_parts(plan, False)[0], plan, model, True)


def gemini_stream(plan, model):
    lists = gemini_parts(plan, True)
    for i, parts in enumerate(lists):
        yield None, gemini_response(parts, plan, model, i == len(lists) - 1)
        if any("text" in p and not p.get("thought") for p in parts):
            yield "text", None


# ---------------------------------------------------------------- HTTP

ROUTES = [
    ("claude_count", re.compile(r"^(.*)/v1/messages/count_tokens$")),
    ("claude", re.compile(r"^(.*)/v1/messages$")),
    ("chat", re.compile(r"^(.*)/chat/completions$")),
    ("completions", re.compile(r"^(.*)/completions$")),
    ("responses", re.compile(r"^(.*/v1)/responses$")),
    ("codex", re.compile(r"^(.*)/responses$")),
    ("gemini", re.compile(r"^(.*)/v1beta/models/([^/:]+):(generateContent|streamGenerateContent|"
                          r"countTokens)$")),
    ("gemini_cli", re.compile(r"^(.*)/v1internal:(generateContent|streamGenerateContent|"
                              r"countTokens)$")),
]
GET_ROUTES = [
    ("gemini_models", re.compile(r"^(.*)/v1beta/models$")),
    ("gemini_model", re.compile(r"^(.*)/v1beta/models/([A-Za-z0-9._@-]+)$")),
    ("models", re.compile(r"^(.*)/models$")),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "api-mock/1"
    disable_nagle_algorithm = True  # headers, body and each SSE event go out at once

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- plumbing
    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("X-Request-Id", "req_mock_%d" % self.server.mock.count)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _start_stream(self, ctype="text/event-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Request-Id", "req_mock_%d" % self.server.mock.count)
        self.end_headers()

    def _chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _client_gone(self, timeout):
        r, _, _ = select.select([self.connection], [], [], timeout)
        if not r:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def do_GET(self):
        m = self.server.mock
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_mock/requests":
            self._send(200, m.requests())
            return
        if path == "/_mock/events":
            self._send(200, m.events())
            return
        for api, rx in GET_ROUTES:
            mt = rx.match(path)
            if mt:
                rec = self._record(b"", api, mt.group(1), None)
                if api == "gemini_model":
                    n = mt.group(2)
                    if n not in m.models("gemini"):
                        rec["status"] = 404
                        self._send(404, {"error": {"code": 404, "status": "NOT_FOUND",
                                                   "message": "models/%s is not found" % n}})
                        return
                    body = {"name": "models/" + n, "displayName": n,
                            "supportedGenerationMethods": ["generateContent", "countTokens"]}
                elif api == "gemini_models":
                    body = {"models": [{"name": "models/" + n, "displayName": n,
                                        "supportedGenerationMethods": ["generateContent",
                                                                       "countTokens"]}
                                       for n in m.models("gemini")]}
                elif self.headers.get("anthropic-version"):
                    body = {"data": [{"type": "model", "id": n, "display_name": n,
                                      "created_at": "2025-01-01T00:00:00Z"}
                                     for n in m.models("claude")],
                            "has_more": False}
                else:
                    body = {"object": "list", "data": [{"id": n, "object": "model",
                                                        "created": CREATED, "owned_by": "mock"}
                                                       for n in m.models("openai")]}
                rec["status"] = 200
                self._send(200, body)
                return
        self._send(404, {"error": {"message": "mock: no route for GET %s" % path}})

    def do_POST(self):
        body = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        if path == "/_mock/reset":
            self.server.mock.reset()
            self._send(200, b"{}")
            return
        if path == "/_mock/script":
            try:
                d = json.loads(body)
                self.server.mock.script(d["name"], d.get("script") or "")
            except (ValueError, KeyError, TypeError, AttributeError):
                self._send(400, {"error": {"message": 'mock: want {"name": ..., "script": ...}'}})
                return
            self._send(200, b"{}")
            return
        for api, rx in ROUTES:
            mt = rx.match(path)
            if mt:
                break
        else:
            rec = self._record(body, None, None, None)
            rec["status"] = 404
            self._send(404, {"error": {"message": "mock: no route for POST %s" % path}})
            return
        action = None
        if api == "gemini":
            action = mt.group(3)
        elif api == "gemini_cli":
            action = mt.group(2)
        rec = self._record(body, api, mt.group(1), action)
        try:
            getattr(self, "_api_" + api)(rec, mt, split)
            rec.setdefault("status", 200)
        except Refuse as r:
            rec["status"] = r.status
            rec["error"] = r.message
            self._send(r.status, r.body, extra=r.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a mock bug: say so loudly, never hang up silently
            import traceback
            rec["status"] = 500
            rec["error"] = "mock bug: %s: %s" % (type(e).__name__, e)
            self.server.mock._event({"kind": "mock_bug", "path": path,
                                     "traceback": traceback.format_exc()})
            self.close_connection = True
            try:
                self._send(500, {"error": {"message": rec["error"], "type": "mock_bug"}})
            except OSError:
                pass

    def _record(self, body, api, prefix, action):
        split = urllib.parse.urlsplit(self.path)
        rec = {"method": self.command, "path": split.path, "query": split.query, "api": api,
               "prefix": prefix, "action": action,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace"), "json": None, "error": None,
               "t": time.time()}
        try:
            rec["json"] = json.loads(body) if body else None
        except ValueError:
            rec["json"] = None
        self.server.mock._add(rec)
        return rec

    def _json_body(self, rec, err):
        if rec["json"] is None or not isinstance(rec["json"], dict):
            raise err
        return rec["json"]

    def _key_ok(self, key, bad):
        keys = self.server.mock.keys
        if not key:
            raise bad
        if keys is not None and key not in keys:
            raise bad

    def _scripted_error(self, script, fmt, model):
        st = script.err
        if st is None:
            return
        ra = str(script.retry)
        if fmt == "claude":
            if st == 404:
                raise claude_error(404, "model: %s" % model)
            raise claude_error(st, "mock error %d" % st, {"Retry-After": ra} if st == 429 else None)
        if fmt == "codex" and st == 429:
            raise Refuse(429, {"error": {"type": "usage_limit_reached",
                                         "message": "The usage limit has been reached",
                                         "plan_type": "plus", "resets_at": CREATED + script.retry,
                                         "resets_in_seconds": script.retry}}, None, "usage limit")
        if fmt in ("openai", "codex"):
            if st == 404:
                raise openai_error(404, "The model `%s` does not exist or you do not have access to "
                                   "it." % model, None, "model_not_found")
            if st == 429:
                raise openai_error(429, "Rate limit reached for %s (mock). Please try again in %ss."
                                   % (model, ra), None, "rate_limit_exceeded", "requests",
                                   {"Retry-After": ra})
            if st == 401:
                raise openai_error(401, "Incorrect API key provided.", None, "invalid_api_key")
            raise openai_error(st, "mock error %d" % st)
        # gemini
        if st == 404:
            raise gemini_error(404, "models/%s is not found for API version v1beta, or is not "
                               "supported for generateContent. Call ListModels to see the list of "
                               "available models and their supported methods." % model)
        if st == 429:
            raise gemini_error(429, "You exceeded your current quota, please check your plan and "
                               "billing details. Please retry in %ss." % ra, [
                                   {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                    "violations": [{"quotaMetric": "generativelanguage.googleapis.com/"
                                                    "generate_content_free_tier_requests",
                                                    "quotaId": "GenerateRequestsPerMinutePerProject"
                                                    "PerModel-FreeTier"}]},
                                   {"@type": "type.googleapis.com/google.rpc.Help",
                                    "links": [{"description": "Learn more about Gemini API quotas",
                                               "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
                                   {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                    "retryDelay": "%ss" % ra}])
        raise gemini_error(st, "mock error %d" % st)

    def _script(self, model, cred):
        model = model if isinstance(model, str) else ""
        scripts = self.server.mock.scripts
        extra = " ".join(scripts.get(k, "") for k in (model, cred) if k)
        return Script(model, cred, extra)

    def _slow(self, script, model):
        if not script.slow:
            return True
        end = time.time() + self.server.mock.slow_seconds
        while time.time() < end:
            if self._client_gone(0.05):
                self.server.mock._event({"kind": "client_closed", "model": model, "sent": 0,
                                         "t": time.time()})
                self.close_connection = True
                return False
        return True

    def _stream(self, events, script, model, fmt, on_fault, ctype="text/event-stream",
                done=None, json_array=False):
        """Send (event, data) pairs as SSE (or a JSON array); faults per script."""
        m = self.server.mock
        self._start_stream(ctype)
        sent = texts = 0
        first = True
        try:
            if json_array:
                self._chunk("[")
            for name, data in events:
                if name == "text":
                    texts += 1
                    if texts == 2 and (script.midstream or script.midclose):
                        if script.midclose:
                            self._abort()
                            m._event({"kind": "midclose", "model": model, "sent": sent})
                            return
                        for s in on_fault(sent):
                            self._chunk(s)
                        self._end_stream()
                        self.close_connection = True
                        m._event({"kind": "midstream", "model": model, "sent": sent})
                        return
                    continue
                if json_array:
                    self._chunk(("" if first else ",\r\n") + json.dumps(data, indent=2))
                elif name is None:
                    self._chunk("data: " + dumps(data) + ("\r\n\r\n" if fmt == "gemini" else "\n\n"))
                else:
                    self._chunk("event: %s\ndata: %s\n\n" % (name, dumps(data)))
                first = False
                sent += 1
                if script.drip:
                    if self._client_gone(m.drip_interval):
                        raise BrokenPipeError()
            if json_array:
                self._chunk("]")
            if done:
                self._chunk(done)
            self._end_stream()
            if script.drip:
                m._event({"kind": "done", "model": model, "sent": sent})
        except (BrokenPipeError, ConnectionResetError, OSError):
            m._event({"kind": "client_closed", "model": model, "sent": sent, "t": time.time()})
            self.close_connection = True

    # -- Claude
    def _claude_auth(self):
        h = self.headers
        if not h.get("anthropic-version"):
            raise claude_error(400, "anthropic-version: header is required")
        key = h.get("x-api-key")
        auth = h.get("Authorization") or ""
        if key:
            self._key_ok(key, claude_error(401, "invalid x-api-key"))
            return key, False
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            beta = ",".join(h.get_all("anthropic-beta") or [])
            oauth = "oauth-2025-04-20" in [b.strip() for b in beta.split(",")]
            if not oauth and tok.startswith("sk-ant-oat"):
                raise claude_error(401, "OAuth authentication is currently not supported.")
            self._key_ok(tok, claude_error(401, "Invalid bearer token"))
            return tok, oauth
        raise claude_error(401, "x-api-key header is required")

    def _api_claude(self, rec, mt, split, count=False):
        cred, oauth = self._claude_auth()
        req = self._json_body(rec, claude_error(400, "The request body is not valid JSON."))
        script = self._script(req.get("model"), cred)
        if script.err in (401, 403):
            self._scripted_error(script, "claude", req.get("model"))
        think_on = checked("claude", claude_validate, req, count, oauth)
        model = req["model"]
        self._scripted_error(script, "claude", model)
        norm = checked("claude", claude_norm, req, think_on)
        if count:
            rec["usage"] = {"input": norm["input_tokens"]}
            self._send(200, {"input_tokens": norm["input_tokens"]})
            return
        plan = Plan(script, norm)
        rec["usage"] = dict(plan.usage)
        if not self._slow(script, model):
            return
        if req.get("stream") is True:
            def fault(sent):
                yield "event: error\ndata: %s\n\n" % dumps(
                    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            self._stream(claude_stream(plan, model), script, model, "claude", fault)
        else:
            self._send(200, claude_message(plan, model))

    def _api_claude_count(self, rec, mt, split):
        self._api_claude(rec, mt, split, count=True)

    # -- OpenAI
    def _bearer(self, err):
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise err
        return auth[7:].strip()

    def _openai_auth(self):
        key = self._bearer(openai_error(401, "You didn't provide an API key. You need to provide "
                                        "your API key in an Authorization header using Bearer auth "
                                        "(i.e. Authorization: Bearer YOUR_KEY).", None, None))
        self._key_ok(key, openai_error(401, "Incorrect API key provided.", None, "invalid_api_key"))
        return key

    def _openai_body(self, rec):
        return self._json_body(rec, openai_error(400, "We could not parse the JSON body of your "
                                                 "request. (HINT: This likely means you aren't using "
                                                 "your HTTP library correctly. The OpenAI API expects "
                                                 "a JSON payload, but what was sent was not valid "
                                                 "JSON.)", None, None))

    def _api_chat(self, rec, mt, split, completions=False):
        key = self._openai_auth()
        req = self._openai_body(rec)
        script = self._script(req.get("model"), key)
        if script.err in (401, 403):
            self._scripted_error(script, "openai", req.get("model"))
        tools = checked("openai", chat_validate, req, completions)
        model = req["model"]
        self._scripted_error(script, "openai", model)
        norm = checked("openai", chat_norm, req, tools, completions)
        plan = Plan(script, norm)
        rec["usage"] = dict(plan.usage)
        if not self._slow(script, model):
            return
        if req.get("stream") is True:
            inc = bool((req.get("stream_options") or {}).get("include_usage"))

            def fault(sent):
                yield "data: %s\n\n" % dumps({"error": {"message": "The mock failed in the middle "
                                                        "of the stream.", "type": "server_error",
                                                        "param": None, "code": None}})
            gen = completions_stream(plan, model, inc) if completions else chat_stream(plan, model, inc)
            self._stream(gen, script, model, "openai", fault, done="data: [DONE]\n\n")
        else:
            self._send(200, completions_json(plan, model) if completions else chat_json(plan, model))

    def _api_completions(self, rec, mt, split):
        self._api_chat(rec, mt, split, completions=True)

    def _api_responses(self, rec, mt, split, codex=False):
        if codex:
            tok = self._bearer(codex_detail(401, "Unauthorized"))
            self._key_ok(tok, codex_detail(401, "Could not parse your authentication token. Please "
                                           "try signing in again."))
            for h in ("chatgpt-account-id", "originator"):
                if not self.headers.get(h):
                    raise codex_detail(400, "Missing required header: %s" % h)
            if not (self.headers.get("OpenAI-Beta") or "").startswith("responses="):
                raise codex_detail(400, "Missing required header: OpenAI-Beta (responses=experimental)")
            key = tok
            req = self._json_body(rec, codex_detail(400, "Invalid JSON body"))
        else:
            key = self._openai_auth()
            req = self._openai_body(rec)
        fmt = "codex" if codex else "openai"
        script = self._script(req.get("model"), key)
        if script.err in (401, 403):
            self._scripted_error(script, fmt, req.get("model"))
        tools, inp = checked(fmt, responses_validate, req, codex)
        model = req["model"]
        self._scripted_error(script, fmt, model)
        norm = checked(fmt, responses_norm, req, tools, inp)
        plan = Plan(script, norm)
        rec["usage"] = dict(plan.usage)
        if not self._slow(script, model):
            return
        if req.get("stream") is True:
            def fault(sent):
                name, data = responses_failed(model, req, norm, sent)
                yield "event: %s\ndata: %s\n\n" % (name, dumps(data))
            self._stream(responses_stream(plan, model, req, norm), script, model, fmt, fault)
        else:
            self._send(200, responses_json(plan, model, req, norm))

    def _api_codex(self, rec, mt, split):
        self._api_responses(rec, mt, split, codex=True)

    # -- Gemini
    def _api_gemini(self, rec, mt, split, cli=False):
        q = urllib.parse.parse_qs(split.query)
        if cli:
            key = self._bearer(gemini_error(401, "Request had invalid authentication credentials. "
                                            "Expected OAuth 2 access token, login cookie or other "
                                            "valid authentication credential."))
            self._key_ok(key, gemini_error(401, "Request had invalid authentication credentials."))
            action = mt.group(2)
        else:
            key = self.headers.get("x-goog-api-key") or (q.get("key") or [""])[0]
            if not key:
                raise gemini_error(403, "Method doesn't allow unregistered callers (callers without "
                                   "established identity). Please use API Key or other form of API "
                                   "consumer identity to call this API.")
            self._key_ok(key, gemini_error(400, "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com"}]))
            action = mt.group(3)
        body = self._json_body(rec, gemini_error(400, "Invalid JSON payload received. Unexpected "
                                                 "token."))
        if cli:
            if action == "countTokens":
                _gkeys(body, {"request"}, "")
            else:
                _gkeys(body, {"project", "model", "request", "userPromptId", "user_prompt_id"}, "")
                if not isinstance(body.get("model"), str) or not body["model"]:
                    raise gemini_error(400, "Request contains an invalid argument. (model is "
                                       "required)")
                if not isinstance(body.get("project"), str) or not body["project"]:
                    raise gemini_error(403, "Permission denied on resource project . (project is "
                                       "required)")
            req = body.get("request")
            if not isinstance(req, dict):
                raise gemini_error(400, "Invalid JSON payload received. 'request' must be an object.")
            model = body.get("model") or str(req.get("model") or "").replace("models/", "")
        else:
            req = body
            model = urllib.parse.unquote(mt.group(2))
        script = self._script(model, key)
        if script.err in (401, 403):
            self._scripted_error(script, "gemini", model)
        if action == "countTokens":
            if not cli:
                _gkeys(req, {"contents", "generateContentRequest"}, "")
                if "generateContentRequest" in req or "generate_content_request" in req:
                    req = _gget(req, "generateContentRequest")
            else:
                req = {k: v for k, v in req.items() if k != "model"}
            if not isinstance(req, dict):
                raise gemini_error(400, "Invalid JSON payload received. Expected an object at "
                                   "'generate_content_request'.")
            tools, think_on = checked("gemini", gemini_validate, req, script.think)
            self._scripted_error(script, "gemini", model)
            n = checked("gemini", gemini_norm, req, tools, think_on)["input_tokens"]
            rec["usage"] = {"input": n}
            self._send(200, {"totalTokens": n,
                             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]})
            return
        tools, think_on = checked("gemini", gemini_validate, req, script.think)
        self._scripted_error(script, "gemini", model)
        norm = checked("gemini", gemini_norm, req, tools, think_on)
        plan = Plan(script, norm)
        rec["usage"] = dict(plan.usage)
        if not self._slow(script, model):
            return

        def wrap(gen):
            for name, data in gen:
                yield name, ({"response": data} if cli and data is not None else data)
        if action == "streamGenerateContent":
            sse = (q.get("alt") or [""])[0] == "sse"

            def fault(sent):
                err = {"error": {"code": 500, "message": "The mock failed in the middle of the "
                                 "stream.", "status": "INTERNAL"}}
                yield ("data: %s\r\n\r\n" % dumps(err)) if sse else (",\r\n" + json.dumps(err, indent=2))
            self._stream(wrap(gemini_stream(plan, model)), script, model, "gemini", fault,
                         ctype="text/event-stream" if sse else "application/json",
                         json_array=not sse)
        else:
            r = gemini_json(plan, model)
            self._send(200, {"response": r} if cli else r)

    def _api_gemini_cli(self, rec, mt, split):
        self._api_gemini(rec, mt, split, cli=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


DEFAULT_MODELS = {
    "openai": ["gpt-5", "gpt-4o-mini", "codex-mini-latest"],
    "claude": ["claude-sonnet-4-5", "claude-opus-4-1-20250805"],
    "gemini": ["gemini-2.5-pro", "gemini-2.5-flash"],
}


class ApiMock:
    """The mock in a background thread of the calling process.

    keys: None (any non-empty credential) or the list of valid ones.
    drip_interval, slow_seconds: timing of the drip/slow scripts.
    url: "http://127.0.0.1:<port>" (add the prefix the test configures).
    """

    def __init__(self, keys=None):
        self._lock = threading.Lock()
        self._reqs = []
        self._events = []
        self.keys = list(keys) if keys is not None else None
        self.drip_interval = 0.1
        self.slow_seconds = 3.0
        self.model_lists = dict(DEFAULT_MODELS)
        self.scripts = {}
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.mock = self
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thr = None

    @property
    def count(self):
        with self._lock:
            return len(self._reqs)

    def script(self, name, tokens):
        """Script a model or credential whose name carries no tokens, e.g.
        script("gemini-2.5-pro", "err429x30"); "" clears it. Kept across
        reset()."""
        with self._lock:
            if tokens:
                self.scripts[name] = tokens
            else:
                self.scripts.pop(name, None)

    def models(self, kind):
        return list(self.model_lists.get(kind, []))

    def start(self):
        self._thr = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self._thr.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def _add(self, rec):
        with self._lock:
            self._reqs.append(rec)

    def _event(self, ev):
        with self._lock:
            self._events.append(ev)

    def requests(self, api=None):
        with self._lock:
            return [r for r in self._reqs if api is None or r["api"] == api]

    def last(self, api=None):
        r = self.requests(api)
        return r[-1] if r else None

    def events(self):
        with self._lock:
            return list(self._events)

    def reset(self):
        with self._lock:
            self._reqs = []
            self._events = []


def main():
    m = ApiMock().start()
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

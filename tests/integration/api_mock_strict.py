#!/usr/bin/env python3
"""api_mock_strict.py - the four-API mock upstream (tests/mock/api_mock.py)
refuses what the real services refuse, with each service's status and error
shape and a message naming what was wrong; and its scripted behaviours
(errors with retry hints, stop reasons, usage, faults, slow streams, the
Gemini CLI envelope, the recording interface, standalone mode) do what its
docstring promises. Standard library only, loopback only.
"""
import copy
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("CLIPROXY_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "mock"))
import tap  # noqa: E402
import api_mock  # noqa: E402

A = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}
B = {"Authorization": "Bearer sk-test"}
G = {"x-goog-api-key": "gk-test"}
CX = {"Authorization": "Bearer tok", "chatgpt-account-id": "acct", "originator": "codex_cli_rs",
      "OpenAI-Beta": "responses=experimental"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

CLAUDE = {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "gpt-x", "input": "hi"}
CODEX = {"model": "gpt-5", "instructions": "", "input": "hi", "stream": True, "store": False}
GEM = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
CLI = {"project": "proj-1", "model": "gemini-2.5-pro", "request": GEM}

TOOL_LOOP = [  # Claude: a tool call answered by its result
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                       "input": {"city": "Paris"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                  "content": "sunny"}]}]
CHAT_CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
GEM_CALL = {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                                                         "args": {"city": "Paris"}}}]}


def with_(base, **kw):
    d = copy.deepcopy(base)
    for k, v in kw.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def hdr(base, **kw):
    d = dict(base)
    for k, v in kw.items():
        k = k.replace("_", "-")
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def call(port, path, body, headers, method="POST", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers)
    c.request(method, path, body=raw if method == "POST" else None, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


# (name, path, headers, body, status, shape, words the message must contain)
CASES = [
    # ---- Claude Messages
    ("claude_no_version", "/v1/messages", hdr(A, anthropic_version=None), CLAUDE, 400,
     "claude", "anthropic-version"),
    ("claude_no_key", "/v1/messages", {"anthropic-version": "2023-06-01"}, CLAUDE, 401,
     "claude", "x-api-key header is required"),
    ("claude_oauth_token_without_beta", "/v1/messages",
     {"anthropic-version": "2023-06-01", "Authorization": "Bearer sk-ant-oat01-x"}, CLAUDE, 401,
     "claude", "OAuth authentication is currently not supported"),
    ("claude_oauth_without_claude_code_system", "/v1/messages",
     {"anthropic-version": "2023-06-01", "Authorization": "Bearer sk-ant-oat01-x",
      "anthropic-beta": "claude-code-20250219,oauth-2025-04-20"},
     with_(CLAUDE, system="You are a helpful assistant."), 400, "claude", "Claude Code"),
    ("claude_bad_json", "/v1/messages", A, b"{nope", 400, "claude", "not valid JSON"),
    ("claude_extra_field", "/v1/messages", A, with_(CLAUDE, n=1), 400, "claude",
     "n: Extra inputs are not permitted"),
    ("claude_openai_field_leaked", "/v1/messages", A,
     with_(CLAUDE, stream_options={"include_usage": True}), 400, "claude",
     "stream_options: Extra inputs"),
    ("claude_no_max_tokens", "/v1/messages", A, with_(CLAUDE, max_tokens=None), 400, "claude",
     "max_tokens: Field required"),
    ("claude_no_model", "/v1/messages", A, with_(CLAUDE, model=None), 400, "claude",
     "model: Field required"),
    ("claude_no_messages", "/v1/messages", A, with_(CLAUDE, messages=None), 400, "claude",
     "messages: Field required"),
    ("claude_empty_messages", "/v1/messages", A, with_(CLAUDE, messages=[]), 400, "claude",
     "at least one message"),
    ("claude_first_assistant", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "assistant", "content": "x"},
                             {"role": "user", "content": "y"}]), 400, "claude",
     "first message must use the \"user\" role"),
    ("claude_roles_not_alternating", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]),
     400, "claude", "multiple \"user\" roles in a row (messages.1)"),
    ("claude_system_role_in_messages", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "system", "content": "x"}]), 400, "claude",
     "messages.0.role"),
    ("claude_empty_text_block", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]), 400,
     "claude", "text content blocks must be non-empty"),
    ("claude_unknown_block", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]),
     400, "claude", "'input_text'"),
    ("claude_tool_use_unanswered", "/v1/messages", A,
     with_(CLAUDE, messages=TOOL_LOOP[:2] + [{"role": "user", "content": "and?"}]), 400, "claude",
     "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"),
    ("claude_tool_use_last", "/v1/messages", A, with_(CLAUDE, messages=TOOL_LOOP[:2]), 400,
     "claude", "toolu_1"),
    ("claude_tool_result_wrong_id", "/v1/messages", A,
     with_(CLAUDE, messages=TOOL_LOOP[:2] + [{"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"},
         {"type": "tool_result", "tool_use_id": "toolu_9", "content": "b"}]}]), 400, "claude",
     "unexpected `tool_use_id` found in `tool_result` blocks: toolu_9"),
    ("claude_tool_use_from_user", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "user", "content": [
         {"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]), 400, "claude",
     "only allowed in assistant messages"),
    ("claude_tool_name_pattern", "/v1/messages", A,
     with_(CLAUDE, tools=[{"name": "get weather", "input_schema": SCHEMA}]), 400, "claude",
     "tools.0.custom.name: String should match pattern"),
    ("claude_tool_schema_not_object", "/v1/messages", A,
     with_(CLAUDE, tools=[{"name": "f", "input_schema": {"type": "string"}}]), 400, "claude",
     "tools.0.custom.input_schema.type"),
    ("claude_tool_openai_spelling", "/v1/messages", A,
     with_(CLAUDE, tools=[{"name": "f", "parameters": SCHEMA}]), 400, "claude",
     "tools.0.custom.input_schema: Field required"),
    ("claude_tool_choice_unknown_tool", "/v1/messages", A,
     with_(CLAUDE, tools=[{"name": "f", "input_schema": SCHEMA}],
           tool_choice={"type": "tool", "name": "g"}), 400, "claude", "tool_choice.tool.name"),
    ("claude_thinking_budget_low", "/v1/messages", A,
     with_(CLAUDE, thinking={"type": "enabled", "budget_tokens": 500}), 400, "claude",
     "budget_tokens: Input should be greater than or equal to 1024"),
    ("claude_thinking_budget_over_max", "/v1/messages", A,
     with_(CLAUDE, max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 1024}), 400,
     "claude", "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ("claude_thinking_tool_loop_without_thinking", "/v1/messages", A,
     with_(CLAUDE, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
           messages=TOOL_LOOP), 400, "claude",
     "Expected `thinking` or `redacted_thinking`, but found `tool_use`"),
    ("claude_thinking_bad_signature", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "user", "content": "x"},
                             {"role": "assistant", "content": [
                                 {"type": "thinking", "thinking": "hm", "signature": "forged"},
                                 {"type": "text", "text": "y"}]},
                             {"role": "user", "content": "z"}]), 400, "claude",
     "messages.1.content.0: Invalid `signature` in `thinking` block"),
    ("claude_thinking_with_temperature", "/v1/messages", A,
     with_(CLAUDE, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
           temperature=0.5), 400, "claude",
     "`temperature` may only be set to 1 when thinking is enabled"),
    ("claude_thinking_with_forced_tool", "/v1/messages", A,
     with_(CLAUDE, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
           tools=[{"name": "f", "input_schema": SCHEMA}], tool_choice={"type": "any"}), 400,
     "claude", "Thinking may not be enabled when tool_choice forces tool use"),
    ("claude_temperature_range", "/v1/messages", A, with_(CLAUDE, temperature=1.5), 400, "claude",
     "temperature"),
    ("claude_bad_image_media_type", "/v1/messages", A,
     with_(CLAUDE, messages=[{"role": "user", "content": [{"type": "image", "source": {
         "type": "base64", "media_type": "image/bmp", "data": "AAAA"}}]}]), 400, "claude",
     "media_type"),
    ("claude_count_with_max_tokens", "/v1/messages/count_tokens", A, CLAUDE, 400, "claude",
     "max_tokens: Extra inputs are not permitted"),
    ("claude_model_not_found", "/v1/messages", A, with_(CLAUDE, model="claude-err404"), 404,
     "claude", "model: claude-err404"),
    ("claude_overloaded", "/v1/messages", A, with_(CLAUDE, model="claude-err529"), 529, "claude",
     "mock error 529"),
    ("claude_key_forbidden", "/v1/messages", hdr(A, x_api_key="sk-err403"), CLAUDE, 403,
     "claude", "mock error 403"),
    # ---- OpenAI Chat Completions / Completions
    ("chat_no_key", "/v1/chat/completions", {}, CHAT, 401, "openai",
     "You didn't provide an API key"),
    ("chat_bad_json", "/v1/chat/completions", B, b"[1,", 400, "openai",
     "could not parse the JSON body"),
    ("chat_no_model", "/v1/chat/completions", B, with_(CHAT, model=None), 400, "openai",
     "you must provide a model parameter"),
    ("chat_no_messages", "/v1/chat/completions", B, with_(CHAT, messages=None), 400, "openai",
     "Missing required parameter: 'messages'"),
    ("chat_empty_messages", "/v1/chat/completions", B, with_(CHAT, messages=[]), 400, "openai",
     "[] is too short - 'messages'"),
    ("chat_bad_role", "/v1/chat/completions", B,
     with_(CHAT, messages=[{"role": "model", "content": "x"}]), 400, "openai",
     "Invalid value: 'model'"),
    ("chat_tool_without_call", "/v1/chat/completions", B,
     with_(CHAT, messages=[{"role": "user", "content": "x"},
                           {"role": "tool", "tool_call_id": "call_1", "content": "r"}]), 400,
     "openai", "must be a response to a preceeding message with 'tool_calls'"),
    ("chat_call_unanswered", "/v1/chat/completions", B,
     with_(CHAT, messages=[{"role": "user", "content": "x"}, CHAT_CALL,
                           {"role": "user", "content": "y"}]), 400, "openai",
     "did not have response messages: call_1"),
    ("chat_tool_call_id_mismatch", "/v1/chat/completions", B,
     with_(CHAT, messages=[{"role": "user", "content": "x"}, CHAT_CALL,
                           {"role": "tool", "tool_call_id": "call_2", "content": "r"}]), 400,
     "openai", "'tool_call_id' of 'call_2' not found in 'tool_calls' of previous message"),
    ("chat_tool_name_pattern", "/v1/chat/completions", B,
     with_(CHAT, tools=[{"type": "function", "function": {"name": "a.b", "parameters": SCHEMA}}]),
     400, "openai", "Invalid 'tools[0].function.name': string does not match pattern"),
    ("chat_tool_flat_spelling", "/v1/chat/completions", B,
     with_(CHAT, tools=[{"type": "function", "name": "f", "parameters": SCHEMA}]), 400, "openai",
     "Missing required parameter: 'tools[0].function'"),
    ("chat_bad_part_type", "/v1/chat/completions", B,
     with_(CHAT, messages=[{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]),
     400, "openai", "Invalid value: 'input_text'"),
    ("chat_stream_options_without_stream", "/v1/chat/completions", B,
     with_(CHAT, stream_options={"include_usage": True}), 400, "openai",
     "'stream_options' parameter is only allowed when 'stream' is enabled"),
    ("chat_max_tokens_reasoning_model", "/v1/chat/completions", B,
     with_(CHAT, model="gpt-5", max_tokens=10), 400, "openai", "Use 'max_completion_tokens'"),
    ("chat_temperature_reasoning_model", "/v1/chat/completions", B,
     with_(CHAT, model="o3-mini", temperature=0.2), 400, "openai",
     "Unsupported value: 'temperature' does not support 0.2 with this model"),
    ("chat_tool_choice_unknown", "/v1/chat/completions", B,
     with_(CHAT, tool_choice={"type": "function", "function": {"name": "g"}}), 400, "openai",
     "tool 'g' is not in 'tools'"),
    ("chat_model_not_found", "/v1/chat/completions", B, with_(CHAT, model="m-err404"), 404,
     "openai", "The model `m-err404` does not exist"),
    ("chat_server_error", "/v1/chat/completions", B, with_(CHAT, model="m-err500"), 500, "openai",
     "mock error 500"),
    ("chat_unavailable", "/v1/chat/completions", B, with_(CHAT, model="m-err503"), 503, "openai",
     "mock error 503"),
    ("chat_key_unauthorized", "/v1/chat/completions", {"Authorization": "Bearer k-err401"}, CHAT,
     401, "openai", "Incorrect API key provided"),
    ("completions_no_prompt", "/v1/completions", B, {"model": "m"}, 400, "openai",
     "Missing required parameter: 'prompt'"),
    # ---- OpenAI Responses
    ("responses_no_key", "/v1/responses", {}, RESP, 401, "openai", "You didn't provide an API key"),
    ("responses_chat_field", "/v1/responses", B, with_(RESP, messages=[]), 400, "openai",
     "Unknown parameter: 'messages'"),
    ("responses_no_model", "/v1/responses", B, with_(RESP, model=None), 400, "openai",
     "Missing required parameter: 'model'"),
    ("responses_output_without_call", "/v1/responses", B,
     with_(RESP, input=[{"role": "user", "content": "x"},
                        {"type": "function_call_output", "call_id": "call_9", "output": "r"}]),
     400, "openai", "No tool call found for function call output with call_id call_9"),
    ("responses_call_without_output", "/v1/responses", B,
     with_(RESP, input=[{"role": "user", "content": "x"},
                        {"type": "function_call", "call_id": "call_1", "name": "f",
                         "arguments": "{}"},
                        {"role": "user", "content": "y"}]), 400, "openai",
     "No tool output found for function call call_1"),
    ("responses_assistant_input_text", "/v1/responses", B,
     with_(RESP, input=[{"role": "user", "content": "x"},
                        {"role": "assistant", "content": [{"type": "input_text", "text": "y"}]}]),
     400, "openai", "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'"),
    ("responses_user_output_text", "/v1/responses", B,
     with_(RESP, input=[{"role": "user", "content": [{"type": "output_text", "text": "y"}]}]),
     400, "openai", "Invalid value: 'output_text'"),
    ("responses_nested_tool", "/v1/responses", B,
     with_(RESP, tools=[{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}]),
     400, "openai", "Missing required parameter: 'tools[0].name'"),
    ("responses_bad_item_type", "/v1/responses", B,
     with_(RESP, input=[{"type": "tool_result", "content": "x"}]), 400, "openai",
     "Invalid value: 'tool_result'"),
    ("responses_forged_encrypted_reasoning", "/v1/responses", B,
     with_(RESP, store=False, input=[{"role": "user", "content": "x"},
                                     {"type": "reasoning", "id": "rs_1", "summary": [],
                                      "encrypted_content": "forged"}]), 400, "openai",
     "The encrypted content for item rs_1 could not be verified"),
    ("responses_top_p_reasoning_model", "/v1/responses", B,
     with_(RESP, model="gpt-5", top_p=0.9), 400, "openai",
     "Unsupported value: 'top_p' does not support 0.9 with this model"),
    ("responses_rate_limited", "/v1/responses", B, with_(RESP, model="gpt-err429x3"), 429,
     "openai", "Rate limit reached"),
    # ---- Codex backend
    ("codex_no_token", "/backend-api/codex/responses", hdr(CX, Authorization=None), CODEX, 401,
     "detail", "Unauthorized"),
    ("codex_no_account", "/backend-api/codex/responses", hdr(CX, chatgpt_account_id=None), CODEX,
     400, "detail", "chatgpt-account-id"),
    ("codex_no_originator", "/backend-api/codex/responses", hdr(CX, originator=None), CODEX, 400,
     "detail", "originator"),
    ("codex_no_beta", "/backend-api/codex/responses", hdr(CX, OpenAI_Beta=None), CODEX, 400,
     "detail", "OpenAI-Beta"),
    ("codex_not_streaming", "/backend-api/codex/responses", CX, with_(CODEX, stream=False), 400,
     "detail", "Stream must be set to true"),
    ("codex_store_true", "/backend-api/codex/responses", CX, with_(CODEX, store=True), 400,
     "detail", "Store must be set to false"),
    ("codex_max_output_tokens", "/backend-api/codex/responses", CX,
     with_(CODEX, max_output_tokens=100), 400, "detail", "Unsupported parameter: max_output_tokens"),
    ("codex_no_instructions", "/backend-api/codex/responses", CX, with_(CODEX, instructions=None),
     400, "detail", "Instructions are required"),
    # ---- Gemini
    ("gemini_no_key", "/v1beta/models/gemini-x:generateContent", {}, GEM, 403, "gemini",
     "unregistered callers"),
    ("gemini_unknown_top_field", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, messages=[]), 400, "gemini", 'Unknown name "messages": Cannot find field'),
    ("gemini_unknown_generation_field", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, generationConfig={"max_tokens": 5}), 400, "gemini",
     'Unknown name "max_tokens" at \'generation_config\''),
    ("gemini_schema_additional_properties", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, tools=[{"functionDeclarations": [{"name": "f", "parameters": dict(
         SCHEMA, additionalProperties=False)}]}]), 400, "gemini",
     'Unknown name "additionalProperties" at \'tools[0].function_declarations[0].parameters\''),
    ("gemini_schema_dollar_schema", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, tools=[{"functionDeclarations": [{"name": "f", "parameters": dict(
         SCHEMA, **{"$schema": "http://json-schema.org/draft-07/schema#"})}]}]), 400, "gemini",
     'Unknown name "$schema"'),
    ("gemini_schema_nested_ref", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, tools=[{"functionDeclarations": [{"name": "f", "parameters": {
         "type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}}]}]), 400, "gemini",
     'Unknown name "$ref" at \'tools[0].function_declarations[0].parameters.properties[a].value\''),
    ("gemini_schema_type_list", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, tools=[{"functionDeclarations": [{"name": "f", "parameters": {
         "type": "object", "properties": {"a": {"type": ["string", "null"]}}}}]}]), 400, "gemini",
     "cannot start list"),
    ("gemini_function_name", "/v1beta/models/gemini-x:generateContent", G,
     with_(GEM, tools=[{"functionDeclarations": [{"name": "1f", "parameters": SCHEMA}]}]), 400,
     "gemini", "Invalid function name"),
    ("gemini_no_contents", "/v1beta/models/gemini-x:generateContent", G, {}, 400, "gemini",
     "contents is not specified"),
    ("gemini_assistant_role", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, 400, "gemini",
     "Please use a valid role: user, model."),
    ("gemini_empty_parts", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [{"role": "user", "parts": []}]}, 400, "gemini", "parts must not be empty"),
    ("gemini_part_without_data", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [{"role": "user", "parts": [{"thought": True}]}]}, 400, "gemini",
     "required oneof field 'data'"),
    ("gemini_response_without_call", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [{"role": "user", "parts": [{"functionResponse": {
         "name": "get_weather", "response": {"output": "x"}}}]}]}, 400, "gemini",
     "function response turn comes immediately after a function call turn"),
    ("gemini_response_name_mismatch", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [GEM["contents"][0], GEM_CALL, {"role": "user", "parts": [{"functionResponse": {
         "name": "get_time", "response": {"output": "x"}}}]}]}, 400, "gemini",
     "responses get_time, calls get_weather"),
    ("gemini_response_count_mismatch", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [GEM["contents"][0], GEM_CALL, {"role": "user", "parts": [
         {"functionResponse": {"name": "get_weather", "response": {"output": "x"}}},
         {"functionResponse": {"name": "get_weather", "response": {"output": "y"}}}]}]}, 400,
     "gemini", "number of function response parts is equal to the number of function call parts"),
    ("gemini_call_unanswered", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [GEM["contents"][0], GEM_CALL, {"role": "user", "parts": [{"text": "and?"}]}]},
     400, "gemini", "does not answer get_weather"),
    ("gemini_forged_signature", "/v1beta/models/gemini-x:generateContent", G,
     {"contents": [GEM["contents"][0], {"role": "model", "parts": [
         {"text": "y", "thoughtSignature": "Zm9yZ2Vk"}]}, {"role": "user", "parts": [{"text": "z"}]}]},
     400, "gemini", "Corrupted thought signature"),
    ("gemini_think_call_without_signature", "/v1beta/models/gemini-3-think:generateContent", G,
     {"contents": [GEM["contents"][0], GEM_CALL, {"role": "user", "parts": [{"functionResponse": {
         "name": "get_weather", "response": {"output": "x"}}}]}]}, 400, "gemini",
     "Function call is missing a thought_signature"),
    ("gemini_count_unknown_field", "/v1beta/models/gemini-x:countTokens", G,
     with_(GEM, generationConfig={}), 400, "gemini", 'Unknown name "generationConfig"'),
    ("gemini_model_not_found", "/v1beta/models/gemini-err404:generateContent", G, GEM, 404,
     "gemini", "models/gemini-err404 is not found for API version v1beta"),
    ("gemini_unavailable", "/v1beta/models/gemini-err503:streamGenerateContent?alt=sse", G, GEM,
     503, "gemini", "mock error 503"),
    # ---- Gemini CLI (Code Assist envelope)
    ("cli_no_token", "/v1internal:generateContent", {}, CLI, 401, "gemini",
     "invalid authentication credentials"),
    ("cli_no_project", "/v1internal:generateContent", B, with_(CLI, project=None), 403, "gemini",
     "project is required"),
    ("cli_no_model", "/v1internal:generateContent", B, with_(CLI, model=None), 400, "gemini",
     "model is required"),
    ("cli_unknown_envelope_field", "/v1internal:generateContent", B, with_(CLI, contents=[]), 400,
     "gemini", 'Unknown name "contents"'),
    ("cli_request_not_object", "/v1internal:generateContent", B, with_(CLI, request="x"), 400,
     "gemini", "'request' must be an object"),
    ("cli_inner_request_checked", "/v1internal:generateContent", B,
     with_(CLI, request={"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}), 400,
     "gemini", "Please use a valid role"),
]


class Strict(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = api_mock.ApiMock().start()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def check_shape(self, shape, status, body, words):
        if shape == "claude":
            self.assertEqual(body["type"], "error", body)
            self.assertEqual(body["error"]["type"], api_mock._claude_type(status), body)
            msg = body["error"]["message"]
        elif shape == "openai":
            err = body["error"]
            self.assertEqual(set(err), {"message", "type", "param", "code"}, body)
            msg = err["message"]
        elif shape == "gemini":
            err = body["error"]
            self.assertEqual(err["code"], status, body)
            self.assertEqual(err["status"], api_mock._GSTATUS[status], body)
            msg = err["message"]
        else:
            self.assertEqual(set(body), {"detail"}, body)
            msg = body["detail"]
        self.assertIn(words, msg)

    def test_valid_requests_pass(self):
        """The base requests every refusal below starts from are accepted, and
        so are the correct forms of what the refusals test."""
        ok = [
            ("/v1/messages", A, CLAUDE),
            ("/v1/messages", {"anthropic-version": "2023-06-01",
                              "Authorization": "Bearer sk-ant-oat01-x",
                              "anthropic-beta": "oauth-2025-04-20"},
             with_(CLAUDE, system=[{"type": "text", "text": api_mock.CLAUDE_CODE_SYSTEM},
                                   {"type": "text", "text": "Be brief."}])),
            ("/v1/messages", A, with_(CLAUDE, messages=TOOL_LOOP)),
            ("/v1/messages", A, with_(CLAUDE, max_tokens=4000,
                                      thinking={"type": "enabled", "budget_tokens": 1024},
                                      messages=[TOOL_LOOP[0], {"role": "assistant", "content": [
                                          {"type": "thinking", "thinking": "hm",
                                           "signature": api_mock.sig_for("hm")}] +
                                          TOOL_LOOP[1]["content"]}, TOOL_LOOP[2]])),
            ("/v1/messages/count_tokens", A, with_(CLAUDE, max_tokens=None)),
            ("/v1/chat/completions", B, with_(CHAT, messages=[
                {"role": "user", "content": "x"}, CHAT_CALL,
                {"role": "tool", "tool_call_id": "call_1", "content": "r"}])),
            ("/openai/v1/chat/completions", B, CHAT),
            ("/v1/completions", B, {"model": "m", "prompt": "x"}),
            ("/v1/responses", B, with_(RESP, input=[
                {"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "r"}])),
            ("/v1/responses", B, with_(RESP, store=False, input=[
                {"role": "user", "content": "x"},
                {"type": "reasoning", "id": "rs_1", "summary": [],
                 "encrypted_content": api_mock.ENC_CONTENT}])),
            ("/backend-api/codex/responses", CX, CODEX),
            ("/v1beta/models/gemini-x:generateContent", G, GEM),
            ("/v1beta/models/gemini-x:generateContent?key=gk", {}, GEM),
            ("/v1beta/models/gemini-x:generateContent", G, {"contents": [
                GEM["contents"][0], GEM_CALL, {"role": "user", "parts": [{"functionResponse": {
                    "name": "get_weather", "response": {"output": "x"}}}]}],
                "tools": [{"functionDeclarations": [{"name": "get_weather",
                                                     "parameters": SCHEMA}]}]}),
            ("/v1beta/models/gemini-x:countTokens", G, GEM),
            ("/v1internal:generateContent", B, CLI),
            ("/v1internal:countTokens", B, {"request": with_(GEM, model="models/gemini-x")}),
        ]
        for path, h, body in ok:
            st, _, data = call(self.mock.port, path, body, h)
            self.assertEqual(st, 200, "%s: %s" % (path, data[:300]))

    def test_wrong_key_when_keys_are_set(self):
        m = api_mock.ApiMock(keys=["right"]).start()
        try:
            st, _, d = call(m.port, "/v1/chat/completions", CHAT, {"Authorization": "Bearer wrong"})
            self.assertEqual(st, 401)
            self.assertEqual(json.loads(d)["error"]["code"], "invalid_api_key")
            st, _, d = call(m.port, "/v1beta/models/g:generateContent", GEM,
                            {"x-goog-api-key": "wrong"})
            self.assertEqual(st, 400)
            self.assertEqual(json.loads(d)["error"]["details"][0]["reason"], "API_KEY_INVALID")
            st, _, d = call(m.port, "/v1/messages", CLAUDE, hdr(A, x_api_key="wrong"))
            self.assertEqual((st, json.loads(d)["error"]["type"]), (401, "authentication_error"))
            st, _, _ = call(m.port, "/v1/messages", CLAUDE, hdr(A, x_api_key="right"))
            self.assertEqual(st, 200)
        finally:
            m.stop()

    def test_refusals_are_recorded(self):
        self.mock.reset()
        call(self.mock.port, "/v1/chat/completions", with_(CHAT, messages=[]), B)
        rec = self.mock.last()
        self.assertEqual((rec["api"], rec["status"]), ("chat", 400))
        self.assertIn("too short", rec["error"])


def _make(case):
    name, path, headers, body, status, shape, words = case

    def test(self):
        st, h, data = call(self.mock.port, path, body, headers)
        self.assertEqual(st, status, "%s: %s" % (name, data[:400]))
        self.assertTrue(h["content-type"].startswith("application/json"), h)
        self.check_shape(shape, status, json.loads(data), words)
    test.__doc__ = "%s -> %d %s: %s" % (path, status, shape, words)
    return test


for _c in CASES:
    setattr(Strict, "test_refuse_" + _c[0], _make(_c))


class Hostile(unittest.TestCase):
    """Malformed requests (values of the wrong type anywhere, seeded random
    mutations of valid requests to every endpoint) get an answer in the
    service's shape, never a 5xx or a dropped connection (a mock bug would
    look like an upstream fault to the daemon under test)."""

    MUTATIONS = int(os.environ.get("API_MOCK_MUTATIONS", "600"))
    VALUES = [None, 1, -1, 1.5, True, "", "x", [], {}, [None], [1], [""], [{}], {"a": None},
              {"type": None}, {"role": "user"}, [{"type": "text"}],
              [{"role": None, "content": None}]]
    BASES = [
        ("claude", "/v1/messages", A, with_(CLAUDE, max_tokens=4000, messages=TOOL_LOOP,
                                            tools=[{"name": "get_weather", "input_schema": SCHEMA}],
                                            thinking={"type": "disabled"}, stop_sequences=["a"],
                                            system=[{"type": "text", "text": "x"}])),
        ("claude", "/v1/messages/count_tokens", A, with_(CLAUDE, max_tokens=None)),
        ("openai", "/v1/chat/completions", B, with_(CHAT, messages=[
            {"role": "user", "content": [{"type": "text", "text": "x"}]}, CHAT_CALL,
            {"role": "tool", "tool_call_id": "call_1", "content": "r"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}],
            tool_choice={"type": "function", "function": {"name": "f"}}, stop=["a"], stream=True,
            stream_options={"include_usage": True})),
        ("openai", "/v1/completions", B, {"model": "m", "prompt": "x", "stop": "a"}),
        ("openai", "/v1/responses", B, with_(RESP, stream=True, input=[
            {"role": "user", "content": [{"type": "input_text", "text": "x"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "r"},
            {"type": "reasoning", "id": "rs", "summary": [],
             "encrypted_content": api_mock.ENC_CONTENT}],
            tools=[{"type": "function", "name": "f", "parameters": SCHEMA}],
            reasoning={"effort": "low", "summary": "auto"},
            include=["reasoning.encrypted_content"])),
        ("detail", "/backend-api/codex/responses", CX, CODEX),
        ("gemini", "/v1beta/models/gemini-think-tools:streamGenerateContent?alt=sse", G, {
            "contents": [GEM["contents"][0], {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {}},
                 "thoughtSignature": api_mock.GEMINI_SIGNATURE}]},
                {"role": "user", "parts": [{"functionResponse": {
                    "name": "get_weather", "response": {"output": "x"}}}]}],
            "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": SCHEMA}]}],
            "generationConfig": {"stopSequences": ["a"], "maxOutputTokens": 5,
                                 "thinkingConfig": {"includeThoughts": True}},
            "systemInstruction": {"parts": [{"text": "s"}]}}),
        ("gemini", "/v1beta/models/g:countTokens", G, GEM),
        ("gemini", "/v1internal:streamGenerateContent?alt=sse", B, CLI),
        ("gemini", "/v1internal:countTokens", B, {"request": GEM}),
    ]

    def mutate(self, rnd, obj):
        obj = copy.deepcopy(obj)
        paths = []

        def walk(x, p):
            paths.append(p)
            if isinstance(x, dict):
                for k, v in x.items():
                    walk(v, p + [k])
            elif isinstance(x, list):
                for i, v in enumerate(x):
                    walk(v, p + [i])
        walk(obj, [])
        p = rnd.choice(paths)
        if not p:
            return rnd.choice(self.VALUES)
        parent = obj
        for k in p[:-1]:
            parent = parent[k]
        parent[p[-1]] = rnd.choice(self.VALUES)
        return obj

    def test_mutations_never_break_the_mock(self):
        import random
        rnd = random.Random(int(os.environ.get("API_MOCK_SEED", "11")))
        m = api_mock.ApiMock().start()
        statuses = {}
        try:
            for i in range(self.MUTATIONS):
                shape, path, h, body = rnd.choice(self.BASES)
                for _ in range(rnd.randint(1, 3)):
                    body = self.mutate(rnd, body)
                st, hd, data = call(m.port, path, body, h)
                statuses[st] = statuses.get(st, 0) + 1
                where = "%s %s" % (path, json.dumps(body)[:300])
                self.assertLess(st, 500, where + " -> " + data.decode()[:300])
                if st >= 400:
                    d = json.loads(data)
                    if shape == "claude":
                        self.assertEqual(d["type"], "error", where)
                    elif shape == "detail" and "detail" in d:
                        self.assertIsInstance(d["detail"], str, where)
                    else:
                        self.assertIsInstance(d["error"]["message"], str, where)
            self.assertEqual([e for e in m.events() if e["kind"] == "mock_bug"], [])
        finally:
            m.stop()
        print("# %d mutated requests: %s" % (self.MUTATIONS, sorted(statuses.items())))
        self.assertGreater(statuses.get(200, 0), 0)
        self.assertGreater(statuses.get(400, 0), self.MUTATIONS // 2)


def sse_events(data):
    """[(event, data-json)] of an SSE body (CRLF or LF separated)."""
    out = []
    for block in data.decode().replace("\r\n", "\n").split("\n\n"):
        ev, payload = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                payload = line[6:]
        if payload is not None:
            out.append((ev, payload if payload == "[DONE]" else json.loads(payload)))
    return out


class Behaviour(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = api_mock.ApiMock().start()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def post(self, path, body, headers):
        st, h, data = call(self.mock.port, path, body, headers)
        return st, h, data

    def test_retry_hints_per_service(self):
        st, h, d = self.post("/v1/messages", with_(CLAUDE, model="claude-err429x12"), A)
        self.assertEqual((st, h.get("retry-after")), (429, "12"))
        self.assertEqual(json.loads(d)["error"]["type"], "rate_limit_error")
        st, h, d = self.post("/v1/chat/completions", with_(CHAT, model="m-err429"), B)
        self.assertEqual((st, h.get("retry-after")), (429, "7"))
        self.assertEqual(json.loads(d)["error"]["code"], "rate_limit_exceeded")
        st, h, d = self.post("/v1beta/models/gemini-err429x30:generateContent", GEM, G)
        self.assertEqual(st, 429)
        self.assertNotIn("retry-after", h)
        details = json.loads(d)["error"]["details"]
        ri = [x for x in details if x["@type"].endswith("google.rpc.RetryInfo")]
        self.assertEqual(ri, [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                               "retryDelay": "30s"}])
        st, h, d = self.post("/backend-api/codex/responses", CODEX,
                             hdr(CX, Authorization="Bearer tok-err429x90"))
        err = json.loads(d)["error"]
        self.assertEqual((st, err["type"], err["resets_in_seconds"]), (429, "usage_limit_reached", 90))

    def test_stop_reasons(self):
        st, _, d = self.post("/v1/messages", with_(CLAUDE, model="claude-length"), A)
        m = json.loads(d)
        self.assertEqual((m["stop_reason"], m["content"][0]["text"]), ("max_tokens", "Hello from"))
        st, _, d = self.post("/v1/messages", with_(CLAUDE, max_tokens=3), A)
        self.assertEqual(json.loads(d)["stop_reason"], "max_tokens")
        st, _, d = self.post("/v1/messages", with_(CLAUDE, stop_sequences=["the"]), A)
        m = json.loads(d)
        self.assertEqual((m["stop_reason"], m["stop_sequence"], m["content"][0]["text"]),
                         ("stop_sequence", "the", "Hello from "))
        st, _, d = self.post("/v1/chat/completions", with_(CHAT, max_completion_tokens=1), B)
        self.assertEqual(json.loads(d)["choices"][0]["finish_reason"], "length")
        st, _, d = self.post("/v1/responses", with_(RESP, max_output_tokens=2), B)
        r = json.loads(d)
        self.assertEqual((r["status"], r["incomplete_details"]),
                         ("incomplete", {"reason": "max_output_tokens"}))
        st, _, d = self.post("/v1beta/models/gemini-length:generateContent", GEM, G)
        self.assertEqual(json.loads(d)["candidates"][0]["finishReason"], "MAX_TOKENS")

    def test_usage_cached_and_reasoning(self):
        st, _, d = self.post("/v1/chat/completions", with_(CHAT, model="m-think-cache", messages=[
            {"role": "user", "content": "x" * 40}]), B)
        u = json.loads(d)["usage"]
        self.assertEqual(u["prompt_tokens"], 11)  # "user" + 40 x: 44 characters
        self.assertEqual(u["prompt_tokens_details"]["cached_tokens"], 5)
        self.assertEqual(u["completion_tokens_details"]["reasoning_tokens"], 8)
        st, _, d = self.post("/v1/messages", with_(CLAUDE, model="claude-cache", messages=[
            {"role": "user", "content": "x" * 40}]), A)
        u = json.loads(d)["usage"]
        self.assertEqual((u["input_tokens"], u["cache_read_input_tokens"]), (6, 5))
        st, _, d = self.post("/v1beta/models/gemini-think-cache:generateContent",
                             {"contents": [{"role": "user", "parts": [{"text": "x" * 40}]}]}, G)
        u = json.loads(d)["usageMetadata"]
        self.assertEqual((u["promptTokenCount"], u["cachedContentTokenCount"],
                          u["thoughtsTokenCount"]), (11, 5, 8))

    def test_claude_stream_shape(self):
        st, h, d = self.post("/v1/messages", with_(CLAUDE, model="claude-tools", stream=True,
                                                   tools=[{"name": "f", "input_schema": SCHEMA}]), A)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        evs = sse_events(d)
        names = [e for e, _ in evs]
        self.assertEqual(names[:2], ["message_start", "ping"])
        self.assertEqual(names[-2:], ["message_delta", "message_stop"])
        for e, data in evs:
            self.assertEqual(e, data["type"])
        starts = [x for e, x in evs if e == "content_block_start"]
        self.assertEqual([s["index"] for s in starts], [0, 1])
        args = "".join(x["delta"]["partial_json"] for e, x in evs
                       if e == "content_block_delta" and x["index"] == 1)
        self.assertEqual(json.loads(args), {"city": "Tokyo"})
        self.assertEqual(evs[-2][1]["delta"]["stop_reason"], "tool_use")

    def test_responses_stream_sequence(self):
        st, _, d = self.post("/v1/responses", with_(RESP, stream=True), B)
        evs = sse_events(d)
        self.assertEqual([x["sequence_number"] for _, x in evs], list(range(len(evs))))
        self.assertEqual(evs[0][0], "response.created")
        self.assertEqual(evs[-1][0], "response.completed")
        for e, x in evs:
            self.assertEqual(e, x["type"])

    def test_chat_stream_usage_chunk_and_done(self):
        st, _, d = self.post("/v1/chat/completions", with_(CHAT, stream=True,
                                                           stream_options={"include_usage": True}), B)
        evs = sse_events(d)
        self.assertEqual(evs[-1], (None, "[DONE]"))
        self.assertEqual(evs[0][1]["choices"][0]["delta"]["role"], "assistant")
        last = evs[-2][1]
        self.assertEqual((last["choices"], last["usage"]["total_tokens"]), ([], 6))
        self.assertEqual(evs[-3][1]["choices"][0]["finish_reason"], "stop")
        st, _, d = self.post("/v1/chat/completions", with_(CHAT, stream=True), B)
        self.assertNotIn("usage", sse_events(d)[0][1])

    def test_gemini_streams(self):
        st, h, d = self.post("/v1beta/models/gemini-x:streamGenerateContent", GEM, G)
        self.assertTrue(h["content-type"].startswith("application/json"))
        arr = json.loads(d)
        self.assertEqual("".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in arr),
                         api_mock.TEXT)
        st, h, d = self.post("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", GEM, G)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        self.assertIn(b"\r\n\r\n", d)
        evs = sse_events(d)
        self.assertEqual(len(evs), len(arr))
        self.assertEqual(evs[-1][1]["candidates"][0]["finishReason"], "STOP")

    def test_gemini_cli_envelope(self):
        st, _, d = self.post("/v1internal:generateContent", CLI, B)
        r = json.loads(d)
        self.assertEqual(set(r), {"response"})
        self.assertEqual(r["response"]["candidates"][0]["content"]["parts"][0]["text"],
                         api_mock.TEXT)
        st, _, d = self.post("/v1internal:streamGenerateContent?alt=sse", CLI, B)
        evs = sse_events(d)
        self.assertTrue(evs and all(set(x) == {"response"} for _, x in evs))
        st, _, d = self.post("/v1internal:countTokens", {"request": with_(GEM, model="models/g")}, B)
        self.assertEqual(set(json.loads(d)), {"totalTokens", "promptTokensDetails"})

    def test_midstream_error_events(self):
        st, _, d = self.post("/v1/messages", with_(CLAUDE, model="claude-midstream", stream=True), A)
        evs = sse_events(d)
        self.assertEqual(evs[-1], ("error", {"type": "error", "error": {
            "type": "overloaded_error", "message": "Overloaded"}}))
        st, _, d = self.post("/v1/responses", with_(RESP, model="gpt-midstream", stream=True), B)
        evs = sse_events(d)
        self.assertEqual(evs[-1][0], "response.failed")
        self.assertEqual(evs[-1][1]["response"]["error"]["code"], "server_error")
        st, _, d = self.post("/v1/chat/completions", with_(CHAT, model="m-midstream", stream=True), B)
        evs = sse_events(d)
        self.assertIn("error", evs[-1][1])
        self.assertNotIn((None, "[DONE]"), evs)

    def test_midclose_truncates(self):
        c = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        c.request("POST", "/v1/chat/completions",
                  body=json.dumps(with_(CHAT, model="m-midclose", stream=True)), headers=B)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()

    def test_drip_records_client_close(self):
        self.mock.reset()
        s = socket.create_connection(("127.0.0.1", self.mock.port))
        body = json.dumps(with_(CHAT, model="m-drip", stream=True)).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        got = b""
        t0 = time.time()
        while got.count(b"data: ") < 3:
            got += s.recv(4096)
        took = time.time() - t0
        s.close()
        self.assertGreater(took, 0.15)  # events come drip_interval apart
        for _ in range(50):
            evs = [e for e in self.mock.events() if e["kind"] == "client_closed"]
            if evs:
                break
            time.sleep(0.1)
        self.assertEqual(len(evs), 1, self.mock.events())
        self.assertLess(evs[0]["sent"], 20)

    def test_slow_answer_and_client_close(self):
        self.mock.slow_seconds = 0.6
        t0 = time.time()
        st, _, d = self.post("/v1/messages", with_(CLAUDE, model="claude-slow"), A)
        self.assertGreaterEqual(time.time() - t0, 0.6)
        self.assertEqual(st, 200)
        self.mock.reset()
        self.mock.slow_seconds = 5
        s = socket.create_connection(("127.0.0.1", self.mock.port))
        body = json.dumps(with_(CHAT, model="m-slow")).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        time.sleep(0.3)
        s.close()
        for _ in range(30):
            if self.mock.events():
                break
            time.sleep(0.1)
        self.assertEqual([e["kind"] for e in self.mock.events()], ["client_closed"])
        self.mock.slow_seconds = 3.0

    def test_prefix_and_records(self):
        self.mock.reset()
        st, _, _ = self.post("/openai/v1/chat/completions", CHAT, B)
        self.assertEqual(st, 200)
        rec = self.mock.last()
        self.assertEqual((rec["api"], rec["prefix"], rec["json"]["model"]), ("chat", "/openai/v1", "m"))
        self.assertEqual(rec["headers"]["authorization"], "Bearer sk-test")
        st, _, d = call(self.mock.port, "/_mock/requests", None, {}, method="GET")
        self.assertEqual(len(json.loads(d)), 1)
        st, _, _ = call(self.mock.port, "/_mock/reset", {}, {})
        self.assertEqual(self.mock.requests(), [])

    def test_script_by_name(self):
        """A model name without tokens can be scripted (preview fallback
        tests): in process and over HTTP, and cleared again."""
        self.mock.script("gemini-2.5-pro", "err429x30")
        try:
            st, _, _ = self.post("/v1beta/models/gemini-2.5-pro:generateContent", GEM, G)
            self.assertEqual(st, 429)
            st, _, _ = self.post("/v1beta/models/gemini-2.5-pro-preview-05-06:generateContent",
                                 GEM, G)
            self.assertEqual(st, 200)
        finally:
            self.mock.script("gemini-2.5-pro", "")
        st, _, _ = self.post("/v1beta/models/gemini-2.5-pro:generateContent", GEM, G)
        self.assertEqual(st, 200)
        st, _, _ = call(self.mock.port, "/_mock/script", {"name": "sk-bad", "script": "err401"}, {})
        self.assertEqual(st, 200)
        st, _, _ = self.post("/v1/chat/completions", CHAT, {"Authorization": "Bearer sk-bad"})
        self.assertEqual(st, 401)
        st, _, _ = call(self.mock.port, "/_mock/script", {"name": "sk-bad", "script": ""}, {})
        st, _, _ = self.post("/v1/chat/completions", CHAT, {"Authorization": "Bearer sk-bad"})
        self.assertEqual(st, 200)
        st, _, _ = call(self.mock.port, "/_mock/script", b"[]", {})
        self.assertEqual(st, 400)

    def test_model_lists(self):
        st, _, d = call(self.mock.port, "/v1/models", None, B, method="GET")
        self.assertEqual(json.loads(d)["object"], "list")
        st, _, d = call(self.mock.port, "/v1/models", None, A, method="GET")
        self.assertIn("has_more", json.loads(d))
        st, _, d = call(self.mock.port, "/v1beta/models", None, G, method="GET")
        self.assertTrue(json.loads(d)["models"][0]["name"].startswith("models/"))

    def test_unknown_route(self):
        st, _, d = self.post("/v2/whatever", {}, B)
        self.assertEqual(st, 404)
        self.assertIn("no route", json.loads(d)["error"]["message"])

    def test_standalone_mode(self):
        with tempfile.TemporaryDirectory() as tmp:
            pf = os.path.join(tmp, "port")
            p = subprocess.Popen([sys.executable, api_mock.__file__, "--port-file", pf],
                                 stdout=subprocess.PIPE, text=True)
            try:
                line = p.stdout.readline()
                self.assertRegex(line, r"^PORT \d+$")
                port = int(line.split()[1])
                with open(pf) as f:
                    self.assertEqual(int(f.read()), port)
                st, _, _ = call(port, "/v1/messages", CLAUDE, A)
                self.assertEqual(st, 200)
                st, _, d = call(port, "/_mock/requests", None, {}, method="GET")
                self.assertEqual(json.loads(d)[0]["api"], "claude")
            finally:
                p.terminate()
                p.wait(5)


if __name__ == "__main__":
    tap.main()

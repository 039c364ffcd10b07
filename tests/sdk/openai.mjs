// openai.mjs - the official OpenAI SDK (npm "openai") against a base URL:
// Chat Completions, Completions and Responses scenarios, one JSON line each
// (see common.mjs for options and output).
//   node tests/sdk/openai.mjs --base-url http://127.0.0.1:PORT/v1 --key K --model gpt-5
// With --codex-base-url (the mock's Codex backend, e.g. http://127.0.0.1:PORT/backend-api/codex)
// a codex_stream scenario talks the ChatGPT backend protocol too.
import OpenAI from 'openai';
import { options, run, failure, WEATHER_SCHEMA } from './common.mjs';

const o = options();
const client = new OpenAI({ apiKey: o.key, baseURL: o.baseUrl, maxRetries: 0, timeout: 20000 });

const chatTools = [{
  type: 'function',
  function: { name: 'get_weather', description: 'weather of a city', parameters: WEATHER_SCHEMA },
}, {
  type: 'function',
  function: { name: 'get_time', description: 'local time of a city', parameters: WEATHER_SCHEMA },
}];
const respTools = chatTools.map((t) => ({ type: 'function', ...t.function, strict: false }));
const user = [{ role: 'user', content: 'Say hello.' }];

function toolResult(name, args) {
  return `${name}(${JSON.parse(args).city}) ok`;
}

async function chatToolRound(model, stream) {
  let first;
  if (stream) {
    const s = client.chat.completions.stream({ model, messages: user, tools: chatTools });
    let argDeltas = 0;
    for await (const chunk of s) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls || []) {
        if (tc.function?.arguments) argDeltas++;
      }
    }
    first = await s.finalChatCompletion();
    first.argDeltas = argDeltas;
  } else {
    first = await client.chat.completions.create({ model, messages: user, tools: chatTools });
  }
  const msg = first.choices[0].message;
  const calls = (msg.tool_calls || []).map((c) => ({ id: c.id, name: c.function.name,
    arguments: JSON.parse(c.function.arguments) }));
  const messages = [...user, { role: 'assistant', content: msg.content ?? null, tool_calls: msg.tool_calls },
    ...msg.tool_calls.map((c) => ({ role: 'tool', tool_call_id: c.id,
      content: toolResult(c.function.name, c.function.arguments) }))];
  const second = await client.chat.completions.create({ model, messages, tools: chatTools });
  return { calls, finish_reason: first.choices[0].finish_reason, arg_deltas: first.argDeltas,
    answer: second.choices[0].message.content, answer_finish: second.choices[0].finish_reason };
}

async function responsesStream(params) {
  const s = client.responses.stream(params);
  const types = [];
  const seqs = [];
  let text = '';
  for await (const ev of s) {
    types.push(ev.type);
    seqs.push(ev.sequence_number);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  const final = await s.finalResponse();
  const ordered = seqs.every((n, i) => n === i);
  return { final, types, text, sequence_ok: ordered };
}

function respUsage(u) {
  return u && { input: u.input_tokens, output: u.output_tokens,
    cached: u.input_tokens_details?.cached_tokens, reasoning: u.output_tokens_details?.reasoning_tokens };
}

await run('openai', o, {
  chat_text: async () => {
    const r = await client.chat.completions.create({ model: o.model, messages: user });
    return { id: r.id, text: r.choices[0].message.content, finish_reason: r.choices[0].finish_reason,
      usage: { prompt: r.usage.prompt_tokens, completion: r.usage.completion_tokens } };
  },
  chat_stream: async () => {
    const s = await client.chat.completions.create({ model: o.model, messages: user, stream: true,
      stream_options: { include_usage: true } });
    let text = ''; let chunks = 0; let finish = null; let usage = null; let role = null;
    for await (const c of s) {
      chunks++;
      if (c.usage) usage = { prompt: c.usage.prompt_tokens, completion: c.usage.completion_tokens };
      const ch = c.choices[0];
      if (!ch) continue;
      if (ch.delta.role) role = ch.delta.role;
      if (ch.delta.content) text += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    return { text, role, finish_reason: finish, usage, chunks };
  },
  chat_tools: () => chatToolRound(o.toolsModel, false),
  chat_tools_stream: () => chatToolRound(o.toolsModel, true),
  chat_think: async () => {
    const r = await client.chat.completions.create({ model: o.thinkModel, messages: user,
      reasoning_effort: 'low' });
    return { text: r.choices[0].message.content, reasoning_content: r.choices[0].message.reasoning_content,
      reasoning_tokens: r.usage.completion_tokens_details?.reasoning_tokens };
  },
  chat_error: async () => failure(() => client.chat.completions.create({ model: o.errorModel,
    messages: user })),
  chat_stream_error: async () => {
    let text = '';
    const f = await failure(async () => {
      const s = await client.chat.completions.create({ model: o.midstreamModel, messages: user, stream: true });
      for await (const c of s) text += c.choices[0]?.delta?.content || '';
    });
    return { ...f, text };
  },
  completions: async () => {
    const r = await client.completions.create({ model: o.model, prompt: 'Say hello.' });
    return { text: r.choices[0].text, finish_reason: r.choices[0].finish_reason };
  },
  responses_text: async () => {
    const r = await client.responses.create({ model: o.model, input: 'Say hello.' });
    return { id: r.id, status: r.status, text: r.output_text, usage: respUsage(r.usage) };
  },
  responses_stream: async () => {
    const { final, types, text, sequence_ok: seq } = await responsesStream({ model: o.model,
      input: 'Say hello.' });
    return { text, final_text: final.output_text, status: final.status, sequence_ok: seq,
      first: types[0], last: types[types.length - 1], usage: respUsage(final.usage) };
  },
  responses_tools: async () => {
    const { final } = await responsesStream({ model: o.toolsModel, input: 'Weather?', tools: respTools });
    const calls = final.output.filter((i) => i.type === 'function_call');
    const input = [{ role: 'user', content: 'Weather?' }, ...calls.map((c) => ({ type: 'function_call',
      call_id: c.call_id, name: c.name, arguments: c.arguments })),
    ...calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id,
      output: toolResult(c.name, c.arguments) }))];
    const second = await client.responses.create({ model: o.toolsModel, input, tools: respTools });
    return { calls: calls.map((c) => ({ call_id: c.call_id, name: c.name,
      arguments: JSON.parse(c.arguments) })), answer: second.output_text };
  },
  responses_think: async () => {
    const params = { model: o.thinkModel, input: 'Think.', store: false,
      reasoning: { effort: 'low', summary: 'auto' }, include: ['reasoning.encrypted_content'] };
    const { final } = await responsesStream(params);
    const rs = final.output.find((i) => i.type === 'reasoning');
    // the next turn carries the reasoning item back (stateless, encrypted)
    const next = await client.responses.create({ ...params, input: [{ role: 'user', content: 'Think.' },
      rs, { role: 'assistant', content: [{ type: 'output_text', text: final.output_text }] },
      { role: 'user', content: 'Again.' }] });
    return { summary: rs.summary.map((s) => s.text).join(''), encrypted: !!rs.encrypted_content,
      text: final.output_text, usage: respUsage(final.usage), next_text: next.output_text };
  },
  responses_error: async () => failure(() => client.responses.create({ model: o.errorModel,
    input: 'x' })),
  models_list: async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    return { ids, includes_model: ids.includes(o.model) };
  },
  ...(o.codexBaseUrl ? {
    codex_stream: async () => {
      const codex = new OpenAI({ apiKey: o.key, baseURL: o.codexBaseUrl, maxRetries: 0,
        defaultHeaders: { 'chatgpt-account-id': 'acct-mock', originator: 'codex_cli_rs',
          'OpenAI-Beta': 'responses=experimental' } });
      const s = codex.responses.stream({ model: o.toolsModel, instructions: '', input: 'Weather?',
        tools: respTools, store: false, stream: true });
      const final = await s.finalResponse();
      return { status: final.status, calls: final.output.filter((i) => i.type === 'function_call')
        .map((c) => c.name) };
    },
  } : {}),
});

// anthropic.mjs - the official Anthropic SDK (npm "@anthropic-ai/sdk")
// against a base URL: Messages scenarios, one JSON line each (see
// common.mjs for options and output).
//   node tests/sdk/anthropic.mjs --base-url http://127.0.0.1:PORT --key K --model claude-sonnet-4-5
import Anthropic from '@anthropic-ai/sdk';
import { options, run, failure, WEATHER_SCHEMA } from './common.mjs';

const o = options();
const client = new Anthropic({ apiKey: o.key, baseURL: o.baseUrl, maxRetries: 0, timeout: 20000 });

const tools = [
  { name: 'get_weather', description: 'weather of a city', input_schema: WEATHER_SCHEMA },
  { name: 'get_time', description: 'local time of a city', input_schema: WEATHER_SCHEMA },
];
const user = [{ role: 'user', content: 'Say hello.' }];
const thinking = { type: 'enabled', budget_tokens: 1024 };

function textOf(msg) {
  return msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
}

function usage(u) {
  return { input: u.input_tokens, output: u.output_tokens, cache_read: u.cache_read_input_tokens };
}

// Stream a turn that calls tools, send the results, return both turns.
async function toolRound(model, extra) {
  const s = client.messages.stream({ model, max_tokens: 2048, messages: user, tools, ...extra });
  let jsonDeltas = 0;
  s.on('streamEvent', (ev) => {
    if (ev.type === 'content_block_delta' && ev.delta.type === 'input_json_delta') jsonDeltas++;
  });
  const first = await s.finalMessage();
  const uses = first.content.filter((b) => b.type === 'tool_use');
  const messages = [...user, { role: 'assistant', content: first.content },
    { role: 'user', content: uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id,
      content: `${u.name}(${u.input.city}) ok` })) }];
  const second = await client.messages.create({ model, max_tokens: 2048, messages, tools, ...extra });
  return { first, second, uses, jsonDeltas };
}

await run('anthropic', o, {
  messages_text: async () => {
    const r = await client.messages.create({ model: o.model, max_tokens: 256, messages: user });
    return { id: r.id, text: textOf(r), stop_reason: r.stop_reason, usage: usage(r.usage) };
  },
  messages_stream: async () => {
    const s = client.messages.stream({ model: o.model, max_tokens: 256, messages: user });
    let text = '';
    const types = [];
    s.on('text', (t) => { text += t; });
    s.on('streamEvent', (ev) => types.push(ev.type));
    const m = await s.finalMessage();
    return { text, final_text: textOf(m), stop_reason: m.stop_reason, usage: usage(m.usage),
      first: types[0], last: types[types.length - 1] };
  },
  messages_tools: async () => {
    const { first, second, uses, jsonDeltas } = await toolRound(o.toolsModel, {});
    return { calls: uses.map((u) => ({ id: u.id, name: u.name, input: u.input })),
      stop_reason: first.stop_reason, json_deltas: jsonDeltas, answer: textOf(second),
      answer_stop: second.stop_reason };
  },
  messages_think: async () => {
    const s = client.messages.stream({ model: o.thinkModel, max_tokens: 2048, messages: user, thinking });
    let thought = '';
    s.on('thinking', (t) => { thought += t; });
    const m = await s.finalMessage();
    const th = m.content.find((b) => b.type === 'thinking');
    return { thinking: thought, signature: th && th.signature, text: textOf(m),
      blocks: m.content.map((b) => b.type) };
  },
  messages_think_tools: async () => {
    // thinking + tools: the thinking block (with its signature) goes back
    // in the assistant turn, as the API demands.
    const { first, second, uses } = await toolRound(o.thinkToolsModel, { thinking });
    return { blocks: first.content.map((b) => b.type), calls: uses.map((u) => u.name),
      answer: textOf(second) };
  },
  messages_stop_sequence: async () => {
    const r = await client.messages.create({ model: o.model, max_tokens: 256, messages: user,
      stop_sequences: ['mock'] });
    return { text: textOf(r), stop_reason: r.stop_reason, stop_sequence: r.stop_sequence };
  },
  count_tokens: async () => {
    const r = await client.messages.countTokens({ model: o.model, messages: user, tools });
    return { input_tokens: r.input_tokens };
  },
  models_list: async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    return { ids, includes_model: ids.includes(o.model) };
  },
  messages_error: async () => {
    const f = await failure(() => client.messages.create({ model: o.errorModel, max_tokens: 16,
      messages: user }));
    return f;
  },
  messages_stream_error: async () => {
    let text = '';
    const f = await failure(async () => {
      const s = client.messages.stream({ model: o.midstreamModel, max_tokens: 256, messages: user });
      s.on('text', (t) => { text += t; });
      await s.finalMessage();
    });
    return { ...f, text };
  },
});

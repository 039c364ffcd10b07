// goldens.mjs - the official openai SDK parses the client answers of the
// codec goldens (tests/data/formats/openai-*--*/client_answer.*), served
// as they are by tests/integration/sdk_goldens.py. One JSON line per case:
//   {"case": ..., "ok": true, "result": {...}} or {"case": ..., "ok": false, "error": ...}
// Streams go through the SDK's own accumulators (chat.completions.stream,
// responses.stream), which check the event order as they build the answer.
//
//   node goldens.mjs --base-url http://127.0.0.1:PORT case...
import OpenAI from 'openai';

const argv = process.argv.slice(2);
if (argv[0] !== '--base-url' || argv.length < 2) {
  console.error('usage: node goldens.mjs --base-url URL case...');
  process.exit(2);
}
const base = argv[1];

async function one(name) {
  const client = name.split('--')[0];
  const stream = name.includes('--stream-');
  const o = new OpenAI({ apiKey: 'golden', baseURL: `${base}/${name}/v1`, maxRetries: 0 });
  const msgs = [{ role: 'user', content: 'x' }];
  if (client === 'openai-chat') {
    const r = stream
      ? await o.chat.completions.stream({ model: 'm', messages: msgs, stream: true }).finalChatCompletion()
      : await o.chat.completions.create({ model: 'm', messages: msgs });
    const c = r.choices[0];
    return {
      finish_reason: c.finish_reason,
      content: c.message.content ?? null,
      calls: (c.message.tool_calls ?? []).map((t) => [t.id, t.function.name, t.function.arguments]),
      usage: r.usage ?? null,
    };
  }
  let types = [];
  let r;
  if (stream) {
    const s = o.responses.stream({ model: 'm', input: 'x' });
    s.on('event', (e) => types.push([e.type, e.sequence_number]));
    r = await s.finalResponse();
  } else {
    r = await o.responses.create({ model: 'm', input: 'x' });
  }
  return {
    status: r.status,
    text: r.output_text,
    items: r.output.map((i) => i.type),
    calls: r.output.filter((i) => i.type === 'function_call').map((i) => [i.call_id, i.name, i.arguments]),
    usage: r.usage ?? null,
    events: types,
  };
}

for (const name of argv.slice(2)) {
  try {
    console.log(JSON.stringify({ case: name, ok: true, result: await one(name) }));
  } catch (e) {
    console.log(JSON.stringify({ case: name, ok: false, error: String(e?.message ?? e) }));
  }
}

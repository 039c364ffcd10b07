// gemini.mjs - the official Google Gen AI SDK (npm "@google/genai") against
// a base URL (the SDK adds /v1beta/models/...): generateContent,
// streamGenerateContent (SSE) and countTokens scenarios, one JSON line each
// (see common.mjs for options and output).
//   node tests/sdk/gemini.mjs --base-url http://127.0.0.1:PORT --key K --model gemini-2.5-pro
import { GoogleGenAI } from '@google/genai';
import { options, run, failure } from './common.mjs';

const o = options();
const ai = new GoogleGenAI({ apiKey: o.key, httpOptions: { baseUrl: o.baseUrl, timeout: 20000 } });

// Gemini's schema dialect: upper-case type names, no additionalProperties.
const schema = { type: 'OBJECT', properties: { city: { type: 'STRING', description: 'city name' } },
  required: ['city'] };
const tools = [{ functionDeclarations: [
  { name: 'get_weather', description: 'weather of a city', parameters: schema },
  { name: 'get_time', description: 'local time of a city', parameters: schema },
] }];
const contents = [{ role: 'user', parts: [{ text: 'Say hello.' }] }];

function usage(u) {
  return u && { prompt: u.promptTokenCount, candidates: u.candidatesTokenCount,
    thoughts: u.thoughtsTokenCount, cached: u.cachedContentTokenCount, total: u.totalTokenCount };
}

function textParts(parts) {
  return (parts || []).filter((p) => p.text && !p.thought).map((p) => p.text).join('');
}

async function toolRound(model, config) {
  const chunks = [];
  for await (const c of await ai.models.generateContentStream({ model, contents,
    config: { tools, ...config } })) chunks.push(c);
  const parts = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts || []);
  const calls = parts.filter((p) => p.functionCall);
  const history = [...contents, { role: 'model', parts },
    { role: 'user', parts: calls.map((p) => ({ functionResponse: { name: p.functionCall.name,
      response: { output: `${p.functionCall.name}(${p.functionCall.args.city}) ok` } } })) }];
  const second = await ai.models.generateContent({ model, contents: history, config: { tools, ...config } });
  return { parts, calls, second };
}

await run('gemini', o, {
  generate_text: async () => {
    const r = await ai.models.generateContent({ model: o.model, contents });
    return { text: r.text, finish_reason: r.candidates[0].finishReason, usage: usage(r.usageMetadata),
      response_id: r.responseId, model_version: r.modelVersion };
  },
  generate_stream: async () => {
    let text = ''; let n = 0; let finish = null; let u = null;
    for await (const c of await ai.models.generateContentStream({ model: o.model, contents })) {
      n++;
      text += c.text || '';
      if (c.candidates?.[0]?.finishReason) finish = c.candidates[0].finishReason;
      if (c.usageMetadata) u = usage(c.usageMetadata);
    }
    return { text, chunks: n, finish_reason: finish, usage: u };
  },
  generate_tools: async () => {
    const { calls, second } = await toolRound(o.toolsModel, {});
    return { calls: calls.map((p) => ({ name: p.functionCall.name, args: p.functionCall.args })),
      answer: second.text, answer_finish: second.candidates[0].finishReason };
  },
  generate_think: async () => {
    const r = await ai.models.generateContent({ model: o.thinkModel, contents,
      config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } } });
    const parts = r.candidates[0].content.parts;
    return { thoughts: parts.filter((p) => p.thought).map((p) => p.text).join(''),
      text: textParts(parts), signed: parts.some((p) => typeof p.thoughtSignature === 'string'),
      usage: usage(r.usageMetadata) };
  },
  generate_think_tools: async () => {
    // Gemini 3 style: the function call parts carry a thought signature
    // that must come back unchanged in the history.
    const { calls, second } = await toolRound(o.thinkToolsModel,
      { thinkingConfig: { includeThoughts: false } });
    return { calls: calls.map((p) => p.functionCall.name),
      signed: typeof calls[0]?.thoughtSignature === 'string', answer: second.text };
  },
  generate_stop_sequence: async () => {
    const r = await ai.models.generateContent({ model: o.model, contents,
      config: { stopSequences: ['mock'] } });
    return { text: r.text, finish_reason: r.candidates[0].finishReason };
  },
  count_tokens: async () => {
    const r = await ai.models.countTokens({ model: o.model, contents });
    return { total_tokens: r.totalTokens };
  },
  models_list: async () => {
    const names = [];
    for await (const m of await ai.models.list()) names.push(m.name);
    const one = await ai.models.get({ model: o.model });
    return { names, includes_model: names.includes(`models/${o.model}`), get_name: one.name };
  },
  generate_error: async () => failure(() => ai.models.generateContent({ model: o.errorModel, contents })),
  generate_stream_error: async () => {
    let text = '';
    const f = await failure(async () => {
      for await (const c of await ai.models.generateContentStream({ model: o.midstreamModel, contents })) {
        text += c.text || '';
      }
    });
    return { ...f, text };
  },
});

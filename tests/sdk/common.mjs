// common.mjs - argument parsing and the one-JSON-line-per-scenario output
// shared by the SDK scenario scripts (openai.mjs, anthropic.mjs, gemini.mjs).
//
// Every script takes the same options (or the environment variables named):
//   --base-url URL     SDK_BASE_URL  where the SDK sends requests
//   --key KEY          SDK_KEY       the API key the SDK presents
//   --model NAME       SDK_MODEL     the model of the text scenarios
//   --tools-model, --think-model, --think-tools-model, --error-model,
//   --midstream-model  default: MODEL-tools, MODEL-think, MODEL-think-tools,
//                      MODEL-err429, MODEL-midstream (the mock's scripts)
//   --only a,b         run only these scenarios
//   --list             print the scenario names and exit
// Output: one line per scenario,
//   {"sdk": ..., "scenario": ..., "ok": true, "result": {...}}
//   {"sdk": ..., "scenario": ..., "ok": false, "error": "...", "status": N}
// The exit status is 0 when every scenario ran (ok or not): the caller
// judges the results.

export function options(argv = process.argv.slice(2)) {
  const o = {
    baseUrl: process.env.SDK_BASE_URL,
    key: process.env.SDK_KEY,
    model: process.env.SDK_MODEL,
    only: null,
    list: false,
  };
  const names = {
    '--base-url': 'baseUrl', '--key': 'key', '--model': 'model',
    '--tools-model': 'toolsModel', '--think-model': 'thinkModel',
    '--think-tools-model': 'thinkToolsModel', '--error-model': 'errorModel',
    '--midstream-model': 'midstreamModel', '--codex-base-url': 'codexBaseUrl',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') { o.list = true; continue; }
    if (a === '--only') { o.only = argv[++i].split(','); continue; }
    if (!(a in names) || i + 1 >= argv.length) {
      console.error(`usage: node SCRIPT --base-url URL --key KEY --model NAME [--only a,b] (bad: ${a})`);
      process.exit(2);
    }
    o[names[a]] = argv[++i];
  }
  if (!o.list && (!o.baseUrl || !o.key || !o.model)) {
    console.error('need --base-url, --key and --model (or SDK_BASE_URL, SDK_KEY, SDK_MODEL)');
    process.exit(2);
  }
  const m = o.model;
  o.toolsModel ??= `${m}-tools`;
  o.thinkModel ??= `${m}-think`;
  o.thinkToolsModel ??= `${m}-think-tools`;
  o.errorModel ??= `${m}-err429`;
  o.midstreamModel ??= `${m}-midstream`;
  return o;
}

// The weather tool every tools scenario declares, in JSON schema.
export const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', description: 'city name' } },
  required: ['city'],
};

function errorInfo(e) {
  const out = { error: String(e && e.message || e) };
  if (e && typeof e.status === 'number') out.status = e.status;
  if (e && e.headers) {
    const h = e.headers;
    const ra = typeof h.get === 'function' ? h.get('retry-after') : h['retry-after'];
    if (ra != null) out.retry_after = ra;
  }
  if (e && e.constructor) out.class = e.constructor.name;
  return out;
}

export async function run(sdk, o, scenarios) {
  if (o.list) {
    for (const name of Object.keys(scenarios)) console.log(name);
    return;
  }
  for (const [name, fn] of Object.entries(scenarios)) {
    if (o.only && !o.only.includes(name)) continue;
    let line;
    try {
      const result = await fn();
      line = { sdk, scenario: name, ok: true, result };
    } catch (e) {
      line = { sdk, scenario: name, ok: false, ...errorInfo(e) };
    }
    console.log(JSON.stringify(line));
  }
}

// Expect a call to fail: the SDK's error becomes the result.
export async function failure(fn) {
  try {
    const r = await fn();
    return { threw: false, value: r };
  } catch (e) {
    return { threw: true, ...errorInfo(e) };
  }
}

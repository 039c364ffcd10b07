// common.mjs - argument parsing and the one-JSON-line-per-scenario output
// shared by the SDK scenario scripts (openai.mjs, anthropic.mjs, gemini.mjs).
//
// Every script takes the same options (or the environment variables named):
//   --base-url URL     SDK_BASE_URL  where the SDK sends requests
//   --key KEY          SDK_KEY       the API key the SDK presents
//   --model NAME       SDK_MODEL     the model of the text scenarios; a
//                      comma-separated list runs every scenario once per
//                      model (in one process), in that order
//   --tools-model, --think-model, --think-tools-model, --error-model,
//   --midstream-model  default: MODEL-tools, MODEL-think, MODEL-think-tools,
//                      MODEL-err429, MODEL-midstream (the mock's scripts)
//   --only a,b         run only these scenarios
//   --list             print the scenario names and exit
// Output: one line per scenario (and model),
//   {"sdk": ..., "scenario": ..., "model": ..., "t0": S, "t1": S, "ok": true, "result": {...}}
//   {"sdk": ..., "scenario": ..., "model": ..., "t0": S, "t1": S, "ok": false, "error": "...", "status": N}
// t0 and t1 (Unix seconds, float) bracket the scenario, so a caller can tell
// which requests a server or mock received for it.
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
  o.models = o.list ? [] : o.model.split(',');
  o.fixed = {};
  for (const k of DERIVED) if (o[k] != null) o.fixed[k] = o[k];
  if (o.models.length > 1 && Object.keys(o.fixed).length) {
    console.error('--tools-model and the like need a single --model');
    process.exit(2);
  }
  if (o.models.length) useModel(o, o.models[0]);
  return o;
}

const DERIVED = ['toolsModel', 'thinkModel', 'thinkToolsModel', 'errorModel', 'midstreamModel'];
const SUFFIX = { toolsModel: '-tools', thinkModel: '-think', thinkToolsModel: '-think-tools',
  errorModel: '-err429', midstreamModel: '-midstream' };

// Point o at model m: o.model and the scenario models derived from it.
function useModel(o, m) {
  o.model = m;
  for (const k of DERIVED) o[k] = o.fixed[k] ?? `${m}${SUFFIX[k]}`;
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
  for (const model of o.models) {
    useModel(o, model);
    for (const [name, fn] of Object.entries(scenarios)) {
      if (o.only && !o.only.includes(name)) continue;
      // Date.now() is whole milliseconds: without a pause, the previous
      // scenario's last upstream request can fall in this one's first
      // millisecond and be counted as this scenario's.
      await new Promise((res) => setTimeout(res, 3));
      const head = { sdk, scenario: name, model, t0: Date.now() / 1000 };
      let line;
      try {
        const result = await fn();
        line = { ...head, t1: Date.now() / 1000, ok: true, result };
      } catch (e) {
        line = { ...head, t1: Date.now() / 1000, ok: false, ...errorInfo(e) };
      }
      console.log(JSON.stringify(line));
    }
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

// extras.js - the panes of the endpoints beyond the spec (issue 13 and
// later): the whole config as YAML, the daemon's status, the audit log,
// the config history with restore, request logs, usage, and OAuth log-in.
// Each is shown only when the server has its endpoint (app.js asks).
// Where an answer's exact shape is not fixed by an issue, it is drawn
// generically (every member shown), so a newer server loses nothing.

import { withQuery } from './api.js';
import { h, say, msgEl, fmtBytes, fmtTime, confirmInline, Section } from './ui.js';

// The first array member of an answer ({"entries": [...]} or a bare array).
export function rowsOf(data) {
  if (Array.isArray(data))
    return data;
  if (data && typeof data === 'object')
    for (const v of Object.values(data))
      if (Array.isArray(v))
        return v;
  return [];
}

function text(v) {
  if (v === null || v === undefined)
    return '';
  if (typeof v === 'object')
    return Array.isArray(v) && v.every((x) => typeof x !== 'object') ? v.join(', ') : JSON.stringify(v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(v))
    return fmtTime(v);
  return String(v);
}

// A definition list of an object's members (nested objects flattened
// with dotted names).
function defList(obj, prefix, out) {
  out = out || h('dl', { class: 'kvs' });
  for (const [k, v] of Object.entries(obj || {})) {
    const name = prefix ? prefix + '.' + k : k;
    if (v && typeof v === 'object' && !Array.isArray(v))
      defList(v, name, out);
    else if (Array.isArray(v) && v.some((x) => x && typeof x === 'object'))
      out.append(h('dt', {}, name), h('dd', {}, table(v)));
    else
      out.append(h('dt', {}, name), h('dd', {}, text(v)));
  }
  return out;
}

// One line saying what a record is (audit entry, history version, log
// file): its time, what was done to what, by whom; every member is in
// the details below it.
function summary(r, lead) {
  const c = r.change && typeof r.change === 'object' ? r.change : {};
  const pick = (k) => (r[k] !== undefined && r[k] !== null ? r[k] : c[k]);
  const parts = [];
  if (pick('time'))
    parts.push(h('time', { datetime: pick('time') }, text(pick('time'))));
  const what = [pick('method'), pick('path')].filter((x) => x).join(' ');
  if (what)
    parts.push(h('span', {}, lead || '', h('code', {}, what)));
  if (r.name)
    parts.push(h('code', {}, r.name));
  const keys = pick('keys');
  if (Array.isArray(keys) && keys.length)
    parts.push(h('span', {}, 'changed: ' + keys.join(', ')));
  if (pick('client'))
    parts.push(h('span', {}, 'from ' + pick('client')));
  if (typeof r.size === 'number')
    parts.push(h('span', {}, fmtBytes(r.size)));
  if (r.status !== undefined && r.status !== null)
    parts.push(h('span', {}, 'status ' + r.status));
  return parts;
}

// A list of records: a summary line each, every member under "Details"
// (readable at any width).
function table(rows, actions, lead) {
  const ul = h('ul', { class: 'records' });
  rows.forEach((r, i) => {
    const li = h('li', { class: 'record' });
    if (r && typeof r === 'object') {
      li.append(h('div', { class: 'meta line' }, summary(r, lead)),
                h('details', {}, h('summary', {}, 'Details'), defList(r)));
    } else {
      li.append(text(r));
    }
    if (actions)
      li.append(actions(r, i));
    ul.append(li);
  });
  return ul;
}

// -------------------------------------------------------- config.yaml

class YamlEditor extends Section {
  constructor(app) {
    super(app);
    this.area = h('textarea', { id: 'yaml-text', rows: 24, spellcheck: false, class: 'code',
                                'aria-describedby': 'yaml-help', wrap: 'off' });
    this.el = h('form', { class: 'yaml', novalidate: true,
                          onsubmit: (ev) => { ev.preventDefault(); this.save(); } },
      h('p', { id: 'yaml-help', class: 'help' },
        'The whole config file, comments included. The management key is shown as a placeholder and ' +
        'the remote-management settings keep the values the file has, whatever you write here. ' +
        'The file is checked before it is written; a mistake is reported with its line.'),
      h('label', { for: 'yaml-text' }, 'config.yaml'), this.area,
      h('div', { class: 'actions' },
        h('button', { type: 'submit' }, 'Save the file'),
        h('button', { type: 'button', onclick: () => this.reload() }, 'Reload')),
      this.msg);
  }

  async fetch() {
    const r = await this.app.api.get('/config.yaml', { as: 'text' });
    this.etag = r.etag;
    this.loaded = r.data || '';
    this.area.value = this.loaded;
  }

  async reload() {
    if (await this.load())
      say(this.msg, 'Reloaded from the server.', 'ok');
  }

  // Not Section.change: a 412 must not replace what the user typed.
  async save() {
    const text = this.area.value;
    say(this.msg, 'Saving…', 'info');
    let r;
    try {
      r = await this.put(text, this.etag);
    } catch (e) {
      if (!e.conflict) {
        say(this.msg, e.message, 'error');
        return;
      }
      // someone changed the file: if it is still what we loaded (their
      // change was undone) send ours on the new ETag, else keep the text
      try {
        const now = await this.app.api.get('/config.yaml', { as: 'text' });
        if ((now.data || '') !== this.loaded) {
          say(this.msg, 'Someone else changed the config since this was loaded. Your text was not ' +
              'saved and is still here: copy what you need, then Reload to see theirs.', 'error');
          return;
        }
        r = await this.put(text, now.etag);
      } catch (e2) {
        say(this.msg, e2.message, 'error');
        return;
      }
    }
    const kept = r.data && Array.isArray(r.data.kept) ? r.data.kept : [];
    await this.load();
    say(this.msg, 'Saved.' + (kept.length ? ' Kept as they were in the file: ' + kept.join(', ') + '.' : ''),
        'ok');
    this.app.changed();
  }

  put(text, etag) {
    return this.app.api.request('PUT', '/config.yaml', {
      body: text, contentType: 'application/yaml; charset=utf-8', ifMatch: etag });
  }
}

// ------------------------------------------------------------- status

// What /status says about the daemon having the file as it is now.
// mine: the user made a change in this session (then "your change").
export function liveText(s, mine) {
  if (!s || typeof s !== 'object')
    return { state: 'unknown', text: 'status unknown' };
  const d = s.daemon;
  const running = d === undefined ? s.running !== false :
    d !== null && d !== false && !(typeof d === 'object' && d.running === false);
  if (!running)
    return { state: 'down', text: 'cliproxyd is not running: changes are saved and will be loaded when it starts' };
  if (s['in-sync'] === true)
    return { state: 'live', text: mine ? 'live: your change is loaded' :
      'live: cliproxyd has loaded the config as it is now' };
  const err = (d && (d['last-error'] || d.last_error || d.error)) || s['last-error'];
  if (err)
    return { state: 'error', text: 'cliproxyd did not load the file: ' + err };
  return { state: 'pending', text: 'waiting for cliproxyd to load the file…' };
}

class Status extends Section {
  constructor(app) {
    super(app);
    this.head = h('p', { class: 'state', id: 'status-state', role: 'status', 'aria-live': 'polite' });
    this.body = h('div', {});
    this.el = h('div', { class: 'status' },
      h('p', { class: 'help' }, 'Whether cliproxyd has loaded the config file as it is now, and what it reports.'),
      this.head, h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => this.load() }, 'Refresh')),
      this.msg, this.body);
  }

  async fetch() {
    const r = await this.app.api.get('/status');
    this.draw(r.data);
    say(this.msg, '', '');
  }

  draw(data) {
    const l = liveText(data, this.app.changedOnce);
    this.head.textContent = l.text;
    this.head.className = 'state ' + l.state;
    this.body.textContent = '';
    this.body.append(defList(data));
  }
}

// -------------------------------------------------------------- audit

class Audit extends Section {
  constructor(app) {
    super(app);
    this.limit = h('select', { id: 'audit-limit', onchange: () => this.load() },
      [20, 100, 500].map((n) => h('option', { value: n, selected: n === 100 }, String(n))));
    this.body = h('div', {});
    this.el = h('div', { class: 'audit' },
      h('p', { class: 'help' }, 'Every accepted change, newest first: when, from where, what. Never a secret.'),
      h('div', { class: 'inline' }, h('label', { for: 'audit-limit' }, 'Show the last'), this.limit,
        h('button', { type: 'button', onclick: () => this.load() }, 'Refresh')),
      this.msg, this.body);
  }

  async fetch() {
    const r = await this.app.api.get(withQuery('/audit', { limit: this.limit.value }));
    const rows = rowsOf(r.data);
    this.body.textContent = '';
    this.body.append(rows.length ? table(rows) : h('p', {}, 'No changes recorded yet.'));
  }
}

// ------------------------------------------------------------ history

class History extends Section {
  constructor(app) {
    super(app);
    this.body = h('div', {});
    this.el = h('div', { class: 'history' },
      h('p', { class: 'help' }, 'The config as it was before each of the last changes. Restoring one is ' +
        'itself a change (recorded, undoable); the remote-management settings stay as they are now.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => this.load() }, 'Refresh')),
      this.msg, this.body);
  }

  async fetch() {
    // the config's ETag first (the list itself has none): a restore is
    // refused if the file changed after this moment
    const cur = await this.app.api.get('/debug');
    const r = await this.app.api.get('/config/history');
    this.etag = r.etag || cur.etag;
    const rows = rowsOf(r.data);
    this.body.textContent = '';
    if (!rows.length) {
      this.body.append(h('p', {}, 'No earlier versions kept yet.'));
      return;
    }
    this.body.append(table(rows, (row) => {
      const msg = msgEl();
      const b = h('button', { type: 'button', 'aria-label': 'Restore version ' + row.id }, 'Restore');
      b.addEventListener('click', async () => {
        const yes = await confirmInline(b, 'Replace the config with the version of ' + text(row.time || row.id) +
                                        '?', 'Restore it');
        if (yes)
          await this.change((etag) => this.app.api.post(
            '/config/history/' + encodeURIComponent(row.id) + '/restore', undefined, etag),
            'Restored the version of ' + text(row.time || row.id) + '.', msg);
      });
      return h('div', { class: 'actions' }, b, msg);
    }, 'before '));
  }
}

// -------------------------------------------------------- request logs

class RequestLogs extends Section {
  constructor(app) {
    super(app);
    this.body = h('div', {});
    this.view = h('pre', { class: 'code view', tabindex: 0, hidden: true, 'aria-label': 'Request log' });
    this.clear = h('button', { type: 'button', class: 'danger', onclick: () => this.clearAll() },
                   'Delete all request logs…');
    this.el = h('div', { class: 'reqlogs' },
      h('p', { class: 'help' }, 'Proxied exchanges written while "Request log" is on (secrets masked).'),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => this.load() }, 'Refresh'),
        this.clear),
      this.msg, this.body, this.view);
  }

  async fetch() {
    const r = await this.app.api.get('/request-logs');
    const rows = rowsOf(r.data);
    this.body.textContent = '';
    this.clear.disabled = rows.length === 0;
    this.body.append(rows.length ? table(rows, (row) => {
      const msg = msgEl();
      const b = h('button', { type: 'button', 'aria-label': 'Show ' + row.name }, 'Show');
      b.addEventListener('click', () => this.show(row.name, msg));
      return h('div', { class: 'actions' }, b, msg);
    }) : h('p', {}, 'No request logs.'));
  }

  async show(name, msg) {
    try {
      const r = await this.app.api.get('/request-logs/' + encodeURIComponent(name), { as: 'text' });
      this.view.textContent = r.data;
      this.view.hidden = false;
      this.view.focus();
      say(msg, name + ' (' + fmtBytes(r.data.length) + ') shown below.', 'ok');
    } catch (e) {
      say(msg, e.message, 'error');
    }
  }

  async clearAll() {
    if (!await confirmInline(this.clear, 'Delete every request log file?', 'Delete them'))
      return;
    try {
      await this.app.api.del('/request-logs');
      this.view.hidden = true;
      await this.load();
      say(this.msg, 'Request logs deleted.', 'ok');
    } catch (e) {
      say(this.msg, e.message, 'error');
    }
  }
}

// -------------------------------------------------------------- usage

// GET /usage (issue 15): {from, to, step, by, series: [{key?, points:
// [{t, requests, errors, tokens, bytes, latency_ms}], totals}], totals}.
// Buckets without traffic are absent from points; the chart fills them
// with zero so that every series has one point per bucket of [from, to).
// The chart is inline SVG drawn here: no library, nothing from a CDN.
const USAGE_RANGES = [
  { id: 'day', label: 'Last 24 hours, hourly', seconds: 86400, step: 'hour' },
  { id: 'week', label: 'Last 7 days, hourly', seconds: 7 * 86400, step: 'hour' },
  { id: 'month', label: 'Last 30 days, daily', seconds: 30 * 86400, step: 'day' },
  { id: 'hour', label: 'Last hour, by minute', seconds: 3600, step: 'minute' },
];
const USAGE_METRICS = [
  { id: 'requests', label: 'Requests', of: (p) => p.requests },
  { id: 'tokens', label: 'Tokens (input + output)', of: (p) => p.tokens.input + p.tokens.output },
  { id: 'errors', label: 'Errors', of: (p) => p.errors },
];
const USAGE_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b',
  '#e377c2', '#7f7f7f', '#bcbd22'];
const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {}))
    el.setAttribute(k, String(v));
  for (const c of children)
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function fmtNum(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

// One polyline per series over the buckets of [from, to).
export function usageChart(data, metric) {
  const W = 640, H = 220, L = 56, R = 8, T = 10, B = 28;
  const step = { minute: 60, hour: 3600, day: 86400 }[data.step] || 3600;
  const n = Math.max(1, Math.round((data.to - data.from) / step));
  const lines = data.series.map((s) => {
    const v = new Array(n).fill(0);
    for (const p of s.points) {
      const i = Math.round((p.t - data.from) / step);
      if (i >= 0 && i < n)
        v[i] += metric.of(p);
    }
    return { name: s.key === undefined ? 'all' : (s.key === '' ? '(none)' : s.key), v };
  });
  const max = Math.max(1, ...lines.map((l) => Math.max(...l.v)));
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const when = (t) => new Date(t * 1000).toISOString().replace('T', ' ').slice(0, step < 86400 ? 16 : 10);
  const chart = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
                             'aria-label': metric.label + ' per ' + data.step, 'data-buckets': n },
    svg('line', { x1: L, y1: y(0), x2: W - R, y2: y(0), class: 'axis' }),
    svg('line', { x1: L, y1: T, x2: L, y2: y(0), class: 'axis' }),
    svg('text', { x: L - 4, y: T + 4, 'text-anchor': 'end', class: 'ymax' }, fmtNum(max)),
    svg('text', { x: L - 4, y: y(0), 'text-anchor': 'end' }, '0'),
    svg('text', { x: L, y: H - 8 }, when(data.from)),
    svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, when(data.to - step)));
  lines.forEach((l, k) => {
    chart.append(svg('polyline', {
      class: 'series', fill: 'none', stroke: USAGE_COLORS[k % USAGE_COLORS.length], 'stroke-width': 2,
      'data-name': l.name, points: l.v.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' '),
    }, svg('title', {}, l.name)));
  });
  const legend = h('ul', { class: 'legend' }, lines.map((l, k) =>
    h('li', {}, h('span', { class: 'swatch', style: 'background:' + USAGE_COLORS[k % USAGE_COLORS.length] }),
      l.name)));
  return h('div', { class: 'chart-box' }, chart, legend);
}

function usageTotals(data) {
  const head = ['', 'Requests', 'Errors', 'Input tokens', 'Output tokens', 'Cached', 'Reasoning',
                'p50 ms', 'p95 ms'];
  const row = (name, t) => h('tr', {}, h('th', { scope: 'row' }, name),
    [t.requests, t.errors, t.tokens.input, t.tokens.output, t.tokens.cached, t.tokens.reasoning,
     t.latency_ms.p50, t.latency_ms.p95].map((v) => h('td', {}, fmtNum(v))));
  const rows = data.by ? data.series.map((s) => row(s.key === '' ? '(none)' : s.key, s.totals)) : [];
  rows.push(row('Total', data.totals));
  return h('table', { class: 'totals' },
    h('thead', {}, h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, rows));
}

class Usage extends Section {
  constructor(app) {
    super(app);
    const sel = (id, label, opts) => {
      const s = h('select', { id, onchange: () => this.load() },
        opts.map((o) => h('option', { value: o.id }, o.label)));
      return [h('div', { class: 'field' }, h('label', { for: id }, label), s), s];
    };
    let f1, f2, f3;
    [f1, this.range] = sel('usage-range', 'Period', USAGE_RANGES);
    [f2, this.by] = sel('usage-by', 'Split by', [{ id: '', label: 'Nothing (total)' },
      { id: 'key', label: 'Client key' }, { id: 'model', label: 'Model' },
      { id: 'provider', label: 'Provider' }, { id: 'credential', label: 'Credential' }]);
    [f3, this.metric] = sel('usage-metric', 'Show', USAGE_METRICS);
    this.body = h('div', {});
    this.el = h('div', { class: 'usage' }, h('div', { class: 'controls' }, f1, f2, f3),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => this.load() }, 'Refresh')),
      this.msg, this.body);
  }

  async fetch() {
    const range = USAGE_RANGES.find((r) => r.id === this.range.value) || USAGE_RANGES[0];
    const metric = USAGE_METRICS.find((m) => m.id === this.metric.value) || USAGE_METRICS[0];
    const now = Math.floor(Date.now() / 1000);
    const q = { from: String(now - range.seconds), to: String(now), step: range.step };
    if (this.by.value)
      q.by = this.by.value;
    const r = await this.app.api.get(withQuery('/usage', q));
    this.body.textContent = '';
    if (!r.data.series.length)
      this.body.append(h('p', { class: 'help' }, 'No requests in this period.'));
    this.body.append(usageChart(r.data, metric), usageTotals(r.data));
  }
}

// --------------------------------------------------------------- OAuth

// PROVIDERS.md 6: GET /<provider>-auth-url -> {url, state}; the admin logs
// in at url; GET /get-auth-status?state= until ok or error; a panel on
// another machine pastes the URL the browser ended on (POST /oauth-callback).
const PROVIDERS = [
  { id: 'anthropic', label: 'Claude (Anthropic)' },
  { id: 'codex', label: 'Codex (OpenAI)' },
  { id: 'gemini-cli', label: 'Gemini CLI (Google)', project: true },
  { id: 'qwen', label: 'Qwen' },
];

class OAuth extends Section {
  constructor(app) {
    super(app);
    const rows = PROVIDERS.filter((p) => app.has('/' + p.id + '-auth-url')).map((p) => this.row(p));
    this.el = h('div', { class: 'oauth' },
      h('p', { class: 'help' }, 'Log an account in: the provider\'s page opens in a new tab. When it ends on ' +
        'a localhost address that does not load, paste that address here.'), rows, this.msg);
  }

  row(p) {
    const msg = msgEl();
    const parts = [];
    let project;
    if (p.project) {
      project = h('input', { id: 'oauth-project-' + p.id, type: 'text', spellcheck: false });
      parts.push(h('div', { class: 'field' }, h('label', { for: project.id }, 'Google Cloud project id (optional)'),
                   project));
    }
    const back = h('input', { id: 'oauth-back-' + p.id, type: 'url', spellcheck: false });
    const start = h('button', { type: 'button' }, 'Log in to ' + p.label);
    const send = h('button', { type: 'button' }, 'Send the address');
    let state = '';
    start.addEventListener('click', async () => {
      try {
        const q = project && project.value.trim() ? { project_id: project.value.trim() } : null;
        const r = await this.app.api.get(q ? withQuery('/' + p.id + '-auth-url', q) : '/' + p.id + '-auth-url');
        state = r.data.state;
        window.open(r.data.url, '_blank', 'noopener');
        say(msg, 'Waiting for the log-in to finish…', 'info');
        this.poll(state, msg);
      } catch (e) {
        say(msg, e.message, 'error');
      }
    });
    send.addEventListener('click', async () => {
      try {
        await this.app.api.post('/oauth-callback', { provider: p.id, redirect_url: back.value.trim() });
        say(msg, 'Address sent; finishing the log-in…', 'info');
        if (state)
          this.poll(state, msg);
      } catch (e) {
        say(msg, e.message, 'error');
      }
    });
    return h('section', { class: 'card' }, h('h3', {}, p.label), parts,
      h('div', { class: 'actions' }, start),
      h('div', { class: 'field' }, h('label', { for: back.id }, 'Address the browser ended on'), back),
      h('div', { class: 'actions' }, send), msg);
  }

  async poll(state, msg) {
    for (let i = 0; i < 300; i++) {
      let r;
      try {
        r = await this.app.api.get(withQuery('/get-auth-status', { state }));
      } catch (e) {
        say(msg, e.message, 'error');
        return;
      }
      if (r.data.status === 'ok') {
        say(msg, 'Logged in; the credential file is in Auth files.', 'ok');
        this.app.changed();
        return;
      }
      if (r.data.status === 'error') {
        say(msg, 'Log-in failed: ' + (r.data.error || 'no reason given'), 'error');
        return;
      }
      await new Promise((res) => setTimeout(res, 2000));
    }
    say(msg, 'Gave up waiting after 10 minutes.', 'error');
  }
}

function pane(Cls) {
  return (app) => {
    const s = new Cls(app);
    return { el: s.el, load: () => s.load(), section: s };
  };
}

export const yamlPane = pane(YamlEditor);
export const statusPane = pane(Status);
export const auditPane = pane(Audit);
export const historyPane = pane(History);
export const requestLogsPane = pane(RequestLogs);
export const usagePane = pane(Usage);
export const oauthPane = pane(OAuth);

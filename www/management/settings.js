// settings.js - every setting of spec/management-api.txt: the scalars (one
// table, SCALARS) and the lists (one table, LISTS), drawn by two
// Section kinds. A list item is added (PUT of the list with it appended,
// If-Match so nothing is overwritten), edited by index (PATCH
// {index, value}) and deleted by index (DELETE ?index=).

import { withQuery } from './api.js';
import { h, say, uid, msgEl, masked, Section } from './ui.js';

export const SCALARS = [
  { path: '/debug', key: 'debug', type: 'bool', label: 'Debug logging',
    help: 'Verbose logs from cliproxyd; takes effect without a restart.' },
  { path: '/request-log', key: 'request-log', type: 'bool', label: 'Request log',
    help: 'Write each proxied exchange (secrets masked) to the request-log directory.' },
  { path: '/request-retry', key: 'request-retry', type: 'int', min: 0, max: 100,
    label: 'Retries', help: 'Retries on 403, 408, 500, 502, 503, 504 and transport errors (0 to 100).' },
  { path: '/proxy-url', key: 'proxy-url', type: 'string', clearable: true,
    label: 'Outbound proxy URL', placeholder: 'socks5://user:pass@127.0.0.1:1080',
    help: 'Every upstream call goes through it: http, https, socks5, socks5h, socks4 or socks4a. Empty: direct.' },
  { path: '/quota-exceeded/switch-project', key: 'switch-project', type: 'bool',
    label: 'On quota exceeded, switch credential',
    help: 'On 429, move to the next credential without spending a retry.' },
  { path: '/quota-exceeded/switch-preview-model', key: 'switch-preview-model', type: 'bool',
    label: 'On quota exceeded, try preview models',
    help: 'When every credential is cooling down for a Gemini model, try its preview variants.' },
  { path: '/allow-localhost-unauthenticated', key: 'allow-localhost-unauthenticated', type: 'bool',
    label: 'Local clients need no API key',
    help: 'Clients on the proxy\'s own machine may call it without a client API key.' },
];

const KEY_FIELDS = [
  { name: 'api-key', label: 'API key', secret: true, required: true },
  { name: 'base-url', label: 'Base URL (optional)', type: 'url', placeholder: 'https://…' },
];

export const LISTS = [
  { id: 'api-keys', path: '/api-keys', key: 'api-keys', kind: 'string', secret: true,
    title: 'Client API keys', item: 'API key',
    help: 'Keys that AI tools present to the proxy (Authorization: Bearer, X-Api-Key, …).' },
  { id: 'gemini-keys', path: '/generative-language-api-key', key: 'generative-language-api-key',
    kind: 'string', secret: true, title: 'Gemini API keys', item: 'Gemini API key',
    help: 'Google Generative Language API keys.' },
  { id: 'claude-keys', path: '/claude-api-key', key: 'claude-api-key', kind: 'object',
    fields: KEY_FIELDS, title: 'Claude API keys', item: 'Claude key',
    help: 'Anthropic API keys, each with an optional custom endpoint.' },
  { id: 'codex-keys', path: '/codex-api-key', key: 'codex-api-key', kind: 'object',
    fields: KEY_FIELDS, title: 'Codex API keys', item: 'Codex key',
    help: 'OpenAI (Responses API) keys for Codex models, each with an optional endpoint.' },
  { id: 'openai-compat', path: '/openai-compatibility', key: 'openai-compatibility', kind: 'object',
    title: 'OpenAI-compatible providers', item: 'Provider',
    help: 'Upstreams that speak the OpenAI API. Clients ask for a model\'s alias; the upstream gets its name.',
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'base-url', label: 'Base URL', type: 'url', placeholder: 'https://openrouter.ai/api/v1' },
      { name: 'api-keys', label: 'API keys (one per line)', type: 'lines', secret: true },
      { name: 'models', label: 'Models', type: 'models' },
    ] },
];

// ------------------------------------------------------------- scalars

class ScalarRow extends Section {
  constructor(app, d) {
    super(app);
    this.d = d;
    const id = uid('set');
    const help = d.help ? h('p', { class: 'help', id: id + '-help' }, d.help) : null;
    if (d.type === 'bool') {
      this.input = h('input', { type: 'checkbox', id, 'aria-describedby': help ? id + '-help' : null,
                                onchange: () => this.save() });
      this.el = h('div', { class: 'row scalar bool', 'data-key': d.key },
        h('div', { class: 'check' }, this.input, h('label', { for: id }, d.label)),
        help, this.msg);
    } else {
      this.input = h('input', {
        id, type: d.type === 'int' ? 'number' : 'text', spellcheck: false,
        min: d.min, max: d.max, step: d.type === 'int' ? 1 : null,
        inputMode: d.type === 'int' ? 'numeric' : null,
        placeholder: d.placeholder, 'aria-describedby': help ? id + '-help' : null,
      });
      const buttons = [h('button', { type: 'submit' }, 'Save')];
      if (d.clearable)
        buttons.push(h('button', { type: 'button', onclick: () => this.clear() }, 'Clear'));
      this.el = h('form', { class: 'row scalar', 'data-key': d.key, novalidate: true,
                            onsubmit: (ev) => { ev.preventDefault(); this.save(); } },
        h('label', { for: id }, d.label),
        h('div', { class: 'inline' }, this.input, ...buttons),
        help, this.msg);
    }
  }

  async fetch() {
    const r = await this.app.api.get(this.d.path);
    this.etag = r.etag;
    const v = r.data ? r.data[this.d.key] : undefined;
    this.server = v;
    if (this.d.type === 'bool')
      this.input.checked = v === true;
    else
      this.input.value = v === undefined || v === null ? '' : String(v);
  }

  state() { return this.server; }

  value() {
    if (this.d.type === 'bool')
      return this.input.checked;
    const t = this.input.value.trim();
    if (this.d.type === 'int') {
      if (!/^[0-9]+$/.test(t) || Number(t) < this.d.min || Number(t) > this.d.max)
        return { error: this.d.label + ' must be a whole number from ' + this.d.min + ' to ' + this.d.max };
      return Number(t);
    }
    return t;
  }

  async save() {
    const v = this.value();
    if (v !== null && typeof v === 'object') {
      say(this.msg, v.error, 'error');
      this.input.focus();
      return;
    }
    await this.change((etag) => this.app.api.put(this.d.path, { value: v }, etag),
                      this.d.label + ' saved.');
  }

  async clear() {
    await this.change((etag) => this.app.api.del(this.d.path, etag), this.d.label + ' cleared.');
  }
}

export function scalarsPane(app) {
  const rows = SCALARS.map((d) => new ScalarRow(app, d));
  const el = h('div', {},
    h('p', { class: 'lead' }, 'Each setting is saved on its own; cliproxyd picks it up without a restart.'),
    rows.map((r) => r.el));
  return { el, load: () => Promise.all(rows.map((r) => r.load())) };
}

// --------------------------------------------------------------- lists

// One editor for an item: inputs for a string or the fields of an object.
class ItemForm {
  constructor(list, value, submitText, onSubmit, onCancel) {
    this.list = list;
    this.inputs = {};
    this.msg = msgEl();
    const d = list.d;
    const parts = [];
    if (d.kind === 'string') {
      const id = uid('item');
      this.inputs.value = h('input', { id, type: 'text', spellcheck: false, autocomplete: 'off',
                                       value: value === undefined ? '' : value });
      parts.push(h('div', { class: 'field' }, h('label', { for: id }, d.item), this.inputs.value));
    } else {
      for (const f of d.fields)
        parts.push(this.field(f, value ? value[f.name] : undefined));
    }
    const buttons = [h('button', { type: 'submit' }, submitText)];
    if (onCancel)
      buttons.push(h('button', { type: 'button', onclick: onCancel }, 'Cancel'));
    this.el = h('form', { class: 'item-form', novalidate: true,
                          onsubmit: (ev) => {
                            ev.preventDefault();
                            const v = this.value();
                            if (v.error) {
                              say(this.msg, v.error, 'error');
                              return;
                            }
                            onSubmit(v.value, this.msg);
                          } },
      parts, h('div', { class: 'actions' }, buttons), this.msg);
  }

  field(f, v) {
    const id = uid('f');
    let input;
    if (f.type === 'lines') {
      input = h('textarea', { id, rows: 3, spellcheck: false,
                              value: Array.isArray(v) ? v.join('\n') : '' });
    } else if (f.type === 'models') {
      return this.modelsField(f, Array.isArray(v) ? v : []);
    } else {
      input = h('input', { id, type: 'text', spellcheck: false, autocomplete: 'off',
                           placeholder: f.placeholder, value: v === undefined || v === null ? '' : String(v),
                           inputMode: f.type === 'url' ? 'url' : null });
    }
    this.inputs[f.name] = input;
    return h('div', { class: 'field' }, h('label', { for: id }, f.label), input);
  }

  // Rows of (name, alias) with add and remove buttons.
  modelsField(f, models) {
    const rows = h('div', { class: 'models' });
    const addRow = (m, focus) => {
      const nid = uid('m');
      const aid = uid('m');
      const name = h('input', { id: nid, type: 'text', spellcheck: false, value: m.name || '',
                                'data-model': 'name' });
      const alias = h('input', { id: aid, type: 'text', spellcheck: false, value: m.alias || '',
                                 'data-model': 'alias' });
      const row = h('div', { class: 'model-row' },
        h('div', { class: 'field' }, h('label', { for: nid }, 'Upstream model name'), name),
        h('div', { class: 'field' }, h('label', { for: aid }, 'Alias clients use'), alias));
      row.append(h('button', { type: 'button', class: 'quiet', 'aria-label': 'Remove this model',
                               onclick: () => { row.remove(); add.focus(); } }, 'Remove'));
      rows.append(row);
      if (focus)
        name.focus();
    };
    const add = h('button', { type: 'button', onclick: () => addRow({}, true) }, 'Add a model');
    models.forEach((m) => addRow(m, false));
    this.models = rows;
    return h('fieldset', { class: 'field' }, h('legend', {}, f.label), rows, add);
  }

  value() {
    const d = this.list.d;
    if (d.kind === 'string') {
      const v = this.inputs.value.value.trim();
      if (v === '')
        return { error: d.item + ' must not be empty' };
      return { value: v };
    }
    const o = {};
    for (const f of d.fields) {
      if (f.type === 'models') {
        const ms = [];
        for (const row of this.models.querySelectorAll('.model-row')) {
          const name = row.querySelector('[data-model=name]').value.trim();
          const alias = row.querySelector('[data-model=alias]').value.trim();
          if (name === '' && alias === '')
            continue;
          if (name === '')
            return { error: 'every model needs its upstream name' };
          ms.push(alias ? { name, alias } : { name });
        }
        o[f.name] = ms;
      } else if (f.type === 'lines') {
        o[f.name] = this.inputs[f.name].value.split('\n').map((s) => s.trim()).filter((s) => s !== '');
      } else {
        const v = this.inputs[f.name].value.trim();
        if (f.required && v === '')
          return { error: f.label + ' must not be empty' };
        if (f.type === 'url' && v !== '' && !/^https?:\/\/[^\s]+$/i.test(v))
          return { error: f.label.replace(/ \(.*\)$/, '') + ' must be an http:// or https:// URL' };
        o[f.name] = v;
      }
    }
    return { value: o };
  }
}

class ListSection extends Section {
  constructor(app, d) {
    super(app);
    this.d = d;
    this.items = [];
    this.reveal = false;
    this.ul = h('ul', { class: 'items', 'aria-label': d.title });
    this.count = h('p', { class: 'count' });
    const head = [h('p', { class: 'help' }, d.help)];
    if (d.secret || (d.fields && d.fields.some((f) => f.secret))) {
      const id = uid('reveal');
      head.push(h('div', { class: 'check' },
        h('input', { type: 'checkbox', id, onchange: (ev) => { this.reveal = ev.target.checked; this.draw(); } }),
        h('label', { for: id }, 'Show keys in full')));
    }
    this.addForm = new ItemForm(this, undefined, 'Add', (v, msg) => this.add(v, msg));
    this.el = h('div', { class: 'list', 'data-list': d.id },
      head, this.msg, this.count, this.ul,
      h('h3', {}, 'Add a ' + (d.item === 'Provider' ? 'provider' : d.item)), this.addForm.el);
  }

  async fetch() {
    const r = await this.app.api.get(this.d.path);
    this.etag = r.etag;
    const v = r.data ? r.data[this.d.key] : null;
    this.items = Array.isArray(v) ? v : [];
    this.draw();
  }

  state() { return this.items; }

  show(v, secret) {
    return secret && !this.reveal ? masked(v) : String(v);
  }

  summary(item) {
    const d = this.d;
    if (d.kind === 'string')
      return h('code', {}, this.show(item, d.secret));
    const parts = [];
    for (const f of d.fields) {
      const v = item[f.name];
      let text;
      if (f.type === 'models')
        text = (v || []).map((m) => m.alias ? m.alias + ' → ' + m.name : m.name).join(', ');
      else if (f.type === 'lines')
        text = (v || []).map((s) => this.show(s, f.secret)).join(', ');
      else
        text = v === undefined || v === null ? '' : this.show(v, f.secret);
      if (text === '')
        continue;
      parts.push(h('div', { class: 'kv' }, h('span', { class: 'k' }, f.label.replace(/ \(.*\)$/, '')),
                   h('span', { class: 'v' }, text)));
    }
    return h('div', { class: 'summary' }, parts);
  }

  draw() {
    this.ul.textContent = '';
    const n = this.items.length;
    this.count.textContent = n === 0 ? 'None yet.' : n === 1 ? '1 entry' : n + ' entries';
    this.items.forEach((item, i) => {
      const msg = msgEl();
      const label = this.d.item + ' ' + (i + 1);
      const edit = h('button', { type: 'button', 'aria-label': 'Edit ' + label });
      const del = h('button', { type: 'button', class: 'danger', 'aria-label': 'Delete ' + label });
      edit.textContent = 'Edit';
      del.textContent = 'Delete';
      const li = h('li', { class: 'item', 'data-index': i },
        h('span', { class: 'idx', 'aria-hidden': 'true' }, String(i + 1)),
        this.summary(item),
        h('div', { class: 'actions' }, edit, del), msg);
      edit.addEventListener('click', () => this.edit(li, i, item, edit));
      del.addEventListener('click', () =>
        this.change((etag) => this.app.api.del(withQuery(this.d.path, { index: i }), etag),
                    this.d.item + ' ' + (i + 1) + ' deleted.', msg, label));
      this.ul.append(li);
    });
  }

  edit(li, i, item, button) {
    if (li.querySelector('.item-form'))
      return;
    const form = new ItemForm(this, item, 'Save', async (v, msg) => {
      await this.change((etag) => this.app.api.patch(this.d.path, { index: i, value: v }, etag),
                        this.d.item + ' ' + (i + 1) + ' saved.', msg, this.d.item + ' ' + (i + 1));
    }, () => { form.el.remove(); button.focus(); });
    li.append(form.el);
    const first = form.el.querySelector('input, textarea');
    if (first)
      first.focus();
  }

  async add(v, msg) {
    const ok = await this.change((etag) => this.app.api.put(this.d.path, { items: this.items.concat([v]) }, etag),
                                 this.d.item + ' added.', msg);
    if (ok) {
      this.addForm.el.reset();
      if (this.addForm.models)
        this.addForm.models.textContent = '';
    }
  }
}

export function listPane(app, d) {
  const s = new ListSection(app, d);
  return { el: s.el, load: () => s.load() };
}

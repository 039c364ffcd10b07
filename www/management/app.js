// app.js - the cliproxy admin panel: log in (API base URL and key), ask the
// server which endpoints it has, show the panes it can serve, switch panes
// by the URL fragment, and keep the "live" line of the header current.
//
// The key lives in sessionStorage (gone with the tab) unless the user
// ticks "remember on this device" (then localStorage, until Log out).
//
// A pane is one entry of PANES: its endpoints (all must exist), the path
// probed when the server cannot list its endpoints, and build(app), which
// returns {el, load}. Usage and OAuth are entries like the others: they
// appear by themselves on a server that has their endpoints.

import { Api, normaliseBase } from './api.js';
import { h, say } from './ui.js';
import { SCALARS, LISTS, scalarsPane, listPane } from './settings.js';
import { authFilesPane } from './authfiles.js';
import { yamlPane, statusPane, auditPane, historyPane, requestLogsPane, usagePane,
         oauthPane, liveText } from './extras.js';

const STORE_BASE = 'cliproxy.panel.base';
const STORE_KEY = 'cliproxy.panel.key';

export const PANES = [
  { id: 'general', title: 'General', needs: SCALARS.map((s) => s.path), build: scalarsPane },
  ...LISTS.map((d) => ({ id: d.id, title: d.title, needs: [d.path], build: (app) => listPane(app, d) })),
  { id: 'auth-files', title: 'Auth files', needs: ['/auth-files', '/auth-files/download'],
    probe: '/auth-files', build: authFilesPane },
  { id: 'config-yaml', title: 'Config file', needs: ['/config.yaml'], build: yamlPane },
  { id: 'status', title: 'Status', needs: ['/status'], build: statusPane },
  { id: 'audit', title: 'Audit log', needs: ['/audit'], probe: '/audit?limit=1', build: auditPane },
  { id: 'history', title: 'History', needs: ['/config/history'], build: historyPane },
  { id: 'request-logs', title: 'Request logs', needs: ['/request-logs'], build: requestLogsPane },
  { id: 'usage', title: 'Usage', needs: ['/usage'], build: usagePane },
  { id: 'oauth', title: 'Log in accounts', needs: ['/get-auth-status', '/oauth-callback'],
    any: ['/anthropic-auth-url', '/codex-auth-url', '/gemini-cli-auth-url', '/qwen-auth-url'],
    probe: '/get-auth-status?state=probe', build: oauthPane },
];

class App {
  constructor() {
    this.api = null;
    this.paths = new Set();      // endpoints the server has
    this.sections = new Set();   // every Section, for ETag bookkeeping
    this.panes = new Map();      // id -> {def, el, load, loaded, button}
    this.changedOnce = false;    // a change was made in this session
    this.liveTimer = null;
    this.$ = (id) => document.getElementById(id);
  }

  has(path) { return this.paths.has(path); }

  // ---------------------------------------------------------- storage

  stored() {
    for (const s of [sessionStorage, localStorage]) {
      const key = s.getItem(STORE_KEY);
      if (key)
        return { base: s.getItem(STORE_BASE) || '', key, remember: s === localStorage };
    }
    return { base: sessionStorage.getItem(STORE_BASE) || localStorage.getItem(STORE_BASE) || '',
             key: '', remember: false };
  }

  store(base, key, remember) {
    this.forget();
    const s = remember ? localStorage : sessionStorage;
    s.setItem(STORE_BASE, base);
    s.setItem(STORE_KEY, key);
  }

  forget() {
    for (const s of [sessionStorage, localStorage]) {
      s.removeItem(STORE_KEY);
      s.removeItem(STORE_BASE);
    }
  }

  // ------------------------------------------------------------ login

  start() {
    this.$('login-form').addEventListener('submit', (ev) => { ev.preventDefault(); this.login(); });
    this.$('logout').addEventListener('click', () => this.logout());
    window.addEventListener('hashchange', () => this.showFromHash());
    const st = this.stored();
    const here = location.protocol.startsWith('http') ? location.href.replace(/[?#].*$/, '')
      .replace(/\/[^/]*$/, '') + '/v0/management' : '';
    this.$('login-base').value = st.base || this.defaultBase(here);
    this.$('login-remember').checked = st.remember;
    if (st.key) {
      this.$('login-key').value = st.key;
      this.login(true);
    } else {
      this.showLogin();
    }
  }

  // Served by the site file the API is at /v0/management of this origin;
  // on a shared host (~user/) it is the cgi-bin responder next to us.
  defaultBase(here) {
    if (/\/~[^/]+\/v0\/management$/.test(here))
      return here.replace(/\/v0\/management$/, '/cgi-bin/cliproxy-mgmt.fcgi/v0/management');
    if (!location.protocol.startsWith('http'))
      return '';
    return location.origin + '/v0/management';
  }

  showLogin(focusKey) {
    this.$('app').hidden = true;
    this.$('logout').hidden = true;
    this.$('live').hidden = true;
    this.$('who').textContent = '';
    this.$('login').hidden = false;
    (focusKey || this.$('login-base').value ? this.$('login-key') : this.$('login-base')).focus();
  }

  async login(auto) {
    const err = this.$('login-error');
    const baseIn = this.$('login-base');
    const keyIn = this.$('login-key');
    baseIn.removeAttribute('aria-invalid');
    keyIn.removeAttribute('aria-invalid');
    let base;
    try {
      base = normaliseBase(baseIn.value);
    } catch (e) {
      say(err, 'API base URL: ' + e.message, 'error');
      baseIn.setAttribute('aria-invalid', 'true');
      baseIn.focus();
      return;
    }
    const key = keyIn.value;
    if (key === '') {
      say(err, 'Management key: enter the key.', 'error');
      keyIn.setAttribute('aria-invalid', 'true');
      keyIn.focus();
      return;
    }
    const submit = this.$('login-submit');
    submit.disabled = true;
    say(err, 'Connecting…', 'info');
    const api = new Api(base, key);
    try {
      await api.get('/debug');
      await this.discover(api);
    } catch (e) {
      submit.disabled = false;
      const field = e.status === 401 ? keyIn : baseIn;
      let text = e.message;
      if (e.status === 401)
        text = 'Management key: ' + e.message;
      else if (e.status === 403)
        text = 'Refused by the server: ' + e.message;
      else if (e.status === 404)
        text = 'API base URL: no management API answers there (or it has no key configured)';
      else
        text = 'API base URL: ' + e.message;
      say(err, text, 'error');
      field.setAttribute('aria-invalid', 'true');
      if (auto) {
        if (e.status === 401)
          this.forget();      // a stored key that no longer works
        this.showLogin(e.status === 401);
      }
      field.focus();
      return;
    }
    submit.disabled = false;
    say(err, '', '');
    this.api = api;
    api.onChange = (oldTag, newTag) => this.advance(oldTag, newTag);
    this.store(base, key, this.$('login-remember').checked);
    keyIn.value = '';
    this.build();
  }

  logout() {
    this.forget();
    this.api = null;
    clearTimeout(this.liveTimer);
    this.$('panes').textContent = '';
    this.$('nav').textContent = '';
    this.panes.clear();
    this.sections.clear();
    this.changedOnce = false;
    this.$('login-key').value = '';
    say(this.$('login-error'), 'Logged out; the key is no longer stored in this browser.', 'info');
    this.showLogin(true);
  }

  // ------------------------------------------------------- discovery

  // GET /endpoints lists what the server has; an older server answers 404
  // and each pane's endpoint is probed instead (a 404 "not found", or a
  // refused preflight across origins, means absent; any other answer,
  // even an error, means it is there).
  async discover(api) {
    this.paths.clear();
    try {
      const r = await api.get('/endpoints');
      const list = r.data && Array.isArray(r.data.endpoints) ? r.data.endpoints : [];
      for (const e of list)
        if (e && typeof e.path === 'string')
          this.paths.add(e.path);
      return;
    } catch (e) {
      // 0: across origins an older responder refuses the preflight of a
      // path it does not know (404), which the browser reports as a
      // network error; /debug has just answered, so the server is there
      if (e.status !== 404 && e.status !== 0)
        throw e;
    }
    const probes = new Map();
    for (const p of PANES) {
      for (const path of p.needs.concat(p.any || []))
        if (!probes.has(path))
          probes.set(path, p.probe && p.needs[0] === path ? p.probe : path);
    }
    // never probe a log-in start: it would begin a log-in
    for (const path of PANES.find((p) => p.id === 'oauth').any)
      probes.delete(path);
    probes.delete('/oauth-callback');
    await Promise.all(Array.from(probes, async ([path, probe]) => {
      try {
        await api.get(probe, { as: 'text' });
        this.paths.add(path);
      } catch (e) {
        if (!(e.status === 404 && e.message === 'not found') && e.status !== 0)
          this.paths.add(path);
      }
    }));
    // the log-in endpoints come together (PROVIDERS.md 6): the status one,
    // safe to probe, stands for the others
    if (this.has('/get-auth-status'))
      for (const path of ['/oauth-callback'].concat(PANES.find((p) => p.id === 'oauth').any))
        this.paths.add(path);
  }

  visible(p) {
    if (!p.needs.every((n) => this.has(n)))
      return false;
    return !p.any || p.any.some((n) => this.has(n));
  }

  // ------------------------------------------------------------ panes

  build() {
    const nav = this.$('nav');
    const panes = this.$('panes');
    nav.textContent = '';
    panes.textContent = '';
    this.panes.clear();
    this.sections.clear();
    for (const def of PANES) {
      if (!this.visible(def))
        continue;
      const built = def.build(this);
      const el = h('section', { class: 'pane', id: 'pane-' + def.id, 'aria-labelledby': 'title-' + def.id,
                                hidden: true, tabindex: -1 },
        h('h2', { id: 'title-' + def.id }, def.title), built.el);
      const button = h('a', { href: '#' + def.id, id: 'nav-' + def.id }, def.title);
      nav.append(h('li', {}, button));
      panes.append(el);
      this.panes.set(def.id, { def, el, load: built.load, loaded: false, button });
    }
    this.$('login').hidden = true;
    this.$('app').hidden = false;
    this.$('logout').hidden = false;
    this.$('who').textContent = 'API: ' + this.api.base;
    this.showFromHash(true);
    this.changed(true);
  }

  showFromHash(first) {
    if (!this.api)
      return;
    const id = decodeURIComponent(location.hash.replace(/^#/, ''));
    const pane = this.panes.get(id) || this.panes.values().next().value;
    for (const p of this.panes.values()) {
      p.el.hidden = p !== pane;
      if (p === pane)
        p.button.setAttribute('aria-current', 'page');
      else
        p.button.removeAttribute('aria-current');
    }
    if (!pane)
      return;
    // Always re-read a pane when it is shown: someone may have changed it.
    pane.el.setAttribute('aria-busy', 'true');
    Promise.resolve(pane.load()).finally(() => pane.el.removeAttribute('aria-busy'));
    pane.loaded = true;
    if (!first)
      pane.el.focus();
  }

  // ------------------------------------------------ ETags and "live"

  // Our change took the file from oldTag to newTag: every section that was
  // read at oldTag is still true apart from what we changed (its section
  // reloads), so it may send newTag. Sections read earlier keep theirs and
  // get 412 if the file moved under them.
  advance(oldTag, newTag) {
    if (!oldTag || !newTag)
      return;
    for (const s of this.sections)
      if (s.etag === oldTag)
        s.etag = newTag;
  }

  // After a change (and at log-in): poll /status until the daemon has the
  // file as it is now, showing where it stands in the header.
  changed(quiet) {
    if (!this.has('/status') || !this.api)
      return;
    const live = this.$('live');
    clearTimeout(this.liveTimer);
    live.hidden = false;
    if (!quiet) {
      this.changedOnce = true;
      live.textContent = 'saved; waiting for cliproxyd to load it…';
      live.className = 'badge pending';
    }
    const deadline = Date.now() + 10000;
    const api = this.api;
    const tick = async () => {
      if (api !== this.api)
        return;
      let l;
      try {
        const r = await api.get('/status');
        l = liveText(r.data, this.changedOnce);
        const st = this.panes.get('status');
        if (st && !st.el.hidden)
          st.load();
      } catch (e) {
        l = { state: 'error', text: 'status: ' + e.message };
      }
      live.textContent = l.text;
      live.className = 'badge ' + l.state;
      if (l.state === 'pending' && Date.now() < deadline)
        this.liveTimer = setTimeout(tick, 150);
    };
    tick();
  }
}

const app = new App();
if (document.readyState === 'loading')
  document.addEventListener('DOMContentLoaded', () => app.start());
else
  app.start();

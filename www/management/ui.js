// ui.js - small DOM helpers and the Section every part of the panel is
// built from: it remembers the ETag its data was read at, sends it with
// every change, and on 412 reloads itself and says that someone else
// changed it. Errors are written next to the control that caused them.

let idSeq = 0;

// A unique id for label/aria wiring.
export function uid(prefix) {
  idSeq += 1;
  return (prefix || 'id') + '-' + idSeq;
}

// h('button', {type: 'button', onclick: f}, 'Save') - attributes starting
// with "on" are listeners, "class"/"for"/aria-*/data-* are attributes,
// the rest properties when the element has them.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false)
      continue;
    if (k.startsWith('on') && typeof v === 'function')
      el.addEventListener(k.slice(2), v);
    else if (k === 'class' || k === 'for' || k === 'role' || k.startsWith('aria-') ||
             k.startsWith('data-') || !(k in el))
      el.setAttribute(k === 'for' ? 'for' : k, v === true ? '' : String(v));
    else
      el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false)
      continue;
    if (Array.isArray(c))
      append(el, c);
    else
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Write a message into a message element: kind 'ok', 'error' or 'info'.
export function say(el, text, kind) {
  el.textContent = text || '';
  el.className = 'msg' + (text ? ' ' + (kind || 'info') : '');
  if (kind === 'error' && text)
    el.setAttribute('role', 'alert');
  else
    el.setAttribute('role', 'status');
}

export function msgEl() {
  const el = h('p', { class: 'msg', role: 'status', 'aria-live': 'polite' });
  return el;
}

export function fmtBytes(n) {
  if (typeof n !== 'number')
    return '';
  if (n < 1024)
    return n + ' B';
  if (n < 1024 * 1024)
    return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

export function fmtTime(s) {
  if (!s)
    return '';
  const d = new Date(s);
  if (isNaN(d.getTime()))
    return String(s);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

// A secret shown as its start and end only ("sk-a…x9"); the full value is
// in the edit form.
export function masked(s) {
  s = String(s);
  if (s.length <= 8)
    return '•'.repeat(Math.max(s.length, 4));
  return s.slice(0, 4) + '…' + s.slice(-2);
}

export const CONFLICT_TEXT = 'Someone else changed the config since this was loaded. ' +
  'It has been reloaded with their version: check it and make your change again.';

// A part of a pane backed by one API resource.
export class Section {
  constructor(app) {
    this.app = app;
    this.etag = '';
    this.msg = msgEl();
    app.sections.add(this);
  }

  // Subclasses: fetch and draw; return nothing, throw ApiError.
  async fetch() {}

  // Load and draw; an error is shown in where (default this.msg).
  async load(where) {
    try {
      await this.fetch();
      return true;
    } catch (e) {
      say(where || this.msg, 'Could not load: ' + e.message, 'error');
      return false;
    }
  }

  // What the section shows (its data as last read), to tell after a 412
  // whether this part changed or only another part of the file did.
  // undefined: cannot tell, every 412 is a conflict.
  state() { return undefined; }

  // Run one change: fn(etag) does the request. Success: okText in where,
  // reload. 412: reload; when what this section shows is unchanged (someone
  // changed another part of the file) the change is sent again, once, on
  // the new ETag; otherwise say that someone else changed it. 404: reload
  // and say it is gone (what: the thing's name). Any other error: its
  // words in where.
  async change(fn, okText, where, what) {
    where = where || this.msg;
    // one outcome on screen at a time: older messages of this pane go
    const scope = this.el ? this.el.closest('.pane') || this.el : null;
    if (scope)
      for (const m of scope.querySelectorAll('.msg'))
        if (m !== where)
          say(m, '', '');
    say(where, 'Saving…', 'info');
    for (let attempt = 0; ; attempt++) {
      try {
        await fn(this.etag);
        break;
      } catch (e) {
        if (e.conflict) {
          const before = JSON.stringify(this.state());
          const ok = await this.load(where);
          if (ok && attempt === 0 && before !== undefined && before === JSON.stringify(this.state()))
            continue;
          if (ok)
            say(this.target(where), CONFLICT_TEXT, 'error');
        } else if (e.status === 404) {
          // gone meanwhile (deleted by someone else): show what is there now
          await this.load(where);
          say(this.target(where), (what ? what + ': ' : '') + e.message +
              ' (it is no longer there; reloaded).', 'error');
        } else {
          say(where, e.message, 'error');
        }
        return false;
      }
    }
    await this.load(where);
    say(this.target(where), okText, 'ok');
    this.app.changed();
    return true;
  }

  // A row's message element is gone once the section redraws: then the
  // section's own message says it.
  target(where) {
    return where.isConnected ? where : this.msg;
  }
}

// Inline confirmation: replaces nothing, shows a question with a
// confirming button and Cancel after the trigger; resolves true/false.
export function confirmInline(anchor, question, yesText) {
  return new Promise((resolve) => {
    const box = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm' });
    const done = (v) => {
      box.remove();
      anchor.focus();
      resolve(v);
    };
    const yes = h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, yesText);
    const no = h('button', { type: 'button', onclick: () => done(false) }, 'Cancel');
    box.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape')
        done(false);
    });
    box.append(h('p', {}, question), h('div', { class: 'actions' }, yes, no));
    anchor.after(box);
    no.focus();
  });
}

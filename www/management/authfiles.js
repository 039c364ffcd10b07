// authfiles.js - the credential files of auth-dir (spec "Auth Files
// Management", DESIGN 5): list with type and modification time, upload by
// file picker or drag and drop (multipart, field "file"), download,
// delete, and delete all after a confirmation. A file downloaded here is
// deleted or replaced with If-Match on the ETag the download gave.

import { withQuery } from './api.js';
import { h, say, msgEl, fmtBytes, fmtTime, confirmInline, Section } from './ui.js';

const MAX = 1024 * 1024;
const NAME_RE = /^[A-Za-z0-9._@+-]{1,200}$/;

// Why the server would refuse this name, before we send it (DESIGN 4).
export function badName(name) {
  if (!NAME_RE.test(name))
    return 'only letters, digits and . _ @ + - are allowed in the name';
  if (name.startsWith('.'))
    return 'the name must not start with a dot';
  if (!/\.json$/i.test(name))
    return 'the name must end in .json';
  return '';
}

class AuthFiles extends Section {
  constructor(app) {
    super(app);
    this.files = [];
    this.etags = new Map();    // name -> ETag of its last download
    this.ul = h('ul', { class: 'items files', 'aria-label': 'Credential files' });
    this.count = h('p', { class: 'count' });
    this.upmsg = msgEl();
    this.input = h('input', { type: 'file', id: 'auth-upload-input', multiple: true,
                              accept: '.json,application/json', class: 'file-input' });
    const drop = h('label', { for: 'auth-upload-input', class: 'drop', id: 'auth-drop' },
      h('strong', {}, 'Choose credential files'), ' or drop them here (JSON, at most 1 MiB each)');
    this.input.addEventListener('change', () => {
      this.upload(Array.from(this.input.files || []));
      this.input.value = '';
    });
    for (const t of ['dragenter', 'dragover'])
      drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add('over'); });
    for (const t of ['dragleave', 'drop'])
      drop.addEventListener(t, () => drop.classList.remove('over'));
    drop.addEventListener('drop', (ev) => {
      ev.preventDefault();
      this.upload(Array.from((ev.dataTransfer && ev.dataTransfer.files) || []));
    });
    this.delAll = h('button', { type: 'button', class: 'danger', onclick: () => this.deleteAll() },
                    'Delete all files…');
    this.el = h('div', { class: 'authfiles' },
      h('p', { class: 'help' }, 'OAuth and account credential files in the proxy\'s auth-dir. ' +
        'cliproxyd picks up a new or changed file within about a second.'),
      this.msg, this.count, this.ul,
      h('h3', {}, 'Upload'), this.input, drop, this.upmsg,
      h('h3', {}, 'Remove every file'), h('div', { class: 'actions' }, this.delAll));
  }

  async fetch() {
    const r = await this.app.api.get('/auth-files');
    this.etag = r.etag;
    this.files = r.data && Array.isArray(r.data.files) ? r.data.files : [];
    this.draw();
  }

  draw() {
    this.ul.textContent = '';
    const n = this.files.length;
    this.count.textContent = n === 0 ? 'No credential files.' : n === 1 ? '1 file' : n + ' files';
    this.delAll.disabled = n === 0;
    for (const f of this.files) {
      const msg = msgEl();
      const dl = h('button', { type: 'button', 'aria-label': 'Download ' + f.name }, 'Download');
      const del = h('button', { type: 'button', class: 'danger', 'aria-label': 'Delete ' + f.name }, 'Delete');
      dl.addEventListener('click', () => this.download(f.name, msg));
      del.addEventListener('click', () => this.change(
        (etag) => this.app.api.del(withQuery('/auth-files', { name: f.name }),
                                   this.etags.get(f.name) || ''),
        f.name + ' deleted.', msg, f.name).then((ok) => { if (ok) this.etags.delete(f.name); }));
      const meta = [
        h('span', { class: 'type', title: 'type' }, f.type || 'unknown type'),
        h('span', {}, fmtBytes(f.size)),
        h('time', { datetime: f.modtime }, 'changed ' + fmtTime(f.modtime)),
      ];
      if (f.disabled === true)
        meta.push(h('span', { class: 'warn' }, 'disabled'));
      if (f.email)
        meta.push(h('span', {}, f.email));
      this.ul.append(h('li', { class: 'item', 'data-name': f.name },
        h('div', { class: 'summary' }, h('code', { class: 'name' }, f.name),
          h('div', { class: 'meta' }, meta)),
        h('div', { class: 'actions' }, dl, del), msg));
    }
  }

  async download(name, msg) {
    say(msg, 'Downloading…', 'info');
    try {
      const r = await this.app.api.get(withQuery('/auth-files/download', { name }), { as: 'blob' });
      if (r.etag)
        this.etags.set(name, r.etag);
      const url = URL.createObjectURL(r.data);
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      say(msg, name + ' downloaded (' + fmtBytes(r.data.size) + ').', 'ok');
    } catch (e) {
      if (e.status === 404)
        await this.load();
      say(msg.isConnected ? msg : this.msg, name + ': ' + e.message, 'error');
    }
  }

  // Upload each file; one failure does not stop the others, and each
  // file's outcome is listed.
  async upload(files) {
    if (files.length === 0)
      return;
    const lines = [];
    let failed = 0;
    say(this.upmsg, 'Uploading ' + files.length + (files.length === 1 ? ' file…' : ' files…'), 'info');
    for (const file of files) {
      const why = badName(file.name) || (file.size > MAX ? 'larger than 1 MiB' : '');
      if (why) {
        lines.push(file.name + ': not uploaded: ' + why);
        failed++;
        continue;
      }
      const fd = new FormData();
      fd.append('file', file, file.name);
      try {
        await this.app.api.request('POST', '/auth-files',
                                   { body: fd, ifMatch: this.etags.get(file.name) || '' });
        lines.push(file.name + ': uploaded');
        this.etags.delete(file.name);
      } catch (e) {
        lines.push(file.name + ': not uploaded: ' +
                   (e.conflict ? 'it was changed on the server since you downloaded it' : e.message));
        failed++;
      }
    }
    await this.load(this.upmsg);
    say(this.upmsg, lines.join('. ') + '.', failed ? 'error' : 'ok');
    if (failed < files.length)
      this.app.changed();
  }

  async deleteAll() {
    const n = this.files.length;
    const yes = await confirmInline(this.delAll,
      'Delete all ' + n + (n === 1 ? ' credential file' : ' credential files') +
      ' from the server? This cannot be undone.', 'Delete all ' + n);
    if (!yes)
      return;
    try {
      const r = await this.app.api.del('/auth-files?all=true');
      await this.load();
      const d = r.data && typeof r.data.deleted === 'number' ? r.data.deleted : n;
      say(this.msg, d + (d === 1 ? ' file deleted.' : ' files deleted.'), 'ok');
      this.etags.clear();
      this.app.changed();
    } catch (e) {
      await this.load();
      say(this.msg, 'Delete all failed: ' + e.message, 'error');
    }
  }
}

export function authFilesPane(app) {
  const s = new AuthFiles(app);
  return { el: s.el, load: () => s.load() };
}

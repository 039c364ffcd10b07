// api.js - the management API client of the panel (spec/management-api.txt,
// DESIGN 5, issue 13): one fetch wrapper that sends the key, sends If-Match
// when the caller has an ETag, and turns every failure into an ApiError
// whose message is words a person can act on.

export class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.name = 'ApiError';
    this.status = status;      // HTTP status, 0 when the server was not reached
    this.data = data;          // parsed body, when there was one
  }

  // The server refused a change made on data older than the file (412).
  get conflict() { return this.status === 412; }
}

// Words for statuses whose body may not be ours (a web server's own page).
const STATUS_WORDS = {
  400: 'the server refused the request as invalid',
  401: 'the management key was refused',
  403: 'access refused',
  404: 'not found on this server',
  405: 'this server does not allow that here',
  409: 'conflict',
  412: 'someone else changed it since it was loaded',
  413: 'too large for the server (the limit is 1 MiB)',
  500: 'the server failed',
  502: 'the web server could not reach the responder',
  503: 'the server is busy; try again',
  504: 'the server took too long',
};

export function statusWords(status) {
  return STATUS_WORDS[status] || 'HTTP ' + status;
}

// Normalise what the user typed: no trailing slash, http(s) only.
export function normaliseBase(text) {
  const t = String(text || '').trim().replace(/\/+$/, '');
  let u;
  try {
    u = new URL(t);
  } catch (e) {
    throw new ApiError(0, 'not a URL: write it as http://host:port/v0/management');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ApiError(0, 'the API base URL must start with http:// or https://');
  if (u.search || u.hash)
    throw new ApiError(0, 'the API base URL must not have a query or fragment');
  return t;
}

export class Api {
  constructor(base, key) {
    this.base = normaliseBase(base);
    this.key = key;
    this.onChange = null;      // called after every successful change (old, new ETag)
  }

  // method, path (below the base, with any query); opts:
  //   json     - a value sent as JSON
  //   body     - a Blob/FormData/string sent as is (with contentType)
  //   ifMatch  - ETag to send as If-Match (omitted when empty)
  //   as       - 'json' (default), 'text' or 'blob' for the success body
  async request(method, path, opts = {}) {
    const headers = { Authorization: 'Bearer ' + this.key };
    let body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      body = opts.body;
      if (opts.contentType)
        headers['Content-Type'] = opts.contentType;
    }
    if (opts.ifMatch)
      headers['If-Match'] = opts.ifMatch;
    let r;
    try {
      r = await fetch(this.base + path, {
        method, headers, body, cache: 'no-store', credentials: 'omit',
        redirect: 'error', referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      // fetch tells us nothing more for network and CORS failures
      throw new ApiError(0, 'cannot reach ' + this.base + ' (server down, wrong URL, ' +
                         'or it does not allow this page\'s origin)');
    }
    const etag = r.headers.get('ETag') || '';
    const ctype = r.headers.get('Content-Type') || '';
    if (!r.ok) {
      let data = null;
      let msg = '';
      if (ctype.startsWith('application/json')) {
        try {
          data = await r.json();
          if (data && typeof data.error === 'string')
            msg = data.error;
        } catch (e) { /* not ours: fall back to the status */ }
      }
      if (r.status === 412)
        msg = 'someone else changed it since it was loaded' + (msg ? ' (' + msg + ')' : '');
      throw new ApiError(r.status, msg || statusWords(r.status), data);
    }
    let data = null;
    const as = opts.as || 'json';
    if (r.status !== 204) {
      if (as === 'blob') {
        data = await r.blob();
      } else if (as === 'text') {
        data = await r.text();
      } else {
        const text = await r.text();
        if (text !== '') {
          try {
            data = JSON.parse(text);
          } catch (e) {
            throw new ApiError(r.status, 'the server answered something that is not JSON ' +
                               '(is the base URL the management API?)');
          }
        }
      }
    }
    const res = { status: r.status, etag, data, headers: r.headers };
    if (method !== 'GET' && method !== 'HEAD' && this.onChange)
      this.onChange(opts.ifMatch || '', etag);
    return res;
  }

  get(path, opts) { return this.request('GET', path, opts); }
  put(path, json, ifMatch) { return this.request('PUT', path, { json, ifMatch }); }
  patch(path, json, ifMatch) { return this.request('PATCH', path, { json, ifMatch }); }
  del(path, ifMatch) { return this.request('DELETE', path, { ifMatch }); }
  post(path, json, ifMatch) { return this.request('POST', path, { json, ifMatch }); }
}

// "/api-keys" + {index: 2} -> "/api-keys?index=2"
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    q.set(k, String(v));
  return path + '?' + q.toString();
}

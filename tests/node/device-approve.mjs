// A scripted user agent for a device-flow verification page: what a person
// does in a browser, over plain HTTP with a cookie jar. It opens the URL
// (verification_uri_complete), then submits each page's form as a person
// would (confirm the code, sign in, consent) until the page says the sign-in
// succeeded, or, for a browser login, until it reaches the loopback
// callback. Used as $BROWSER by lmi's oidc-provider tests.
//
// Usage: node device-approve.mjs [--login NAME] [--report PATH] URL
// The last argument is the URL ($BROWSER convention). With --report, writes
// {"ok":bool,"steps":[...],"error":string|null} to PATH (lmi starts $BROWSER
// detached, so its exit status is otherwise invisible). Exit 0 on success.
import { writeFileSync, renameSync } from 'node:fs';

const args = process.argv.slice(2);
let login = 'alice';
let report = null;
let url = null;
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--login') login = args[(i += 1)];
  else if (args[i] === '--report') report = args[(i += 1)];
  else url = args[i];
}

const cookies = new Map();
const steps = [];

async function request(target, init = {}) {
  let current = new URL(target);
  let options = init;
  for (let hop = 0; hop < 10; hop += 1) {
    const headers = { ...(options.headers || {}) };
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(current, { ...options, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    steps.push(`${options.method || 'GET'} ${current.pathname} -> ${res.status}`);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      current = new URL(location, current);
      options = {};
      continue;
    }
    return { url: current, status: res.status, body: await res.text() };
  }
  throw new Error('too many redirects');
}

const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\b${name}="([^"]*)"`));
  return m ? m[1].replace(/&amp;/g, '&').replace(/&quot;/g, '"') : null;
};

function firstForm(page) {
  const m = page.body.match(/<form\b[^>]*>[\s\S]*?<\/form>/);
  if (!m) return null;
  const open = m[0].match(/<form\b[^>]*>/)[0];
  const fields = new URLSearchParams();
  for (const input of m[0].match(/<input\b[^>]*>/g) || []) {
    const name = attr(input, 'name');
    if (!name) continue;
    let value = attr(input, 'value') ?? '';
    if (name === 'login') value = login;
    if (name === 'password') value = 'any password';
    fields.append(name, value);
  }
  return {
    action: new URL(attr(open, 'action') || page.url.pathname, page.url),
    method: (attr(open, 'method') || 'get').toUpperCase(),
    fields,
  };
}

let ok = false;
let error = null;
try {
  let page = await request(url);
  for (let i = 0; i < 8 && !ok; i += 1) {
    if (/Sign-in Success/i.test(page.body)) {
      ok = true;
      break;
    }
    // A browser login ends at the client's loopback redirect (RFC 8252),
    // whose page lmi serves: the code went back to lmi.
    if (['127.0.0.1', 'localhost'].includes(page.url.hostname) && page.url.pathname === '/callback') {
      ok = page.status === 200;
      if (!ok) throw new Error(`the loopback callback answered HTTP ${page.status}`);
      break;
    }
    const form = firstForm(page);
    if (!form) throw new Error(`no form on ${page.url} (HTTP ${page.status})`);
    page = await request(form.action, {
      method: form.method,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.fields.toString(),
    });
  }
  if (!ok) throw new Error('the pages never said the sign-in succeeded');
} catch (e) {
  error = String(e && e.message ? e.message : e);
}
if (report) {
  writeFileSync(`${report}.tmp`, JSON.stringify({ ok, steps, error }));
  renameSync(`${report}.tmp`, report);
}
if (error) console.error(`device-approve: ${error}`);
process.exit(ok ? 0 : 1);

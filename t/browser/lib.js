'use strict';
// t/browser/lib.js - what every browser test (t/*.js, run by node under
// make check) uses: a TAP printer, launch() of headless Debian Chromium via
// playwright-core, and startServer() for a real weaprous process on a free
// port.
//
//   const { test } = require(process.env.WR_SRCDIR + '/t/browser/lib.js');
//   test(async (t, lib) => {
//     const srv = await lib.startServer('backend', ['--www', dir]);
//     const browser = await lib.launch();
//     const page = await browser.newPage();
//     await page.goto(srv.url('/'));
//     t.is(await page.title(), 'Login', 'login page title');
//   });
//
// test() closes every browser and server it started, prints the plan, and
// sets the exit code.  Without playwright-core or chromium the script is
// skipped, or fails when WR_REQUIRE_ALL is set (CI).

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const CHROMIUM = process.env.WR_CHROMIUM || '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialling out,
// which this sandbox refuses; --no-sandbox because tests run as root.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update',
  '--disable-sync',
];
const SERVER_START_MS = 10000;
const SERVER_STOP_MS = 5000;

// --- TAP ----------------------------------------------------------------

class Tap {
  constructor() { this.count = 0; this.failed = 0; }

  diag(msg) {
    for (const line of String(msg).split('\n')) console.log('# ' + line);
  }

  ok(cond, name = '') {
    this.count++;
    if (!cond) this.failed++;
    console.log(`${cond ? '' : 'not '}ok ${this.count} - ${String(name).replace(/#/g, '\\#')}`);
    return !!cond;
  }

  is(got, expected, name = '') {
    const same = JSON.stringify(got) === JSON.stringify(expected);
    if (!this.ok(same, name))
      this.diag(`     got: ${JSON.stringify(got)}\nexpected: ${JSON.stringify(expected)}`);
    return same;
  }

  like(got, re, name = '') {
    const hit = typeof got === 'string' && re.test(got);
    if (!this.ok(hit, name)) this.diag(`     got: ${JSON.stringify(got)}\n    like: ${re}`);
    return hit;
  }

  done() {
    console.log(`1..${this.count}`);
    return this.failed ? 1 : 0;
  }
}

// --- playwright-core ------------------------------------------------------

// node_modules lives in the source tree's t/browser (bootstrap --test-deps),
// or where WR_NODE_MODULES says (distcheck unpacks a tree without it).
function findPlaywright() {
  const dirs = [process.env.WR_NODE_MODULES,
    process.env.WR_SRCDIR && path.join(process.env.WR_SRCDIR, 't', 'browser', 'node_modules'),
    path.join(__dirname, 'node_modules')].filter(Boolean);
  for (const dir of dirs) {
    try {
      return require(require.resolve('playwright-core', { paths: [dir] }));
    } catch (e) { /* try the next place */ }
  }
  return null;
}

// Launch headless /usr/bin/chromium with the flags this machine needs;
// resolves to a playwright Browser.  Throws when playwright-core is missing.
async function launch(opts = {}) {
  const pw = findPlaywright();
  if (!pw) throw new Error('playwright-core not installed (./bootstrap --test-deps)');
  return pw.chromium.launch({
    executablePath: CHROMIUM, headless: true, ...opts,
    args: [...CHROMIUM_ARGS, ...(opts.args || [])],
  });
}

// --- servers ----------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port, host) {
  return new Promise((resolve) => {
    const sock = net.connect(port, host);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start `weaprous ROLE --server-ip 127.0.0.1 --server-port P ...args`
// (or opts.argv, with '{port}' replaced) and resolve once the port accepts.
async function startServer(role, args = [], opts = {}) {
  const host = '127.0.0.1';
  const port = opts.port || await freePort();
  const bin = path.join(process.env.WR_BUILDDIR || process.cwd(), 'weaprous');
  const argv = (opts.argv || [bin, role, '--server-ip', host, '--server-port', '{port}', ...args])
    .map((a) => String(a).replace('{port}', String(port)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrjs-'));
  const log = path.join(dir, 'server.log');
  const fd = fs.openSync(log, 'a');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], env: { ...process.env, ...(opts.env || {}) } });
  fs.closeSync(fd);
  let exited = false;
  child.on('exit', () => { exited = true; });
  const srv = {
    port, host, log, child,
    url: (p = '/') => `http://${host}:${port}${p}`,
    logText: () => fs.readFileSync(log, 'utf8'),
    stop: async () => {
      if (exited) return child.exitCode;
      child.kill('SIGTERM');
      for (let t = 0; t < SERVER_STOP_MS && !exited; t += 50) await sleep(50);
      if (!exited) { child.kill('SIGKILL'); while (!exited) await sleep(20); }
      return child.exitCode;
    },
  };
  for (let t = 0; t < SERVER_START_MS; t += 50) {
    if (exited) break;
    if (await accepts(port, host)) return srv;
    await sleep(50);
  }
  await srv.stop();
  throw new Error(`server did not accept on port ${port}: ${argv.join(' ')}\n${srv.logText()}`);
}

// --- a chat: tracker, accounts, one peer per user ------------------------------

const srcdir = () => process.env.WR_SRCDIR || path.join(__dirname, '..', '..');

// JSON over HTTP to a server of ours: { status, body, headers }.
async function http(url, { method = 'GET', body, token, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let data;
  if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    data = new URLSearchParams(form).toString();
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    data = JSON.stringify(body);
  } else if (method !== 'GET') {
    data = '';
  }
  const res = await fetch(url, { method, headers, body: data });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, body: json, text, headers: res.headers };
}

// A tracker (sign-up on, 1 s heart-beats, opts.trackerArgs) with an account
// NAME / NAME per user, and a peer per user on its own database, serving
// the page from the source tree.  chat.peers[user] = { srv, url(p), stop(),
// restart() (same ports and database), api(method, path, body) (with a
// session of its own, not the browser's) }.
async function startChat(lib, { users = ['alice', 'bob'], trackerArgs = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrchat-'));
  const tracker = await lib.startServer('tracker', ['--allow-signup', '--heartbeat-interval', '1s',
    '--db', path.join(dir, 'tracker.db'), ...trackerArgs]);
  for (const u of users) {
    const r = await http(tracker.url('/register'), { method: 'POST', form: { username: u, password: u } });
    if (r.status !== 201) throw new Error(`register ${u}: ${r.status} ${r.text}`);
  }
  const peers = {};
  for (const u of users) {
    const port = await freePort();
    const args = ['--tracker', tracker.url('').replace(/\/$/, ''), '--p2p-port', String(await freePort()),
      '--db', path.join(dir, `${u}.db`), '--www', path.join(srcdir(), 'www'),
      '--static', path.join(srcdir(), 'static')];
    const peer = {
      user: u, port, token: null,
      srv: await lib.startServer('peer', args, { port }),
      url: (p = '/') => `http://127.0.0.1:${port}${p}`,
      stop: () => peer.srv.stop(),
      restart: async () => {
        await peer.srv.stop();
        peer.srv = await lib.startServer('peer', args, { port });
      },
      api: async (method, p, body) => {
        if (!peer.token) {
          const r = await http(peer.url('/login'), { method: 'POST', body: { username: u, password: u } });
          if (r.status !== 200) throw new Error(`login ${u} on its peer: ${r.status} ${r.text}`);
          peer.token = r.body.token;
        }
        return http(peer.url(p), { method, body, token: peer.token });
      },
    };
    peers[u] = peer;
  }
  return { dir, tracker, peers };
}

// Polls fn() (sync or async) until it returns a truthy value, for at most
// ms; resolves to that value, or throws with what the last call saw
// (describe(last) when given).
async function until(fn, { ms = 15000, every = 50, what = 'condition', describe } = {}) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}` +
        (describe ? `; saw ${describe(last)}` : ''));
    }
    await sleep(every);
  }
}

// For a negative check: true when fn() stays truthy for ms (polled), false
// as soon as it does not.  Not a synchronisation: the window a wrong
// behaviour would show itself in.
async function holds(fn, { ms = 500, every = 25 } = {}) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await fn())) return false;
    await sleep(every);
  }
  return !!(await fn());
}

// --- the test wrapper ---------------------------------------------------------

function skipAll(t, reason) {
  if (process.env.WR_REQUIRE_ALL) {
    t.ok(false, 'required but skipped: ' + reason);
    process.exitCode = t.done();
  } else {
    console.log('1..0 # SKIP ' + reason);
  }
}

// Run body(t, lib) with lib = { launch, startServer, freePort, sleep }; every
// browser and server it starts is closed afterwards, logs shown on failure.
async function test(body) {
  const t = new Tap();
  const pw = findPlaywright();
  if (!pw) return skipAll(t, 'playwright-core not installed (./bootstrap --test-deps)');
  if (!fs.existsSync(CHROMIUM)) return skipAll(t, `no ${CHROMIUM} (./bootstrap --test-deps)`);
  const browsers = [];
  const servers = [];
  const lib = {
    freePort, sleep, http, until, holds,
    launch: async (opts = {}) => { const b = await launch(opts); browsers.push(b); return b; },
    startServer: async (...a) => { const s = await startServer(...a); servers.push(s); return s; },
  };
  lib.startChat = (opts) => startChat(lib, opts);
  try {
    await body(t, lib);
  } catch (e) {
    t.ok(false, 'test body threw: ' + (e && e.message ? e.message.split('\n')[0] : e));
    t.diag(e && e.stack ? e.stack : String(e));
  }
  for (const b of browsers) await b.close().catch(() => {});
  for (const s of servers) await s.stop();
  if (t.failed) for (const s of servers) t.diag(`--- ${s.log} ---\n${s.logText()}`);
  process.exitCode = t.done();
}

module.exports = { test, launch, Tap, startServer, startChat, http, until, holds, freePort, sleep,
  CHROMIUM, CHROMIUM_ARGS };

// dashboard.test.js: the log monitor dashboard in headless Chromium, over
// the Chrome DevTools protocol on a pipe (--remote-debugging-pipe): login is
// required (the browser is challenged, and nothing shows without it); the
// counts on the page match the API; a freshly injected error appears within
// 2 seconds; a message with HTML in it renders as literal text and runs
// nothing; pause stops the updates and resume catches up; the level filter
// applies; times show in the viewer's time zone. Records are injected with
// build/bin/esm-loggen, as an operator would.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const env = process.env;
const BASE = env.ESM_URL_LOGMONITOR.replace(/\/$/, '');
const GATEWAY = env.ESM_URL_GATEWAY.replace(/\/$/, '');
const USER = env.ESM_OPERATOR_USER;
const PASS = fs.readFileSync(env.ESM_OPERATOR_PASSWORD_FILE, 'utf8').trim();
const LOGGEN = path.join(env.ESM_ROOT, 'build/bin/esm-loggen');
const TZ = 'Asia/Tokyo';
const SVC = 'browsertest';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = () => Math.random().toString(36).slice(2, 10);

// ---- a minimal CDP client on the pipe ----------------------------------------
class CDP {
  constructor(proc) {
    this.proc = proc;
    this.id = 0;
    this.pending = new Map();
    this.handlers = [];
    this.buf = '';
    proc.stdio[4].on('data', (d) => {
      this.buf += d.toString('utf8');
      let i;
      while ((i = this.buf.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        this.dispatch(msg);
      }
    });
  }
  dispatch(msg) {
    if (msg.id && this.pending.has(msg.id)) {
      const { resolve, reject, method } = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) reject(new Error(method + ': ' + msg.error.message));
      else resolve(msg.result);
      return;
    }
    for (const h of this.handlers) h(msg);
  }
  send(method, params, sessionId) {
    const id = ++this.id;
    const msg = { id, method, params: params || {} };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.proc.stdio[3].write(JSON.stringify(msg) + '\0');
    });
  }
  on(fn) { this.handlers.push(fn); }
}

async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esm-chromium-'));
  const proc = spawn(env.ESM_CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--remote-debugging-pipe',
    '--user-data-dir=' + dir, '--window-size=1400,1000', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let errText = '';
  proc.stdio[2].on('data', (d) => { errText += d; });
  proc.on('exit', (code) => { if (code) process.stderr.write('chromium exited ' + code + ': ' + errText.slice(-500) + '\n'); });
  const cdp = new CDP(proc);
  const { targetInfos } = await cdp.send('Target.getTargets');
  const page = targetInfos.find((t) => t.type === 'page');
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: page.targetId, flatten: true });
  const s = (m, p) => cdp.send(m, p, sessionId);
  return { proc, cdp, s, sessionId, dir };
}

// ---- helpers -------------------------------------------------------------------
async function api(p, init) {
  const res = await fetch(BASE + p, Object.assign({
    headers: { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASS).toString('base64') },
  }, init || {}));
  return { status: res.status, body: await res.json().catch(() => null) };
}

function loggen(args) {
  execFileSync(LOGGEN, ['-q', '-r', '0', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

let passed = 0, failed = 0;
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log('  ok    ' + name + ' (' + (Date.now() - t0) + ' ms)');
  } catch (e) {
    failed++;
    console.log('  FAIL  ' + name + ': ' + (e && e.message ? e.message : e));
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function main() {
  const b = await launch();
  const { s, cdp, sessionId } = b;
  let authMode = 'cancel';
  const challenges = [];
  let loaded = null;
  cdp.on((msg) => {
    if (msg.sessionId !== sessionId) return;
    if (msg.method === 'Fetch.requestPaused') {
      s('Fetch.continueRequest', { requestId: msg.params.requestId }).catch(() => {});
    } else if (msg.method === 'Fetch.authRequired') {
      challenges.push(msg.params.authChallenge);
      const r = authMode === 'cancel' ? { response: 'CancelAuth' }
        : { response: 'ProvideCredentials', username: USER, password: PASS };
      s('Fetch.continueWithAuth', { requestId: msg.params.requestId, authChallengeResponse: r }).catch(() => {});
    } else if (msg.method === 'Page.loadEventFired' && loaded) {
      loaded();
    }
  });
  await s('Page.enable');
  await s('Runtime.enable');
  await s('Fetch.enable', { handleAuthRequests: true, patterns: [{ urlPattern: '*' }] });
  await s('Emulation.setTimezoneOverride', { timezoneId: TZ });
  await s('Emulation.setLocaleOverride', { locale: 'en-US' }).catch(() => {});
  await s('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });

  const navigate = async (url) => {
    const done = new Promise((r) => { loaded = r; });
    await s('Page.navigate', { url });
    await Promise.race([done, sleep(10000)]);
  };
  const evaluate = async (expr) => {
    const r = await s('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error('page: ' + (r.exceptionDetails.exception && r.exceptionDetails.exception.description || r.exceptionDetails.text));
    return r.result.value;
  };
  const waitFor = async (expr, ms) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await evaluate(expr);
      if (v) return v;
      if (Date.now() > end) return v;
      await sleep(50);
    }
  };
  const updates = () => evaluate('Number(document.body && document.body.dataset.updates || 0)');
  const rowWith = (text) => 'Array.from(document.querySelectorAll("#errors-body td.msg")).some(td => td.textContent === ' + JSON.stringify(text) + ')';

  await test('login is required', async () => {
    authMode = 'cancel';
    challenges.length = 0;
    await navigate(BASE + '/');
    assert(challenges.length >= 1, 'the browser was not asked to log in');
    assert(/basic/i.test(challenges[0].scheme), 'challenge scheme ' + challenges[0].scheme);
    assert(challenges[0].realm === 'EventStreamMonitor operators', 'realm ' + challenges[0].realm);
    const shown = await evaluate('document.getElementById("errors-body") !== null');
    assert(!shown, 'the dashboard showed without credentials');
    const r = await fetch(BASE + '/api/v1/logs/stats');
    assert(r.status === 401, 'API without credentials: ' + r.status);
  });

  authMode = 'provide';
  await navigate(BASE + '/');

  await test('dashboard loads after login and polls', async () => {
    assert(await waitFor('document.getElementById("errors-body") !== null', 3000), 'no dashboard');
    assert(await waitFor('Number(document.body.dataset.updates || 0) >= 2', 5000), 'no live updates');
    const st = await evaluate('document.getElementById("status").textContent');
    assert(st === 'live', 'status ' + st);
  });

  await test('counts match the API', async () => {
    let last = '';
    for (let i = 0; i < 8; i++) {
      const before = await updates();
      const stats = (await api('/api/v1/logs/stats')).body;
      await waitFor('Number(document.body.dataset.updates || 0) > ' + before, 3000);
      const page = await evaluate(`({
        total: Number(document.getElementById('total-errors').textContent),
        recent: Number(document.getElementById('recent-errors').textContent),
        affected: Number(document.getElementById('affected-services').textContent),
        bySvc: Object.fromEntries(Array.from(document.querySelectorAll('#by-service li[data-name]')).map(li => [li.dataset.name, Number(li.querySelector('.n').textContent)])),
        byLvl: Object.fromEntries(Array.from(document.querySelectorAll('#by-level li[data-name]')).map(li => [li.dataset.name, Number(li.querySelector('.n').textContent)])),
      })`);
      const want = { total: stats.total_errors, recent: stats.recent_errors,
        affected: Object.keys(stats.by_service).length, bySvc: stats.by_service, byLvl: stats.by_level };
      const sortKeys = (o) => JSON.stringify(o, Object.keys(o).sort());
      const norm = (x) => JSON.stringify([x.total, x.recent, x.affected, sortKeys(x.bySvc), sortKeys(x.byLvl)]);
      if (norm(page) === norm(want)) return;
      last = 'page ' + norm(page) + ' api ' + norm(want);
      await sleep(300);
    }
    throw new Error('counts differ: ' + last);
  });

  await test('a fresh error appears within 2 seconds', async () => {
    const marker = 'fresh error ' + rand();
    // From the moment Kafka acknowledged the record (esm-loggen returns then).
    loggen(['-n', '1', '-l', 'error', '-s', SVC, '-m', marker]);
    const t0 = Date.now();
    const seen = await waitFor(rowWith(marker), 4000);
    const took = Date.now() - t0;
    assert(seen, 'not shown after ' + took + ' ms');
    assert(took <= 2000, 'shown after ' + took + ' ms (more than 2 s)');
  });

  await test('HTML in a message renders as literal text', async () => {
    const marker = rand();
    const evil = '<img src=x onerror="window.__xss=1;document.title=\'pwned\'"><b>bold ' + marker + '</b><script>window.__xss=2</script>';
    loggen(['-n', '1', '-l', 'critical', '-s', SVC, '-m', evil]);
    assert(await waitFor(rowWith(evil), 4000), 'the message did not appear as text');
    await sleep(300);
    const r = await evaluate(`({
      imgs: document.querySelectorAll('#errors-body img, #errors-body script, #errors-body b').length,
      xss: typeof window.__xss,
      title: document.title,
    })`);
    assert(r.imgs === 0, 'markup from a message became elements');
    assert(r.xss === 'undefined' && r.title !== 'pwned', 'script from a message ran');
  });

  await test('times are shown in the viewer\'s zone', async () => {
    const tz = await evaluate('document.getElementById("tz").textContent');
    assert(tz === TZ, 'zone shown: ' + tz);
    const cell = await evaluate('(() => { const td = document.querySelector("#errors-body td.time"); return td && { text: td.textContent, utc: td.title }; })()');
    assert(cell && cell.utc.endsWith('Z'), 'no time cell with UTC title');
    const want = new Date(cell.utc).toLocaleString('en-US', { timeZone: TZ, year: 'numeric', month: '2-digit',
      day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    assert(cell.text === want, 'shown ' + cell.text + ', want ' + want + ' (' + cell.utc + ' in ' + TZ + ')');
  });

  await test('pause stops updates, resume catches up', async () => {
    await evaluate('document.getElementById("pause").click()');
    assert(await evaluate('document.getElementById("pause").getAttribute("aria-pressed")') === 'true', 'not pressed');
    await sleep(1200);	// a tick in flight may still land
    const n0 = await updates();
    const marker = 'while paused ' + rand();
    loggen(['-n', '1', '-l', 'error', '-s', SVC, '-m', marker]);
    await sleep(2500);
    assert(!(await evaluate(rowWith(marker))), 'an error appeared while paused');
    assert(await updates() === n0, 'the page kept updating while paused');
    const t0 = Date.now();
    await evaluate('document.getElementById("pause").click()');
    assert(await waitFor(rowWith(marker), 3000), 'not shown after resume');
    assert(Date.now() - t0 <= 2000, 'resume took ' + (Date.now() - t0) + ' ms');
  });

  await test('level filter', async () => {
    const marker = 'critical only ' + rand();
    await evaluate('(() => { const s = document.getElementById("filter-level"); s.value = "CRITICAL"; s.dispatchEvent(new Event("change")); })()');
    loggen(['-n', '1', '-l', 'critical', '-s', SVC, '-m', marker]);
    loggen(['-n', '1', '-l', 'error', '-s', SVC, '-m', 'not critical ' + marker]);
    assert(await waitFor(rowWith(marker), 3000), 'critical record not shown');
    await sleep(1200);
    const levels = await evaluate('Array.from(document.querySelectorAll("#errors-body td.lvl")).map(td => td.textContent)');
    assert(levels.length > 0 && levels.every((l) => l === 'CRITICAL'), 'levels shown: ' + [...new Set(levels)].join(','));
    assert(!(await evaluate(rowWith('not critical ' + marker))), 'an ERROR row passed the filter');
    await evaluate('(() => { const s = document.getElementById("filter-level"); s.value = ""; s.dispatchEvent(new Event("change")); })()');
  });

  await test('the gateway serves the same dashboard at /logmonitor/', async () => {
    await navigate(GATEWAY + '/logmonitor/');
    assert(await waitFor('Number(document.body && document.body.dataset.updates || 0) >= 1', 4000), 'no data through the gateway');
    const total = await evaluate('document.getElementById("total-errors").textContent');
    assert(/^\d+$/.test(total), 'total ' + total);
  });

  if (env.ESM_BROWSER_SCREENSHOT) {
    // Some demo traffic so the picture shows the page at work.
    loggen(['-n', '12', '-e', '100']);
    await navigate(BASE + '/');
    await waitFor('Number(document.body.dataset.updates || 0) >= 3', 6000);
    const shot = await s('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(env.ESM_BROWSER_SCREENSHOT, Buffer.from(shot.data, 'base64'));
    console.log('  screenshot: ' + env.ESM_BROWSER_SCREENSHOT);
  }

  await new Promise((r) => {
    b.proc.once('exit', r);
    b.proc.kill('SIGTERM');
    setTimeout(r, 5000);
  });
  try {
    fs.rmSync(b.dir, { recursive: true, force: true });
  } catch (e) {
    // Chromium may still be writing its profile: a temporary dir is left.
  }
}

main().catch((e) => {
  failed++;
  console.log('  FAIL  browser session: ' + (e && e.stack ? e.stack : e));
}).finally(() => {
  console.log('browser: ' + passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
});

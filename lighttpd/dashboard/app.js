// app.js: the log monitor dashboard. Polls the log APIs every 750 ms (new
// errors show within 2 s) unless paused. Everything from the server is put
// into the page with textContent or as SVG attributes built with the DOM,
// never as HTML: a log message is data, whatever it contains. Times arrive
// in UTC (RFC 3339) and are shown in the viewer's time zone.
'use strict';

const POLL_MS = 750;
const API = '/api/v1/logs';
const $ = (id) => document.getElementById(id);
let paused = false;
let timer = null;
let seen = new Set();
let firstLoad = true;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function getJSON(path, init) {
  const res = await fetch(path, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, init || {}));
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}

function localTime(iso) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

function renderBars(ul, obj) {
  const entries = Object.entries(obj || {}).sort((a, b) => b[1] - a[1]);
  const max = entries.reduce((m, e) => Math.max(m, e[1]), 0) || 1;
  ul.replaceChildren();
  for (const [name, n] of entries) {
    const li = el('li');
    li.dataset.name = name;
    const bar = el('div', null, 'bar');
    bar.style.width = Math.max(2, Math.round(100 * n / max)) + '%';
    const track = el('div');
    track.appendChild(bar);
    li.append(el('span', name, 'name'), track, el('span', n, 'n'));
    ul.appendChild(li);
  }
  if (entries.length === 0) ul.appendChild(el('li', 'none yet', 'empty'));
}

function renderStats(s) {
  $('total-errors').textContent = s.total_errors;
  $('recent-errors').textContent = s.recent_errors;
  $('affected-services').textContent = Object.keys(s.by_service || {}).length;
  renderBars($('by-service'), s.by_service);
  renderBars($('by-level'), s.by_level);
}

function renderErrors(data) {
  const body = $('errors-body');
  const rows = [];
  const now = new Set();
  for (const e of data.errors) {
    const tr = el('tr');
    tr.dataset.id = e.id;
    now.add(e.id);
    if (!firstLoad && !seen.has(e.id)) tr.className = 'fresh';
    const src = [e.module, e.function].filter(Boolean).join('.') + (e.line !== null && e.line !== undefined ? ':' + e.line : '');
    const time = el('td', localTime(e.timestamp), 'time');
    time.title = e.timestamp;
    tr.append(time, el('td', e.level, 'lvl lvl-' + e.level), el('td', e.service, 'svc'),
      el('td', e.message, 'msg'), el('td', src, 'src'));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  seen = now;
  firstLoad = false;
  $('errors-count').textContent = '(' + data.count + ' shown)';
}

function renderChart(series) {
  const svg = $('chart');
  const NS = 'http://www.w3.org/2000/svg';
  const pts = (series && series[0] && series[0].datapoints) || [];
  const max = pts.reduce((m, p) => Math.max(m, p[0]), 0) || 1;
  const w = 600 / Math.max(pts.length, 1);
  svg.replaceChildren();
  const base = document.createElementNS(NS, 'line');
  base.setAttribute('x1', 0); base.setAttribute('x2', 600);
  base.setAttribute('y1', 159); base.setAttribute('y2', 159);
  svg.appendChild(base);
  pts.forEach((p, i) => {
    if (p[0] <= 0) return;
    const h = Math.max(2, 150 * p[0] / max);
    const r = document.createElementNS(NS, 'rect');
    r.setAttribute('x', (i * w + 1).toFixed(1));
    r.setAttribute('width', Math.max(1, w - 2).toFixed(1));
    r.setAttribute('y', (160 - h).toFixed(1));
    r.setAttribute('height', h.toFixed(1));
    const t = document.createElementNS(NS, 'title');
    t.textContent = localTime(new Date(p[1]).toISOString()) + ': ' + p[0];
    r.appendChild(t);
    svg.appendChild(r);
  });
}

async function refreshServices() {
  const sel = $('filter-service');
  const data = await getJSON(API + '/services');
  const cur = sel.value;
  const have = new Set([...sel.options].map((o) => o.value));
  for (const s of data.services) {
    if (!have.has(s)) sel.appendChild(new Option(s, s));
  }
  sel.value = cur;
}

async function tick() {
  const q = new URLSearchParams({ limit: '100' });
  if ($('filter-service').value) q.set('service', $('filter-service').value);
  if ($('filter-level').value) q.set('level', $('filter-level').value);
  const to = new Date();
  const from = new Date(to.getTime() - 3600 * 1000);
  try {
    const [stats, errors, chart] = await Promise.all([
      getJSON(API + '/stats'),
      getJSON(API + '/errors?' + q.toString()),
      getJSON('/api/v1/grafana/query', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ range: { from: from.toISOString(), to: to.toISOString() },
          intervalMs: 60000, targets: [{ target: 'error_count' }] }),
      }),
    ]);
    renderStats(stats);
    renderErrors(errors);
    renderChart(chart);
    $('status').textContent = paused ? 'paused' : 'live';
    $('status').className = 'status';
    $('last-update').textContent = localTime(new Date().toISOString());
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (e) {
    $('status').textContent = 'error: ' + e.message;
    $('status').className = 'status bad';
  }
}

function schedule() {
  clearTimeout(timer);
  if (paused) return;
  timer = setTimeout(async () => {
    await tick();
    schedule();
  }, POLL_MS);
}

$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').setAttribute('aria-pressed', String(paused));
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('status').textContent = paused ? 'paused' : 'live';
  if (!paused) tick().then(schedule);
  else clearTimeout(timer);
});
for (const id of ['filter-service', 'filter-level']) {
  $(id).addEventListener('change', () => { firstLoad = true; tick(); });
}
$('tz').textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
refreshServices().catch(() => {});
setInterval(() => { refreshServices().catch(() => {}); }, 15000);
tick().then(schedule);

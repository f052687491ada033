/**
 * The dashboard's behaviour: ask for the token once (kept in sessionStorage, so it dies with the
 * tab), then poll the JSON endpoints every 2 s and redraw. Every value reaches the page through
 * textContent, never innerHTML: round messages and site names come from the network. Plain
 * ES2020 without backticks, like chart-script.ts.
 */
export const APP_JS = String.raw`
var TOKEN_KEY = 'medley-dashboard-token';
var POLL_MS = 2000;
var timer = null;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, children) {
  var node = document.createElement(tag);
  for (var key in attrs || {}) {
    if (key === 'text') node.textContent = attrs[key];
    else if (key === 'className') node.className = attrs[key];
    else node.setAttribute(key, String(attrs[key]));
  }
  (children || []).forEach(function (c) { if (c) node.appendChild(c); });
  return node;
}

function formatBytes(n) {
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return (u === 0 ? String(n) : n.toFixed(1)) + ' ' + units[u];
}

function ago(ms, now) {
  if (!ms) return 'never';
  var s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

function badge(state) { return el('span', { className: 'state state-' + state, text: state }); }

async function getJson(path) {
  var token = sessionStorage.getItem(TOKEN_KEY);
  var res = await fetch(path, { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' });
  if (res.status === 401) { var e = new Error('the coordinator refused the token'); e.unauthorized = true; throw e; }
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}

function showLogin(message) {
  if (timer) { clearTimeout(timer); timer = null; }
  $('board').hidden = true;
  $('forget').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

function replaceRows(table, rows) {
  var body = $(table).tBodies[0];
  body.replaceChildren.apply(body, rows);
}

function drawOverview(o) {
  $('federation').textContent = o.federation;
  document.title = 'Medley: ' + o.federation;
  var connected = o.sites.filter(function (s) { return s.connected; }).length;
  $('summary').textContent = 'model version ' + o.modelVersion + ' · ' + connected + '/' + o.sites.length + ' sites connected · ' +
    (o.running ? 'run in progress, ' + o.roundsRemaining + ' round(s) to go' : 'no run in progress') +
    ' · updated ' + new Date(o.nowUnixMs).toLocaleTimeString();
  replaceRows('sites', o.sites.map(function (s) {
    var seen = el('td', { text: ago(s.lastSeenUnixMs, o.nowUnixMs), title: s.lastSeenUnixMs ? new Date(s.lastSeenUnixMs).toISOString() : '' });
    return el('tr', { 'data-site': s.name, 'data-state': s.state, 'data-last-seen-ms': s.lastSeenUnixMs }, [
      el('td', { text: s.name + (s.enrolled ? '' : ' (not enrolled)') }),
      el('td', {}, [badge(s.state)]),
      seen,
      el('td', { text: s.backend || '—' }),
      el('td', { className: 'num', text: s.connected ? String(s.trainExamples) : '—' }),
    ]);
  }));
}

function progressCell(p) {
  var share = 0, label = p.phase;
  if (p.phase === 'training' && p.epochs) { share = p.epoch / p.epochs; label = 'epoch ' + p.epoch + '/' + p.epochs; }
  else if ((p.phase === 'downloading' || p.phase === 'uploading') && p.totalBytes) { share = p.bytes / p.totalBytes; label = formatBytes(p.bytes) + ' / ' + formatBytes(p.totalBytes); }
  else if (p.phase === 'done') { share = 1; label = 'update sent'; }
  var fill = el('div');
  // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
  fill.style.width = (share * 100).toFixed(1) + '%';
  var bar = el('div', { className: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(share * 100) }, [fill]);
  return [bar, el('div', { className: 'muted', text: label + (p.message && p.phase !== 'done' ? ' — ' + p.message : '') })];
}

function drawRound(r, now) {
  var box = $('round');
  if (!r) { box.replaceChildren(el('p', { className: 'muted', id: 'no-round', text: 'No round in progress.' })); return; }
  var head = 'Round ' + r.round + ' · started ' + ago(r.startedUnixMs, now) + ' · base model version ' + r.baseVersion +
    (r.strategy ? ' · ' + r.strategy : '') + ' · ' + r.reported.length + '/' + r.selected.length + ' updates in' +
    (r.deadlineUnixMs ? ' · deadline in ' + Math.max(0, Math.round((r.deadlineUnixMs - now) / 1000)) + ' s' : '');
  var rows = r.sites.map(function (p) {
    var moved = p.downloadedBytes || p.uploadedBytes ? 'down ' + formatBytes(p.downloadedBytes) + ' · up ' + formatBytes(p.uploadedBytes) : '—';
    return el('tr', { 'data-site': p.site, 'data-phase': p.phase, 'data-epoch': p.epoch, 'data-downloaded': p.downloadedBytes, 'data-uploaded': p.uploadedBytes }, [
      el('td', { text: p.site }),
      el('td', {}, [badge(p.phase)]),
      el('td', {}, progressCell(p)),
      el('td', { className: 'num', text: p.epochs ? p.epoch + '/' + p.epochs : '—' }),
      el('td', { className: 'num', text: moved }),
    ]);
  });
  var table = el('table', { id: 'round-sites', 'data-round': r.round }, [
    el('thead', {}, [el('tr', {}, ['Site', 'Phase', 'Progress', 'Epoch', 'Model down · update up'].map(function (h) { return el('th', { text: h }); }))]),
    el('tbody', {}, rows),
  ]);
  box.replaceChildren(el('p', { id: 'round-head', text: head }), table);
}

function series(rounds, pick) {
  return rounds.map(function (r) { var v = pick(r); return { x: r.round, y: typeof v === 'number' ? v : NaN }; });
}

function drawCharts(rounds) {
  var done = rounds.filter(function (r) { return r.state === 'closed' || r.state === 'failed'; });
  var figures = [];
  var keys = [];
  done.forEach(function (r) { Object.keys(r.metrics).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
  if (keys.length) {
    figures.push(lineChart('global-metrics', 'Global model, held-out', keys.map(function (k) {
      return { name: k, points: series(done, function (r) { return r.metrics[k]; }) };
    })));
  }
  var sites = [];
  done.forEach(function (r) { r.siteMetrics.forEach(function (s) { if (sites.indexOf(s.site) < 0) sites.push(s.site); }); });
  sites.sort();
  figures.push(lineChart('site-loss', 'Training loss by site', sites.map(function (site) {
    return { name: site, points: series(done, function (r) { var m = r.siteMetrics.find(function (s) { return s.site === site; }); return m ? m.trainLoss : NaN; }) };
  }), 'loss'));
  var siteKeys = [];
  done.forEach(function (r) { r.siteMetrics.forEach(function (s) { Object.keys(s.metrics).forEach(function (k) { if (siteKeys.indexOf(k) < 0) siteKeys.push(k); }); }); });
  siteKeys.slice(0, 2).forEach(function (k) {
    figures.push(lineChart('site-' + k, 'Site-reported ' + k, sites.map(function (site) {
      return { name: site, points: series(done, function (r) { var m = r.siteMetrics.find(function (s) { return s.site === site; }); return m ? m.metrics[k] : NaN; }) };
    }), k));
  });
  figures.push(lineChart('duration', 'Round duration', [{ name: 'seconds', points: series(done, function (r) { return (r.closedUnixMs - r.startedUnixMs) / 1000; }) }], 'seconds'));
  figures.push(lineChart('bytes', 'Bytes moved per round', [
    { name: 'updates in', points: series(done, function (r) { return r.bytesUp; }) },
    { name: 'models out', points: series(done, function (r) { return r.bytesDown; }) },
  ], 'bytes'));
  $('charts').replaceChildren.apply($('charts'), figures);
  replaceRows('rounds', rounds.slice(-15).reverse().map(function (r) {
    var seconds = r.closedUnixMs ? ((r.closedUnixMs - r.startedUnixMs) / 1000).toFixed(1) + ' s' : '—';
    return el('tr', { 'data-round': r.round, 'data-state': r.state }, [
      el('td', { className: 'num', text: String(r.round) }),
      el('td', {}, [badge(r.state)]),
      el('td', { className: 'num', text: seconds }),
      el('td', { className: 'num', text: String(r.siteMetrics.length) }),
      el('td', { className: 'num', text: r.modelVersion ? 'v' + r.modelVersion : '—' }),
      el('td', { text: r.message }),
    ]);
  }));
}

function drawModels(models) {
  replaceRows('models', models.map(function (m) {
    return el('tr', { 'data-version': m.version, 'data-sha256': m.sha256 }, [
      el('td', { className: 'num', text: 'v' + m.version }),
      el('td', { className: 'num', text: m.round === null ? 'initial' : String(m.round) }),
      el('td', { text: m.createdAt ? new Date(m.createdAt).toLocaleString() : '' }),
      el('td', { className: 'num', text: formatBytes(m.totalBytes) }),
      el('td', { className: 'hash', title: m.sha256, text: m.sha256.slice(0, 16) + '…' }),
    ]);
  }));
}

async function refresh() {
  try {
    var all = await Promise.all([getJson('/api/overview'), getJson('/api/round'), getJson('/api/rounds'), getJson('/api/models')]);
    $('login').hidden = true;
    $('board').hidden = false;
    $('forget').hidden = false;
    $('stale').hidden = true;
    drawOverview(all[0]);
    drawRound(all[1].current, all[0].nowUnixMs);
    drawCharts(all[2]);
    drawModels(all[3]);
    document.body.setAttribute('data-updated', String(all[0].nowUnixMs));
  } catch (err) {
    if (err.unauthorized) { sessionStorage.removeItem(TOKEN_KEY); showLogin('The coordinator refused this token. Print the current one with medley coordinator dashboard-token.'); return; }
    $('stale').hidden = false;
    $('stale').textContent = 'Cannot reach the coordinator (' + err.message + '); retrying.';
  }
  timer = setTimeout(refresh, POLL_MS);
}

function start() {
  $('login-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var token = $('token').value.trim();
    if (!token) { $('login-error').textContent = 'Paste the token first.'; return; }
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    if (timer) clearTimeout(timer);
    refresh();
  });
  $('forget').addEventListener('click', function () { sessionStorage.removeItem(TOKEN_KEY); showLogin(''); });
  if (sessionStorage.getItem(TOKEN_KEY)) refresh();
  else showLogin('');
}

document.addEventListener('DOMContentLoaded', start);
`;

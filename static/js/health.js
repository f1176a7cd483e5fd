// Health: this machine and the gateway, from /api/system-health (collected by the monitor every
// few seconds; re-read every 10 s while the page is visible): disks, memory, load, CPU and its
// temperature, GPUs, the gateway's version and uptime, port checks, and a chart of the history
// (/api/history). The chart's metric and range live in the URL: #/health?metric=disk&range=7d.
import {
  api, html, setHTML, $, fmtDuration, ago, empty, setQuery, cssVar, debounce, plural, loadUplot, chartBase, chartAxis, chartWidth,
} from './util.js';

const METRICS = [['disk', 'Disk'], ['memory', 'Memory'], ['load', 'Load'], ['cpu', 'CPU'], ['cpuTemp', 'CPU °C'], ['sessions', 'Sessions'], ['cost', 'Cost']];
const RANGES = [['24h', '15m'], ['7d', '1h'], ['30d', '6h'], ['90d', '1d']];
const POLL_MS = 10_000;

/** 1.2 GB, 512 MB */
export function fmtBytes(n) {
  if (n == null) return '–';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = Number(n);
  while (x >= 1000 && i < u.length - 1) { x /= 1000; i++; }
  return `${x >= 100 || i === 0 ? Math.round(x) : x.toFixed(1)} ${u[i]}`;
}

const meter = (pct, warnAt = 85) => html`<div class="bar" title="${pct == null ? '' : pct + '%'}"><span style="width:${Math.min(100, pct || 0)}%;${pct >= warnAt ? 'background:var(--bad)' : ''}"></span></div>`;
const yes = (b, good = 'yes', bad = 'no') => b ? html`<span class="badge st-done">${good}</span>` : html`<span class="badge st-failed">${bad}</span>`;

export function mount(root, route, app) {
  let q = route.query;
  let ctrl = null;
  let timer = 0;
  let chart = null;

  setHTML(root, html`<h1>System health <span class="muted small" id="h-when"></span></h1>
    <div id="h-body"><p class="loading">Loading…</p></div>
    <section class="panel"><h2>History</h2>
      <div class="toolbar">
        <div class="seg" role="group" aria-label="Metric" id="h-metrics">${METRICS.map(([v, l]) => html`<button type="button" data-metric="${v}">${l}</button>`)}</div>
        <div class="seg" role="group" aria-label="Range" id="h-ranges">${RANGES.map(([v]) => html`<button type="button" data-range="${v}">${v}</button>`)}</div>
      </div>
      <div class="chart" id="h-chart"></div><p class="muted small" id="h-chart-note"></p>
    </section>`);
  const body = $('#h-body', root);
  $('#h-metrics', root).addEventListener('click', (e) => { const b = e.target.closest('button'); if (b) setQuery({ metric: b.dataset.metric }, { replace: true }); });
  $('#h-ranges', root).addEventListener('click', (e) => { const b = e.target.closest('button'); if (b) setQuery({ range: b.dataset.range }, { replace: true }); });

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      const h = await api('/api/system-health', { signal });
      if (signal.aborted) return;
      render(h);
      app.rendered('health');
    } catch (e) {
      app.failed(body, e, load);
    }
    clearTimeout(timer);
    timer = setTimeout(() => { if (!document.hidden) load(); else timer = setTimeout(load, POLL_MS); }, POLL_MS);
  }

  function render(h) {
    $('#h-when', root).textContent = `checked ${new Date(h.collectedMs).toLocaleTimeString()}`;
    const card = (label, value, sub, k) => html`<div class="card" data-k="${k}"><span class="label">${label}</span><b class="num">${value}</b><span class="sub">${sub}</span></div>`;
    const oc = h.disks.find((d) => d.name === 'OpenClaw dir') || h.disks[0];
    const m = h.memory;
    const gw = h.gateway || {};
    setHTML(body, html`
      ${h.warnings.length ? html`<section class="panel" id="h-warnings"><h2>Needs attention</h2><ul class="warnlist">${h.warnings.map((w) => html`<li class="w-failed"><span class="wicon">!</span>${w}</li>`)}</ul></section>` : ''}
      <section class="cards" aria-label="Key figures">
        ${card('Disk', oc && oc.usedPercent != null ? `${oc.usedPercent}%` : '–', oc ? html`${fmtBytes(oc.availBytes)} free ${meter(oc.usedPercent, h.diskWarnPercent)}` : 'no OpenClaw dir', 'disk')}
        ${card('Memory', m ? `${m.usedPercent}%` : '–', m ? html`${fmtBytes(m.usedBytes)} of ${fmtBytes(m.totalBytes)} ${meter(m.usedPercent, 90)}` : '', 'memory')}
        ${card('Load', h.load ? h.load.one.toFixed(2) : '–', h.load ? `${h.load.five.toFixed(2)} · ${h.load.fifteen.toFixed(2)} · ${h.cpu.count} CPUs${h.cpu.percent != null ? ` · ${h.cpu.percent}% busy` : ''}` : '', 'load')}
        ${card('CPU temperature', h.temperature.cpuC != null ? `${h.temperature.cpuC.toFixed(1)} °C` : '–', h.temperature.zones.length ? `${h.temperature.zones.length} thermal zones` : 'no sensor', 'temp')}
        ${card('Gateway', gw.listening ? 'up' : 'down', html`port ${gw.port}${gw.version ? ` · ${gw.version}` : ''}${gw.uptimeSeconds != null ? ` · up ${fmtDuration(gw.uptimeSeconds * 1000)}` : ''}`, 'gateway')}
      </section>
      <div class="cols">
        <section class="panel" id="h-disks"><h2>Disks</h2><table class="grid"><thead><tr><th>For</th><th>Path</th><th class="n">Used</th><th class="n">Free</th><th class="n">Size</th></tr></thead><tbody>
          ${h.disks.map((d) => html`<tr><td>${d.name}</td><td class="name"><code>${d.path}</code></td>${d.error ? html`<td colspan="3" class="errmsg">${d.error}</td>`
            : html`<td class="n">${d.usedPercent}% ${d.warn ? html`<span class="count err">over ${h.diskWarnPercent}%</span>` : ''}</td><td class="n">${fmtBytes(d.availBytes)}</td><td class="n">${fmtBytes(d.totalBytes)}</td>`}</tr>`)}
        </tbody></table></section>
        <section class="panel" id="h-gateway"><h2>Gateway</h2><dl class="kv">
          <div><dt>Port ${gw.port}</dt><dd>${yes(gw.listening, 'listening', 'closed')}</dd></div>
          <div><dt>Connection</dt><dd>${gw.connected ? yes(true, 'connected') : html`<span class="muted">${gw.connection || 'none'}</span>`}</dd></div>
          <div><dt>Version</dt><dd>${gw.version || html`<span class="muted">unknown</span>`}${gw.configVersion && gw.configVersion !== gw.version ? html` <span class="muted small">(config written by ${gw.configVersion})</span>` : ''}</dd></div>
          <div><dt>Uptime</dt><dd>${gw.uptimeSeconds != null ? fmtDuration(gw.uptimeSeconds * 1000) : html`<span class="muted">–</span>`}</dd></div>
          <div><dt>PID</dt><dd>${gw.pid || '–'} ${gw.source ? html`<span class="muted small">(${gw.source})</span>` : ''}</dd></div>
        </dl></section>
        <section class="panel" id="h-ports"><h2>Port checks</h2><table class="grid"><thead><tr><th>Service</th><th>Address</th><th>State</th><th class="n">Latency</th></tr></thead><tbody>
          ${h.ports.map((p) => html`<tr><td>${p.name}</td><td><code>${p.host}:${p.port}</code></td><td title="${p.error || ''}">${yes(p.open, 'open', 'closed')}</td><td class="n">${p.latencyMs != null ? `${p.latencyMs} ms` : '–'}</td></tr>`)}
        </tbody></table></section>
        <section class="panel" id="h-host"><h2>Machine</h2><dl class="kv">
          <div><dt>Host</dt><dd>${h.host.hostname}</dd></div>
          ${h.host.board ? html`<div><dt>Board</dt><dd>${h.host.board}</dd></div>` : ''}
          <div><dt>System</dt><dd>${h.host.os} ${h.host.arch}</dd></div>
          <div><dt>Up</dt><dd>${h.host.uptimeSeconds != null ? fmtDuration(h.host.uptimeSeconds * 1000) : '–'}</dd></div>
          <div><dt>Swap</dt><dd>${m && m.swapTotalBytes ? `${fmtBytes(m.swapUsedBytes)} of ${fmtBytes(m.swapTotalBytes)}` : 'none'}</dd></div>
          <div><dt>clawmetry</dt><dd>${h.clawmetry.version} · ${fmtBytes(h.clawmetry.rssBytes)} RSS</dd></div>
          ${h.throttled ? html`<div><dt>Pi power/throttling</dt><dd>${h.throttled.underVoltageNow || h.throttled.throttledNow ? html`<span class="badge st-failed">now ${h.throttled.raw}</span>`
            : h.throttled.underVoltageSinceBoot || h.throttled.throttledSinceBoot ? html`<span class="badge">since boot ${h.throttled.raw}</span>` : yes(true, 'ok')}</dd></div>` : ''}
          ${h.temperature.zones.map((z) => html`<div><dt>${z.kind || z.zone}</dt><dd>${z.celsius.toFixed(1)} °C</dd></div>`)}
        </dl></section>
        <section class="panel" id="h-gpu"><h2>GPU</h2>${h.gpu.gpus.length ? html`<table class="grid"><thead><tr><th>GPU</th><th class="n">Busy</th><th class="n">Memory</th><th class="n">°C</th><th class="n">W</th></tr></thead><tbody>
          ${h.gpu.gpus.map((g) => html`<tr><td>${g.index}: ${g.name}</td><td class="n">${g.utilizationPercent ?? '–'}%</td><td class="n">${g.memoryUsedMib ?? '–'} / ${g.memoryTotalMib ?? '–'} MiB</td><td class="n">${g.temperatureC ?? '–'}</td><td class="n">${g.powerWatts ?? '–'}</td></tr>`)}
          </tbody></table>` : html`<p class="muted">${h.gpu.error || (h.gpu.note ? 'No NVIDIA GPU here (nvidia-smi is not installed).' : 'No GPU found.')}</p>`}</section>
        <section class="panel" id="h-history"><h2>History database</h2><p>${h.history.persistent ? html`<code>${h.history.path}</code>` : html`<span class="errmsg">in memory only: ${h.history.error}</span>`}</p>
          <p class="muted small">${plural(h.history.snapshots, 'snapshot')} kept ${h.history.retentionDays} days${h.history.lastSnapshotMs ? html`, last ${ago(h.history.lastSnapshotMs)}` : ''}. Monitor checks every ${h.monitor.intervalSeconds} s${h.monitor.lastError ? html`; <span class="errmsg">${h.monitor.lastError}</span>` : ''}.</p></section>
      </div>`);
  }

  // ---- history chart ------------------------------------------------------------------------

  async function loadChart() {
    const metric = METRICS.some(([v]) => v === q.metric) ? q.metric : 'disk';
    const [range, step0] = RANGES.find(([v]) => v === q.range) || RANGES[0];
    const step = metric === 'cost' && step0 === '15m' ? '1h' : step0;
    for (const b of root.querySelectorAll('#h-metrics button')) b.classList.toggle('on', b.dataset.metric === metric);
    for (const b of root.querySelectorAll('#h-ranges button')) b.classList.toggle('on', b.dataset.range === range);
    const el = $('#h-chart', root);
    try {
      const [d, U] = await Promise.all([api(`/api/history?metric=${metric}&range=${range}&step=${step}`), loadUplot()]);
      if (chart) { chart.destroy(); chart = null; }
      const xs = d.points.map((p) => p.t / 1000);
      const ys = d.points.map((p) => p.v);
      const have = ys.filter((v) => v != null).length;
      $('#h-chart-note', root).textContent = have ? `${d.source}, ${d.unit}, UTC` : '';
      if (!have) { setHTML(el, empty('No history yet', 'Snapshots are taken every 5 minutes; this chart fills as they come.')); return; }
      el.textContent = '';
      const axis = chartAxis();
      chart = new U({
        ...chartBase(U, el, 200),
        scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        axes: [axis, { ...axis, size: 56 }],
        series: [{}, { label: `${metric} (${d.unit})`, stroke: cssVar('--accent'), width: 2, fill: 'transparent', spanGaps: false, points: { show: have < 60 } }],
      }, [xs, ys], el);
    } catch (e) {
      setHTML(el, html`<p class="errmsg">${e.message}</p>`);
    }
  }

  const onResize = debounce(() => { const el = $('#h-chart', root); if (chart) chart.setSize({ width: chartWidth(el), height: 200 }); }, 150);
  window.addEventListener('resize', onResize);
  load();
  loadChart();
  return {
    update(r) { q = r.query; loadChart(); },
    refresh() { /* index changes do not change this page; it re-reads every 10 s */ },
    unmount() {
      if (ctrl) ctrl.abort();
      clearTimeout(timer);
      if (chart) chart.destroy();
      window.removeEventListener('resize', onResize);
    },
  };
}

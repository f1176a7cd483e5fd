// Health's panels: disks, the gateway, port checks, the machine, GPUs and the history database.
import { ago, fmtBytes, fmtDuration, html, plural } from '../util.js';
import { yes } from './cards.js';

const kv = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
const muted = (text) => html`<span class="muted">${text}</span>`;
const up = (seconds, none) => (seconds != null ? fmtDuration(seconds * 1000) : none);

function diskRow(h, d) {
  const warn = d.warn ? html`<span class="count err">over ${h.diskWarnPercent}%</span>` : '';
  const cells = d.error
    ? html`<td colspan="3" class="errmsg">${d.error}</td>`
    : html`<td class="n">${d.usedPercent}% ${warn}</td>
      <td class="n">${fmtBytes(d.availBytes)}</td><td class="n">${fmtBytes(d.totalBytes)}</td>`;
  return html`<tr><td>${d.name}</td><td class="name"><code>${d.path}</code></td>${cells}</tr>`;
}

function disks(h) {
  return html`<section class="panel" id="h-disks"><h2>Disks</h2><table class="grid"><thead><tr><th>For</th><th>Path</th>
    <th class="n">Used</th><th class="n">Free</th><th class="n">Size</th></tr></thead><tbody>
    ${h.disks.map((d) => diskRow(h, d))}
  </tbody></table></section>`;
}

function gateway(gw) {
  const config =
    gw.configVersion && gw.configVersion !== gw.version
      ? html` <span class="muted small">(config written by ${gw.configVersion})</span>`
      : '';
  return html`<section class="panel" id="h-gateway"><h2>Gateway</h2><dl class="kv">
    ${kv(`Port ${gw.port}`, yes(gw.listening, 'listening', 'closed'))}
    ${kv('Connection', gw.connected ? yes(true, 'connected') : muted(gw.connection || 'none'))}
    ${kv('Version', html`${gw.version || muted('unknown')}${config}`)}
    ${kv('Uptime', up(gw.uptimeSeconds, muted('–')))}
    ${kv('PID', html`${gw.pid || '–'} ${gw.source ? html`<span class="muted small">(${gw.source})</span>` : ''}`)}
  </dl></section>`;
}

const portRow = (p) => html`<tr><td>${p.name}</td><td><code>${p.host}:${p.port}</code></td>
  <td title="${p.error || ''}">${yes(p.open, 'open', 'closed')}</td>
  <td class="n">${p.latencyMs != null ? `${p.latencyMs} ms` : '–'}</td></tr>`;

function ports(h) {
  return html`<section class="panel" id="h-ports"><h2>Port checks</h2><table class="grid"><thead><tr><th>Service</th>
    <th>Address</th><th>State</th><th class="n">Latency</th></tr></thead><tbody>
    ${h.ports.map(portRow)}
  </tbody></table></section>`;
}

/** The Raspberry Pi's under-voltage / throttling flags, now or since boot. */
function throttled(t) {
  if (!t) return '';
  const state =
    t.underVoltageNow || t.throttledNow
      ? html`<span class="badge st-failed">now ${t.raw}</span>`
      : t.underVoltageSinceBoot || t.throttledSinceBoot
        ? html`<span class="badge">since boot ${t.raw}</span>`
        : yes(true, 'ok');
  return kv('Pi power/throttling', state);
}

function machine(h) {
  const m = h.memory;
  const swap = m?.swapTotalBytes ? `${fmtBytes(m.swapUsedBytes)} of ${fmtBytes(m.swapTotalBytes)}` : 'none';
  return html`<section class="panel" id="h-host"><h2>Machine</h2><dl class="kv">
    ${kv('Host', h.host.hostname)}
    ${h.host.board ? kv('Board', h.host.board) : ''}
    ${kv('System', `${h.host.os} ${h.host.arch}`)}
    ${kv('Up', up(h.host.uptimeSeconds, '–'))}
    ${kv('Swap', swap)}
    ${kv('clawmetry', `${h.clawmetry.version} · ${fmtBytes(h.clawmetry.rssBytes)} RSS`)}
    ${throttled(h.throttled)}
    ${h.temperature.zones.map((z) => kv(z.kind || z.zone, `${z.celsius.toFixed(1)} °C`))}
  </dl></section>`;
}

const gpuRow = (g) => html`<tr><td>${g.index}: ${g.name}</td><td class="n">${g.utilizationPercent ?? '–'}%</td>
  <td class="n">${g.memoryUsedMib ?? '–'} / ${g.memoryTotalMib ?? '–'} MiB</td>
  <td class="n">${g.temperatureC ?? '–'}</td>
  <td class="n">${g.powerWatts ?? '–'}</td></tr>`;

function gpu(h) {
  const none = h.gpu.error || (h.gpu.note ? 'No NVIDIA GPU here (nvidia-smi is not installed).' : 'No GPU found.');
  const table = html`<table class="grid"><thead><tr><th>GPU</th><th class="n">Busy</th><th class="n">Memory</th>
    <th class="n">°C</th><th class="n">W</th></tr></thead><tbody>
    ${h.gpu.gpus.map(gpuRow)}
    </tbody></table>`;
  return html`<section class="panel" id="h-gpu"><h2>GPU</h2>${
    h.gpu.gpus.length ? table : html`<p class="muted">${none}</p>`
  }</section>`;
}

function history(h) {
  const db = h.history;
  const where = db.persistent
    ? html`<code>${db.path}</code>`
    : html`<span class="errmsg">in memory only: ${db.error}</span>`;
  const last = db.lastSnapshotMs ? html`, last ${ago(db.lastSnapshotMs)}` : '';
  const err = h.monitor.lastError ? html`; <span class="errmsg">${h.monitor.lastError}</span>` : '';
  return html`<section class="panel" id="h-history"><h2>History database</h2><p>${where}</p>
    <p class="muted small">${plural(db.snapshots, 'snapshot')} kept ${db.retentionDays} days${last}.
      Monitor checks every ${h.monitor.intervalSeconds} s${err}.</p></section>`;
}

/** Every panel, in the page's order. */
export const panels = (h) => [disks(h), gateway(h.gateway || {}), ports(h), machine(h), gpu(h), history(h)];

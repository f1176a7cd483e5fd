// Health's panels: disks, the gateway, port checks, the machine, GPUs and the history database.
import { ago, fmtDuration, html, plural } from '../util.js';

import { fmtBytes, yes } from './cards.js';

function disks(h) {
  return html`<section class="panel" id="h-disks"><h2>Disks</h2><table class="grid"><thead><tr><th>For</th><th>Path</th><th class="n">Used</th><th class="n">Free</th><th class="n">Size</th></tr></thead><tbody>
    ${h.disks.map(
      (d) =>
        html`<tr><td>${d.name}</td><td class="name"><code>${d.path}</code></td>${
          d.error
            ? html`<td colspan="3" class="errmsg">${d.error}</td>`
            : html`<td class="n">${d.usedPercent}% ${d.warn ? html`<span class="count err">over ${h.diskWarnPercent}%</span>` : ''}</td><td class="n">${fmtBytes(d.availBytes)}</td><td class="n">${fmtBytes(d.totalBytes)}</td>`
        }</tr>`,
    )}
  </tbody></table></section>`;
}

function gateway(gw) {
  return html`<section class="panel" id="h-gateway"><h2>Gateway</h2><dl class="kv">
    <div><dt>Port ${gw.port}</dt><dd>${yes(gw.listening, 'listening', 'closed')}</dd></div>
    <div><dt>Connection</dt><dd>${gw.connected ? yes(true, 'connected') : html`<span class="muted">${gw.connection || 'none'}</span>`}</dd></div>
    <div><dt>Version</dt><dd>${gw.version || html`<span class="muted">unknown</span>`}${gw.configVersion && gw.configVersion !== gw.version ? html` <span class="muted small">(config written by ${gw.configVersion})</span>` : ''}</dd></div>
    <div><dt>Uptime</dt><dd>${gw.uptimeSeconds != null ? fmtDuration(gw.uptimeSeconds * 1000) : html`<span class="muted">–</span>`}</dd></div>
    <div><dt>PID</dt><dd>${gw.pid || '–'} ${gw.source ? html`<span class="muted small">(${gw.source})</span>` : ''}</dd></div>
  </dl></section>`;
}

function ports(h) {
  return html`<section class="panel" id="h-ports"><h2>Port checks</h2><table class="grid"><thead><tr><th>Service</th><th>Address</th><th>State</th><th class="n">Latency</th></tr></thead><tbody>
    ${h.ports.map((p) => html`<tr><td>${p.name}</td><td><code>${p.host}:${p.port}</code></td><td title="${p.error || ''}">${yes(p.open, 'open', 'closed')}</td><td class="n">${p.latencyMs != null ? `${p.latencyMs} ms` : '–'}</td></tr>`)}
  </tbody></table></section>`;
}

function machine(h) {
  const m = h.memory;
  return html`<section class="panel" id="h-host"><h2>Machine</h2><dl class="kv">
    <div><dt>Host</dt><dd>${h.host.hostname}</dd></div>
    ${h.host.board ? html`<div><dt>Board</dt><dd>${h.host.board}</dd></div>` : ''}
    <div><dt>System</dt><dd>${h.host.os} ${h.host.arch}</dd></div>
    <div><dt>Up</dt><dd>${h.host.uptimeSeconds != null ? fmtDuration(h.host.uptimeSeconds * 1000) : '–'}</dd></div>
    <div><dt>Swap</dt><dd>${m?.swapTotalBytes ? `${fmtBytes(m.swapUsedBytes)} of ${fmtBytes(m.swapTotalBytes)}` : 'none'}</dd></div>
    <div><dt>clawmetry</dt><dd>${h.clawmetry.version} · ${fmtBytes(h.clawmetry.rssBytes)} RSS</dd></div>
    ${
      h.throttled
        ? html`<div><dt>Pi power/throttling</dt><dd>${
            h.throttled.underVoltageNow || h.throttled.throttledNow
              ? html`<span class="badge st-failed">now ${h.throttled.raw}</span>`
              : h.throttled.underVoltageSinceBoot || h.throttled.throttledSinceBoot
                ? html`<span class="badge">since boot ${h.throttled.raw}</span>`
                : yes(true, 'ok')
          }</dd></div>`
        : ''
    }
    ${h.temperature.zones.map((z) => html`<div><dt>${z.kind || z.zone}</dt><dd>${z.celsius.toFixed(1)} °C</dd></div>`)}
  </dl></section>`;
}

function gpu(h) {
  return html`<section class="panel" id="h-gpu"><h2>GPU</h2>${
    h.gpu.gpus.length
      ? html`<table class="grid"><thead><tr><th>GPU</th><th class="n">Busy</th><th class="n">Memory</th><th class="n">°C</th><th class="n">W</th></tr></thead><tbody>
    ${h.gpu.gpus.map((g) => html`<tr><td>${g.index}: ${g.name}</td><td class="n">${g.utilizationPercent ?? '–'}%</td><td class="n">${g.memoryUsedMib ?? '–'} / ${g.memoryTotalMib ?? '–'} MiB</td><td class="n">${g.temperatureC ?? '–'}</td><td class="n">${g.powerWatts ?? '–'}</td></tr>`)}
    </tbody></table>`
      : html`<p class="muted">${h.gpu.error || (h.gpu.note ? 'No NVIDIA GPU here (nvidia-smi is not installed).' : 'No GPU found.')}</p>`
  }</section>`;
}

function history(h) {
  return html`<section class="panel" id="h-history"><h2>History database</h2><p>${h.history.persistent ? html`<code>${h.history.path}</code>` : html`<span class="errmsg">in memory only: ${h.history.error}</span>`}</p>
    <p class="muted small">${plural(h.history.snapshots, 'snapshot')} kept ${h.history.retentionDays} days${h.history.lastSnapshotMs ? html`, last ${ago(h.history.lastSnapshotMs)}` : ''}. Monitor checks every ${h.monitor.intervalSeconds} s${h.monitor.lastError ? html`; <span class="errmsg">${h.monitor.lastError}</span>` : ''}.</p></section>`;
}

/** Every panel, in the page's order. */
export const panels = (h) => [disks(h), gateway(h.gateway || {}), ports(h), machine(h), gpu(h), history(h)];

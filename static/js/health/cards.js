// Health's figures: meters, the warnings and the key-figure cards.
import { fmtBytes, fmtDuration, html } from '../util.js';

export const meter = (pct, warnAt = 85) =>
  html`<div class="bar" title="${pct == null ? '' : `${pct}%`}"><span
    style="width:${Math.min(100, pct || 0)}%;${pct >= warnAt ? 'background:var(--bad)' : ''}"></span></div>`;
export const yes = (b, good = 'yes', bad = 'no') =>
  b ? html`<span class="badge st-done">${good}</span>` : html`<span class="badge st-failed">${bad}</span>`;

const card = (label, value, sub, k) => html`<div class="card" data-k="${k}"><span class="label">${label}</span><b
  class="num">${value}</b><span class="sub">${sub}</span></div>`;

function warnings(h) {
  if (!h.warnings.length) return '';
  const item = (w) => html`<li class="w-failed"><span class="wicon">!</span>${w}</li>`;
  return html`<section class="panel" id="h-warnings"><h2>Needs attention</h2><ul class="warnlist">${h.warnings.map(
    item,
  )}</ul></section>`;
}

/** The warnings (when there are any) and the key figures. */
export function top(h) {
  const oc = h.disks.find((d) => d.name === 'OpenClaw dir') || h.disks[0];
  const m = h.memory;
  const gw = h.gateway || {};
  const disk = oc
    ? html`${fmtBytes(oc.availBytes)} free ${meter(oc.usedPercent, h.diskWarnPercent)}`
    : 'no OpenClaw dir';
  const mem = m ? html`${fmtBytes(m.usedBytes)} of ${fmtBytes(m.totalBytes)} ${meter(m.usedPercent, 90)}` : '';
  const busy = h.cpu.percent != null ? ` · ${h.cpu.percent}% busy` : '';
  const load = h.load ? `${h.load.five.toFixed(2)} · ${h.load.fifteen.toFixed(2)} · ${h.cpu.count} CPUs${busy}` : '';
  const temp = h.temperature;
  const zones = temp.zones.length ? `${temp.zones.length} thermal zones` : 'no sensor';
  const version = gw.version ? ` · ${gw.version}` : '';
  const up = gw.uptimeSeconds != null ? ` · up ${fmtDuration(gw.uptimeSeconds * 1000)}` : '';
  return html`${warnings(h)}
<section class="cards" aria-label="Key figures">
  ${card('Disk', oc && oc.usedPercent != null ? `${oc.usedPercent}%` : '–', disk, 'disk')}
  ${card('Memory', m ? `${m.usedPercent}%` : '–', mem, 'memory')}
  ${card('Load', h.load ? h.load.one.toFixed(2) : '–', load, 'load')}
  ${card('CPU temperature', temp.cpuC != null ? `${temp.cpuC.toFixed(1)} °C` : '–', zones, 'temp')}
  ${card('Gateway', gw.listening ? 'up' : 'down', html`port ${gw.port}${version}${up}`, 'gateway')}
</section>`;
}

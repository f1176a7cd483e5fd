// Overview's provider quota cards (/api/quotas: OpenClaw's usage.status through the gateway):
// per provider its plan and each quota window with how much is used and when it resets. Nothing
// is shown when the gateway is not connected or no provider reports a window.
import { fmtDuration, html } from '../util.js';

function windowRow(w) {
  const pct = Math.round(w.usedPercent);
  const level = pct >= 90 ? 'bad' : pct >= 70 ? 'warn' : 'ok';
  return html`<li class="quota-w">
    <span class="quota-label">${w.label}</span>
    <span class="quota-bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"
      aria-label="${w.label}: ${pct} % used"><span class="${level}" style="width:${pct}%"></span></span>
    <span class="n">${pct} %</span>
    <span class="muted small">${w.resetInMs != null ? html`resets in ${fmtDuration(w.resetInMs)}` : ''}</span></li>`;
}

function card(p) {
  return html`<div class="quota" data-provider="${p.provider}">
    <h3>${p.displayName}${p.plan ? html` <span class="tag">${p.plan}</span>` : ''}</h3>
    <ul>${p.windows.map(windowRow)}</ul></div>`;
}

/** The panel, or nothing. */
export function quotasPanel(q) {
  if (!q?.available || !q.providers.length) return '';
  return html`<section class="panel" id="quotas">
    <h2>Provider quotas <span class="muted">(from the gateway)</span></h2>
    <div class="quotas">${q.providers.map(card)}</div></section>`;
}

// A sub-agent's card: task, status, parent, runtime, model, tokens, cost and the tools it used.
import {
  ago,
  badge,
  fmtCost,
  fmtDuration,
  fmtInt,
  fmtTokens,
  html,
  modelName,
  sessionHref,
  sessionName,
  tokenBar,
} from '../util.js';

/** The parent's label, or its key shown the way session names are. */
const parentName = (s) =>
  s.parentLabel && !s.parentLabel.includes(':')
    ? s.parentLabel
    : sessionName({ key: s.parentLabel || s.parentKey, id: s.parentId });

export function card(s, flash) {
  const run = s.run || {};
  const runtime = s.durationMs ?? (run.createdMs && run.endedMs ? run.endedMs - run.createdMs : null);
  const tools = Object.entries(s.tools || {}).sort((a, b) => b[1] - a[1]);
  const t = s.tokens || null;
  return html`<article class="card sa ${flash ? 'flash' : ''}" data-id="${s.id || ''}">
    <header><h3>${s.id ? html`<a href="${sessionHref(s.id)}">${sessionName(s)}</a>` : sessionName(s)}</h3>${badge(s.status, s.statusDetail || s.statusSource)}</header>
    <p class="task clamp" title="Click to show all">${s.task || html`<span class="muted">No task recorded.</span>`}</p>
    <dl class="kv small">
      <div><dt>Parent</dt><dd>${s.parentId ? html`<a href="${sessionHref(s.parentId)}">${parentName(s)}</a>` : s.parentKey || '–'}</dd></div>
      <div><dt>Runtime</dt><dd>${fmtDuration(runtime)}${s.status === 'running' ? ' so far' : ''}</dd></div>
      <div><dt>Started</dt><dd>${ago(s.firstMs ?? run.createdMs)}</dd></div>
      <div><dt>Model</dt><dd>${modelName(s.model)}</dd></div>
      <div><dt>Tokens</dt><dd>${t ? html`<span title="${fmtInt(t.total)}">${fmtTokens(t.total)}</span>` : '–'}</dd></div>
      <div><dt>Cost</dt><dd>${s.cost != null ? fmtCost(s.cost) : '–'}</dd></div>
    </dl>
    ${t ? tokenBar(t) : ''}
    <p class="tools">${tools.length ? tools.map(([n, c]) => html`<span class="chip">${n}${c > 1 ? html` <b>×${c}</b>` : ''}</span>`) : html`<span class="muted small">No tools used.</span>`}</p>
    <footer>${run.endedReason ? html`<span class="muted small">${run.endedReason}</span>` : html`<span></span>`}
      ${s.id ? html`<a class="go" href="${sessionHref(s.id)}">Transcript →</a>` : html`<span class="muted small">transcript not on disk</span>`}</footer>
  </article>`;
}

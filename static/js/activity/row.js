// One row of the activity page: when, which session, what happened, and its content in a line.
import { ago, fmtCost, fmtDuration, fmtTokens, html, kindTag, sessionHref, shortModel } from '../util.js';

/** The row kinds, in the order of the filter buttons: [kind, label]. */
export const KINDS = [
  ['user', 'Messages'],
  ['assistant', 'Replies'],
  ['tool_result', 'Tool results'],
  ['error', 'Errors'],
  ['compaction', 'Compactions'],
  ['cron', 'Cron runs'],
  ['subagent', 'Sub-agents'],
];

const ICON = {
  user: '💬',
  assistant: '🤖',
  tool_result: '🔧',
  error: '⛔',
  compaction: '🗜',
  cron: '⏰',
  subagent: '🧩',
  guard: '⟳',
};

function who(r) {
  if (!r.sessionId && r.kind === 'subagent') {
    return html`<a class="who" href="#/subagents" title="${r.key}">${r.agent || '?'} · sub-agent</a>`;
  }
  if (!r.sessionId) return html`<a class="who" href="#/crons">cron · ${r.job || String(r.jobId).slice(0, 8)}</a>`;
  const name = r.key ? r.key.split(':').slice(2).join(':') || r.key : String(r.sessionId).slice(0, 8);
  const link = sessionHref(r.sessionId, r.seq != null ? { event: r.seq } : {});
  return html`<a class="who" href="${link}" title="${r.key || r.sessionId}">${r.agent || '?'} · ${name}</a>
    ${r.sessionKind ? kindTag(r.sessionKind) : ''}`;
}

function tools(r) {
  if (!r.tools) return '';
  return html`${r.tools.map(
    (t) => html`<span class="call"><b>${t.name}</b> <code class="args">${t.args}</code></span>`,
  )}${r.spawn ? html` <span class="tag">spawns a sub-agent</span>` : ''}`;
}

function what(r) {
  switch (r.kind) {
    case 'assistant':
      return html`<span class="meta">${shortModel(r.model)} · ${fmtTokens(r.tokens)} tok · ${fmtCost(r.cost)}</span>
        ${r.text ? html`<span class="text">${r.text}</span>` : ''} ${tools(r)}`;
    case 'tool_result':
      return html`<b>${r.tool || 'tool'}</b> <span class="${r.isError ? 'bad' : 'ok'}">${r.isError ? 'failed' : 'ok'}</span>
        ${r.durationMs != null ? html`<span class="meta">${fmtDuration(r.durationMs)}</span>` : ''}
        <span class="text">${r.text}</span>`;
    case 'cron': {
      const state = r.action === 'started' ? 'started' : r.status || 'finished';
      return html`<b>${r.job || r.jobId}</b> <span class="${r.isError ? 'bad' : 'ok'}">${state}</span>
        ${r.durationMs != null ? html`<span class="meta">${fmtDuration(r.durationMs)}</span>` : ''}
        <span class="text">${r.text}</span>`;
    }
    case 'subagent': {
      const state = r.action === 'spawned' ? 'spawned' : r.status || 'finished';
      return html`<b>sub-agent</b> <span class="${r.isError ? 'bad' : 'ok'}">${state}</span>
        ${r.durationMs != null ? html`<span class="meta">${fmtDuration(r.durationMs)}</span>` : ''}
        <span class="text">${r.text}</span>`;
    }
    case 'guard':
      return html`<b class="bad">loop found</b> <span class="text" title="${r.message || ''}">${r.text}</span>`;
    case 'compaction':
      return html`<span class="meta">compacted${r.tokensBefore ? html` (${fmtTokens(r.tokensBefore)} tok before)` : ''}</span>
        <span class="text">${r.text}</span>`;
    default:
      return html`<span class="text">${r.text}</span>`;
  }
}

/** A row as an <li>; `fresh` rows flash once (they came live). */
export function activityRow(r, fresh) {
  return html`<li class="act k-${r.kind}${fresh ? ' flash' : ''}" data-kind="${r.kind}">
    <span class="when">${ago(r.ts)}</span><span class="icon" aria-hidden="true">${ICON[r.kind] || '•'}</span>
    <span class="where">${who(r)}</span><span class="body">${what(r)}</span></li>`;
}

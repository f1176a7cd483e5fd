// Overview's blocks: active and recent sessions, top models and sessions by cost, warnings.
import {
  ago,
  badge,
  empty,
  fmtCost,
  fmtInt,
  fmtTokens,
  html,
  kindTag,
  modelName,
  plural,
  sessionHref,
  sessionName,
} from '../util.js';

export function activeTable(rows) {
  return html`<div class="scroll"><table class="grid"><thead><tr><th>Status</th><th>Session</th>
    <th>Last activity</th><th class="n opt">Tokens</th><th class="n">Cost</th></tr></thead><tbody>
    ${rows.map(
      (r) => html`<tr>
      <td>${badge(r.status, r.statusDetail)}</td>
      <td class="name"><a href="${sessionHref(r.id)}">${sessionName(r)}</a> ${kindTag(r.kind)}
        <div class="muted small">${r.agent} · ${modelName(r.model)}${
          r.kind === 'subagent' && r.parentId ? html` · <a href="${sessionHref(r.parentId)}">parent</a>` : ''
        }</div></td>
      <td>${ago(r.lastMs)}</td>
      <td class="n opt" title="${fmtInt(r.tokens.total)}">${fmtTokens(r.tokens.total)}</td>
      <td class="n">${fmtCost(r.cost)}</td></tr>`,
    )}
    </tbody></table></div>`;
}

export function recentBlock(recent, total) {
  if (!total) {
    return empty('No sessions yet', 'Start a conversation with your OpenClaw agent: it shows up here as it happens.');
  }
  return html`<p class="muted">Nothing was active in the last 24 hours. Most recent:</p>
    <ul class="plain">${(recent || []).map(
      (r) => html`<li>${badge(r.status)} <a href="${sessionHref(r.id)}">${sessionName(r)}</a>
      ${kindTag(r.kind)} <span class="muted">${r.agent} ·</span> ${ago(r.lastMs)}</li>`,
    )}</ul>`;
}

export function topModels(rows, allTime) {
  if (!rows.length) return html`<p class="muted">No model calls recorded yet.</p>`;
  const max = Math.max(...rows.map((r) => r.cost), 1e-12);
  return html`${allTime ? html`<p class="muted small">No calls this month; all-time figures.</p>` : ''}
    <ul class="bars">${rows.map(
      (r) => html`<li><div class="bar-label">${modelName(r.model)}
      <span class="muted">${plural(r.calls, 'call')} · ${fmtTokens(r.totalTokens)} tokens</span><b
        >${fmtCost(r.cost)}</b></div>
      <div class="bar"><span style="width:${((100 * r.cost) / max).toFixed(1)}%"></span></div></li>`,
    )}</ul>`;
}

export function topSessions(rows) {
  if (!rows.length) return html`<p class="muted">No session has cost anything yet.</p>`;
  const max = Math.max(...rows.map((r) => r.cost), 1e-12);
  return html`<ul class="bars">${rows.map(
    (r) => html`<li><div class="bar-label"><a href="${sessionHref(r.id)}">${sessionName(r)}</a>
      <span class="muted">${r.agent} · ${fmtTokens(r.tokens)} tokens</span><b>${fmtCost(r.cost)}</b></div>
      <div class="bar"><span style="width:${((100 * r.cost) / max).toFixed(1)}%"></span></div></li>`,
  )}</ul>`;
}

/** Live sessions by how full their context got (largest prompt of one call / the window). */
export function fullestContexts(rows) {
  const known = (rows || []).filter((r) => r.context?.percent != null);
  if (!known.length) return html`<p class="muted">No live session with a known context window.</p>`;
  return html`<ul class="bars">${known.map((r) => {
    const c = r.context;
    const title = `${fmtInt(c.maxPrompt)} of ${fmtInt(c.window)} tokens (${c.model}; window from ${c.windowSource})`;
    const comp = c.compactions ? ` · ${c.compactions} compaction${c.compactions > 1 ? 's' : ''}` : '';
    return html`<li><div class="bar-label"><a href="${sessionHref(r.id)}">${sessionName(r)}</a>
      <span class="muted" title="${title}">${r.agent} · ${fmtTokens(c.maxPrompt)} of ${fmtTokens(c.window)}${comp}</span>
      <b>${c.percent}%</b></div>
      <div class="bar${c.percent >= 80 ? ' hot' : ''}"><span style="width:${Math.min(100, c.percent)}%"></span></div></li>`;
  })}</ul>`;
}

export function collectWarnings(ov, health) {
  const out = [];
  const icon = { stuck: '⏳', errors: '⚠', failed: '✖' };
  // Name sessions the way the rest of the page does (the active list has their keys).
  const known = new Map(ov.active.map((s) => [s.id, s]));
  for (const w of ov.warnings || []) {
    const s = known.get(w.sessionId) || { id: w.sessionId, label: w.label };
    const msg = w.kind === 'errors' ? `${plural(w.count, 'error')} in the last 24 h` : w.message;
    out.push(html`<li class="w-${w.kind}"><span class="wicon" aria-hidden="true">${icon[w.kind] || '⚠'}</span>
      <a href="${sessionHref(w.sessionId, w.kind === 'errors' ? { kind: 'errors' } : {})}">${sessionName(s)}</a>
      <span>${msg}</span></li>`);
  }
  for (const f of ov.guard || []) {
    const s = known.get(f.sessionId) || { id: f.sessionId, key: f.key, label: f.label };
    out.push(html`<li class="w-loop"><span class="wicon" aria-hidden="true">⟳</span>
      <a href="${sessionHref(f.sessionId)}">${sessionName(s)}</a> <span>${f.title}${f.stop?.ok ? ' (stopped)' : ''}</span></li>`);
  }
  const ix = health.index || {};
  const problems = [
    ['malformedLines', 'malformed transcript lines'],
    ['nonUtf8Lines', 'lines that are not UTF-8'],
    ['hugeLines', 'oversized lines skipped'],
    ['badRows', 'unreadable database rows'],
    ['sourceErrors', 'unreadable sources'],
  ].filter(([k]) => ix[k] > 0);
  for (const [k, label] of problems) {
    out.push(html`<li class="w-input"><span class="wicon" aria-hidden="true">ⓘ</span><span
      >${fmtInt(ix[k])} ${label} ignored</span>
      ${ix.lastError ? html`<span class="muted small">last: ${ix.lastError}</span>` : ''}</li>`);
  }
  if (health.openclaw?.configError) {
    out.push(
      html`<li class="w-input"><span class="wicon" aria-hidden="true">ⓘ</span><span
        >openclaw.json: ${health.openclaw.configError}</span></li>`,
    );
  }
  return out;
}

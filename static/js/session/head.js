// A session's header: name, status, figures, parent and sub-agents; and the filter buttons'
// counts, which come from the same summary.
import {
  api,
  $,
  $$,
  TOKEN_KINDS,
  ago,
  badge,
  fmtCost,
  fmtDuration,
  fmtInt,
  fmtTime,
  fmtTokens,
  html,
  kindTag,
  sessionHref,
  sessionName,
  setHTML,
  shortModel,
  stateTag,
  tokenBar,
} from '../util.js';

/** Renders the summary `s` of session `id`; `kind` is the filter on. */
export function renderHead(root, s, id, kind) {
  const head = $('#s-head', root);
  const live = s.status === 'running';
  document.title = `${sessionName(s)} · clawmetry`;
  const kv = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
  const t = s.tokens;
  setHTML(
    head,
    html`<header class="s-head">
    <h1>${sessionName(s)} ${kindTag(s.kind)} ${stateTag(s)} ${badge(s.status, `${s.statusDetail} (${s.statusSource})`)}
      ${live ? html`<span class="livebadge" title="This session is running: new events appear here as they happen">● live</span>` : ''}</h1>
    <p class="muted small mono" title="session key and id">${s.key || ''}${s.key ? ' · ' : ''}${s.id}</p>
    ${s.task ? html`<p class="task"><span class="label">Task</span> ${s.task}</p>` : ''}
    <dl class="kv">
      ${kv('Agent', s.agent)}
      ${kv('Channel', s.channel || '–')}
      ${kv((s.models || []).length > 1 ? 'Models' : 'Model', html`<span title="${(s.models || []).join(', ') || s.model || ''}">${(s.models?.length ? s.models : [s.model]).map((m) => shortModel(m) || '–').join(', ')}</span>`)}
      ${kv('Started', html`<span title="${fmtTime(s.firstMs)}">${s.firstMs ? fmtTime(s.firstMs) : '–'}</span>`)}
      ${kv('Last activity', ago(s.lastMs))}
      ${kv('Duration', fmtDuration(s.durationMs))}
      ${kv('Messages', html`${fmtInt(s.userMessages)} user · ${fmtInt(s.assistantMessages)} assistant`)}
      ${kv('Tool calls', fmtInt(s.toolCalls))}
      ${kv('Errors', s.errors ? html`<a class="err" href="${sessionHref(id, { kind: 'errors' })}">${fmtInt(s.errors)}</a>` : '0')}
      ${kv('Tokens', html`<span title="${fmtInt(t.total)}">${fmtTokens(t.total)}</span>`)}
      ${kv('Cost', html`<b>${fmtCost(s.cost)}</b>${s.estimatedCostCalls ? html` <span class="muted small" title="${s.estimatedCostCalls} calls priced from the price table">(partly estimated)</span>` : ''}`)}
    </dl>
    ${t.total ? html`<div class="split">${tokenBar(t)}<span class="legend">${TOKEN_KINDS.map(([k, l]) => html`<span><i class="dot t-${k}"></i>${l} ${fmtTokens(t[k])}</span>`)}</span></div>` : ''}
    ${s.parentId || s.parentKey ? html`<p class="rel">Spawned by <a href="${sessionHref(s.parentId || s.parentKey)}">${s.parentLabel || s.parentKey || s.parentId}</a></p>` : ''}
    ${
      s.children?.length
        ? html`<div class="rel"><span>Sub-agents (${s.children.length})</span><ul class="plain children">${s.children.map(
            (c) => html`<li>${badge(c.status)}
      <a href="${sessionHref(c.id)}">${sessionName(c)}</a>${c.label ? html` <span class="muted small mono">${(c.key || '').split(':').pop().slice(0, 8)}</span>` : ''}</li>`,
          )}</ul></div>`
        : ''
    }
  </header>`,
  );
  // Filter buttons show counts where the summary has them.
  const counts = { all: s.events, messages: s.messages, tools: s.toolCalls + s.toolResults, errors: s.errors };
  for (const b of $$('#tl-bar button[data-kind]', root)) {
    const c = counts[b.dataset.kind];
    b.querySelector('.c').textContent = c != null ? ` ${fmtInt(c)}` : '';
    b.classList.toggle('on', b.dataset.kind === kind);
    b.setAttribute('aria-pressed', b.dataset.kind === kind);
    if (b.dataset.kind === 'errors') b.classList.toggle('has-err', !!s.errors);
  }
  $('#tl-bar', root).hidden = false;
}

/** The session's summary, with its parent's name when it has a parent. */
export async function fetchHead(id, signal) {
  const s = await api(`/api/sessions/${encodeURIComponent(id)}`, { signal });
  if (s.parentId) {
    try {
      s.parentLabel = sessionName(await api(`/api/sessions/${encodeURIComponent(s.parentId)}`, { signal }));
    } catch {
      /* label stays the key */
    }
  }
  return s;
}

// A session's header: name, status, figures, parent and sub-agents; and the filter buttons'
// counts, which come from the same summary.
import { api, $, $$, badge, fmtInt, html, kindTag, sessionHref, sessionName, setHTML, stateTag } from '../util.js';
import { figures, tokens } from './figures.js';
import { guardHTML, wireStop } from './guard.js';

const LIVE = 'This session is running: new events appear here as they happen';

/** Its parent and its sub-agents, linked. */
function relations(s) {
  const parent =
    s.parentId || s.parentKey
      ? html`<p class="rel">Spawned by <a href="${sessionHref(s.parentId || s.parentKey)}"
          >${s.parentLabel || s.parentKey || s.parentId}</a></p>`
      : '';
  if (!s.children?.length)
    return html`${parent}
    `;
  const child = (c) => {
    const key = c.label
      ? html` <span class="muted small mono">${(c.key || '').split(':').pop().slice(0, 8)}</span>`
      : '';
    return html`<li>${badge(c.status)}
      <a href="${sessionHref(c.id)}">${sessionName(c)}</a>${key}</li>`;
  };
  return html`${parent}
    <div class="rel"><span>Sub-agents (${s.children.length})</span><ul class="plain children">${s.children.map(
      child,
    )}</ul></div>`;
}

/** Renders the summary `s` of session `id`; `kind` is the filter on. */
export function renderHead(root, s, id, kind) {
  const head = $('#s-head', root);
  const live = s.status === 'running';
  document.title = `${sessionName(s)} · clawmetry`;
  setHTML(
    head,
    html`<header class="s-head">
    <h1>${sessionName(s)} ${kindTag(s.kind)} ${stateTag(s)} ${badge(s.status, `${s.statusDetail} (${s.statusSource})`)}
      ${live ? html`<span class="livebadge" title="${LIVE}">● live</span>` : ''}</h1>
    <p class="muted small mono" title="session key and id">${s.key || ''}${s.key ? ' · ' : ''}${s.id}</p>
    ${guardHTML(s)}
    ${s.task ? html`<p class="task"><span class="label">Task</span> ${s.task}</p>` : ''}
    ${figures(s, id)}
    ${tokens(s.tokens)}
    ${relations(s)}
  </header>`,
  );
  wireStop(head, s);
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

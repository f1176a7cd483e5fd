// Sub-agents: one card per spawned run: task, status, parent, runtime, tokens, tools used and a
// link to its transcript. Filter by status in the URL (#/subagents?status=running).
import {
  api, html, setHTML, $, fmtTokens, fmtCost, fmtInt, fmtDuration, ago, badge, sessionName, modelName, sessionHref,
  setQuery, renderChunks, empty, tokenBar,
} from './util.js';

const STATUSES = [['', 'All'], ['running', 'Running'], ['done', 'Done'], ['failed', 'Failed']];

export function mount(root, route, app) {
  let status = route.query.status || '';
  let ctrl = null;

  setHTML(root, html`<h1>Sub-agents <span class="muted" id="sa-total"></span></h1>
    <div class="toolbar"><div class="seg" role="group" aria-label="Status">${STATUSES.map(([v, l]) => html`<button type="button" data-status="${v}">${l}<span class="c"></span></button>`)}</div></div>
    <div class="cardgrid" id="sa-list"></div><div id="sa-empty"></div>`);
  const list = $('#sa-list', root);
  // A task is clamped to two lines; a click shows all of it.
  list.addEventListener('click', (e) => {
    const t = e.target.closest('p.task');
    if (t && !String(getSelection())) t.classList.toggle('clamp');
  });
  $('.seg', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-status]');
    if (b) setQuery({ status: b.dataset.status });
  });

  async function load(changes) {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      const d = await api('/api/subagents?limit=1000', { signal });
      if (signal.aborted) return;
      const counts = { '': d.subagents.length, running: 0, done: 0, failed: 0 };
      for (const s of d.subagents) counts[s.status] = (counts[s.status] || 0) + 1;
      for (const b of root.querySelectorAll('button[data-status]')) {
        b.classList.toggle('on', b.dataset.status === status);
        b.setAttribute('aria-pressed', b.dataset.status === status);
        b.querySelector('.c').textContent = ` ${counts[b.dataset.status] || 0}`;
      }
      const rows = d.subagents.filter((s) => !status || s.status === status);
      $('#sa-total', root).textContent = `(${fmtInt(d.total)})`;
      list.textContent = '';
      setHTML($('#sa-empty', root), rows.length ? '' : d.subagents.length
        ? empty(`No ${status} sub-agents`, 'None has this status.', html`<p><a href="#/subagents">Show all</a></p>`)
        : empty('No sub-agents yet', 'They appear here, live, when an agent delegates work with sessions_spawn.'));
      const flash = changes && !changes.all ? changes.ids : new Set();
      await renderChunks(list, rows, (s) => card(s, flash.has(s.id)), { signal, first: 24, chunk: 48 });
      app.rendered('subagents');
    } catch (e) {
      app.failed($('#sa-empty', root), e, () => load());
    }
  }

  /** The parent's label, or its key shown the way session names are. */
  const parentName = (s) => (s.parentLabel && !s.parentLabel.includes(':') ? s.parentLabel : sessionName({ key: s.parentLabel || s.parentKey, id: s.parentId }));

  function card(s, flash) {
    const run = s.run || {};
    const runtime = s.durationMs ?? (run.createdMs && run.endedMs ? run.endedMs - run.createdMs : null);
    const tools = Object.entries(s.tools || {}).sort((a, b) => b[1] - a[1]);
    const t = s.tokens || null;
    return html`<article class="card sa ${flash ? 'flash' : ''}" data-id="${s.id || ''}">
      <header><h3>${s.id ? html`<a href="${sessionHref(s.id)}">${sessionName(s)}</a>` : sessionName(s)}</h3>${badge(s.status, s.statusDetail || s.statusSource)}</header>
      <p class="task clamp" title="Click to show all">${s.task || html`<span class="muted">No task recorded.</span>`}</p>
      <dl class="kv small">
        <div><dt>Parent</dt><dd>${s.parentId ? html`<a href="${sessionHref(s.parentId)}">${parentName(s)}</a>` : (s.parentKey || '–')}</dd></div>
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

  load();
  return {
    update(r) { status = r.query.status || ''; load(); },
    refresh: load,
    unmount() { if (ctrl) ctrl.abort(); },
  };
}

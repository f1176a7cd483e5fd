// Sub-agents: one card per spawned run: task, status, parent, runtime, tokens, tools used and a
// link to its transcript. Filter by status in the URL (#/subagents?status=running).
import { loader } from './loader.js';
import { card } from './subagents/card.js';
import { $, $$, api, empty, fmtInt, html, renderChunks, setHTML, setQuery } from './util.js';

const STATUSES = [
  ['', 'All'],
  ['running', 'Running'],
  ['done', 'Done'],
  ['failed', 'Failed'],
];

/** The status buttons: which is on, and how many sub-agents each would show. */
function showCounts(root, all, status) {
  const counts = { '': all.length, running: 0, done: 0, failed: 0 };
  for (const s of all) counts[s.status] = (counts[s.status] || 0) + 1;
  for (const b of $$('button[data-status]', root)) {
    b.classList.toggle('on', b.dataset.status === status);
    b.setAttribute('aria-pressed', b.dataset.status === status);
    b.querySelector('.c').textContent = ` ${counts[b.dataset.status] || 0}`;
  }
}

function emptyState(status, any) {
  if (any)
    return empty(`No ${status} sub-agents`, 'None has this status.', html`<p><a href="#/subagents">Show all</a></p>`);
  return empty('No sub-agents yet', 'They appear here, live, when an agent delegates work with sessions_spawn.');
}

export function mount(root, route, app) {
  let status = route.query.status || '';
  setHTML(
    root,
    html`<h1>Sub-agents <span class="muted" id="sa-total"></span></h1>
    <div class="toolbar"><div class="seg" role="group" aria-label="Status">${STATUSES.map(
      ([v, l]) => html`<button type="button" data-status="${v}">${l}<span class="c"></span></button>`,
    )}</div></div>
    <div class="cardgrid" id="sa-list"></div><div id="sa-empty"></div>`,
  );
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

  const load = loader(app, {
    view: 'subagents',
    fetch: (signal) => api('/api/subagents?limit=1000', { signal }),
    async render(d, signal, changes) {
      showCounts(root, d.subagents, status);
      const rows = d.subagents.filter((s) => !status || s.status === status);
      $('#sa-total', root).textContent = `(${fmtInt(d.total)})`;
      list.textContent = '';
      setHTML($('#sa-empty', root), rows.length ? '' : emptyState(status, d.subagents.length));
      const flash = changes && !changes.all ? changes.ids : new Set();
      await renderChunks(list, rows, (s) => card(s, flash.has(s.id)), { signal, first: 24, chunk: 48 });
    },
    errorIn: () => $('#sa-empty', root),
  });

  load();
  return {
    update(r) {
      status = r.query.status || '';
      load();
    },
    refresh: load,
    unmount: load.abort,
  };
}

// The sessions page's filters and sorting, all in the URL (#/sessions?q=..&agent=..&status=..
// &kind=..&state=..&sort=..&order=..&page=..&size=..): the form, its sync with the URL, and
// the controls that change it.
import { $, debounce, html, sessionHref, setQuery } from '../util.js';

export const TEXT_SORTS = new Set(['status', 'agent', 'label', 'model']);
const KINDS = [
  ['', 'All kinds'],
  ['top', 'Main & chats'],
  ['subagent', 'Sub-agents'],
  ['main', 'Main only'],
  ['cron', 'Cron'],
  ['chat', 'Chats'],
];
const STATUSES = [
  ['', 'Any status'],
  ['running', 'Running'],
  ['done', 'Done'],
  ['failed', 'Failed'],
];
// What became of a session in OpenClaw (the API's `state`); deleted and purged sessions still count.
const STATES = [
  ['', 'Any state'],
  ['live', 'Live'],
  ['archived', 'Archived'],
  ['deleted', 'Deleted'],
  ['purged', 'Purged'],
  ['reset', 'Reset'],
];
export const SIZES = [25, 50, 100, 200];

const options = (list) => list.map(([v, l]) => html`<option value="${v}">${l}</option>`);

/** The filter form (the agent and profile lists are filled from /api/health). */
export function filtersHTML() {
  return html`<form class="filters" id="s-filters" role="search" autocomplete="off">
    <input type="search" name="q" placeholder="Filter by label, key, id, channel or model"
      aria-label="Search sessions">
    <select name="profile" aria-label="OpenClaw profile" hidden><option value="">All profiles</option></select>
    <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
    <select name="status" aria-label="Status">${options(STATUSES)}</select>
    <select name="kind" aria-label="Kind">${options(KINDS)}</select>
    <select name="state" aria-label="State">${options(STATES)}</select>
    <button type="button" class="link" id="s-clear" hidden>Clear filters</button>
  </form>`;
}

export function syncForm(root, form, q) {
  if (document.activeElement !== form.q) form.q.value = q.q || '';
  form.agent.value = q.agent || '';
  form.profile.value = q.profile || '';
  form.status.value = q.status || '';
  form.kind.value = q.kind || '';
  form.state.value = q.state || '';
  $('#s-clear', root).hidden = !(q.q || q.agent || q.profile || q.status || q.kind || q.state);
}

/** The page the URL asks for: size, number, sort and order. */
export function pageOf(q) {
  const size = SIZES.includes(Number(q.size)) ? Number(q.size) : 50;
  const page = Math.max(1, parseInt(q.page, 10) || 1);
  const sort = q.sort || 'last';
  const order = q.order || (TEXT_SORTS.has(sort) ? 'asc' : 'desc');
  return { size, page, sort, order };
}

/** Filters, sorting and row clicks: each changes the URL, which reloads the table. */
export function wire(root, form, tbody, getQuery) {
  const typed = debounce(() => setQuery({ q: form.q.value.trim(), page: '' }, { replace: true }), 250);
  form.q.addEventListener('input', typed);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    typed.cancel();
    setQuery({ q: form.q.value.trim(), page: '' });
  });
  for (const name of ['profile', 'agent', 'status', 'kind', 'state']) {
    form[name].addEventListener('change', () => setQuery({ [name]: form[name].value, page: '' }));
  }
  $('#s-clear', root).onclick = () =>
    setQuery({ q: '', profile: '', agent: '', status: '', kind: '', state: '', page: '' });
  $('#s-table thead', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-sort]');
    if (!b) return;
    const q = getQuery();
    const key = b.dataset.sort;
    const cur = q.sort || 'last';
    const order =
      cur === key ? ((q.order || 'desc') === 'desc' ? 'asc' : 'desc') : TEXT_SORTS.has(key) ? 'asc' : 'desc';
    setQuery({ sort: key, order, page: '' });
  });
  // A click anywhere on a row opens the session (links and selections keep working).
  tbody.addEventListener('click', (e) => {
    if (e.target.closest('a') || String(getSelection())) return;
    const tr = e.target.closest('tr[data-id]');
    if (tr) location.hash = sessionHref(tr.dataset.id);
  });
  return typed;
}

// Sessions: a searchable, sortable, paginated table. Every control lives in the URL
// (#/sessions?q=..&agent=..&status=..&kind=..&sort=..&order=..&page=..), so views can be linked.
import { loader } from './loader.js';
import { SIZES, TEXT_SORTS, emptyState, pager, row, shell, showSort } from './sessions/table.js';
import { $, api, debounce, fmtInt, qs, renderChunks, sessionHref, setHTML, setQuery } from './util.js';

/** Fills the agent and profile filters from /api/health. */
function fillFilters(form, h, q) {
  const sel = form.agent;
  for (const a of h.openclaw?.agents || []) sel.add(new Option(a.id, a.id));
  sel.value = q.agent || '';
  // Several OpenClaw profiles (~/.openclaw-<name>): one more filter.
  const others = h.openclaw?.otherProfiles || [];
  if (others.length) {
    for (const p of [h.openclaw.profile, ...others.map((o) => o.name)]) form.profile.add(new Option(p, p));
    form.profile.hidden = false;
    form.profile.value = q.profile || '';
  }
}

function syncForm(root, form, q) {
  if (document.activeElement !== form.q) form.q.value = q.q || '';
  form.agent.value = q.agent || '';
  form.profile.value = q.profile || '';
  form.status.value = q.status || '';
  form.kind.value = q.kind || '';
  form.state.value = q.state || '';
  $('#s-clear', root).hidden = !(q.q || q.agent || q.profile || q.status || q.kind || q.state);
}

/** The page the URL asks for: size, number, sort and order. */
function pageOf(q) {
  const size = SIZES.includes(Number(q.size)) ? Number(q.size) : 50;
  const page = Math.max(1, parseInt(q.page, 10) || 1);
  const sort = q.sort || 'last';
  const order = q.order || (TEXT_SORTS.has(sort) ? 'asc' : 'desc');
  return { size, page, sort, order };
}

/** Filters, sorting and row clicks: each changes the URL, which reloads the table. */
function wire(root, form, tbody, getQuery) {
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

export function mount(root, route, app) {
  let q = route.query;
  setHTML(root, shell());
  const form = $('#s-filters', root);
  const tbody = $('#s-table tbody', root);
  app
    .getHealth()
    .then((h) => fillFilters(form, h, q))
    .catch(() => {});
  const typed = wire(root, form, tbody, () => q);
  const onKey = (e) => {
    if (e.key === '/' && document.activeElement.tagName !== 'INPUT') {
      e.preventDefault();
      form.q.focus();
    }
  };
  document.addEventListener('keydown', onKey);

  const load = loader(app, {
    view: 'sessions',
    fetch(signal) {
      syncForm(root, form, q);
      const { size, page, sort, order } = pageOf(q);
      showSort(root, sort, order);
      const { q: text, profile, agent, status, kind, state } = q;
      const query = {
        q: text,
        profile,
        agent,
        status,
        kind,
        state,
        sort,
        order,
        limit: size,
        offset: (page - 1) * size,
      };
      return api(`/api/sessions${qs(query)}`, { signal });
    },
    async render(d, signal, changed) {
      const { size, page } = pageOf(q);
      $('#s-total', root).textContent = `(${fmtInt(d.total)})`;
      tbody.textContent = '';
      const emptyBox = $('#s-empty', root);
      if (!d.sessions.length) setHTML(emptyBox, emptyState(q, page, d.total));
      else emptyBox.textContent = '';
      const flash = changed ? changed.ids : new Set();
      await renderChunks(tbody, d.sessions, (s) => row(s, flash.has(s.id)), { signal });
      pager($('#s-pager', root), d.total, page, size);
    },
    errorIn: () => $('#s-empty', root),
  });

  load();
  return {
    update(r) {
      q = r.query;
      load();
    },
    // Any change can move rows (sort by last activity, new sessions): re-read this page.
    refresh(changes) {
      load(changes.all ? null : changes);
    },
    unmount() {
      load.abort();
      document.removeEventListener('keydown', onKey);
      typed.cancel();
    },
  };
}

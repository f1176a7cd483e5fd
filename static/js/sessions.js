// Sessions: a searchable, sortable, paginated table. Every control lives in the URL
// (#/sessions?q=..&agent=..&status=..&kind=..&sort=..&order=..&page=..), so views can be linked.
import { loader } from './loader.js';
import { pageOf, syncForm, wire } from './sessions/filters.js';
import { emptyState, pager, row, shell, showSort } from './sessions/table.js';
import { $, api, fmtInt, href, qs, renderChunks, setHTML, fillAgentFilters } from './util.js';

export function mount(root, route, app) {
  let q = route.query;
  setHTML(root, shell());
  const form = $('#s-filters', root);
  const tbody = $('#s-table tbody', root);
  app
    .getHealth()
    .then((h) => fillAgentFilters(form, h, q))
    .catch(() => {});
  const typed = wire(root, form, tbody, () => q);
  // Words inside transcripts are the search page's (`/` focuses this box from anywhere here).
  const fulltext = $('#s-fulltext', root);
  fulltext.addEventListener('submit', (e) => {
    e.preventDefault();
    const words = fulltext.q.value.trim();
    if (words) location.hash = href(['search'], { q: words });
  });

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
      const filters = { q: text, profile, agent, status, kind, state, sort, order };
      $('#s-csv', root).href = `/api/sessions${qs({ ...filters, format: 'csv' })}`;
      $('#s-json', root).href = `/api/sessions${qs({ ...filters, format: 'json' })}`;
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
      typed.cancel();
    },
  };
}

// Activity: everything the agents do, across all sessions, newest first and live. The page
// back-fills the newest rows from /api/activity and then takes the `activity` rows of the event
// stream (app.js re-dispatches them as `cm:activity`), so nothing is fetched per row. Filters
// live in the URL (#/activity?agent=..&profile=..&sessionKind=..&kind=..); pause keeps new rows
// aside until resume.
import { densityStrip, noteDensity } from './activity/density.js';
import { passes, shell, shownKinds, syncForm, wire } from './activity/filters.js';
import { activityRow, KINDS } from './activity/row.js';
import { loader } from './loader.js';
import { $, api, empty, fillAgentFilters, fmtInt, html, qs, setHTML } from './util.js';

/** Rows kept on the page at most (the oldest go). */
const MAX_ROWS = 500;

export function mount(root, route, app) {
  let q = route.query;
  setHTML(root, shell());
  const form = $('#a-filters', root);
  const list = $('#a-list', root);
  const density = $('#a-density', root);
  let buckets = [];
  let held = [];
  let paused = false;
  app
    .getHealth()
    .then((h) => fillAgentFilters(form, h, q))
    .catch(() => {});

  function count() {
    $('#a-count', root).textContent = `(${fmtInt(list.children.length)})`;
    $('#a-held', root).textContent = paused && held.length ? `${fmtInt(held.length)} new while paused` : '';
    setHTML(
      $('#a-empty', root),
      list.children.length
        ? ''
        : empty('Nothing yet', 'Rows appear here as your agents work: messages, replies, tool calls.'),
    );
  }
  function prepend(rows) {
    const shown = rows.filter((r) => passes(r, q));
    if (!shown.length) return;
    // The stream gives each batch oldest first; the page shows newest first.
    list.insertAdjacentHTML(
      'afterbegin',
      shown
        .reverse()
        .map((r) => activityRow(r, true).s)
        .join(''),
    );
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
    count();
  }
  const state = {
    togglePause() {
      paused = !paused;
      const b = $('#a-pause', root);
      b.textContent = paused ? 'Resume' : 'Pause';
      b.setAttribute('aria-pressed', paused);
      b.classList.toggle('on', paused);
      if (!paused) {
        prepend(held);
        held = [];
      }
      count();
    },
  };
  wire(root, form, () => q, state);

  const onRows = (e) => {
    const rows = e.detail.items || [];
    noteDensity(buckets, rows);
    setHTML(density, densityStrip(buckets));
    if (paused) held.push(...rows);
    else prepend(rows);
    count();
  };
  window.addEventListener('cm:activity', onRows);

  const load = loader(app, {
    view: 'activity',
    fetch(signal) {
      syncForm(root, form, q);
      const on = shownKinds(q);
      const kind = on.size === KINDS.length ? '' : [...on].join(',') || 'none';
      const { agent, profile, sessionKind } = q;
      return api(`/api/activity${qs({ limit: 200, agent, profile, sessionKind, kind })}`, { signal });
    },
    render(d) {
      buckets = d.density;
      setHTML(density, densityStrip(buckets));
      setHTML(list, html`${d.items.map((r) => activityRow(r, false))}`);
      held = [];
      count();
    },
    errorIn: () => $('#a-empty', root),
  });
  load();
  return {
    update(r) {
      q = r.query;
      load();
    },
    // Session changes are what this page shows already, row by row: nothing to re-read.
    refresh() {},
    unmount() {
      load.abort();
      window.removeEventListener('cm:activity', onRows);
    },
  };
}

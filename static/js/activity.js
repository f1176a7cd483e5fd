// Activity: everything the agents do, across all sessions, newest first and live. The page
// back-fills the newest rows from /api/activity and then takes the `activity` rows of the event
// stream (app.js re-dispatches them as `cm:activity`), so nothing is fetched per row. Filters
// live in the URL (#/activity?agent=..&profile=..&sessionKind=..&kind=..); pause keeps new rows
// aside until resume.
import { densityStrip, noteDensity } from './activity/density.js';
import { activityRow, KINDS } from './activity/row.js';
import { loader } from './loader.js';
import { $, $$, api, empty, fillAgentFilters, fmtInt, html, qs, setHTML, setQuery } from './util.js';

/** Rows kept on the page at most (the oldest go). */
const MAX_ROWS = 500;

function shell() {
  return html`<h1>Activity <span class="muted" id="a-count"></span></h1>
    <form class="toolbar" id="a-filters" role="search" aria-label="Filter activity">
      <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
      <select name="profile" aria-label="Profile" hidden><option value="">All profiles</option></select>
      <select name="sessionKind" aria-label="Session kind"><option value="">All sessions</option>
        <option value="main">main</option><option value="chat">chat</option><option value="cron">cron</option>
        <option value="subagent">sub-agent</option></select>
      <div class="seg" role="group" aria-label="Event kinds">${KINDS.map(
        ([k, label]) => html`<button type="button" data-kind="${k}" aria-pressed="true" class="on">${label}</button>`,
      )}</div>
      <button type="button" id="a-pause" aria-pressed="false">Pause</button>
      <span class="muted" id="a-held" aria-live="polite"></span>
    </form>
    <div id="a-density" class="density" aria-label="Events per minute, last hour"></div>
    <ol class="activity" id="a-list" aria-live="off"></ol><div id="a-empty"></div>`;
}

/** The kinds the URL turned off (`kind` lists the ones shown; absent = all). */
const shownKinds = (q) => new Set(q.kind ? q.kind.split(',') : KINDS.map(([k]) => k));

/** Whether a row passes the filters of query `q`. */
function passes(r, q) {
  return (
    (!q.agent || r.agent === q.agent) &&
    (!q.profile || r.profile === q.profile) &&
    (!q.sessionKind || r.sessionKind === q.sessionKind) &&
    shownKinds(q).has(r.kind)
  );
}

function syncForm(root, form, q) {
  form.agent.value = q.agent || '';
  form.profile.value = q.profile || '';
  form.sessionKind.value = q.sessionKind || '';
  const on = shownKinds(q);
  for (const b of $$('button[data-kind]', root)) {
    b.classList.toggle('on', on.has(b.dataset.kind));
    b.setAttribute('aria-pressed', on.has(b.dataset.kind));
  }
}

function wire(root, form, q, state) {
  form.addEventListener('change', () =>
    setQuery({ agent: form.agent.value, profile: form.profile.value, sessionKind: form.sessionKind.value }),
  );
  $('.seg', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-kind]');
    if (!b) return;
    const on = shownKinds(q());
    if (on.has(b.dataset.kind)) on.delete(b.dataset.kind);
    else on.add(b.dataset.kind);
    setQuery({ kind: on.size === KINDS.length ? '' : [...on].join(',') || 'none' });
  });
  $('#a-pause', root).addEventListener('click', () => state.togglePause());
}

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

// Logs: the gateway's log as a live tail, newest at the bottom. The page loads the last lines
// from /api/logs, then asks every second for the lines written since (`after` = the cursor of
// the previous answer; the server follows the next day's file and truncation). Level and text
// filters live in the URL (#/logs?level=warn&q=..) and apply to the lines kept on the page;
// pause keeps new lines aside until resume. A line naming a known session links to it.
import { loader } from './loader.js';
import { logRow, passes, restartRow, shell } from './logs/parts.js';
import { $, api, empty, fmtInt, html, qs, setHTML, setQuery } from './util.js';

/** Lines kept on the page at most (the oldest go). */
const MAX_LINES = 1000;
const POLL_MS = 1000;

export function mount(root, route, app) {
  let q = route.query;
  setHTML(root, shell());
  const form = $('#l-filters', root);
  const list = $('#l-list', root);
  let kept = []; // {line} or {restart: name}, oldest first
  let held = 0;
  let paused = false;
  let cursor = null;
  let hint = '';
  let timer = 0;
  let gone = false;

  const rowOf = (e) => (e.restart !== undefined ? restartRow(e.restart) : logRow(e));
  const shown = (items) => items.filter((e) => e.restart !== undefined || passes(e, q));
  function status() {
    const n = list.children.length;
    $('#l-held', root).textContent = paused && held ? `${fmtInt(held)} new while paused` : '';
    setHTML(
      $('#l-empty', root),
      cursor == null
        ? empty('No log found', hint || 'clawmetry found no gateway log file.')
        : n
          ? ''
          : empty('No lines', kept.length ? 'No line matches the filters.' : 'The log is empty so far.'),
    );
  }
  function atBottom() {
    const el = document.scrollingElement;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }
  function redraw() {
    form.level.value = q.level || '';
    if (document.activeElement !== form.q) form.q.value = q.q || '';
    setHTML(list, html`${shown(kept).map(rowOf)}`);
    held = 0;
    status();
  }
  function add(items) {
    kept.push(...items);
    if (kept.length > MAX_LINES) kept = kept.slice(-MAX_LINES);
    if (paused) {
      held += shown(items).length;
      return status();
    }
    const follow = atBottom();
    list.insertAdjacentHTML('beforeend', html`${shown(items).map(rowOf)}`.s);
    while (list.children.length > MAX_LINES) list.firstElementChild.remove();
    status();
    if (follow) window.scrollTo(0, document.scrollingElement.scrollHeight);
  }
  function take(d) {
    setHTML($('#l-file', root), d.name ? html`<code title="${d.file}">${d.name}</code>` : '');
    hint = d.hint || '';
    const items = d.restarted ? [{ restart: d.name }, ...d.lines] : d.lines;
    cursor = d.cursor;
    return items;
  }

  async function poll() {
    if (gone) return;
    let more = false;
    if (!document.hidden) {
      try {
        const d = await api(`/api/logs${qs({ after: cursor, limit: 200 })}`);
        if (gone) return;
        add(take(d));
        more = d.more;
      } catch {
        /* the next poll tries again */
      }
    }
    if (!gone) timer = setTimeout(poll, more ? 0 : POLL_MS);
  }

  const load = loader(app, {
    view: 'logs',
    fetch: (signal) => api('/api/logs?limit=300', { signal }),
    render(d) {
      kept = take(d).filter((e) => e.restart === undefined);
      redraw();
      window.scrollTo(0, document.scrollingElement.scrollHeight);
    },
    errorIn: () => $('#l-empty', root),
    settled() {
      clearTimeout(timer);
      if (!gone) timer = setTimeout(poll, POLL_MS);
    },
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  form.level.addEventListener('change', () => setQuery({ level: form.level.value }));
  form.q.addEventListener('input', () => setQuery({ q: form.q.value }, { replace: true }));
  $('#l-pause', root).addEventListener('click', (e) => {
    paused = !paused;
    e.target.textContent = paused ? 'Resume' : 'Pause';
    e.target.setAttribute('aria-pressed', paused);
    e.target.classList.toggle('on', paused);
    if (!paused) redraw();
    status();
  });
  load();
  return {
    update(r) {
      q = r.query;
      redraw();
      app.rendered('logs');
    },
    // The log is followed by its own poll; index changes say nothing about it.
    refresh() {},
    unmount() {
      gone = true;
      clearTimeout(timer);
      load.abort();
    },
  };
}

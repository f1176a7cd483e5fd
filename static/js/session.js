// Session: one session's header (figures, parent, sub-agents) and its timeline: messages,
// thinking (collapsed), tool calls with their results nested (collapsed, long output clipped),
// tokens and cost per call and per turn, model changes and errors. Follows a live session.
import { loader } from './loader.js';
import { renderHead } from './session/head.js';
import { timeline } from './session/timeline.js';
import { $, $$, api, empty, html, sessionName, setHTML, setQuery } from './util.js';

const FILTERS = [
  ['all', 'All'],
  ['messages', 'Messages'],
  ['tools', 'Tools'],
  ['thinking', 'Thinking'],
  ['errors', 'Errors'],
];
const kindOf = (query) => (FILTERS.some(([k]) => k === query.kind) ? query.kind : 'all');

const SHELL = () => html`<p class="crumbs"><a href="#/sessions">← Sessions</a></p>
  <div id="s-head"><p class="loading">Loading…</p></div>
  <div class="toolbar" id="tl-bar" hidden>
    <div class="seg" role="group" aria-label="Show events">${FILTERS.map(
      ([k, l]) => html`<button type="button" data-kind="${k}">${l}<span class="c"></span></button>`,
    )}</div>
    <label class="follow"><input type="checkbox" id="tl-follow" checked> Follow live</label>
    <button type="button" class="link" id="tl-expand">Expand all</button>
    <button type="button" class="link" id="tl-end">Jump to end</button>
  </div>
  <ol class="timeline" id="tl" aria-live="polite"></ol>
  <div id="tl-more"></div>`;

/** The session's summary, with its parent's name when it has a parent. */
async function fetchHead(id, signal) {
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

/** The toolbar (filter, follow, expand all, jump to end) and "Show all" in clipped text. */
function wire(root, t) {
  const tl = $('#tl', root);
  $('#tl-bar', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-kind]');
    if (b) setQuery({ kind: b.dataset.kind === 'all' ? '' : b.dataset.kind });
  });
  $('#tl-follow', root).onchange = (e) => {
    t.follow = e.target.checked;
  };
  $('#tl-expand', root).onclick = (e) => {
    const open = e.target.textContent === 'Expand all';
    for (const d of $$('details', tl)) d.open = open;
    e.target.textContent = open ? 'Collapse all' : 'Expand all';
  };
  $('#tl-end', root).onclick = async () => {
    const build = t.build;
    while (t.loaded < t.total && build === t.build) {
      if (!(await t.loadPage(1000))) break;
    }
    window.scrollTo(0, document.body.scrollHeight);
  };
  tl.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-full]');
    if (!b) return;
    b.previousElementSibling.textContent = t.fullText(b.dataset.full);
    b.remove();
  });
}

export function mount(root, route, app) {
  const id = route.parts[1];
  let summary = null;
  setHTML(root, SHELL());
  const t = timeline(root, app, id, { summary: () => summary, followUp });
  t.kind = kindOf(route.query);
  wire(root, t);
  const showHead = (s) => {
    summary = s;
    renderHead(root, summary, id, t.kind);
  };

  const noSuchSession = () =>
    empty(
      'No such session',
      `There is no session “${id}”. It may have been deleted, or the link is incomplete.`,
      html`<p><a href="#/sessions">Browse all sessions</a></p>`,
    );
  // The header first; the timeline once the header is in (its loads report the render).
  const head = loader(app, {
    fetch: (signal) => fetchHead(id, signal),
    render: (s) => {
      showHead(s);
      return t.rebuild();
    },
    errorIn: () => $('#s-head', root),
    failed(e) {
      if (e.status !== 404) return false;
      setHTML($('#s-head', root), noSuchSession());
      app.rendered('session');
      return true;
    },
  });

  /** Live: re-read the header, then append what is new, or just recount when the end of the
   * transcript is not on the page yet. */
  async function followUp() {
    try {
      showHead(await fetchHead(id, t.signal()));
    } catch {
      return;
    }
    if (t.loaded >= t.total) return t.loadPage(undefined, true);
    try {
      await t.recount();
    } catch {
      /* the next change retries */
    }
  }

  head();
  return {
    update(r) {
      const k = kindOf(r.query);
      if (k === t.kind) return;
      t.kind = k;
      if (summary) renderHead(root, summary, id, t.kind);
      t.rebuild();
    },
    refresh(changes) {
      if (changes.all || changes.ids.has(id) || (summary && changes.ids.has(summary.id))) followUp();
    },
    unmount() {
      head.abort();
      t.abort();
    },
  };
}

// Session: one session's header (figures, parent, sub-agents) and its timeline: messages,
// thinking (collapsed), tool calls with their results nested (collapsed, long output clipped),
// tokens and cost per call and per turn, model changes and errors. Follows a live session.
import { loader } from './loader.js';
import { fetchHead, renderHead } from './session/head.js';
import { wireExport } from './session/export.js';
import { markLoops } from './session/guard.js';
import { timeline } from './session/timeline.js';
import { kindOf, SHELL, wire } from './session/toolbar.js';
import { $, empty, html, setHTML } from './util.js';

export function mount(root, firstRoute, app) {
  let route = firstRoute;
  const id = route.parts[1];
  let summary = null;
  setHTML(root, SHELL());
  const t = timeline(root, app, id, { summary: () => summary, followUp });
  t.kind = kindOf(route.query);
  wire(root, t);
  wireExport(root, id);
  const showHead = (s) => {
    summary = s;
    renderHead(root, summary, id, t.kind);
    markLoops($('#tl', root), summary);
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

  /** A link to one event (`?event=<seq>`, from the activity page): pages until it is on the page,
   * then scrolls to it and marks it. */
  async function reveal(n) {
    if (!Number.isInteger(n) || n < 0) return;
    const find = () => $(`#ev-${n}`, root) || $(`[data-seq="${n}"]`, root);
    while (!find() && t.loaded < t.total) {
      if (!(await t.loadPage(Math.min(1000, n - t.loaded + 20)))) break;
    }
    const el = find();
    if (!el) return;
    const ev = el.closest('.ev') || el;
    ev.classList.add('hl');
    ev.scrollIntoView({ block: 'center' });
  }
  const event = () => (route.query.event == null ? -1 : Number(route.query.event));

  head().then((ok) => ok && reveal(event()));
  return {
    update(r) {
      route = r;
      const k = kindOf(r.query);
      if (k === t.kind) return reveal(event());
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

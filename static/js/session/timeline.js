// A session's timeline: pages of transcript events appended to `#tl` (one load at a time, the
// next page when the end comes into view), rebuilt when the filter changes, extended when the
// session grows. The footer (`#tl-more`) says how much is shown.
import { loader } from '../loader.js';
import { $, api, qs, renderChunks } from '../util.js';
import { attachResults, eventHTML, newState, updateTurns } from './events.js';
import { footer, PAGE } from './footer.js';
import { markLoops } from './guard.js';

/**
 * The timeline of session `id` under `root`. `summary()` is the header's latest summary and
 * `followUp()` runs when a live change arrived during a load.
 */
export function timeline(root, app, id, { summary, followUp }) {
  const tl = $('#tl', root);
  const more = $('#tl-more', root);
  const t = { kind: 'all', follow: true, loaded: 0, total: 0 };
  let st = newState(t.kind);
  let inflight = null; // the page load in flight
  let again = false; // a live change arrived during a load
  let observer = null;
  let ctrl = new AbortController(); // aborts the header and count reads of the current build
  const url = (offset, limit) =>
    `/api/transcript/${encodeURIComponent(id)}${qs({ kind: t.kind === 'all' ? '' : t.kind, offset, limit })}`;

  function renderMore() {
    if (!footer(more, t, summary(), id)) return;
    $('#tl-load', more).onclick = () => t.loadPage();
    if (observer) observer.disconnect();
    if ('IntersectionObserver' in window) {
      const seen = (es) => es.some((x) => x.isIntersecting) && t.loadPage();
      observer = new IntersectionObserver(seen, { rootMargin: '400px' });
      observer.observe($('#tl-sentinel', more));
    }
  }

  /** Appends a page: `{ limit, live }`; live events are marked and followed when near the end. */
  async function append(d, signal, { live }) {
    if (d.total < t.loaded) {
      setTimeout(t.rebuild); // the transcript was replaced or shrank
      return false;
    }
    t.total = d.total;
    const nearEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 300;
    const before = tl.lastElementChild;
    if (!(await renderChunks(tl, d.events, (ev) => eventHTML(st, ev), { signal }))) return false;
    t.loaded += d.events.length;
    const firstNew = before ? before.nextElementSibling : tl.firstElementChild;
    if (live && before) for (let e = firstNew; e; e = e.nextElementSibling) e.classList.add('new');
    attachResults(tl);
    updateTurns(st, tl);
    markLoops(tl, summary());
    renderMore();
    if (live && before && firstNew && t.follow && nearEnd) {
      window.scrollTo({ top: document.body.scrollHeight, behavior: 'smooth' });
    }
  }

  const page = loader(app, {
    view: 'session',
    fetch: (signal, { limit }) => api(url(t.loaded, limit), { signal }),
    render: append,
    errorIn: () => more,
    retry: () => t.loadPage(),
  });

  /**
   * Appends the next page of events (`limit` overrides the page size); `live` marks them as new
   * and scrolls to them when following. One load at a time: a caller during a load gets the
   * load in flight, and a live change during a load is applied right after it.
   */
  t.loadPage = (limit = PAGE, live = false) => {
    if (inflight) {
      if (live) again = true;
      return inflight;
    }
    inflight = page({ limit, live }).finally(() => {
      inflight = null;
      if (again) {
        again = false;
        followUp();
      }
    });
    return inflight;
  };

  t.rebuild = () => {
    t.build = (t.build || 0) + 1;
    ctrl.abort();
    ctrl = new AbortController();
    page.abort();
    inflight = null;
    again = false;
    t.loaded = 0;
    t.total = 0;
    tl.textContent = '';
    more.textContent = '';
    st = newState(t.kind);
    return t.loadPage();
  };

  /** Re-reads the number of events when the end of the transcript is not on the page yet. */
  t.recount = async () => {
    const d = await api(url(t.loaded, 1), { signal: ctrl.signal });
    t.total = d.total;
    renderMore();
    app.rendered('session');
  };

  t.fullText = (key) => st.full.get(key) || '';
  /** The signal of the current build: aborted when the timeline is rebuilt or left. */
  t.signal = () => ctrl.signal;
  t.abort = () => {
    ctrl.abort();
    page.abort();
    if (observer) observer.disconnect();
  };
  return t;
}

// Search: full-text search across every transcript (GET /api/search). Query, agent and kind
// live in the URL (#/search?q=..&agent=..&kind=..); hits come newest first, each linking to its
// event on the session page (?event=<seq>); "More" asks for the next page with the answer's
// cursor. While the index is still being built the page says so and refreshes with it.
import { loader } from './loader.js';
import { formHTML, hit, indexLine } from './search/hits.js';
import { $, api, empty, fillAgentFilters, fmtInt, html, qs, setHTML, setQuery } from './util.js';

function shell() {
  return html`<h1>Search <span class="muted" id="f-count"></span></h1>
    ${formHTML()}
    <p class="muted" id="f-index" role="status"></p>
    <ol class="hits" id="f-hits"></ol>
    <div id="f-empty"></div>
    <p><button type="button" id="f-more" hidden>More</button></p>`;
}

export function mount(root, route, app) {
  let q = route.query;
  let next = null;
  let shown = 0;
  setHTML(root, shell());
  const form = $('#f-form', root);
  const list = $('#f-hits', root);
  const more = $('#f-more', root);
  app
    .getHealth()
    .then((h) => fillAgentFilters(form, h, q))
    .catch(() => {});
  const params = (before) => ({ q: q.q, agent: q.agent, kind: q.kind, limit: 50, before });

  function show(d, append) {
    if (!append) {
      list.textContent = '';
      shown = 0;
    }
    list.insertAdjacentHTML('beforeend', String(html`${d.items.map(hit)}`));
    shown += d.items.length;
    next = d.next;
    more.hidden = !next;
    $('#f-count', root).textContent = shown ? `(${fmtInt(shown)}${next ? '+' : ''} hits)` : '';
    setHTML($('#f-index', root), indexLine(d.index));
    setHTML($('#f-empty', root), shown ? '' : empty('Nothing found', 'No transcript holds every one of these words.'));
  }

  const load = loader(app, {
    view: 'search',
    fetch(signal) {
      form.q.value = document.activeElement === form.q ? form.q.value : q.q || '';
      form.agent.value = q.agent || '';
      form.kind.value = q.kind || '';
      if (!(q.q || '').trim()) return null;
      return api(`/api/search${qs(params())}`, { signal });
    },
    render(d) {
      if (!d) {
        list.textContent = '';
        more.hidden = true;
        $('#f-count', root).textContent = '';
        setHTML($('#f-empty', root), empty('Search every transcript', 'Type words and press Enter.'));
        return;
      }
      show(d, false);
    },
    errorIn: () => $('#f-empty', root),
  });

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      show(await api(`/api/search${qs(params(next))}`), true);
    } catch (e) {
      app.failed($('#f-empty', root), e, () => more.click());
    } finally {
      more.disabled = false;
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setQuery({ q: form.q.value.trim(), agent: form.agent.value, kind: form.kind.value });
  });
  form.agent.addEventListener('change', () => form.requestSubmit());
  form.kind.addEventListener('change', () => form.requestSubmit());
  load();
  if (!q.q) form.q.focus();
  return {
    update(r) {
      q = r.query;
      load();
    },
    // New lines reach the index within seconds; a page the user is reading is not reshuffled,
    // except while the first build is still adding what it finds.
    refresh() {
      if ($('#f-index', root).textContent.trim() && !next) load();
    },
    unmount() {
      load.abort();
    },
  };
}

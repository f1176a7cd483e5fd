// Memory: each agent's MEMORY.md, USER.md and memory/*.md, read-only. The list shows size and
// last change; the filter box keeps the files whose name or text holds the words (the server
// searches, /api/memory?q=); the chosen file shows as text with headings (js/memory/markdown.js:
// nothing in a file is ever taken as HTML). Agent, filter and file live in the URL
// (#/memory?agent=main&q=..&file=MEMORY.md). The files are not part of the index: the page asks
// for the list every few seconds and shows it again when a file's size or time changed.
import { loader } from './loader.js';
import { markdown } from './memory/markdown.js';
import { $, ago, api, debounce, empty, fillAgentFilters, fmtBytes, html, href, qs, setHTML, setQuery } from './util.js';

function shell() {
  return html`<h1>Memory</h1>
    <form class="toolbar" id="m-filters" role="search" aria-label="Filter memory files">
      <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
      <input type="search" name="q" placeholder="Filter by name or text" aria-label="Filter by name or text">
    </form>
    <div class="memory"><ul class="m-files" id="m-files"></ul><article class="panel m-text" id="m-text"></article></div>`;
}

const same = (f, q) => f.agent === q.agent && f.name === q.file;
const WATCH_MS = 3000;
const signature = (list) => list.files.map((f) => `${f.agent}/${f.name}:${f.size}:${f.modifiedMs}`).join('|');

function fileItem(f, q, agents) {
  const link = href(['memory'], { ...q, agent: f.agent, file: f.name });
  return html`<li class="${same(f, q) ? 'on' : ''}"><a href="${link}"${same(f, q) ? html` aria-current="true"` : ''}>
    <span class="m-name">${agents > 1 ? html`<span class="tag">${f.agent}</span> ` : ''}${f.name}</span>
    <span class="muted">${fmtBytes(f.size)} · ${ago(f.modifiedMs)}</span></a></li>`;
}

function fileText(d) {
  return html`<h2>${d.name} <span class="muted">${d.agent} · ${fmtBytes(d.size)} · ${ago(d.modifiedMs)}</span></h2>
    ${markdown(d.text)}`;
}

export function mount(root, route, app) {
  let q = route.query;
  setHTML(root, shell());
  const form = $('#m-filters', root);
  app
    .getHealth()
    .then((h) => fillAgentFilters(form, h, q))
    .catch(() => {});

  const load = loader(app, {
    view: 'memory',
    async fetch(signal) {
      const list = await api(`/api/memory${qs({ agent: q.agent, q: q.q })}`, { signal });
      seen = signature(list);
      const pick = list.files.find((f) => same(f, q)) || (q.file ? null : list.files[0]);
      const text = pick ? await api(`/api/memory${qs({ agent: pick.agent, file: pick.name })}`, { signal }) : null;
      return { list, text };
    },
    render({ list, text }) {
      form.agent.value = q.agent || '';
      if (document.activeElement !== form.q) form.q.value = q.q || '';
      const shownQ = text ? { ...q, agent: text.agent, file: text.name } : q;
      const agents = new Set(list.files.map((f) => f.agent)).size;
      setHTML($('#m-files', root), html`${list.files.map((f) => fileItem(f, shownQ, agents))}`);
      setHTML(
        $('#m-text', root),
        text
          ? fileText(text)
          : list.files.length
            ? empty('Choose a file', 'Pick a memory file from the list.')
            : empty(
                q.q ? 'No file matches' : 'No memory files',
                q.q ? 'No memory file holds these words.' : 'The agents have no MEMORY.md or memory/*.md yet.',
              ),
      );
    },
    errorIn: () => $('#m-text', root),
  });
  // Changes on disk: a cheap look at the list, the full load only when something moved.
  let seen = '';
  const watch = setInterval(async () => {
    if (document.hidden) return;
    try {
      const list = await api(`/api/memory${qs({ agent: q.agent, q: q.q })}`);
      if (signature(list) !== seen) load();
    } catch {
      /* the next look retries */
    }
  }, WATCH_MS);
  form.addEventListener('submit', (e) => e.preventDefault());
  form.agent.addEventListener('change', () => setQuery({ agent: form.agent.value, file: '' }));
  const typed = debounce(() => setQuery({ q: form.q.value, file: '' }, { replace: true }), 250);
  form.q.addEventListener('input', typed);
  load();
  return {
    update(r) {
      q = r.query;
      load();
    },
    // Memory files are not part of the index: a change of sessions says nothing about them.
    refresh() {},
    unmount() {
      clearInterval(watch);
      typed.cancel();
      load.abort();
    },
  };
}

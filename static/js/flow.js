// Flow: Channels -> Gateway -> Models -> Tools as an SVG graph from /api/flow; edge widths
// follow the counts, running work is marked, and the counts follow the live stream.
import { svg } from './flow/graph.js';
import { loader } from './loader.js';
import { $, $$, api, clock, empty, html, qs, setHTML, setQuery } from './util.js';

const WINDOWS = [
  ['', 'All time'],
  ['24h', '24 h'],
  ['7d', '7 days'],
  ['30d', '30 days'],
];
const SPAN = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

function render(root, d, win) {
  const box = $('#f-graph', root);
  if (!d.gateway.sessions) {
    setHTML(
      box,
      empty(
        win ? 'Nothing in this window' : 'Nothing flowed yet',
        win
          ? 'No session was active in this window; try All time.'
          : 'When a channel delivers a message to OpenClaw, the path it takes shows up here.',
      ),
    );
    $('#f-note', root).textContent = '';
    return;
  }
  setHTML(box, svg(d));
  if (!d.tools.length) $('#f-note', root).textContent = 'No tool calls recorded yet.';
  else
    $('#f-note', root).textContent = 'A model → tool edge credits each session’s tool calls to the model it used last.';
}

export function mount(root, route, app) {
  let win = SPAN[route.query.window] ? route.query.window : '';

  setHTML(
    root,
    html`<h1>Flow</h1>
    <div class="toolbar"><div class="seg" role="group" aria-label="Window">${WINDOWS.map(
      ([v, l]) => html`<button type="button" data-win="${v}">${l}</button>`,
    )}</div>
    <span class="muted small">Channels → Gateway → Models → Tools.
      Edge widths follow sessions, model calls and tool calls.</span></div>
    <div class="flow scroll" id="f-graph"><p class="loading">Loading…</p></div>
    <p class="muted small" id="f-note"></p>`,
  );
  $('.seg', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-win]');
    if (b) setQuery({ window: b.dataset.win });
  });

  const load = loader(app, {
    view: 'flow',
    fetch(signal) {
      for (const b of $$('button[data-win]', root)) {
        b.classList.toggle('on', b.dataset.win === win);
        b.setAttribute('aria-pressed', b.dataset.win === win);
      }
      return api(`/api/flow${qs({ since: win ? Math.floor(clock.now() - SPAN[win]) : '' })}`, { signal });
    },
    render: (d) => render(root, d, win),
    errorIn: () => $('#f-graph', root),
  });

  load();
  return {
    update(r) {
      win = SPAN[r.query.window] ? r.query.window : '';
      load();
    },
    refresh: load,
    unmount: load.abort,
  };
}

// The session page around its header: the filter buttons, "Follow live", "Expand all", "Jump
// to end", the export menu (session/export.js), and "Show all" in clipped text.
import { $, $$, html, setQuery } from '../util.js';
import { exportHTML } from './export.js';

const FILTERS = [
  ['all', 'All'],
  ['messages', 'Messages'],
  ['tools', 'Tools'],
  ['thinking', 'Thinking'],
  ['errors', 'Errors'],
];
export const kindOf = (query) => (FILTERS.some(([k]) => k === query.kind) ? query.kind : 'all');

export const SHELL = () => html`<p class="crumbs"><a href="#/sessions">← Sessions</a></p>
  <div id="s-head"><p class="loading">Loading…</p></div>
  <div class="toolbar" id="tl-bar" hidden>
    <div class="seg" role="group" aria-label="Show events">${FILTERS.map(
      ([k, l]) => html`<button type="button" data-kind="${k}">${l}<span class="c"></span></button>`,
    )}</div>
    <label class="follow"><input type="checkbox" id="tl-follow" checked> Follow live</label>
    <button type="button" class="link" id="tl-expand">Expand all</button>
    <button type="button" class="link" id="tl-end">Jump to end</button>
    ${exportHTML()}
  </div>
  <ol class="timeline" id="tl" aria-live="polite"></ol>
  <div id="tl-more"></div>`;

/** The toolbar (filter, follow, expand all, jump to end) and "Show all" in clipped text. */
export function wire(root, t) {
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

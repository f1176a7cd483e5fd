// The sessions table's parts: its columns and filters, the page around it, a row, the pager.
import {
  $,
  $$,
  ago,
  badge,
  empty,
  fmtCost,
  fmtDuration,
  fmtInt,
  fmtTokens,
  html,
  kindTag,
  modelName,
  sessionHref,
  sessionName,
  setHTML,
  setQuery,
  stateTag,
} from '../util.js';
import { filtersHTML, SIZES } from './filters.js';

const COLS = [
  // [sort key or null, header, class]
  ['status', 'Status', ''],
  ['agent', 'Agent', 'opt'],
  ['label', 'Session', ''],
  [null, 'Channel', 'opt'],
  ['model', 'Model', 'opt'],
  ['tokens', 'Tokens', 'n opt'],
  ['cost', 'Cost', 'n'],
  ['context', 'Context', 'n opt'],
  ['duration', 'Duration', 'n opt'],
  ['last', 'Last activity', 'opt'],
];
const sortButton = (key, label) =>
  html`<button type="button" class="sort" data-sort="${key}">${label}<span class="arrow"></span></button>`;

/** The page: filters, the table (rows come later), the empty state and the pager. */
export function shell() {
  return html`<h1>Sessions <span class="muted" id="s-total"></span></h1>
  ${filtersHTML()}
  <form class="filters" id="s-fulltext" role="search" autocomplete="off">
    <input type="search" name="q" data-slash placeholder="Words inside any transcript   ( / )"
      aria-label="Search inside every transcript"><button type="submit">Search transcripts</button></form>
  <p class="muted small" id="s-export">Export every session these filters select:
    <a id="s-csv" download>CSV</a> · <a id="s-json" download>JSON</a></p>
  <div class="scroll"><table class="grid sessions" id="s-table"><thead><tr>${COLS.map(
    ([key, label, cls]) => html`<th class="${cls}"
    >${key ? sortButton(key, label) : label}</th>`,
  )}</tr></thead>
    <tbody></tbody></table></div>
  <div id="s-empty"></div>
  <nav class="pager" id="s-pager" aria-label="Pages"></nav>`;
}

const contextTitle = (c) =>
  !c?.maxPrompt
    ? 'no model call'
    : c.window
      ? `largest prompt ${fmtInt(c.maxPrompt)} of a ${fmtInt(c.window)}-token window`
      : `largest prompt ${fmtInt(c.maxPrompt)}; the window of ${c.model} is unknown`;

export function row(s, flash) {
  const link = html`<a href="${sessionHref(s.id)}" title="${s.key || s.id}">${sessionName(s)}</a>`;
  return html`<tr data-id="${s.id}" class="${flash ? 'flash' : ''}">
    <td>${badge(s.status, s.statusDetail)}</td>
    <td class="opt">${s.agent}</td>
    <td class="name">${link} ${kindTag(s.kind)} ${stateTag(s)}
      ${s.errors ? html`<span class="count err" title="${s.errors} errors">${s.errors}</span>` : ''}
      ${s.task ? html`<div class="muted small clamp opt" title="${s.task}">${s.task}</div>` : ''}
      <div class="muted small phone">${ago(s.lastMs)} · ${fmtTokens(s.tokens.total)} tokens</div></td>
    <td class="opt">${s.channel || html`<span class="muted">–</span>`}</td>
    <td class="opt nowrap">${modelName(s.model)}</td>
    <td class="n opt" title="${fmtInt(s.tokens.total)} tokens">${fmtTokens(s.tokens.total)}</td>
    <td class="n">${fmtCost(s.cost)}</td>
    <td class="n opt" title="${contextTitle(s.context)}">${
      s.context?.percent != null ? `${s.context.percent}%` : html`<span class="muted">–</span>`
    }</td>
    <td class="n opt">${fmtDuration(s.durationMs)}</td>
    <td class="opt">${ago(s.lastMs)}</td></tr>`;
}

/** The pager under the table, in `el`; its buttons change the URL. */
export function pager(el, total, page, size) {
  const pages = Math.max(1, Math.ceil(total / size));
  const from = total ? (page - 1) * size + 1 : 0;
  const to = Math.min(total, page * size);
  setHTML(
    el,
    html`<span class="muted">${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(total)}</span>
    <button type="button" data-page="${page - 1}" ${page <= 1 ? html`disabled` : ''}>‹ Previous</button>
    <span>Page ${page} of ${pages}</span>
    <button type="button" data-page="${page + 1}" ${page >= pages ? html`disabled` : ''}>Next ›</button>
    <label class="muted">Rows <select id="s-size">${SIZES.map(
      (n) => html`<option ${n === size ? html`selected` : ''}>${n}</option>`,
    )}</select></label>`,
  );
  el.onclick = (e) => {
    const b = e.target.closest('button[data-page]');
    if (b && !b.disabled) setQuery({ page: b.dataset.page === '1' ? '' : b.dataset.page });
  };
  $('#s-size', el).onchange = (e) => setQuery({ size: e.target.value === '50' ? '' : e.target.value, page: '' });
}

/** What the table says when it has no row. */
export function emptyState(q, page, total) {
  if (q.q || q.profile || q.agent || q.status || q.kind || q.state) {
    return empty(
      'No session matches',
      'Nothing matches these filters.',
      html`<p><a href="#/sessions">Clear the filters</a></p>`,
    );
  }
  if (page > 1)
    return empty(
      'Past the last page',
      `There are ${total} sessions.`,
      html`<p><a href="#/sessions">First page</a></p>`,
    );
  return empty('No sessions yet', 'When your OpenClaw agents talk, their sessions appear here live.');
}

/** Marks the sorted column (arrow and aria-sort). */
export function showSort(root, sort, order) {
  for (const b of $$('button[data-sort]', root)) {
    const on = b.dataset.sort === sort;
    b.parentElement.setAttribute('aria-sort', on ? (order === 'asc' ? 'ascending' : 'descending') : 'none');
    b.querySelector('.arrow').textContent = on ? (order === 'asc' ? ' ▲' : ' ▼') : '';
  }
}

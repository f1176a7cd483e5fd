// Where the money goes: the filters by model, provider, channel, tool and trigger (kept in the
// URL, combinable with range, agent and profile), and the tables by trigger, tool and provider
// and the most expensive runs against runs like them. Rules come from the API's answer.
import { fmtCost, fmtInt, fmtPct, html, sessionHref, sessionName } from '../util.js';

/** The filters the usage page adds to agent and profile, with their labels. */
export const FILTERS = [
  ['model', 'All models'],
  ['provider', 'All providers'],
  ['channel', 'All channels'],
  ['tool', 'All tools'],
  ['trigger', 'All triggers'],
];

/** The selects, empty until an answer says which values the range holds. */
export const filterSelects = () =>
  html`<div class="filters" id="u-filters">${FILTERS.map(
    ([k, all]) => html`<select name="${k}" aria-label="${k}" data-f="${k}"><option value="">${all}</option></select>`,
  )}</div>`;

/** The query's filter values, for the API and the CSV link. */
export const filterParams = (q) => Object.fromEntries(FILTERS.map(([k]) => [k, q[k] || '']));

/** Fills each select with the values of the range (and the one chosen, even if gone). */
export function fillFilters(box, choices, q) {
  for (const [k, all] of FILTERS) {
    const sel = box.querySelector(`select[data-f="${k}"]`);
    const values = new Set(choices?.[k] || []);
    if (q[k]) values.add(q[k]);
    sel.replaceChildren(new Option(all, ''), ...[...values].sort().map((v) => new Option(v, v)));
    sel.value = q[k] || '';
  }
}

/** Each select sets its query parameter (which reloads the page through the router). */
export function wireFilters(box, setQuery) {
  box.addEventListener('change', (e) => {
    const k = e.target.dataset?.f;
    if (k) setQuery({ [k]: e.target.value });
  });
}

const share = (c, t) => (t ? fmtPct(c / t) : '–');

function partTable(id, title, rows, field, total, note) {
  const body = rows.length
    ? html`<div class="scroll"><table class="grid"><thead><tr><th>${field === 'tool' ? 'Tool' : 'Trigger'}</th>
      <th class="n">Sessions</th><th class="n">Cost</th><th class="n opt">Share</th></tr></thead><tbody>
      ${rows.map(
        (
          r,
        ) => html`<tr><td>${r[field]}</td><td class="n">${fmtInt(r.sessions)}</td><td class="n">${fmtCost(r.cost)}</td>
        <td class="n opt">${share(r.cost, total)}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">None in this range.</p>`;
  return html`<section class="panel" id="${id}"><h2>${title}</h2>${body}<p class="muted small">${note}</p></section>`;
}

function providerTable(rows, total) {
  return html`<section class="panel" id="u-providers"><h2>By provider</h2><div class="scroll"><table class="grid">
    <thead><tr><th>Provider</th><th class="n">Calls</th><th class="n">Cost</th><th class="n opt">Share</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr><td>${r.provider}</td><td class="n">${fmtInt(r.calls)}</td><td class="n">${fmtCost(r.cost)}</td>
      <td class="n opt">${share(r.cost, total)}</td></tr>`,
    )}</tbody></table></div></section>`;
}

function runRow(r) {
  const name = sessionName(r.label?.includes(':') ? { key: r.label, id: r.id } : r);
  const times =
    r.timesMedian == null
      ? html`<span class="muted" title="no similar run to compare with">–</span>`
      : html`<b class="${r.timesMedian >= 3 ? 'bad' : ''}">${r.timesMedian.toFixed(1)}×</b>`;
  return html`<tr><td><a href="${sessionHref(r.id)}" title="${r.id}">${name}</a></td><td class="opt">${r.agent}</td>
    <td>${r.trigger}</td><td class="n">${fmtCost(r.cost)}</td><td class="n">${times}</td>
    <td class="n opt" title="median of ${r.similarRuns} runs">${fmtCost(r.medianCost)}</td></tr>`;
}

function runsTable(d) {
  return html`<section class="panel" id="u-runs"><h2>Most expensive runs</h2><div class="scroll"><table class="grid">
    <thead><tr><th>Session</th><th class="opt">Agent</th><th>Trigger</th><th class="n">Cost</th>
    <th class="n">× median</th><th class="n opt">Median</th></tr></thead><tbody>${d.topRuns.map(runRow)}</tbody>
    </table></div><p class="muted small" title="${d.rules.topRuns}">A run is a session; × median = its cost over the
    median cost of the runs of the same agent and trigger in this selection (itself included).</p></section>`;
}

/** The panels of the answer `d` (of /api/usage). */
export function wherePanels(d) {
  const t = d.totals.cost;
  return html`<div class="cols">
    ${partTable('u-triggers', 'By trigger', d.byTrigger, 'trigger', t, `${d.rules.byTrigger}.`)}
    ${partTable('u-tools', 'By tool', d.byTool, 'tool', t, html`Rule: ${d.rules.byTool}.`)}
  </div>
  <div class="cols">${providerTable(d.byProvider, t)}${runsTable(d)}</div>`;
}

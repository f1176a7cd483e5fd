// The usage page's figures: the key cards, the two chart panels and the tables per model, agent
// and session.
import {
  TOKEN_KINDS,
  empty,
  fmtCost,
  fmtInt,
  fmtPct,
  fmtTokens,
  html,
  modelName,
  sessionHref,
  sessionName,
  setHTML,
  zone,
} from '../util.js';

import { isoDay } from './range.js';
import { wherePanels } from './where.js';

const card = (label, value, sub, k) => html`<div class="card" data-k="${k}"><span class="label">${label}</span><b
  class="num">${value}</b><span class="sub">${sub}</span></div>`;

function nothing(body, sp, q) {
  const agent = q.agent ? ` for agent ${q.agent}` : '';
  const filtered = ['model', 'provider', 'channel', 'tool', 'trigger'].some((k) => q[k]) ? ' under these filters' : '';
  const text = `Nothing was recorded between ${isoDay(sp.from)} and ${isoDay(sp.to - 1)} (${zone.name})${agent}${filtered}.`;
  setHTML(
    body,
    empty('No model calls in this range', text, html`<p><a href="#/usage?range=all">Show all time</a></p>`),
  );
}

function cards(d, t) {
  const kinds = TOKEN_KINDS.map(([k, l]) => `${fmtTokens(t[k])} ${l}`).join(' · ');
  const top = d.byModel.length ? html`most spent on ${modelName(d.byModel[0].model)}` : '';
  return html`<section class="cards">
    ${card('Cost', fmtCost(t.cost), `${fmtInt(t.calls)} model calls`, 'cost')}
    ${card('Tokens', fmtTokens(t.totalTokens), html`<span title="${fmtInt(t.totalTokens)}">${kinds}</span>`, 'tokens')}
    ${card('Sessions', fmtInt(d.sessionsWithUsage), 'with model calls in range', 'sessions')}
    ${card('Models', fmtInt(d.byModel.length), top, 'models')}
  </section>`;
}

const chartPanel = (what, step, by, id) =>
  html`<section class="panel"><h2>${what} per ${step} <span class="muted">by ${by}</span></h2><div class="chart"
    id="${id}"></div></section>`;

/** Renders the figures for one answer of /api/usage; false when there is nothing to chart. */
export function render(body, d, sp, q) {
  const t = d.totals;
  if (!t.calls) {
    nothing(body, sp, q);
    return false;
  }
  const n = d.sessionsWithUsage;
  const shown = `${d.bySession.length < n ? `top ${d.bySession.length} of ` : ''}${fmtInt(n)}`;
  setHTML(
    body,
    html`
    ${cards(d, t)}
    ${chartPanel('Cost', sp.step, 'model', 'c-cost')}
    ${chartPanel('Tokens', sp.step, 'kind', 'c-tokens')}
    ${wherePanels(d)}
    <section class="panel" id="u-models"><h2>By model</h2>${table(d.byModel, 'model', t)}</section>
    <section class="panel" id="u-agents"><h2>By agent</h2>${table(d.byAgent, 'agent', t)}</section>
    <section class="panel" id="u-sessions"><h2>By session <span class="muted">(${shown})</span></h2>${sessionTable(
      d.bySession,
    )}</section>`,
  );
  return true;
}

function row(r, key, t) {
  const name =
    key === 'model'
      ? modelName(r.model)
      : html`<a href="#/sessions?agent=${encodeURIComponent(r.agent)}">${r.agent}</a>`;
  const kinds = TOKEN_KINDS.map(([k]) => html`<td class="n opt" title="${fmtInt(r[k])}">${fmtTokens(r[k])}</td>`);
  return html`<tr><td>${name}</td>
    <td class="n">${fmtInt(r.calls)}</td>${kinds}
    <td class="n" title="${fmtInt(r.totalTokens)}">${fmtTokens(r.totalTokens)}</td><td class="n">${fmtCost(r.cost)}</td>
    <td class="n opt">${t.cost ? fmtPct(r.cost / t.cost) : '–'}</td></tr>`;
}

/** Calls, tokens by kind, cost and share per model or per agent (`key`). */
function table(rows, key, t) {
  const kinds = TOKEN_KINDS.map(([, l]) => html`<th class="n opt">${l}</th>`);
  return html`<div class="scroll"><table class="grid"><thead><tr><th>${key === 'model' ? 'Model' : 'Agent'}</th>
    <th class="n">Calls</th>${kinds}<th class="n">Tokens</th><th class="n">Cost</th><th class="n opt">Share</th></tr>
    </thead><tbody>
    ${rows.map((r) => row(r, key, t))}
    </tbody></table></div>`;
}

function sessionRow(r) {
  const name = sessionName(r.label?.includes(':') ? { key: r.label, id: r.id } : r);
  return html`<tr><td><a href="${sessionHref(r.id)}" title="${r.id}">${name}</a></td><td class="opt">${r.agent}</td>
    <td class="n">${fmtInt(r.calls)}</td><td class="n" title="${fmtInt(r.totalTokens)}">${fmtTokens(r.totalTokens)}</td>
    <td class="n">${fmtCost(r.cost)}</td></tr>`;
}

function sessionTable(rows) {
  return html`<div class="scroll"><table class="grid"><thead><tr><th>Session</th><th class="opt">Agent</th>
    <th class="n">Calls</th><th class="n">Tokens</th><th class="n">Cost</th></tr></thead><tbody>
    ${rows.map(sessionRow)}
    </tbody></table></div>`;
}

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
} from '../util.js';

import { isoDay } from './range.js';

/** Renders the figures for one answer of /api/usage; false when there is nothing to chart. */
export function render(body, d, sp, q) {
  const t = d.totals;
  if (!t.calls) {
    setHTML(
      body,
      empty(
        'No model calls in this range',
        `Nothing was recorded between ${isoDay(sp.from)} and ${isoDay(sp.to - 1)} (UTC)${q.agent ? ` for agent ${q.agent}` : ''}.`,
        html`<p><a href="#/usage?range=all">Show all time</a></p>`,
      ),
    );
    return;
  }
  const card = (label, value, sub, k) =>
    html`<div class="card" data-k="${k}"><span class="label">${label}</span><b class="num">${value}</b><span class="sub">${sub}</span></div>`;
  setHTML(
    body,
    html`
    <section class="cards">
      ${card('Cost', fmtCost(t.cost), `${fmtInt(t.calls)} model calls`, 'cost')}
      ${card('Tokens', fmtTokens(t.totalTokens), html`<span title="${fmtInt(t.totalTokens)}">${TOKEN_KINDS.map(([k, l]) => `${fmtTokens(t[k])} ${l}`).join(' · ')}</span>`, 'tokens')}
      ${card('Sessions', fmtInt(d.sessionsWithUsage), 'with model calls in range', 'sessions')}
      ${card('Models', fmtInt(d.byModel.length), d.byModel.length ? html`most spent on ${modelName(d.byModel[0].model)}` : '', 'models')}
    </section>
    <section class="panel"><h2>Cost per ${sp.step} <span class="muted">by model</span></h2><div class="chart" id="c-cost"></div></section>
    <section class="panel"><h2>Tokens per ${sp.step} <span class="muted">by kind</span></h2><div class="chart" id="c-tokens"></div></section>
    <section class="panel" id="u-models"><h2>By model</h2>${table(d.byModel, 'model', t)}</section>
    <section class="panel" id="u-agents"><h2>By agent</h2>${table(d.byAgent, 'agent', t)}</section>
    <section class="panel" id="u-sessions"><h2>By session <span class="muted">(${d.bySession.length < d.sessionsWithUsage ? `top ${d.bySession.length} of ` : ''}${fmtInt(d.sessionsWithUsage)})</span></h2>${sessionTable(d.bySession)}</section>`,
  );
  return true;
}

function table(rows, key, t) {
  return html`<div class="scroll"><table class="grid"><thead><tr><th>${key === 'model' ? 'Model' : 'Agent'}</th><th class="n">Calls</th>
    ${TOKEN_KINDS.map(([, l]) => html`<th class="n opt">${l}</th>`)}<th class="n">Tokens</th><th class="n">Cost</th><th class="n opt">Share</th></tr></thead><tbody>
    ${rows.map(
      (
        r,
      ) => html`<tr><td>${key === 'model' ? modelName(r.model) : html`<a href="#/sessions?agent=${encodeURIComponent(r.agent)}">${r.agent}</a>`}</td>
      <td class="n">${fmtInt(r.calls)}</td>${TOKEN_KINDS.map(([k]) => html`<td class="n opt" title="${fmtInt(r[k])}">${fmtTokens(r[k])}</td>`)}
      <td class="n" title="${fmtInt(r.totalTokens)}">${fmtTokens(r.totalTokens)}</td><td class="n">${fmtCost(r.cost)}</td>
      <td class="n opt">${t.cost ? fmtPct(r.cost / t.cost) : '–'}</td></tr>`,
    )}
    </tbody></table></div>`;
}

function sessionTable(rows) {
  return html`<div class="scroll"><table class="grid"><thead><tr><th>Session</th><th class="opt">Agent</th><th class="n">Calls</th><th class="n">Tokens</th><th class="n">Cost</th></tr></thead><tbody>
    ${rows.map(
      (
        r,
      ) => html`<tr><td><a href="${sessionHref(r.id)}" title="${r.id}">${sessionName(r.label?.includes(':') ? { key: r.label, id: r.id } : r)}</a></td><td class="opt">${r.agent}</td>
      <td class="n">${fmtInt(r.calls)}</td><td class="n" title="${fmtInt(r.totalTokens)}">${fmtTokens(r.totalTokens)}</td><td class="n">${fmtCost(r.cost)}</td></tr>`,
    )}
    </tbody></table></div>`;
}

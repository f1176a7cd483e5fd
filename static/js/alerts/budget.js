// The alerts page's budget panel: spend today and this month against each limit, the pause
// state of the gateway, and the form for the limits (overall and per agent).
import { ago, fmtCost, html } from '../util.js';
import { field, W } from './fields.js';

const LEVEL_BADGE = { over: 'failed', warning: 'running' };
const LEVEL_BAR = { over: 'background:var(--bad)', warning: 'background:var(--warn)' };

function limitItem(l) {
  const who = l.agent ? `agent ${l.agent}` : 'all agents';
  const badge = LEVEL_BADGE[l.level] || 'done';
  const bar = `width:${Math.min(100, l.percent)}%;${LEVEL_BAR[l.level] || ''}`;
  return html`<li><div class="bar-label"><b>${who}, ${l.period}</b>
    <span class="muted">${fmtCost(l.spentUsd)} of ${fmtCost(l.limitUsd)}</span><b
      class="badge st-${badge}">${l.percent}%</b></div>
    <div class="bar"><span style="${bar}"></span></div></li>`;
}

function limits(st) {
  if (!(st.limits || []).length) return html`<p class="muted">No limits set: spend is only shown.</p>`;
  return html`<ul class="bars">${st.limits.map(limitItem)}</ul>`;
}

function pauseState(p) {
  if (!p.active && !p.lastError) return '';
  const text = p.active
    ? html`Gateway paused since ${ago(p.sinceMs)}: ${p.reason}.`
    : html`Auto-pause: <span class="errmsg">${p.lastError}</span>`;
  return html`<p class="${p.active ? 'errmsg' : ''}">${text}</p>`;
}

const usd = (name, value) =>
  html`<input name="${name}" type="number" min="0" step="0.01" value="${value ?? ''}" style="${W}">`;
const agentUsd = (name, value) =>
  html`<input name="${name}" type="number" min="0" step="0.01" style="width:7em" value="${value ?? ''}">`;

function agentRow(b, a) {
  return html`<tr data-agent="${a}"><td>${a}</td><td>${agentUsd('d', b.agents[a]?.dailyUsd)}</td>
    <td>${agentUsd('m', b.agents[a]?.monthlyUsd)}</td></tr>`;
}

function budgetForm(b, agents) {
  const warn = html`<input name="warnPercent" type="number" min="1" max="99" value="${b.warnPercent}" style="${W}">`;
  return html`<div class="cols" style="gap:0 1rem">
    <div>${field('Daily limit, all agents (USD)', usd('dailyUsd', b.dailyUsd))}
      ${field('Monthly limit, all agents (USD)', usd('monthlyUsd', b.monthlyUsd))}
      ${field('Warn at (% of a limit)', warn)}
      <label style="display:block;margin:.5rem 0"><input type="checkbox" name="autoPause" ${
        b.autoPause ? 'checked' : ''
      }>
        Pause the gateway when over a limit</label></div>
    <div><table class="grid"><thead><tr><th>Agent</th><th>Daily USD</th><th>Monthly USD</th></tr></thead><tbody>
      ${agents.map((a) => agentRow(b, a))}
    </tbody></table></div>
  </div>`;
}

/** The budget panel for an answer of /api/budget. */
export function budgetPanel(budget) {
  const b = budget.budget;
  const st = budget.status || {};
  const p = budget.pause;
  const resume = p.active || (st.over || []).length;
  return html`<section class="panel" id="a-budget"><h2>Budget <span class="muted small">today ${fmtCost(st.todayUsd)} ·
      this month ${fmtCost(st.monthUsd)}</span></h2>
    ${limits(st)}
    ${pauseState(p)}
    <form id="f-budget" autocomplete="off">
      ${budgetForm(b, budget.agents || [])}
      <p><button type="submit">Save budget</button> ${
        resume ? html`<button type="button" id="b-resume">Resume the gateway</button>` : ''
      }</p>
      <details><summary class="muted small">What does pausing do?</summary>
        <p class="small">${p.explanation}</p></details>
    </form></section>`;
}

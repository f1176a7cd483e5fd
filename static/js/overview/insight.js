// Overview's spend rate, month-end forecast, budget crossings and prompt cache (/api/insight).
// Each figure says how it is made: the methods come from the API.
import { fmtCost, fmtDate, fmtPct, fmtTime, fmtTokens, fmtUtc, html, zoneLabel } from '../util.js';

const money = (x) => (x == null ? '–' : fmtCost(x));
const rate = (x) => html`${fmtCost(x)}<span class="muted">/h</span>`;
const vs = (w) => html`${fmtCost(w.current)} <span class="muted">vs ${fmtCost(w.previous)}</span>`;
const row = (label, value) => html`<tr><td>${label}</td><td class="n">${value}</td></tr>`;

function limitRow(l) {
  const who = l.agent ? `agent ${l.agent}` : 'all agents';
  const what =
    l.status === 'over'
      ? html`<b class="bad">over</b>`
      : l.status === 'crosses'
        ? html`crossed on <b>${l.crossesOn}</b>`
        : html`<span class="muted">not this ${l.period === 'daily' ? 'day' : 'month'}</span>`;
  return row(html`${l.period} limit ${fmtCost(l.limitUsd)} <span class="muted">(${who})</span>`, what);
}

function forecast(ins) {
  const { projection: p, burn: b, windows: w, budgets } = ins;
  const m = w.dailyMean;
  return html`<section class="panel" id="forecast">
    <h2>Spend rate and forecast <span class="muted" id="forecast-tz">(days in ${zoneLabel()})</span></h2>
    <p class="lead"><b class="num" data-k="projected">${fmtCost(p.projected)}</b> projected by the end of the month</p>
    <p class="muted small" id="projection-method" title="${p.method}">${fmtCost(p.monthSoFar)} so far this month +
      ${fmtCost(p.dailyRate)}/day (the last 7 days' daily mean) × ${p.daysLeft.toFixed(1)} days left.</p>
    <div class="scroll"><table class="grid"><tbody>
      ${row('Burn rate: last hour · 24 h · 7 days', html`${rate(b.perHour1h)} · ${rate(b.perHour24h)} · ${rate(b.perHour7d)}`)}
      ${row('Today vs yesterday', vs(w.day))}
      ${row('This week vs last week', vs(w.week))}
      ${row('This month vs last month', vs(w.month))}
      ${row('Daily mean: 7 · 30 · 90 days', `${fmtCost(m.d7)} · ${fmtCost(m.d30)} · ${fmtCost(m.d90)}`)}
      ${budgets.limits.map(limitRow)}
    </tbody></table></div>
    ${budgets.limits.length ? html`<p class="muted small">Limits at ${budgets.rateMethod}.</p>` : ''}
  </section>`;
}

/** 30 small bars: the cache hit rate per day. */
function spark(daily) {
  return html`<div class="spark" aria-label="Cache hit rate per day">${daily.map(
    (d) =>
      html`<span style="height:${Math.round(100 * (d.hitRate || 0))}%" title="${fmtDate(d.t)}: ${d.hitRate == null ? 'no prompt tokens' : `${fmtPct(d.hitRate)} hit, ${money(d.saved)} saved`}"></span>`,
  )}</div>`;
}

function cache(c) {
  const m = c.month;
  const prompt = m.input + m.cacheRead + m.cacheWrite;
  const unpriced = m.unpricedCacheRead
    ? html` ${fmtTokens(m.unpricedCacheRead)} cache-read tokens of models without a price are not counted.`
    : '';
  return html`<section class="panel" id="cache">
    <h2>Prompt cache <span class="muted">(this month)</span></h2>
    <p class="lead"><b class="num" data-k="hit-rate">${m.hitRate == null ? '–' : fmtPct(m.hitRate)}</b> hit rate ·
      <b class="num" data-k="saved">${money(m.saved)}</b> saved</p>
    <p class="muted small">${fmtTokens(m.cacheRead)} of ${fmtTokens(prompt)} prompt tokens read from the cache;
      saved = those tokens at the input price minus the cache-read price; cache-write overhead
      ${money(m.writeOverhead)}.${unpriced}</p>
    ${spark(c.daily)}
    <p class="muted small">Hit rate per day, last ${c.days} days.</p>
  </section>`;
}

const hourLabel = (t) => html`<time title="${fmtUtc(t)}">${fmtTime(t).slice(0, 16)}</time>`;

function anomalyRow(h) {
  const what = [];
  if (h.cost.anomalous) what.push(html`cost <b>${fmtCost(h.cost.value)}</b> (usually ${fmtCost(h.cost.median)})`);
  if (h.tokens.anomalous)
    what.push(html`tokens <b>${fmtTokens(h.tokens.value)}</b> (usually ${fmtTokens(h.tokens.median)})`);
  return html`<li>${hourLabel(h.t)}${h.partial ? ' (this hour, so far)' : ''}: ${what.map((w, i) =>
    i ? html` and ${w}` : w,
  )}</li>`;
}

/** Hours of the last day whose cost or tokens were far above the same hour on the days before. */
function anomalies(a) {
  const now = a.hours[a.hours.length - 1];
  const base =
    now?.cost.threshold == null ? 'not enough history yet (3 days)' : `alarm above ${fmtCost(now.cost.threshold)}`;
  const body = a.anomalous.length
    ? html`<ul class="bad" id="anomaly-list">${a.anomalous.map(anomalyRow)}</ul>`
    : html`<p class="muted" id="anomaly-none">No unusual hour in the last 24 hours.</p>`;
  return html`<section class="panel" id="anomalies">
    <h2>Unusual hours <span class="muted">(last 24 h, ${zoneLabel()})</span></h2>
    ${body}
    <p class="muted small" title="${a.method}">This hour: ${now ? fmtCost(now.cost.value) : '–'} so far, ${base}.
      An hour is unusual when it is far above the median of the same local hour on the 7 days before (median and MAD;
      below ${fmtCost(a.costFloorUsd)} or ${fmtTokens(a.tokenFloor)} tokens more never counts).</p>
  </section>`;
}

export const insightPanels = (ins) =>
  html`<div class="cols">${forecast(ins)}${cache(ins.cache)}</div>${ins.anomalies ? anomalies(ins.anomalies) : ''}`;

// Usage & cost: totals, cost and tokens over time (uPlot, loaded on first use), tables per model,
// agent and session, and the CSV of the same range. Range, step and agent live in the URL:
// #/usage?range=7d&step=hour&agent=main, or range=custom&from=2026-11-01&to=2026-11-24 (UTC days).
import {
  api, html, setHTML, $, fmtTokens, fmtCost, fmtInt, fmtPct, sessionHref, sessionName, setQuery, qs, empty, tokenBar,
  TOKEN_KINDS, modelName, shortModel, cssVar, debounce, clock, loadUplot, chartBase, chartAxis, chartWidth,
} from './util.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const RANGES = [['24h', '24 h'], ['7d', '7 days'], ['30d', '30 days'], ['90d', '90 days'], ['month', 'This month'], ['all', 'All time'], ['custom', 'Custom']];
const PALETTE = ['#2f7ed8', '#e8743b', '#19a979', '#945ecf', '#d64550', '#13a4b4', '#b3891c', '#6c8893'];
const KIND_COLORS = { input: '--k-input', output: '--k-output', cacheRead: '--k-cacheRead', cacheWrite: '--k-cacheWrite' };

const utcDay = (ms) => Math.floor(ms / DAY) * DAY;
const utcMonth = (ms) => { const d = new Date(ms); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1); };
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const chartHeight = (el) => (el.clientWidth < 500 ? 180 : 220);

export function mount(root, route, app) {
  let q = route.query;
  let ctrl = null;
  let charts = [];
  let lastData = null;
  let earliest = null;

  setHTML(root, html`<h1>Usage &amp; cost</h1>
    <form class="filters range" id="u-form" autocomplete="off">
      <div class="seg" role="group" aria-label="Range">${RANGES.map(([v, l]) => html`<button type="button" data-range="${v}">${l}</button>`)}</div>
      <span class="custom" id="u-custom" hidden>
        <label>From <input type="date" name="from" required></label>
        <label>to <input type="date" name="to" required></label>
        <button type="submit">Apply</button>
      </span>
      <div class="seg" role="group" aria-label="Step"><button type="button" data-step="hour">Hourly</button><button type="button" data-step="day">Daily</button></div>
      <select name="profile" aria-label="OpenClaw profile" hidden><option value="">All profiles</option></select>
      <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
      <a class="button" id="u-csv" download>Download CSV</a>
    </form>
    <p class="muted small" id="u-span"></p>
    <div id="u-body"><p class="loading">Loading…</p></div>`);
  const form = $('#u-form', root);
  const body = $('#u-body', root);

  app.getHealth().then((h) => {
    for (const a of (h.openclaw && h.openclaw.agents) || []) form.agent.add(new Option(a.id, a.id));
    form.agent.value = q.agent || '';
    const others = (h.openclaw && h.openclaw.otherProfiles) || [];
    if (others.length) {
      for (const p of [h.openclaw.profile, ...others.map((o) => o.name)]) form.profile.add(new Option(p, p));
      form.profile.hidden = false;
      form.profile.value = q.profile || '';
    }
  }).catch(() => {});

  form.addEventListener('click', (e) => {
    const r = e.target.closest('button[data-range]');
    if (r) {
      const range = r.dataset.range;
      if (range === 'custom') {
        const { from, to } = span();
        setQuery({ range, from: isoDay(from), to: isoDay(to - 1) });
      } else setQuery({ range: range === '30d' ? '' : range, from: '', to: '', step: '' });
    }
    const s = e.target.closest('button[data-step]');
    if (s && !s.disabled) setQuery({ step: s.dataset.step });
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (form.from.value && form.to.value) setQuery({ range: 'custom', from: form.from.value, to: form.to.value });
  });
  form.agent.addEventListener('change', () => setQuery({ agent: form.agent.value }));
  form.profile.addEventListener('change', () => setQuery({ profile: form.profile.value }));

  /** The selected range in epoch ms [from, to) and its step. */
  function span() {
    const now = clock.now();
    const range = q.range || '30d';
    let from;
    let to = now;
    switch (range) {
      case '24h': from = Math.floor(now / HOUR) * HOUR - 23 * HOUR; break;
      case '7d': from = utcDay(now) - 6 * DAY; break;
      case '90d': from = utcDay(now) - 89 * DAY; break;
      case 'month': from = utcMonth(now); break;
      case 'all': from = earliest != null ? utcDay(earliest) : utcDay(now) - 29 * DAY; break;
      case 'custom': {
        const f = Date.parse(q.from || '');
        const t = Date.parse(q.to || '');
        from = isFinite(f) ? f : utcDay(now) - 29 * DAY;
        to = isFinite(t) ? t + DAY : now;
        if (to <= from) to = from + DAY;
        break;
      }
      default: from = utcDay(now) - 29 * DAY;
    }
    const hourOk = to - from <= 31 * DAY;
    const step = q.step === 'hour' && hourOk ? 'hour' : q.step === 'day' ? 'day' : range === '24h' ? 'hour' : 'day';
    return { range, from, to, step, hourOk };
  }

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      if (q.range === 'all' && earliest == null) {
        // Sessions without any timestamp sort first: take the earliest that has one.
        const first = await api('/api/sessions?sort=started&order=asc&limit=200', { signal });
        const ts = first.sessions.map((s) => s.firstMs).filter((t) => t != null);
        earliest = ts.length ? Math.min(...ts) : clock.now() - 89 * DAY;
      }
      const sp = span();
      syncForm(sp);
      const params = { from: sp.from, to: sp.to, step: sp.step, agent: q.agent, profile: q.profile };
      $('#u-csv', root).href = '/api/usage.csv' + qs(params);
      const [d, U] = await Promise.all([api('/api/usage' + qs(params), { signal }), loadUplot()]);
      if (signal.aborted) return;
      lastData = d;
      render(d, U, sp);
      app.rendered('usage');
    } catch (e) {
      app.failed(body, e, load);
    }
  }

  function syncForm(sp) {
    for (const b of form.querySelectorAll('button[data-range]')) {
      b.classList.toggle('on', b.dataset.range === sp.range);
      b.setAttribute('aria-pressed', b.dataset.range === sp.range);
    }
    for (const b of form.querySelectorAll('button[data-step]')) {
      b.classList.toggle('on', b.dataset.step === sp.step);
      b.setAttribute('aria-pressed', b.dataset.step === sp.step);
      b.disabled = b.dataset.step === 'hour' && !sp.hourOk;
      b.title = b.disabled ? 'Hourly steps need a range of 31 days or less' : '';
    }
    $('#u-custom', root).hidden = sp.range !== 'custom';
    if (document.activeElement !== form.from) form.from.value = isoDay(sp.from);
    if (document.activeElement !== form.to) form.to.value = isoDay(sp.to - 1);
    form.agent.value = q.agent || '';
    form.profile.value = q.profile || '';
    const last = sp.step === 'day' ? isoDay(sp.to - 1) : new Date(sp.to).toISOString().slice(0, 16).replace('T', ' ');
    const first = sp.step === 'day' ? isoDay(sp.from) : new Date(sp.from).toISOString().slice(0, 16).replace('T', ' ');
    $('#u-span', root).textContent = `${first} to ${last} (UTC), ${sp.step === 'hour' ? 'hourly' : 'daily'}${q.agent ? `, agent ${q.agent}` : ''}`;
  }

  function render(d, U, sp) {
    destroyCharts();
    const t = d.totals;
    if (!t.calls) {
      setHTML(body, empty('No model calls in this range',
        `Nothing was recorded between ${isoDay(sp.from)} and ${isoDay(sp.to - 1)} (UTC)${q.agent ? ` for agent ${q.agent}` : ''}.`,
        html`<p><a href="#/usage?range=all">Show all time</a></p>`));
      return;
    }
    const card = (label, value, sub, k) => html`<div class="card" data-k="${k}"><span class="label">${label}</span><b class="num">${value}</b><span class="sub">${sub}</span></div>`;
    setHTML(body, html`
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
      <section class="panel" id="u-sessions"><h2>By session <span class="muted">(${d.bySession.length < d.sessionsWithUsage ? `top ${d.bySession.length} of ` : ''}${fmtInt(d.sessionsWithUsage)})</span></h2>${sessionTable(d.bySession)}</section>`);
    drawCharts(d, U);
  }

  function table(rows, key, t) {
    return html`<div class="scroll"><table class="grid"><thead><tr><th>${key === 'model' ? 'Model' : 'Agent'}</th><th class="n">Calls</th>
      ${TOKEN_KINDS.map(([, l]) => html`<th class="n opt">${l}</th>`)}<th class="n">Tokens</th><th class="n">Cost</th><th class="n opt">Share</th></tr></thead><tbody>
      ${rows.map((r) => html`<tr><td>${key === 'model' ? modelName(r.model) : html`<a href="#/sessions?agent=${encodeURIComponent(r.agent)}">${r.agent}</a>`}</td>
        <td class="n">${fmtInt(r.calls)}</td>${TOKEN_KINDS.map(([k]) => html`<td class="n opt" title="${fmtInt(r[k])}">${fmtTokens(r[k])}</td>`)}
        <td class="n" title="${fmtInt(r.totalTokens)}">${fmtTokens(r.totalTokens)}</td><td class="n">${fmtCost(r.cost)}</td>
        <td class="n opt">${t.cost ? fmtPct(r.cost / t.cost) : '–'}</td></tr>`)}
      </tbody></table></div>`;
  }

  function sessionTable(rows) {
    return html`<div class="scroll"><table class="grid"><thead><tr><th>Session</th><th class="opt">Agent</th><th class="n">Calls</th><th class="n">Tokens</th><th class="n">Cost</th></tr></thead><tbody>
      ${rows.map((r) => html`<tr><td><a href="${sessionHref(r.id)}" title="${r.id}">${sessionName(r.label && r.label.includes(':') ? { key: r.label, id: r.id } : r)}</a></td><td class="opt">${r.agent}</td>
        <td class="n">${fmtInt(r.calls)}</td><td class="n" title="${fmtInt(r.totalTokens)}">${fmtTokens(r.totalTokens)}</td><td class="n">${fmtCost(r.cost)}</td></tr>`)}
      </tbody></table></div>`;
  }

  // ---- charts -------------------------------------------------------------------------------

  /** Stacked bars: series are drawn from the tallest cumulative sum down, each over the last. */
  function stacked(U, el, xs, layers, fmt, step, minY, fmtAxis) {
    const half = (step === 'hour' ? 3600 : 86400) / 2;
    const cum = [];
    let acc = xs.map(() => 0);
    for (const l of layers) {
      acc = acc.map((v, i) => v + (l.values[i] || 0));
      cum.push(acc);
    }
    const order = layers.map((_, i) => i).reverse();
    const axis = chartAxis();
    const bars = U.paths.bars({ size: [0.8, 48], gap: 1 });
    const opts = {
      ...chartBase(U, el, chartHeight(el)),
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      legend: { live: true },
      // xs are bucket middles: pad the x range by half a step so the bars fit.
      scales: {
        x: { time: true, range: (u, min, max) => [min - half, max + half] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.08 : minY] },
      },
      axes: [axis, { ...axis, size: 64, values: (u, ticks, ax, space, incr) => ticks.map((v) => fmtAxis(v, incr)) }],
      series: [{ label: step === 'hour' ? 'hour (UTC)' : 'day (UTC)', value: (u, v) => v == null ? '' : new Date((v - half) * 1e3).toISOString().slice(0, step === 'hour' ? 16 : 10).replace('T', ' ') }]
        .concat(order.map((i) => ({
          label: layers[i].label,
          fill: layers[i].color,
          stroke: layers[i].color,
          width: 0,
          paths: bars,
          points: { show: false },
          value: (u, v, si, idx) => idx == null ? '–' : fmt(layers[i].values[idx] || 0),
        }))),
    };
    return new U(opts, [xs].concat(order.map((i) => cum[i])), el);
  }

  function drawCharts(d, U) {
    const step = d.step;
    // Each bar sits in the middle of its bucket.
    const xs = d.series.map((p) => p.t / 1000 + (step === 'hour' ? 1800 : 43200));
    const models = Object.entries(d.costByModel || {}).sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0));
    const costLayers = models.map(([m, values], i) => ({ label: shortModel(m), values, color: PALETTE[i % PALETTE.length] }));
    const tokLayers = TOKEN_KINDS.map(([k, l]) => ({ label: l, values: d.series.map((p) => p[k] || 0), color: cssVar(KIND_COLORS[k]) }));
    const c1 = $('#c-cost', root);
    const c2 = $('#c-tokens', root);
    charts = [
      { el: c1, u: stacked(U, c1, xs, costLayers, (v) => fmtCost(v), step, 1, costTick) },
      { el: c2, u: stacked(U, c2, xs, tokLayers, (v) => fmtTokens(v), step, 10, (v) => fmtTokens(v)) },
    ];
  }

  /** Cost ticks share one number of decimals, enough for the tick step. */
  const costTick = (v, incr) => '$' + v.toFixed(Math.min(6, Math.max(0, -Math.floor(Math.log10(incr || 1)))));

  function destroyCharts() {
    for (const c of charts) c.u.destroy();
    charts = [];
  }

  const onResize = debounce(() => {
    for (const c of charts) c.u.setSize({ width: chartWidth(c.el), height: chartHeight(c.el) });
  }, 150);
  window.addEventListener('resize', onResize);
  // Colours come from the theme: redraw when the system switches between light and dark.
  const dark = matchMedia('(prefers-color-scheme: dark)');
  const onTheme = () => { if (lastData && window.uPlot) { destroyCharts(); drawCharts(lastData, window.uPlot); } };
  dark.addEventListener('change', onTheme);

  load();
  return {
    update(r) { q = r.query; load(); },
    refresh: load,
    unmount() {
      if (ctrl) ctrl.abort();
      destroyCharts();
      window.removeEventListener('resize', onResize);
      dark.removeEventListener('change', onTheme);
    },
  };
}

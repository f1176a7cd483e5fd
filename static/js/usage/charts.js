// The usage page's charts (uPlot): cost per step by model and tokens per step by kind, as
// stacked bars.
import {
  $,
  TOKEN_KINDS,
  cssVar,
  dayStart,
  fmtCost,
  fmtTime,
  fmtTokens,
  shortModel,
  chartAxis,
  chartBase,
  zone,
} from '../util.js';

const HOUR_MS = 3_600_000;

const PALETTE = ['#2f7ed8', '#e8743b', '#19a979', '#945ecf', '#d64550', '#13a4b4', '#b3891c', '#6c8893'];
const KIND_COLORS = {
  input: '--k-input',
  output: '--k-output',
  cacheRead: '--k-cacheRead',
  cacheWrite: '--k-cacheWrite',
};
export const chartHeight = (el) => (el.clientWidth < 500 ? 180 : 220);

/** Stacked bars: series are drawn from the tallest cumulative sum down, each over the last. */
function stacked(U, el, xs, mids, layers, fmt, step, minY, fmtAxis) {
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
      x: { time: true, range: (_u, min, max) => [min - half, max + half] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : minY] },
    },
    axes: [axis, { ...axis, size: 64, values: (_u, ticks, _ax, _space, incr) => ticks.map((v) => fmtAxis(v, incr)) }],
    series: [
      {
        label: `${step} (${zone.name})`,
        // The bucket's own start (a DST day's middle is not 12 h after its midnight).
        value: (u, _v, _si, idx) =>
          idx == null ? '' : fmtTime(u.data[0][idx] * 1e3 - mids[idx]).slice(0, step === 'hour' ? 16 : 10),
      },
    ].concat(
      order.map((i) => ({
        label: layers[i].label,
        fill: layers[i].color,
        stroke: layers[i].color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (_u, _v, _si, idx) => (idx == null ? '–' : fmt(layers[i].values[idx] || 0)),
      })),
    ),
  };
  return new U(opts, [xs].concat(order.map((i) => cum[i])), el);
}

/** Cost ticks share one number of decimals, enough for the tick step. */
const costTick = (v, incr) => `$${v.toFixed(Math.min(6, Math.max(0, -Math.floor(Math.log10(incr || 1)))))}`;

/** Draws both charts; returns them as { el, u } for resizing and destroying. */
export function drawCharts(root, d, U) {
  const step = d.step;
  // Each bar sits in the middle of its bucket; a day is a day of the server's zone, 23 or 25
  // hours long on a DST change (mids: ms from a bucket's start to its middle).
  const mids = d.series.map((p) => (step === 'hour' ? HOUR_MS : dayStart(p.t, 1) - p.t) / 2);
  const xs = d.series.map((p, i) => (p.t + mids[i]) / 1000);
  const models = Object.entries(d.costByModel || {}).sort(
    (a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0),
  );
  const costLayers = models.map(([m, values], i) => ({
    label: shortModel(m),
    values,
    color: PALETTE[i % PALETTE.length],
  }));
  const tokLayers = TOKEN_KINDS.map(([k, l]) => ({
    label: l,
    values: d.series.map((p) => p[k] || 0),
    color: cssVar(KIND_COLORS[k]),
  }));
  const c1 = $('#c-cost', root);
  const c2 = $('#c-tokens', root);
  return [
    { el: c1, u: stacked(U, c1, xs, mids, costLayers, (v) => fmtCost(v), step, 1, costTick) },
    {
      el: c2,
      u: stacked(
        U,
        c2,
        xs,
        mids,
        tokLayers,
        (v) => fmtTokens(v),
        step,
        10,
        (v) => fmtTokens(v),
      ),
    },
  ];
}

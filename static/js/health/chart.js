// Health's history chart (uPlot): one metric over one range from /api/history. Its errors show
// in the chart's box; the rest of the page does not depend on it.
import { $, api, cssVar, empty, html, setHTML, chartAxis, chartBase, chartWidth, loadUplot, zone } from '../util.js';

export const METRICS = [
  ['disk', 'Disk'],
  ['memory', 'Memory'],
  ['load', 'Load'],
  ['cpu', 'CPU'],
  ['cpuTemp', 'CPU °C'],
  ['sessions', 'Sessions'],
  ['cost', 'Cost'],
];
export const RANGES = [
  ['24h', '15m'],
  ['7d', '1h'],
  ['30d', '6h'],
  ['90d', '1d'],
];

/** The chart in `#h-chart` under `root`: `load(query)` (re)draws it, `resize()`, `destroy()`. */
export function historyChart(root) {
  let chart = null;
  async function load(q) {
    const metric = METRICS.some(([v]) => v === q.metric) ? q.metric : 'disk';
    const [range, step0] = RANGES.find(([v]) => v === q.range) || RANGES[0];
    const step = metric === 'cost' && step0 === '15m' ? '1h' : step0;
    for (const b of root.querySelectorAll('#h-metrics button')) b.classList.toggle('on', b.dataset.metric === metric);
    for (const b of root.querySelectorAll('#h-ranges button')) b.classList.toggle('on', b.dataset.range === range);
    const el = $('#h-chart', root);
    try {
      const [d, U] = await Promise.all([api(`/api/history?metric=${metric}&range=${range}&step=${step}`), loadUplot()]);
      if (chart) {
        chart.destroy();
        chart = null;
      }
      const xs = d.points.map((p) => p.t / 1000);
      const ys = d.points.map((p) => p.v);
      const have = ys.filter((v) => v != null).length;
      $('#h-chart-note', root).textContent = have ? `${d.source}, ${d.unit}, ${zone.name}` : '';
      if (!have) {
        setHTML(el, empty('No history yet', 'Snapshots are taken every 5 minutes; this chart fills as they come.'));
        return;
      }
      el.textContent = '';
      const axis = chartAxis();
      chart = new U(
        {
          ...chartBase(U, el, 200),
          scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
          axes: [axis, { ...axis, size: 56 }],
          series: [
            {},
            {
              label: `${metric} (${d.unit})`,
              stroke: cssVar('--accent'),
              width: 2,
              fill: 'transparent',
              spanGaps: false,
              points: { show: have < 60 },
            },
          ],
        },
        [xs, ys],
        el,
      );
    } catch (e) {
      setHTML(el, html`<p class="errmsg">${e.message}</p>`);
    }
  }
  return {
    load,
    resize() {
      if (chart) chart.setSize({ width: chartWidth($('#h-chart', root)), height: 200 });
    },
    destroy() {
      if (chart) chart.destroy();
    },
  };
}

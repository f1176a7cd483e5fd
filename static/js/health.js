// Health: this machine and the gateway, from /api/system-health (collected by the monitor every
// few seconds; re-read every 10 s while the page is visible): disks, memory, load, CPU and its
// temperature, GPUs, the gateway's version and uptime, port checks, and a chart of the history
// (/api/history). The chart's metric and range live in the URL: #/health?metric=disk&range=7d.
import { top } from './health/cards.js';
import { METRICS, RANGES, historyChart } from './health/chart.js';
import { panels } from './health/panels.js';
import { loader } from './loader.js';
import { $, api, debounce, fmtClock, fmtUtc, html, setHTML, setQuery } from './util.js';

const POLL_MS = 10_000;

function shell() {
  return html`<h1>System health <span class="muted small" id="h-when"></span></h1>
  <div id="h-body"><p class="loading">Loading…</p></div>
  <section class="panel"><h2>History</h2>
    <div class="toolbar">
      <div class="seg" role="group" aria-label="Metric" id="h-metrics">${METRICS.map(
        ([v, l]) => html`<button type="button" data-metric="${v}">${l}</button>`,
      )}</div>
      <div class="seg" role="group" aria-label="Range" id="h-ranges">${RANGES.map(
        ([v]) => html`<button type="button" data-range="${v}">${v}</button>`,
      )}</div>
    </div>
    <div class="chart" id="h-chart"></div><p class="muted small" id="h-chart-note"></p>
  </section>`;
}

function render(root, body, h) {
  $('#h-when', root).textContent = `checked ${fmtClock(h.collectedMs)}`;
  $('#h-when', root).title = fmtUtc(h.collectedMs);
  setHTML(body, html`${top(h)}<div class="cols">${panels(h)}</div>`);
}

export function mount(root, route, app) {
  let q = route.query;
  let timer = 0;
  setHTML(root, shell());
  const body = $('#h-body', root);
  const chart = historyChart(root);
  const pick = (sel, key) =>
    $(sel, root).addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (b) setQuery({ [key]: b.dataset[key] }, { replace: true });
    });
  pick('#h-metrics', 'metric');
  pick('#h-ranges', 'range');

  // Re-read every POLL_MS while the page is visible (the monitor collects every few seconds).
  const load = loader(app, {
    view: 'health',
    fetch: (signal) => api('/api/system-health', { signal }),
    render: (h) => render(root, body, h),
    errorIn: () => body,
    settled() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!document.hidden) load();
        else timer = setTimeout(load, POLL_MS);
      }, POLL_MS);
    },
  });

  const onResize = debounce(chart.resize, 150);
  window.addEventListener('resize', onResize);
  load();
  chart.load(q);
  return {
    update(r) {
      q = r.query;
      chart.load(q);
    },
    refresh() {
      /* index changes do not change this page; it re-reads every 10 s */
    },
    unmount() {
      load.abort();
      clearTimeout(timer);
      chart.destroy();
      window.removeEventListener('resize', onResize);
    },
  };
}

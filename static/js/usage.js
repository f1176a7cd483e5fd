// Usage & cost: totals, cost and tokens over time (uPlot, loaded on first use), tables per model,
// agent and session, and the CSV of the same range. Range, step and agent live in the URL:
// #/usage?range=7d&step=hour&agent=main, or range=custom&from=2026-11-01&to=2026-11-24 (the server's days, util.js `zone`);
// the filters of usage/where.js too (model, provider, channel, tool, trigger).
import { loader } from './loader.js';
import { cacheSection } from './usage/cache.js';
import { chartHeight, drawCharts } from './usage/charts.js';
import { DAY, isoDay, shell, span, syncForm } from './usage/range.js';
import { render } from './usage/tables.js';
import { fillFilters, filterParams, wireFilters } from './usage/where.js';
import { $, api, clock, debounce, qs, setHTML, setQuery, chartWidth, loadUplot, fillAgentFilters } from './util.js';

/** The range form's controls: each changes the URL, which reloads the page. */
function wire(form, rangeNow) {
  form.addEventListener('click', (e) => {
    const r = e.target.closest('button[data-range]');
    if (r) {
      const range = r.dataset.range;
      if (range === 'custom') {
        const { from, to } = rangeNow();
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
}

export function mount(root, route, app) {
  let q = route.query;
  let charts = [];
  let lastData = null;
  let earliest = null;

  setHTML(root, shell());
  const form = $('#u-form', root);
  const body = $('#u-body', root);
  app
    .getHealth()
    .then((h) => fillAgentFilters(form, h, q))
    .catch(() => {});
  wire(form, () => span(q, earliest));
  wireFilters($('#u-filters', root), setQuery);

  function destroyCharts() {
    for (const c of charts) c.u.destroy();
    charts = [];
  }

  const load = loader(app, {
    view: 'usage',
    async fetch(signal) {
      if (q.range === 'all' && earliest == null) {
        // Sessions without any timestamp sort first: take the earliest that has one.
        const first = await api('/api/sessions?sort=started&order=asc&limit=200', { signal });
        const ts = first.sessions.map((s) => s.firstMs).filter((t) => t != null);
        earliest = ts.length ? Math.min(...ts) : clock.now() - 89 * DAY;
      }
      const sp = span(q, earliest);
      syncForm(root, form, q, sp);
      const params = {
        from: sp.from,
        to: sp.to,
        step: sp.step,
        agent: q.agent,
        profile: q.profile,
        ...filterParams(q),
      };
      $('#u-csv', root).href = `/api/usage.csv${qs(params)}`;
      const [d, U, ins] = await Promise.all([
        api(`/api/usage${qs(params)}`, { signal }),
        loadUplot(),
        api(`/api/insight${qs({ agent: q.agent })}`, { signal }),
      ]);
      return { d, U, sp, ins };
    },
    render({ d, U, sp, ins }) {
      lastData = d;
      destroyCharts();
      fillFilters($('#u-filters', root), d.choices, q);
      if (!render(body, d, sp, q)) return;
      charts = drawCharts(root, d, U);
      body.insertAdjacentHTML('beforeend', String(cacheSection(ins.cache)));
    },
    errorIn: () => body,
  });

  const onResize = debounce(() => {
    for (const c of charts) c.u.setSize({ width: chartWidth(c.el), height: chartHeight(c.el) });
  }, 150);
  window.addEventListener('resize', onResize);
  // Colours come from the theme: redraw when the system switches between light and dark.
  const dark = matchMedia('(prefers-color-scheme: dark)');
  const onTheme = () => {
    if (lastData && window.uPlot) {
      destroyCharts();
      charts = drawCharts(root, lastData, window.uPlot);
    }
  };
  dark.addEventListener('change', onTheme);

  load();
  return {
    update(r) {
      q = r.query;
      load();
    },
    refresh: load,
    unmount() {
      load.abort();
      destroyCharts();
      window.removeEventListener('resize', onResize);
      dark.removeEventListener('change', onTheme);
    },
  };
}

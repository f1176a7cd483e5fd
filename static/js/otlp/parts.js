// OTLP's panels: key figures, services, recent traces as a waterfall, metrics and logs.
import { ago, empty, fmtDuration, fmtInt, fmtTokens, html, setHTML } from '../util.js';

const fmtVal = (v) => (Math.abs(v) >= 1000 ? fmtTokens(v) : Number.isInteger(v) ? String(v) : v.toFixed(3));

function waterfall(spans) {
  // Newest traces first; inside a trace, spans by start time, indented by depth.
  const traces = new Map();
  for (const s of spans) {
    if (!traces.has(s.traceId)) traces.set(s.traceId, []);
    traces.get(s.traceId).push(s);
  }
  return [...traces.values()].slice(0, 15).map((list) => {
    list.sort((a, b) => a.startMs - b.startMs);
    const t0 = Math.min(...list.map((s) => s.startMs));
    const t1 = Math.max(...list.map((s) => s.endMs));
    const span = Math.max(t1 - t0, 0.001);
    const byId = new Map(list.map((s) => [s.spanId, s]));
    const depth = (s) => {
      let d = 0;
      let p = byId.get(s.parentSpanId);
      while (p && d < 8) {
        d++;
        p = byId.get(p.parentSpanId);
      }
      return d;
    };
    const id = list[0].traceId.slice(0, 12);
    return html`<div class="trace"><div class="small muted">${list[0].service} · trace ${id}… · ${fmtDuration(
      t1 - t0,
    )} · ${ago(t1)}</div>
      ${list.map((s) => {
        const left = ((s.startMs - t0) / span) * 100;
        const width = Math.max(((s.endMs - s.startMs) / span) * 100, 0.5);
        const usage =
          s.attributes['gen_ai.usage.input_tokens'] != null
            ? ` · ${fmtInt(s.attributes['gen_ai.usage.input_tokens'])} in / ${fmtInt(s.attributes['gen_ai.usage.output_tokens'] || 0)} out`
            : '';
        return html`<div class="wf-row ${s.status === 2 ? 'err' : ''}" title="${JSON.stringify(s.attributes)}">
          <span class="wf-name" style="padding-left:${depth(s) * 0.9}rem">${s.name}<span
            class="muted small">${usage}</span></span>
          <span class="wf-track"><span class="wf-bar" style="left:${left}%;width:${width}%"></span></span>
          <span class="wf-dur small">${fmtDuration(s.endMs - s.startMs)}</span></div>`;
      })}</div>`;
  });
}

const card = (label, value, sub) =>
  html`<div class="card"><span class="label">${label}</span><b class="num">${value}</b><span
    class="sub">${sub}</span></div>`;
const th = (cells) => cells.map(([label, cls]) => html`<th class="${cls || ''}">${label}</th>`);

function cards(c, d) {
  return html`<section class="cards">
    ${card('Spans', fmtInt(c.spans), `${fmtInt(c.rejected)} rejected`)}
    ${card('Metric points', fmtInt(c.metricPoints), `${fmtInt(d.metrics.length)} metrics`)}
    ${card('Logs', fmtInt(c.logs), `${fmtInt(c.requests)} exports`)}
    ${card('Model calls', fmtInt(c.usageRecords), html`<a href="#/sessions?kind=otlp">as sessions →</a>`)}
  </section>`;
}

function servicesPanel(services, service) {
  const head = th([
    ['Service'],
    ['Spans', 'n'],
    ['Metric points', 'n'],
    ['Logs', 'n'],
    ['Model calls', 'n'],
    ['Last seen'],
  ]);
  const row = ([name, s]) => html`<tr><td><a href="#/otlp?service=${encodeURIComponent(name)}">${name}</a></td>
    <td class="n">${fmtInt(s.spans)}</td><td class="n">${fmtInt(s.metricPoints)}</td>
    <td class="n">${fmtInt(s.logs)}</td>
    <td class="n">${fmtInt(s.usageRecords)}</td><td>${ago(s.lastSeenMs)}</td></tr>`;
  return html`<section class="panel"><h2>Services</h2><div class="scroll"><table class="grid">
    <thead><tr>${head}</tr></thead>
    <tbody>${services.map(row)}</tbody></table></div>
    ${service ? html`<p><a href="#/otlp">All services</a></p>` : ''}</section>`;
}

function metricsPanel(metrics) {
  const head = th([['Name'], ['Kind'], ['Unit'], ['Latest values'], ['Points', 'n']]);
  const value = ([attrs, v]) =>
    html`<div>${fmtVal(v)} <span class="muted">${Object.values(attrs).join(' · ')}</span></div>`;
  const row = (m) => html`<tr><td title="${m.description}">${m.name}</td><td>${m.kind}</td><td>${m.unit}</td>
    <td class="small">${m.series.slice(0, 4).map(value)}</td><td class="n">${fmtInt(m.points)}</td></tr>`;
  return html`<section class="panel"><h2>Metrics</h2>${metrics.length ? '' : html`<p class="muted">No metrics.</p>`}<div
    class="scroll" ${metrics.length ? '' : 'hidden'}><table class="grid"><thead><tr>${head}</tr></thead>
    <tbody>${metrics.map(row)}</tbody></table></div></section>`;
}

function logsPanel(logs) {
  const row = (l) => html`<tr><td class="small">${ago(l.timeMs)}</td><td>${l.severity}</td><td>${l.service}</td>
    <td>${typeof l.body === 'string' ? l.body : JSON.stringify(l.body)}</td></tr>`;
  return html`<section class="panel"><h2>Logs</h2>${
    logs.length
      ? html`<div class="scroll"><table class="grid"><tbody>${logs.slice(0, 100).map(row)}</tbody></table></div>`
      : html`<p class="muted">No logs.</p>`
  }</section>`;
}

/** The whole page for one answer of /api/otlp (`service` when the URL picked one). */
export function render(body, d, service) {
  const services = Object.entries(d.services);
  if (!services.length) {
    setHTML(
      body,
      empty(
        'No OpenTelemetry data yet',
        'Point an OTLP/HTTP exporter at this dashboard: OTEL_EXPORTER_OTLP_ENDPOINT=http://<host>:8900 ' +
          '(protobuf or JSON, gzip allowed). GenAI spans and token metrics become usage.',
      ),
    );
    return;
  }
  const traces = d.spans.length ? waterfall(d.spans) : html`<p class="muted">No spans.</p>`;
  setHTML(
    body,
    html`${cards(d.counters, d)}${servicesPanel(services, service)}
      <section class="panel"><h2>Recent traces</h2>${traces}</section>
      ${metricsPanel(d.metrics)}${logsPanel(d.logs)}`,
  );
}

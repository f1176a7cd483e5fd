// OTLP: what applications sent to /v1/traces, /v1/metrics and /v1/logs: services, recent
// traces as a waterfall, metric names with their latest values, and logs. GenAI model calls
// found in spans and metrics also show up as sessions of kind "otlp".
import { api, html, setHTML, $, fmtInt, fmtTokens, fmtDuration, ago, empty } from './util.js';

const fmtVal = (v) => (Math.abs(v) >= 1000 ? fmtTokens(v) : Number.isInteger(v) ? String(v) : v.toFixed(3));

export function mount(root, route, app) {
  let ctrl = null;
  let service = route.query.service || '';
  setHTML(root, html`<h1>OTLP <span class="muted small">OpenTelemetry received on /v1/*</span></h1><div id="otlp-body"></div>`);
  const body = $('#otlp-body', root);

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
      const depth = (s) => { let d = 0; let p = byId.get(s.parentSpanId); while (p && d < 8) { d++; p = byId.get(p.parentSpanId); } return d; };
      return html`<div class="trace"><div class="small muted">${list[0].service} · trace ${list[0].traceId.slice(0, 12)}… · ${fmtDuration(t1 - t0)} · ${ago(t1)}</div>
        ${list.map((s) => {
          const left = ((s.startMs - t0) / span) * 100;
          const width = Math.max(((s.endMs - s.startMs) / span) * 100, 0.5);
          const usage = s.attributes['gen_ai.usage.input_tokens'] != null
            ? ` · ${fmtInt(s.attributes['gen_ai.usage.input_tokens'])} in / ${fmtInt(s.attributes['gen_ai.usage.output_tokens'] || 0)} out` : '';
          return html`<div class="wf-row ${s.status === 2 ? 'err' : ''}" title="${JSON.stringify(s.attributes)}">
            <span class="wf-name" style="padding-left:${depth(s) * 0.9}rem">${s.name}<span class="muted small">${usage}</span></span>
            <span class="wf-track"><span class="wf-bar" style="left:${left}%;width:${width}%"></span></span>
            <span class="wf-dur small">${fmtDuration(s.endMs - s.startMs)}</span></div>`;
        })}</div>`;
    });
  }

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    try {
      const d = await api(`/api/otlp?limit=400${service ? `&service=${encodeURIComponent(service)}` : ''}`, { signal: ctrl.signal });
      const services = Object.entries(d.services);
      if (!services.length) {
        setHTML(body, empty('No OpenTelemetry data yet',
          'Point an OTLP/HTTP exporter at this dashboard: OTEL_EXPORTER_OTLP_ENDPOINT=http://<host>:8900 (protobuf or JSON, gzip allowed). GenAI spans and token metrics become usage.'));
        app.rendered('otlp');
        return;
      }
      const c = d.counters;
      setHTML(body, html`
        <section class="cards">
          <div class="card"><span class="label">Spans</span><b class="num">${fmtInt(c.spans)}</b><span class="sub">${fmtInt(c.rejected)} rejected</span></div>
          <div class="card"><span class="label">Metric points</span><b class="num">${fmtInt(c.metricPoints)}</b><span class="sub">${fmtInt(d.metrics.length)} metrics</span></div>
          <div class="card"><span class="label">Logs</span><b class="num">${fmtInt(c.logs)}</b><span class="sub">${fmtInt(c.requests)} exports</span></div>
          <div class="card"><span class="label">Model calls</span><b class="num">${fmtInt(c.usageRecords)}</b><span class="sub"><a href="#/sessions?kind=otlp">as sessions →</a></span></div>
        </section>
        <section class="panel"><h2>Services</h2><div class="scroll"><table class="grid"><thead><tr><th>Service</th><th class="n">Spans</th><th class="n">Metric points</th><th class="n">Logs</th><th class="n">Model calls</th><th>Last seen</th></tr></thead>
          <tbody>${services.map(([name, s]) => html`<tr><td><a href="#/otlp?service=${encodeURIComponent(name)}">${name}</a></td><td class="n">${fmtInt(s.spans)}</td><td class="n">${fmtInt(s.metricPoints)}</td><td class="n">${fmtInt(s.logs)}</td><td class="n">${fmtInt(s.usageRecords)}</td><td>${ago(s.lastSeenMs)}</td></tr>`)}</tbody></table></div>
          ${service ? html`<p><a href="#/otlp">All services</a></p>` : ''}</section>
        <section class="panel"><h2>Recent traces</h2>${d.spans.length ? waterfall(d.spans) : html`<p class="muted">No spans.</p>`}</section>
        <section class="panel"><h2>Metrics</h2>${d.metrics.length ? '' : html`<p class="muted">No metrics.</p>`}<div class="scroll" ${d.metrics.length ? '' : 'hidden'}><table class="grid"><thead><tr><th>Name</th><th>Kind</th><th>Unit</th><th>Latest values</th><th class="n">Points</th></tr></thead>
          <tbody>${d.metrics.map((m) => html`<tr><td title="${m.description}">${m.name}</td><td>${m.kind}</td><td>${m.unit}</td>
            <td class="small">${m.series.slice(0, 4).map(([attrs, v]) => html`<div>${fmtVal(v)} <span class="muted">${Object.values(attrs).join(' · ')}</span></div>`)}</td><td class="n">${fmtInt(m.points)}</td></tr>`)}</tbody></table></div></section>
        <section class="panel"><h2>Logs</h2>${d.logs.length ? html`<div class="scroll"><table class="grid"><tbody>${d.logs.slice(0, 100).map((l) => html`<tr><td class="small">${ago(l.timeMs)}</td><td>${l.severity}</td><td>${l.service}</td><td>${typeof l.body === 'string' ? l.body : JSON.stringify(l.body)}</td></tr>`)}</tbody></table></div>` : html`<p class="muted">No logs.</p>`}</section>`);
      app.rendered('otlp');
    } catch (e) {
      app.failed(body, e, load);
    }
  }

  load();
  return {
    update(r) { service = r.query.service || ''; load(); },
    refresh: load,
    unmount() { if (ctrl) ctrl.abort(); },
  };
}

// OTLP: what applications sent to /v1/traces, /v1/metrics and /v1/logs: services, recent
// traces as a waterfall, metric names with their latest values, and logs. GenAI model calls
// found in spans and metrics also show up as sessions of kind "otlp".
import { loader } from './loader.js';
import { render } from './otlp/parts.js';
import { $, api, html, setHTML } from './util.js';

export function mount(root, route, app) {
  let service = route.query.service || '';
  setHTML(
    root,
    html`<h1>OTLP <span class="muted small">OpenTelemetry received on /v1/*</span></h1><div id="otlp-body"></div>`,
  );
  const body = $('#otlp-body', root);
  const load = loader(app, {
    view: 'otlp',
    fetch: (signal) =>
      api(`/api/otlp?limit=400${service ? `&service=${encodeURIComponent(service)}` : ''}`, { signal }),
    render: (d) => render(body, d, service),
    errorIn: () => body,
  });

  load();
  return {
    update(r) {
      service = r.query.service || '';
      load();
    },
    refresh: load,
    unmount: load.abort,
  };
}

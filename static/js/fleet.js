// Fleet: every clawmetry node that reports to this one (started with --fleet-server and
// CLAWMETRY_FLEET_KEY), online or offline, with its sessions, today's tokens and cost, and
// health; and the fleet's totals.
import { loader } from './loader.js';
import { $, ago, api, badge, empty, fmtCost, fmtInt, fmtTokens, html, setHTML } from './util.js';

const card = (label, value, sub) =>
  html`<div class="card"><span class="label">${label}</span><b class="num">${value}</b><span
    class="sub">${sub}</span></div>`;

function noNodes(fleetMode) {
  return empty(
    fleetMode ? 'No nodes yet' : 'Fleet mode is off',
    fleetMode
      ? 'Start clawmetry on each machine with --fleet-server http://<this host>:8900 (and --fleet-wire otlp for OTLP) and the same CLAWMETRY_FLEET_KEY.'
      : 'Start this instance with CLAWMETRY_FLEET_KEY=<secret> to accept nodes, then start each node with ' +
          '--fleet-server http://<this host>:8900 and the same key.',
  );
}

function nodeCard(n) {
  const s = n.summary || {};
  const h = s.health || {};
  const bad = h.malformedLines ? ` · ${fmtInt(h.malformedLines)} bad lines` : '';
  const kv = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
  const missed = n.missedReports > 0 ? html` <span class="muted">(${n.missedReports} missed)</span>` : '';
  return html`<article class="card node" data-node="${n.nodeId}"><header><h3>${n.name || n.nodeId}</h3>${badge(
    n.status === 'online' ? 'done' : 'failed',
    n.status,
  )}<span class="small muted">${n.status}</span></header>
    <dl class="kv small">
      ${kv('Host', n.host)}
      ${kv('clawmetry', n.version)}
      ${kv('OpenClaw', n.openclawVersion || (s.openclawFound === false ? 'not found' : '–'))}
      ${kv('Last report', html`${ago(n.lastSeenMs)}${missed}`)}
      ${kv(
        'Sessions',
        `${fmtInt(s.sessions?.total)} · ${fmtInt(s.sessions?.running)} running · ${fmtInt(s.sessions?.failed)} failed`,
      )}
      ${kv('Today', `${fmtTokens(s.today?.totalTokens || 0)} tokens · ${fmtCost(s.today?.cost || 0)}`)}
      ${kv('Index', `${h.indexReady ? 'ready' : 'indexing'}${bad}`)}
      ${kv('Reports', `${fmtInt(n.reports)} over ${s.via === 'otlp' ? 'OTLP' : 'JSON'}`)}
    </dl></article>`;
}

function render(body, d) {
  if (!d.nodes.length) {
    setHTML(body, noNodes(d.fleetMode));
    return;
  }
  const t = d.totals;
  setHTML(
    body,
    html`<section class="cards">
        ${card('Nodes', fmtInt(t.nodes), `${fmtInt(t.online)} online`)}
        ${card('Sessions', fmtInt(t.sessions), `${fmtInt(t.running)} running`)}
        ${card('Cost today', fmtCost(t.costToday), `${fmtTokens(t.tokensToday)} tokens`)}
      </section>
      <div class="cardgrid">${d.nodes.map(nodeCard)}</div>`,
  );
}

export function mount(root, _route, app) {
  setHTML(root, html`<h1>Fleet</h1><div id="fleet-body"></div>`);
  const body = $('#fleet-body', root);
  const load = loader(app, {
    view: 'fleet',
    fetch: (signal) => api('/api/nodes', { signal }),
    render: (d) => render(body, d),
    errorIn: () => body,
  });
  load();
  return { refresh: () => load(), unmount: load.abort };
}

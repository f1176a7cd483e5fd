// Fleet: every clawmetry node that reports to this one (started with --fleet-server and
// CLAWMETRY_FLEET_KEY), online or offline, with its sessions, today's tokens and cost, and
// health; and the fleet's totals.
import { api, html, setHTML, $, fmtInt, fmtTokens, fmtCost, ago, badge, empty } from './util.js';

export function mount(root, route, app) {
  let ctrl = null;
  setHTML(root, html`<h1>Fleet</h1><div id="fleet-body"></div>`);
  const body = $('#fleet-body', root);

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    try {
      const d = await api('/api/nodes', { signal: ctrl.signal });
      if (!d.nodes.length) {
        setHTML(body, empty(d.fleetMode ? 'No nodes yet' : 'Fleet mode is off',
          d.fleetMode
            ? 'Start clawmetry on each machine with --fleet-server http://<this host>:8900 and the same CLAWMETRY_FLEET_KEY.'
            : 'Start this instance with CLAWMETRY_FLEET_KEY=<secret> to accept nodes, then start each node with --fleet-server http://<this host>:8900 and the same key.'));
        app.rendered('fleet');
        return;
      }
      const t = d.totals;
      setHTML(body, html`<section class="cards">
          <div class="card"><span class="label">Nodes</span><b class="num">${fmtInt(t.nodes)}</b><span class="sub">${fmtInt(t.online)} online</span></div>
          <div class="card"><span class="label">Sessions</span><b class="num">${fmtInt(t.sessions)}</b><span class="sub">${fmtInt(t.running)} running</span></div>
          <div class="card"><span class="label">Cost today</span><b class="num">${fmtCost(t.costToday)}</b><span class="sub">${fmtTokens(t.tokensToday)} tokens</span></div>
        </section>
        <div class="cardgrid">${d.nodes.map((n) => {
          const s = n.summary || {};
          const h = s.health || {};
          return html`<article class="card node" data-node="${n.nodeId}"><header><h3>${n.name || n.nodeId}</h3>${badge(n.status === 'online' ? 'done' : 'failed', n.status)}<span class="small muted">${n.status}</span></header>
            <dl class="kv small">
              <div><dt>Host</dt><dd>${n.host}</dd></div>
              <div><dt>clawmetry</dt><dd>${n.version}</dd></div>
              <div><dt>OpenClaw</dt><dd>${n.openclawVersion || (s.openclawFound === false ? 'not found' : '–')}</dd></div>
              <div><dt>Last report</dt><dd>${ago(n.lastSeenMs)}${n.missedReports > 0 ? html` <span class="muted">(${n.missedReports} missed)</span>` : ''}</dd></div>
              <div><dt>Sessions</dt><dd>${fmtInt(s.sessions?.total)} · ${fmtInt(s.sessions?.running)} running · ${fmtInt(s.sessions?.failed)} failed</dd></div>
              <div><dt>Today</dt><dd>${fmtTokens(s.today?.totalTokens || 0)} tokens · ${fmtCost(s.today?.cost || 0)}</dd></div>
              <div><dt>Index</dt><dd>${h.indexReady ? 'ready' : 'indexing'}${h.malformedLines ? ` · ${fmtInt(h.malformedLines)} bad lines` : ''}</dd></div>
              <div><dt>Reports</dt><dd>${fmtInt(n.reports)}</dd></div>
            </dl></article>`;
        })}</div>`);
      app.rendered('fleet');
    } catch (e) {
      app.failed(body, e, load);
    }
  }

  load();
  return { refresh: load, unmount() { if (ctrl) ctrl.abort(); } };
}

// Overview: what runs now, what it cost today and this month, what went wrong.
import { loader } from './loader.js';
import { activeTable, collectWarnings, recentBlock, topModels, topSessions } from './overview/parts.js';
import { TOKEN_KINDS, api, empty, fmtCost, fmtInt, fmtPct, fmtTokens, html, setHTML, tokenBar } from './util.js';

function render(root, ov, health, recent) {
  const oc = health.openclaw || {};
  if (!oc.found) {
    setHTML(
      root,
      html`<h1>Overview</h1>${empty(
        'No OpenClaw installation found',
        oc.hint || 'clawmetry could not find an OpenClaw state directory.',
        html`<p>Start clawmetry with <code>--openclaw-dir /path/to/.openclaw</code> or set <code>OPENCLAW_STATE_DIR</code>${oc.hint ? '' : html` (it looked at <code>${oc.stateDir || '~/.openclaw'}</code>)`}.
        This page updates by itself when data appears.</p>`,
      )}`,
    );
    return;
  }
  const u = ov.usage;
  const s = ov.sessions;
  const card = (label, value, sub, id) => html`<div class="card" data-k="${id}"><span class="label">${label}</span>
    <b class="num">${value}</b><span class="sub">${sub}</span></div>`;
  const tokTitle = (x) => `${fmtInt(x.totalTokens)} tokens, ${fmtInt(x.calls)} model calls`;
  const kinds = Object.entries(s.byKind || {})
    .map(([k, n]) => `${n} ${k === 'subagent' ? 'sub-agent' : k}`)
    .join(' · ');
  const warnings = collectWarnings(ov, health);
  setHTML(
    root,
    html`
    <h1>Overview</h1>
    <section class="cards" aria-label="Key figures">
      ${card('Sessions', fmtInt(s.total), html`<span>${s.running} running · ${s.failed} failed</span><br><span class="muted">${kinds}</span>`, 'sessions')}
      ${card('Cost today', fmtCost(u.today.cost), html`<span title="${tokTitle(u.today)}">${fmtTokens(u.today.totalTokens)} tokens</span>`, 'today')}
      ${card('Cost this month', fmtCost(u.month.cost), html`<span title="${tokTitle(u.month)}">${fmtTokens(u.month.totalTokens)} tokens</span>`, 'month')}
      ${card('All time', fmtCost(u.total.cost), html`<span title="${tokTitle(u.total)}">${fmtTokens(u.total.totalTokens)} tokens · ${fmtInt(u.total.calls)} calls</span>`, 'total')}
    </section>
    <section class="panel">
      <h2>Tokens by kind</h2>
      <div class="scroll"><table class="grid kinds">
        <thead><tr><th>Kind</th><th class="n">Today</th><th class="n">This month</th><th class="n">All time</th><th class="opt">Share this month</th></tr></thead>
        <tbody>${TOKEN_KINDS.map(
          ([k, label]) => html`<tr><td><span class="dot t-${k}"></span>${label}</td>
          <td class="n" title="${fmtInt(u.today[k])}">${fmtTokens(u.today[k])}</td>
          <td class="n" title="${fmtInt(u.month[k])}">${fmtTokens(u.month[k])}</td>
          <td class="n" title="${fmtInt(u.total[k])}">${fmtTokens(u.total[k])}</td>
          <td class="opt">${u.month.totalTokens ? fmtPct(u.month[k] / u.month.totalTokens) : '–'}</td></tr>`,
        )}
        <tr class="sum"><td>total</td><td class="n">${fmtTokens(u.today.totalTokens)}</td><td class="n">${fmtTokens(u.month.totalTokens)}</td>
          <td class="n">${fmtTokens(u.total.totalTokens)}</td><td class="opt">${tokenBar(u.month.totalTokens ? u.month : u.total)}</td></tr>
        </tbody></table></div>
    </section>
    <div class="cols">
      <section class="panel" id="active">
        <h2>Active sessions <span class="muted">(last 24 h)</span></h2>
        ${ov.active.length ? activeTable(ov.active) : recentBlock(recent, s.total)}
      </section>
      <section class="panel" id="warnings">
        <h2>Warnings ${warnings.length ? html`<span class="count warn">${warnings.length}</span>` : ''}</h2>
        ${warnings.length ? html`<ul class="warnlist">${warnings}</ul>` : html`<p class="ok">No errors, failures or stuck sessions in the last 24 hours.</p>`}
      </section>
    </div>
    <div class="cols">
      <section class="panel" id="top-models">
        <h2>Top models by cost <span class="muted">(this month)</span></h2>
        ${topModels(ov.topModels.month.length ? ov.topModels.month : ov.topModels.total, !ov.topModels.month.length)}
      </section>
      <section class="panel" id="top-sessions">
        <h2>Top sessions by cost <span class="muted">(all time)</span></h2>
        ${topSessions(ov.topSessions)}
      </section>
    </div>`,
  );
}

export function mount(root, _route, app) {
  const load = loader(app, {
    view: 'overview',
    async fetch(signal) {
      const [ov, health] = await Promise.all([api('/api/overview', { signal }), app.getHealth(true)]);
      let recent = null;
      if (!ov.active.length && ov.sessions.total) {
        recent = (await api('/api/sessions?limit=5&sort=last', { signal })).sessions;
      }
      return { ov, health, recent };
    },
    render: ({ ov, health, recent }) => render(root, ov, health, recent),
    errorIn: () => root,
  });
  load();
  return { refresh: () => load(), unmount: load.abort };
}

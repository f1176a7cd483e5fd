// Overview: what runs now, what it cost today and this month, what went wrong.
import {
  api, html, setHTML, fmtTokens, fmtCost, fmtInt, fmtPct, ago, badge, kindTag, sessionName, modelName,
  sessionHref, tokenBar, TOKEN_KINDS, empty, plural,
} from './util.js';

export function mount(root, route, app) {
  let ctrl = null;

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      const [ov, health] = await Promise.all([api('/api/overview', { signal }), app.getHealth(true)]);
      let recent = null;
      if (!ov.active.length && ov.sessions.total) {
        recent = (await api('/api/sessions?limit=5&sort=last', { signal })).sessions;
      }
      if (signal.aborted) return;
      render(ov, health, recent);
      app.rendered('overview');
    } catch (e) {
      app.failed(root, e, load);
    }
  }

  function render(ov, health, recent) {
    const oc = health.openclaw || {};
    if (!oc.found) {
      setHTML(root, html`<h1>Overview</h1>${empty('No OpenClaw installation found',
        oc.hint || 'clawmetry could not find an OpenClaw state directory.',
        html`<p>Start clawmetry with <code>--openclaw-dir /path/to/.openclaw</code> or set <code>OPENCLAW_STATE_DIR</code>${oc.hint ? '' : html` (it looked at <code>${oc.stateDir || '~/.openclaw'}</code>)`}.
          This page updates by itself when data appears.</p>`)}`);
      return;
    }
    const u = ov.usage;
    const s = ov.sessions;
    const card = (label, value, sub, id) => html`<div class="card" data-k="${id}"><span class="label">${label}</span>
      <b class="num">${value}</b><span class="sub">${sub}</span></div>`;
    const tokTitle = (x) => `${fmtInt(x.totalTokens)} tokens, ${fmtInt(x.calls)} model calls`;
    const kinds = Object.entries(s.byKind || {}).map(([k, n]) => `${n} ${k === 'subagent' ? 'sub-agent' : k}`).join(' · ');
    const warnings = collectWarnings(ov, health);
    setHTML(root, html`
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
          <tbody>${TOKEN_KINDS.map(([k, label]) => html`<tr><td><span class="dot t-${k}"></span>${label}</td>
            <td class="n" title="${fmtInt(u.today[k])}">${fmtTokens(u.today[k])}</td>
            <td class="n" title="${fmtInt(u.month[k])}">${fmtTokens(u.month[k])}</td>
            <td class="n" title="${fmtInt(u.total[k])}">${fmtTokens(u.total[k])}</td>
            <td class="opt">${u.month.totalTokens ? fmtPct(u.month[k] / u.month.totalTokens) : '–'}</td></tr>`)}
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
      </div>`);
  }

  function activeTable(rows) {
    return html`<div class="scroll"><table class="grid"><thead><tr><th>Status</th><th>Session</th>
      <th>Last activity</th><th class="n opt">Tokens</th><th class="n">Cost</th></tr></thead><tbody>
      ${rows.map((r) => html`<tr>
        <td>${badge(r.status, r.statusDetail)}</td>
        <td class="name"><a href="${sessionHref(r.id)}">${sessionName(r)}</a> ${kindTag(r.kind)}
          <div class="muted small">${r.agent} · ${modelName(r.model)}${r.kind === 'subagent' && r.parentId ? html` · <a href="${sessionHref(r.parentId)}">parent</a>` : ''}</div></td>
        <td>${ago(r.lastMs)}</td>
        <td class="n opt" title="${fmtInt(r.tokens.total)}">${fmtTokens(r.tokens.total)}</td>
        <td class="n">${fmtCost(r.cost)}</td></tr>`)}
      </tbody></table></div>`;
  }

  function recentBlock(recent, total) {
    if (!total) {
      return empty('No sessions yet', 'Start a conversation with your OpenClaw agent: it shows up here as it happens.');
    }
    return html`<p class="muted">Nothing was active in the last 24 hours. Most recent:</p>
      <ul class="plain">${(recent || []).map((r) => html`<li>${badge(r.status)} <a href="${sessionHref(r.id)}">${sessionName(r)}</a>
        ${kindTag(r.kind)} <span class="muted">${r.agent} ·</span> ${ago(r.lastMs)}</li>`)}</ul>`;
  }

  function topModels(rows, allTime) {
    if (!rows.length) return html`<p class="muted">No model calls recorded yet.</p>`;
    const max = Math.max(...rows.map((r) => r.cost), 1e-12);
    return html`${allTime ? html`<p class="muted small">No calls this month; all-time figures.</p>` : ''}
      <ul class="bars">${rows.map((r) => html`<li><div class="bar-label">${modelName(r.model)}
        <span class="muted">${plural(r.calls, 'call')} · ${fmtTokens(r.totalTokens)} tokens</span><b>${fmtCost(r.cost)}</b></div>
        <div class="bar"><span style="width:${(100 * r.cost / max).toFixed(1)}%"></span></div></li>`)}</ul>`;
  }

  function topSessions(rows) {
    if (!rows.length) return html`<p class="muted">No session has cost anything yet.</p>`;
    const max = Math.max(...rows.map((r) => r.cost), 1e-12);
    return html`<ul class="bars">${rows.map((r) => html`<li><div class="bar-label"><a href="${sessionHref(r.id)}">${sessionName(r)}</a>
        <span class="muted">${r.agent} · ${fmtTokens(r.tokens)} tokens</span><b>${fmtCost(r.cost)}</b></div>
        <div class="bar"><span style="width:${(100 * r.cost / max).toFixed(1)}%"></span></div></li>`)}</ul>`;
  }

  function collectWarnings(ov, health) {
    const out = [];
    const icon = { stuck: '⏳', errors: '⚠', failed: '✖' };
    // Name sessions the way the rest of the page does (the active list has their keys).
    const known = new Map(ov.active.map((s) => [s.id, s]));
    for (const w of ov.warnings || []) {
      const s = known.get(w.sessionId) || { id: w.sessionId, label: w.label };
      const msg = w.kind === 'errors' ? `${plural(w.count, 'error')} in the last 24 h` : w.message;
      out.push(html`<li class="w-${w.kind}"><span class="wicon" aria-hidden="true">${icon[w.kind] || '⚠'}</span>
        <a href="${sessionHref(w.sessionId, w.kind === 'errors' ? { kind: 'errors' } : {})}">${sessionName(s)}</a>
        <span>${msg}</span></li>`);
    }
    const ix = health.index || {};
    const problems = [['malformedLines', 'malformed transcript lines'], ['nonUtf8Lines', 'lines that are not UTF-8'],
      ['hugeLines', 'oversized lines skipped'], ['badRows', 'unreadable database rows'], ['sourceErrors', 'unreadable sources']]
      .filter(([k]) => ix[k] > 0);
    for (const [k, label] of problems) {
      out.push(html`<li class="w-input"><span class="wicon" aria-hidden="true">ⓘ</span><span>${fmtInt(ix[k])} ${label} ignored</span>
        ${ix.lastError ? html`<span class="muted small">last: ${ix.lastError}</span>` : ''}</li>`);
    }
    if (health.openclaw && health.openclaw.configError) {
      out.push(html`<li class="w-input"><span class="wicon" aria-hidden="true">ⓘ</span><span>openclaw.json: ${health.openclaw.configError}</span></li>`);
    }
    return out;
  }

  load();
  return { refresh: load, unmount() { if (ctrl) ctrl.abort(); } };
}

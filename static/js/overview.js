// Overview: what runs now, what it cost today and this month, what went wrong.
import { loader } from './loader.js';
import { insightPanels } from './overview/insight.js';
import { quotasPanel } from './overview/quotas.js';
import {
  activeTable,
  collectWarnings,
  fullestContexts,
  recentBlock,
  topModels,
  topSessions,
} from './overview/parts.js';
import {
  ApiError,
  TOKEN_KINDS,
  api,
  empty,
  fmtCost,
  fmtInt,
  fmtPct,
  fmtTokens,
  html,
  setHTML,
  tokenBar,
  zoneLabel,
} from './util.js';

const card = (label, value, sub, id) => html`<div class="card" data-k="${id}"><span class="label">${label}</span>
    <b class="num">${value}</b><span class="sub">${sub}</span></div>`;
const tokTitle = (x) => `${fmtInt(x.totalTokens)} tokens, ${fmtInt(x.calls)} model calls`;
const tokens = (x, more = '') => html`<span title="${tokTitle(x)}">${fmtTokens(x.totalTokens)} tokens${more}</span>`;

function cards(u, s) {
  const kinds = Object.entries(s.byKind || {})
    .map(([k, n]) => `${n} ${k === 'subagent' ? 'sub-agent' : k}`)
    .join(' · ');
  const sessions = html`<span>${s.running} running · ${s.failed} failed</span><br><span class="muted">${kinds}</span>`;
  return html`<section class="cards" aria-label="Key figures">
      ${card('Sessions', fmtInt(s.total), sessions, 'sessions')}
      ${card(html`<span title="since midnight in ${zoneLabel()}">Cost today</span>`, fmtCost(u.today.cost), tokens(u.today), 'today')}
      ${card('Cost this month', fmtCost(u.month.cost), tokens(u.month), 'month')}
      ${card('All time', fmtCost(u.total.cost), tokens(u.total, ` · ${fmtInt(u.total.calls)} calls`), 'total')}
    </section>`;
}

function kindRow(u, [k, label]) {
  const cell = (x) => html`<td class="n" title="${fmtInt(x[k])}">${fmtTokens(x[k])}</td>`;
  return html`<tr><td><span class="dot t-${k}"></span>${label}</td>
    ${cell(u.today)}
    ${cell(u.month)}
    ${cell(u.total)}
    <td class="opt">${u.month.totalTokens ? fmtPct(u.month[k] / u.month.totalTokens) : '–'}</td></tr>`;
}

/** Tokens by kind today, this month and all time, with this month's split. */
function kindsTable(u) {
  return html`<section class="panel">
      <h2>Tokens by kind</h2>
      <div class="scroll"><table class="grid kinds">
        <thead><tr><th>Kind</th><th class="n">Today</th><th class="n">This month</th><th class="n">All time</th>
          <th class="opt">Share this month</th></tr></thead>
        <tbody>${TOKEN_KINDS.map((kind) => kindRow(u, kind))}
        <tr class="sum"><td>total</td><td class="n">${fmtTokens(u.today.totalTokens)}</td>
          <td class="n">${fmtTokens(u.month.totalTokens)}</td><td class="n">${fmtTokens(u.total.totalTokens)}</td>
          <td class="opt">${tokenBar(u.month.totalTokens ? u.month : u.total)}</td></tr>
        </tbody></table></div>
    </section>`;
}

/** `path`'s JSON, or null when it cannot be read (no token on a wall display, an error): the
 * quota cards and the context panel are extras, never a reason for the overview to fail. */
async function extra(path, signal) {
  try {
    const r = await fetch(path, { signal, headers: { Accept: 'application/json' } });
    return r.ok ? await r.json() : null;
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return null;
  }
}
const quotas = (signal) => extra('/api/quotas', signal);

/** /api/insight, or null without the token for it: with `--public-overview` a wall display may
 * read /api/overview and nothing else, and then shows the overview without these panels. */
async function insight(signal) {
  const r = await fetch('/api/insight', { signal, headers: { Accept: 'application/json' } });
  if (r.status === 401) return null;
  if (!r.ok) throw new ApiError(r.status, `/api/insight: HTTP ${r.status}`);
  return r.json();
}

function render(root, ov, health, recent, ins, quota, contexts) {
  const oc = health.openclaw || {};
  if (!oc.found) {
    setHTML(
      root,
      html`<h1>Overview</h1>${empty(
        'No OpenClaw installation found',
        oc.hint || 'clawmetry could not find an OpenClaw state directory.',
        html`<p>Start clawmetry with <code>--openclaw-dir /path/to/.openclaw</code>
          or set <code>OPENCLAW_STATE_DIR</code>${
            oc.hint ? '' : html` (it looked at <code>${oc.stateDir || '~/.openclaw'}</code>)`
          }.
        This page updates by itself when data appears.</p>`,
      )}`,
    );
    return;
  }
  const s = ov.sessions;
  const month = ov.topModels.month;
  const warnings = collectWarnings(ov, health);
  const warned = warnings.length
    ? html`<ul class="warnlist">${warnings}</ul>`
    : html`<p class="ok">No errors, failures or stuck sessions in the last 24 hours.</p>`;
  setHTML(
    root,
    html`
    <h1>Overview</h1>
    ${cards(ov.usage, ov.sessions)}
    ${ins ? insightPanels(ins) : ''}
    ${quotasPanel(quota)}
    ${kindsTable(ov.usage)}
    <div class="cols">
      <section class="panel" id="active">
        <h2>Active sessions <span class="muted">(last 24 h)</span></h2>
        ${ov.active.length ? activeTable(ov.active) : recentBlock(recent, s.total)}
      </section>
      <section class="panel" id="warnings">
        <h2>Warnings ${warnings.length ? html`<span class="count warn">${warnings.length}</span>` : ''}</h2>
        ${warned}
      </section>
    </div>
    <div class="cols">
      <section class="panel" id="top-models">
        <h2>Top models by cost <span class="muted">(this month)</span></h2>
        ${topModels(month.length ? month : ov.topModels.total, !month.length)}
      </section>
      <section class="panel" id="top-sessions">
        <h2>Top sessions by cost <span class="muted">(all time)</span></h2>
        ${topSessions(ov.topSessions)}
      </section>
    </div>
    ${
      contexts
        ? html`<section class="panel" id="contexts">
      <h2>Fullest contexts <span class="muted">(live sessions: largest prompt of one call against the model's window)</span></h2>
      ${fullestContexts(contexts)}</section>`
        : ''
    }`,
  );
}

export function mount(root, _route, app) {
  const load = loader(app, {
    view: 'overview',
    async fetch(signal) {
      const [ov, health, ins, quota] = await Promise.all([
        api('/api/overview', { signal }),
        app.getHealth(true),
        insight(signal),
        quotas(signal),
      ]);
      let recent = null;
      if (!ov.active.length && ov.sessions.total) {
        recent = (await api('/api/sessions?limit=5&sort=last', { signal })).sessions;
      }
      // A wall display with --public-overview reads /api/overview only: then no such panel.
      const contexts = ov.sessions.total
        ? (await extra('/api/sessions?limit=5&sort=context&state=live', signal))?.sessions
        : null;
      return { ov, health, recent, ins, quota, contexts };
    },
    render: ({ ov, health, recent, ins, quota, contexts }) => render(root, ov, health, recent, ins, quota, contexts),
    errorIn: () => root,
  });
  load();
  return { refresh: () => load(), unmount: load.abort };
}

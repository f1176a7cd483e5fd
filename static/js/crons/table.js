// The cron jobs table: one row per job with its schedule, next and last run and its actions.
import { $, ago, clock, empty, fmtCost, fmtDuration, fmtTime, html, setHTML } from '../util.js';

/** The health findings (api/crons.rs → cron_health.rs) as tags, the message on hover. */
const FINDING = {
  failing: 'failing',
  silent: 'silent failure',
  short: 'short output',
  same: 'same output',
  slow: 'slow',
  stuck: 'stuck',
  missed: 'missed run',
};
function health(h) {
  if (!h) return '';
  const tags = (h.findings || []).map(
    (f) =>
      html`<span class="tag health ${f.severity === 'critical' ? 'bad' : 'warn'}" data-finding="${f.kind}" title="${f.message}">${
        FINDING[f.kind] || f.kind
      }</span>`,
  );
  const figures = h.runs
    ? html`<div class="muted small">${Math.round(100 * h.okRate)} % ok of ${h.runs} runs${
        h.costPerRun != null ? html` · ${fmtCost(h.costPerRun)}/run` : ''
      }${h.medianDurationMs != null ? html` · ${fmtDuration(h.medianDurationMs)} usual` : ''}</div>`
    : '';
  return html`${tags.length ? html`<div class="health-tags">${tags}</div>` : ''}${figures}`;
}

const STATUS_CLASS = { ok: 'done', error: 'failed', running: 'running', skipped: 'done' };
export const statusBadge = (s, title) =>
  html`<span class="badge st-${STATUS_CLASS[s] || s}" title="${title || s}">${s}</span>`;

/** "in 23 min", "in 7 h", "overdue" for a time ahead; the exact time in the title. */
function until(ts) {
  if (ts == null) return html`<span class="muted">–</span>`;
  const d = ts - clock.now();
  const t =
    d < -60_000
      ? 'overdue'
      : d < 60_000
        ? 'due now'
        : d < 3_600_000
          ? `in ${Math.round(d / 60_000)} min`
          : d < 86_400_000
            ? `in ${Math.round(d / 3_600_000)} h`
            : d < 30 * 86_400_000
              ? `in ${Math.round(d / 86_400_000)} d`
              : fmtTime(ts);
  return html`<span title="${fmtTime(ts)}">${t}</span>`;
}

/** The job's name, with what the list knows of it: built-in, its description, its last error. */
function nameCell(j) {
  const builtIn = j.managed
    ? html` <span class="tag" title="Declared by ${j.declarationKey}; its owner may recreate it">built-in</span>`
    : '';
  const desc = j.description
    ? html`<div class="muted small clamp" title="${j.description}">${j.description}</div>`
    : '';
  const err = j.lastError ? html`<div class="errmsg small clamp" title="${j.lastError}">${j.lastError}</div>` : '';
  return html`<td class="name"><b>${j.displayName || j.name}</b>${builtIn}
      ${desc}
      ${err}
      ${health(j.health)}</td>`;
}

function lastRun(j) {
  if (j.lastRunMs) {
    const took = j.lastDurationMs != null ? html`<div class="muted small">${fmtDuration(j.lastDurationMs)}</div>` : '';
    return html`${ago(j.lastRunMs)} ${j.lastStatus ? statusBadge(j.lastStatus) : ''}
      ${took}`;
  }
  const last = j.runs?.[0];
  return last ? ago(last.ts) : html`<span class="muted">never</span>`;
}

/** A job's row; `ro`: the list is read-only, `open`: the job whose history is open. */
export function row(j, ro, open) {
  const dis = ro ? html` disabled title="Needs the gateway connection"` : '';
  // The form edits agent turns and system events; other payloads (heartbeat, command) only via the CLI.
  const noEdit = ro
    ? dis
    : ['agentTurn', 'systemEvent'].includes(j.payloadKind)
      ? ''
      : html` disabled title="Edit ${j.payloadKind} jobs with openclaw cron edit"`;
  const target = j.sessionTarget ? html`<div class="muted small">${j.sessionTarget} session</div>` : '';
  const errors = j.consecutiveErrors ? html`<span class="count err">${j.consecutiveErrors}</span>` : '0';
  return html`<tr data-id="${j.id}" class="${open === j.id ? 'on' : ''}">
    <td>${statusBadge(j.status, j.lastError || j.status)}</td>
    ${nameCell(j)}
    <td class="opt">${j.agentId || html`<span class="muted">default</span>`}</td>
    <td><span title="${JSON.stringify(j.schedule)}">${j.scheduleText}</span>${target}</td>
    <td>${j.enabled ? until(j.nextRunMs) : html`<span class="muted">disabled</span>`}</td>
    <td>${lastRun(j)}</td>
    <td class="n opt">${errors}</td>
    <td><div style="display:flex;flex-wrap:wrap;gap:4px">
      <button type="button" data-act="run"${dis}>Run now</button>
      <button type="button" data-act="toggle"${dis}>${j.enabled ? 'Disable' : 'Enable'}</button>
      <button type="button" data-act="history" aria-expanded="${open === j.id}">History</button>
      <button type="button" data-act="edit"${noEdit}>Edit</button>
      <button type="button" data-act="delete" class="link"${dis}>Delete</button></div></td>
  </tr>`;
}

/** Why the list is read-only, as a banner (the gateway is not connected). */
function readOnlyNote(d) {
  const from = d.source === 'files' ? 'cron/jobs.json' : d.source === 'state-db' ? 'state/openclaw.sqlite' : 'nowhere';
  return html`<div class="banner warn" role="status"><strong>Read-only.</strong>
    The OpenClaw gateway is not connected${d.gateway?.lastError ? html` (${d.gateway.lastError})` : ''};
    these jobs come from ${from}.
    Run, edit and delete come back with the connection (see <a href="/api/gateway">/api/gateway</a>).</div>`;
}

/** The header, the read-only note and the table for one answer of /api/crons. */
export function render(root, d, q) {
  $('#c-total', root).textContent = `(${d.total})`;
  const ro = d.readOnly;
  $('#c-new', root).disabled = ro;
  $('#c-new', root).title = ro ? 'Needs the gateway connection' : 'Schedule a new job';
  const s = d.scheduler;
  $('#c-sched', root).textContent = s
    ? `Scheduler ${s.enabled === false ? 'off' : 'on'}${s.storage ? ` · ${s.storage}` : ''}`
    : '';
  if (ro && !$('#c-note .banner.warn', root)) {
    setHTML($('#c-note', root), readOnlyNote(d));
  } else if (!ro && $('#c-note .banner.warn strong', root)) {
    $('#c-note', root).textContent = '';
  }
  setHTML(
    $('#c-table tbody', root),
    d.jobs.map((j) => row(j, ro, q.job)),
  );
  const none = ro
    ? 'OpenClaw has no scheduled jobs on disk.'
    : 'Create one with "New job", or with `openclaw cron add`.';
  setHTML($('#c-empty', root), d.jobs.length ? '' : empty('No cron jobs', none));
}

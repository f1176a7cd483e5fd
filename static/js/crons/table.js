// The cron jobs table and a job's run history.
import { $, ago, api, clock, empty, fmtDuration, fmtTime, fmtTokens, href, html, setHTML, setQuery } from '../util.js';

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

/** A job's row; `ro`: the list is read-only, `open`: the job whose history is open. */
export function row(j, ro, open) {
  const last = j.runs?.[0];
  const dis = ro ? html` disabled title="Needs the gateway connection"` : '';
  // The form edits agent turns and system events; other payloads (heartbeat, command) only via the CLI.
  const noEdit = ro
    ? dis
    : ['agentTurn', 'systemEvent'].includes(j.payloadKind)
      ? ''
      : html` disabled title="Edit ${j.payloadKind} jobs with openclaw cron edit"`;
  return html`<tr data-id="${j.id}" class="${open === j.id ? 'on' : ''}">
    <td>${statusBadge(j.status, j.lastError || j.status)}</td>
    <td class="name"><b>${j.displayName || j.name}</b>${j.managed ? html` <span class="tag" title="Declared by ${j.declarationKey}; its owner may recreate it">built-in</span>` : ''}
      ${j.description ? html`<div class="muted small clamp" title="${j.description}">${j.description}</div>` : ''}
      ${j.lastError ? html`<div class="errmsg small clamp" title="${j.lastError}">${j.lastError}</div>` : ''}</td>
    <td class="opt">${j.agentId || html`<span class="muted">default</span>`}</td>
    <td><span title="${JSON.stringify(j.schedule)}">${j.scheduleText}</span>${j.sessionTarget ? html`<div class="muted small">${j.sessionTarget} session</div>` : ''}</td>
    <td>${j.enabled ? until(j.nextRunMs) : html`<span class="muted">disabled</span>`}</td>
    <td>${
      j.lastRunMs
        ? html`${ago(j.lastRunMs)} ${j.lastStatus ? statusBadge(j.lastStatus) : ''}
      ${j.lastDurationMs != null ? html`<div class="muted small">${fmtDuration(j.lastDurationMs)}</div>` : ''}`
        : last
          ? ago(last.ts)
          : html`<span class="muted">never</span>`
    }</td>
    <td class="n opt">${j.consecutiveErrors ? html`<span class="count err">${j.consecutiveErrors}</span>` : '0'}</td>
    <td><div style="display:flex;flex-wrap:wrap;gap:4px">
      <button type="button" data-act="run"${dis}>Run now</button>
      <button type="button" data-act="toggle"${dis}>${j.enabled ? 'Disable' : 'Enable'}</button>
      <button type="button" data-act="history" aria-expanded="${open === j.id}">History</button>
      <button type="button" data-act="edit"${noEdit}>Edit</button>
      <button type="button" data-act="delete" class="link"${dis}>Delete</button></div></td>
  </tr>`;
}

/** The history panel of the job `q.job` names (hidden when none). */
export async function renderHistory(root, data, q, signal) {
  const panel = $('#c-history', root);
  const job = q.job && data.jobs.find((j) => j.id === q.job);
  if (!job) {
    panel.hidden = true;
    return;
  }
  let runs = job.runs || [];
  let more = '';
  try {
    const h = await api(`/api/crons/${encodeURIComponent(job.id)}/runs?limit=50`, { signal });
    runs = h.runs;
    if (h.hasMore) more = html`<p class="muted small">Showing the newest ${runs.length} of ${h.total} runs.</p>`;
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    more = html`<p class="muted small">Full history unavailable: ${e.message}</p>`;
  }
  panel.hidden = false;
  setHTML(
    panel,
    html`<h2>History of ${job.name} <button type="button" class="link" id="c-hclose">close</button></h2>
    ${
      runs.length
        ? html`<div class="scroll"><table class="grid"><thead><tr><th>Finished</th><th>Status</th>
      <th class="n">Duration</th><th>Result</th><th class="opt">Model</th><th class="n opt">Tokens</th><th>Session</th></tr></thead><tbody>
      ${runs.map(
        (r) => html`<tr><td title="${fmtTime(r.ts)}">${ago(r.ts)}</td><td>${statusBadge(r.status || '?', r.error)}</td>
        <td class="n">${fmtDuration(r.durationMs)}</td>
        <td>${r.error ? html`<span class="errmsg clamp" title="${r.error}">${r.error}</span>` : html`<span class="clamp" title="${r.summary || ''}">${r.summary || ''}</span>`}</td>
        <td class="opt">${r.model || ''}</td><td class="n opt">${r.usage && r.usage.total != null ? fmtTokens(r.usage.total) : ''}</td>
        <td>${r.sessionKey || r.sessionId ? html`<a href="${href(['sessions', r.sessionId || r.sessionKey])}">transcript</a>` : ''}</td></tr>`,
      )}
      </tbody></table></div>${more}`
        : empty(
            'No runs yet',
            `${job.name} has not run${job.enabled ? '; next ' : ''}${job.enabled && job.nextRunMs ? fmtTime(job.nextRunMs) : ''}.`,
          )
    }`,
  );
  $('#c-hclose', panel).onclick = () => setQuery({ job: '' });
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

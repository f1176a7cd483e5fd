// A cron job's run history (/api/crons/<id>/runs): when each run finished, how, how long it
// took, what it answered, and its transcript.
import { $, ago, api, empty, fmtDuration, fmtTime, fmtTokens, href, html, setHTML, setQuery } from '../util.js';
import { statusBadge } from './table.js';

function runRow(r) {
  const result = r.error
    ? html`<span class="errmsg clamp" title="${r.error}">${r.error}</span>`
    : html`<span class="clamp" title="${r.summary || ''}">${r.summary || ''}</span>`;
  const session = r.sessionId || r.sessionKey;
  return html`<tr><td title="${fmtTime(r.ts)}">${ago(r.ts)}</td><td>${statusBadge(r.status || '?', r.error)}</td>
    <td class="n">${fmtDuration(r.durationMs)}</td>
    <td>${result}</td>
    <td class="opt">${r.model || ''}</td>
    <td class="n opt">${r.usage && r.usage.total != null ? fmtTokens(r.usage.total) : ''}</td>
    <td>${session ? html`<a href="${href(['sessions', session])}">transcript</a>` : ''}</td></tr>`;
}

function runsTable(job, runs, more) {
  if (!runs.length) {
    const next = job.enabled && job.nextRunMs ? fmtTime(job.nextRunMs) : '';
    return empty('No runs yet', `${job.name} has not run${job.enabled ? '; next ' : ''}${next}.`);
  }
  return html`<div class="scroll"><table class="grid"><thead><tr><th>Finished</th><th>Status</th>
    <th class="n">Duration</th><th>Result</th><th class="opt">Model</th>
    <th class="n opt">Tokens</th><th>Session</th></tr>
    </thead><tbody>
    ${runs.map(runRow)}
    </tbody></table></div>${more}`;
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
    ${runsTable(job, runs, more)}`,
  );
  $('#c-hclose', panel).onclick = () => setQuery({ job: '' });
}

// The guard on a session (issue 17): its loop findings under the header, the repeated calls
// marked in the timeline, and the Stop button (sessions.abort / chat.abort through the gateway,
// after a confirm; written to the audit log).
import { $, $$, esc, fmtAgo, html, plural, send } from '../util.js';

const RULE = {
  repeat: 'repeated call',
  alternate: 'alternating calls',
  noProgress: 'no progress',
  tokenRate: 'runaway tokens',
};

function stopText(stop) {
  if (!stop) return '';
  const what = stop.ok ? `stopped (${stop.gateway?.status || 'ok'})` : `stop failed: ${stop.error || '?'}`;
  return html` · <span class="${stop.ok ? 'ok' : 'bad'}">${what}</span>`;
}

/** The findings and the Stop button, as HTML for the header. */
export function guardHTML(s) {
  const fs = s.guard || [];
  const live = s.status === 'running';
  if (!fs.length && !live) return '';
  const row = (
    f,
  ) => html`<li class="guard-f"><span class="tag loop" title="${f.message}">⟳ ${RULE[f.rule] || f.rule}</span>
    ${f.title} · ${plural(f.count, 'time')} · found at call ${f.callsInRun} ${fmtAgo(f.detectedMs)}${stopText(f.stop)}</li>`;
  return html`<div class="guard" id="s-guard">
    ${fs.length ? html`<ul class="plain">${fs.map(row)}</ul>` : ''}
    ${live ? html`<button type="button" class="danger" id="s-stop">Stop this run</button>` : ''}
    <span class="muted small" id="s-stop-out" role="status"></span></div>`;
}

/** Wires the Stop button of session `s`. */
export function wireStop(root, s) {
  const b = $('#s-stop', root);
  if (!b) return;
  b.onclick = async () => {
    const name = s.key || s.id;
    if (!confirm(`Stop the running work of ${name}? The gateway aborts the run now.`)) return;
    const out = $('#s-stop-out', root);
    b.disabled = true;
    const last = (s.guard || []).at(-1);
    try {
      const r = await send('POST', '/api/guard/stop', { session: s.id, findingId: last ? last.id : null });
      out.textContent = `Stopped: ${r.gateway?.status || 'ok'} (${r.method})`;
    } catch (e) {
      out.textContent = `Not stopped: ${e.message}`;
      b.disabled = false;
    }
  };
}

/** Marks the timeline's events that a finding names (the repeated calls). */
export function markLoops(tl, s) {
  const seqs = new Set((s?.guard || []).filter((f) => f.rule !== 'noProgress').flatMap((f) => f.seqs || []));
  for (const el of $$('[data-seq], [id^="ev-"]', tl)) {
    const n = Number(el.dataset.seq ?? el.id.slice(3));
    const ev = el.closest('.ev') || el;
    if (seqs.has(n)) {
      ev.classList.add('looped');
      ev.title = `repeated call (guard): ${esc(String(n))}`;
    }
  }
}

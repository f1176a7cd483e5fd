// The timeline's footer (`#tl-more`): how many events are shown and a button for the next page,
// the end of the transcript, or why there is nothing to show.
import { empty, fmtInt, html, sessionHref, setHTML } from '../util.js';

export const PAGE = 200;

/** The footer when there is nothing to show: no transcript, no events, none of this kind. */
function none(summary, kind, id) {
  if (summary && summary.transcriptAvailable === false) {
    const why =
      summary.state === 'purged'
        ? "OpenClaw purged this session's transcript. " +
          'Its tokens and cost stay counted: clawmetry kept them in its ledger.'
        : 'This session has no transcript: its model calls came as OpenTelemetry data.';
    return empty('Transcript no longer available', why);
  }
  if (kind === 'all') {
    const text = 'This session has no transcript events on disk yet; they appear here as OpenClaw writes them.';
    return empty('No events yet', text);
  }
  const all = html`<p><a href="${sessionHref(id)}">Show all events</a></p>`;
  return empty(`No ${kind} events`, 'Nothing of this kind in this session.', all);
}

/**
 * Renders the footer for the timeline state `t` ({ loaded, total, kind }) of session `id`
 * (`s`: its summary); true when it shows the next-page button and the sentinel under it.
 */
export function footer(more, t, s, id) {
  const { loaded, total } = t;
  if (!total) {
    setHTML(more, none(s && s.transcriptAvailable === false ? s : null, t.kind, id));
    return false;
  }
  if (loaded < total) {
    setHTML(
      more,
      html`<p class="more"><span class="muted">Showing ${fmtInt(loaded)} of ${fmtInt(total)} events.</span>
        <button type="button" id="tl-load">Load ${fmtInt(Math.min(PAGE, total - loaded))} more</button></p>
        <div id="tl-sentinel"></div>`,
    );
    return true;
  }
  const waiting = s && s.status === 'running' ? ' · waiting for more…' : '';
  setHTML(more, html`<p class="end muted">${fmtInt(total)} event${total === 1 ? '' : 's'}${waiting}</p>`);
  return false;
}

// The search page's parts: the form, one hit (session, time, what kind of event, the snippet
// with the found words marked) and the line saying how far the index is.
import { ago, fmtInt, html, kindTag, sessionHref, sessionName, stateTag } from '../util.js';

export const KINDS = [
  ['', 'Every event'],
  ['user', 'User messages'],
  ['assistant', 'Replies & tool calls'],
  ['tool_result', 'Tool results'],
  ['compaction', 'Compactions'],
];
const KIND_LABEL = Object.fromEntries(KINDS);

export function formHTML() {
  return html`<form class="filters" id="f-form" role="search" autocomplete="off">
    <input type="search" name="q" data-slash placeholder="Words in any transcript   ( / )" aria-label="Search every transcript">
    <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
    <select name="kind" aria-label="Event kind">${KINDS.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select>
    <button type="submit">Search</button>
  </form>
  <p class="muted small">Every word must occur; <code>"a phrase"</code> finds words side by side, <code>deploy*</code>
    words that begin so, <code>-word</code> leaves events with it out. Messages, thinking, tool arguments and results of
    every session are searched, deleted and archived ones too.</p>`;
}

/** The snippet: text nodes, the found words in <mark> (nothing of a transcript is read as HTML). */
const snippet = (parts) => parts.map((p) => (p.hit ? html`<mark>${p.text}</mark>` : p.text));

export function hit(h) {
  const s = { label: h.title, key: h.key, id: h.sessionId, state: h.state };
  const name = h.title || h.key ? sessionName(s) : h.sessionId.slice(0, 8);
  return html`<li class="hit" data-session="${h.sessionId}" data-seq="${h.seq}">
    <div class="hit-head"><a href="${sessionHref(h.sessionId, { event: h.seq })}">${name}</a>
      ${h.sessionKind ? kindTag(h.sessionKind) : ''} ${stateTag(s)}
      <span class="muted small">${h.agent || ''} · ${KIND_LABEL[h.kind] ? KIND_LABEL[h.kind].replace(/s$/, '') : h.kind}${
        h.tool ? html` · <code>${h.tool}</code>` : ''
      } · ${ago(h.ts)}</span></div>
    <p class="snippet">${snippet(h.snippet)}</p></li>`;
}

/** How far the index is: nothing while it is ready, else what has been read so far. */
export function indexLine(ix) {
  if (!ix || ix.state === 'ready') return '';
  if (ix.state === 'building' || ix.state === 'waiting') {
    const pct = ix.sessions ? Math.floor((100 * ix.sessionsIndexed) / ix.sessions) : 0;
    return html`Still reading transcripts into the search index: ${fmtInt(ix.sessionsIndexed)} of
      ${fmtInt(ix.sessions)} sessions (${pct} %). Hits so far are shown.`;
  }
  return html`The search index is ${ix.state}${ix.lastError ? html`: ${ix.lastError}` : ''}.`;
}

// The Logs page's parts: its frame, one line of the gateway log, and the filters that decide
// whether a line shows.
import { fmtClock, html, sessionHref } from '../util.js';

/** tslog's levels, lowest first; a level filter shows its level and those above. */
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

const rank = (level) => {
  const i = LEVELS.indexOf(String(level || '').toLowerCase());
  return i < 0 ? LEVELS.indexOf('info') : i;
};

/** Whether line `l` passes the query's `level` (at least) and `q` (in message or subsystem). */
export function passes(l, q) {
  if (q.level && rank(l.level) < rank(q.level)) return false;
  if (!q.q) return true;
  const needle = q.q.toLowerCase();
  return `${l.subsystem || ''} ${l.message || ''}`.toLowerCase().includes(needle);
}

/** The line's time of day (the browser's zone, like every other time on the page). */
const clockOf = (t) => (Number.isFinite(Date.parse(t)) ? fmtClock(Date.parse(t)) : '');

export function logRow(l) {
  const lv = String(l.level || '').toLowerCase();
  return html`<li class="log lv-${lv || 'none'}">
    <span class="when" title="${l.time || ''}">${clockOf(l.time)}</span>
    <span class="lv">${lv}</span><span class="sub">${l.subsystem || ''}</span>
    <span class="msg">${l.message}${
      l.session
        ? html` <a class="to-session" href="${sessionHref(l.session)}" title="${l.sessionKey || l.session}">→ session</a>`
        : ''
    }</span></li>`;
}

/** The divider shown when the log moved on to another file or was truncated. */
export const restartRow = (name) =>
  html`<li class="log restart" role="separator">${name || 'the log'} started over (a new file, or truncated)</li>`;

/** The page: the file name, the filters, pause, the list (newest at the bottom). */
export function shell() {
  return html`<h1>Logs <span class="muted" id="l-file"></span></h1>
    <form class="toolbar" id="l-filters" role="search" aria-label="Filter the log">
      <select name="level" aria-label="Level"><option value="">All levels</option>${LEVELS.slice(1, 5).map(
        (l) => html`<option value="${l}">${l} and above</option>`,
      )}</select>
      <input type="search" name="q" placeholder="Filter text" aria-label="Filter text">
      <button type="button" id="l-pause" aria-pressed="false">Pause</button>
      <span class="muted" id="l-held" aria-live="polite"></span>
    </form>
    <ol class="logs" id="l-list" aria-live="off"></ol><div id="l-empty"></div>`;
}

// The cron form's schedule cell: every N minutes / hours / days, a cron expression with its
// time zone, or once at a local date and time.
import { html } from '../util.js';

const UNITS = [
  ['60000', 'minutes'],
  ['3600000', 'hours'],
  ['86400000', 'days'],
];

/** everyMs as the largest unit that divides it. */
function splitEvery(ms) {
  for (const [u] of [...UNITS].reverse()) if (ms && ms % Number(u) === 0) return [ms / Number(u), u];
  return [Math.max(1, Math.round((ms || 3_600_000) / 60000)), '60000'];
}

/** A datetime-local value ("2026-12-24T18:00") for an ISO time, in local time. */
function localInput(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export const opt = (value, label, on) => html`<option value="${value}" ${on ? 'selected' : ''}>${label}</option>`;

/** The schedule: its kind, and the inputs of each kind (crons/edit.js shows the chosen one's). */
export function scheduleCell(s) {
  const [n, unit] = splitEvery(s.everyMs);
  const units = UNITS.map(([v, l]) => opt(v, l, v === unit));
  return html`
    <select id="cf-kind" name="kind">
      ${opt('every', 'every', s.kind === 'every')}
      ${opt('cron', 'cron expression', s.kind === 'cron')}
      ${opt('at', 'once at', s.kind === 'at')}</select>
    <span data-kind="every"><input name="everyN" type="number" min="1" step="1" value="${n}" aria-label="Interval"
        style="width:6em">
      <select name="everyUnit" aria-label="Unit">${units}</select></span>
    <span data-kind="cron"><input name="expr" placeholder="0 7 * * 1-5" value="${s.expr || ''}"
        aria-label="Cron expression" style="width:12em">
      <input name="tz" placeholder="time zone, e.g. UTC" value="${s.tz || ''}" aria-label="Time zone" style="width:12em"
      ></span>
    <span data-kind="at"><input name="at" type="datetime-local" value="${localInput(s.at)}"
      aria-label="Run at"></span>`;
}

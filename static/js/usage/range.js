// The usage page's range: the form (range, step, profile, agent, CSV link) and what it selects
// in epoch ms, in the server's days (util.js `zone`: local midnights, 23 or 25 hours on DST days).
import { $, clock, dayStart, fmtDate, fmtTime, html, monthStart, parseDay, zone } from '../util.js';
import { FILTERS, filterSelects } from './where.js';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
const RANGES = [
  ['24h', '24 h'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['90d', '90 days'],
  ['month', 'This month'],
  ['all', 'All time'],
  ['custom', 'Custom'],
];

export const isoDay = fmtDate;

/** The page: the range form, the line that says what it shows, and the body. */
export function shell() {
  return html`<h1>Usage &amp; cost</h1>
  <form class="filters range" id="u-form" autocomplete="off">
    <div class="seg" role="group" aria-label="Range">${RANGES.map(
      ([v, l]) => html`<button type="button" data-range="${v}">${l}</button>`,
    )}</div>
    <span class="custom" id="u-custom" hidden>
      <label>From <input type="date" name="from" required></label>
      <label>to <input type="date" name="to" required></label>
      <button type="submit">Apply</button>
    </span>
    <div class="seg" role="group" aria-label="Step"><button type="button" data-step="hour">Hourly</button><button
      type="button" data-step="day">Daily</button></div>
    <select name="profile" aria-label="OpenClaw profile" hidden><option value="">All profiles</option></select>
    <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
    <a class="button" id="u-csv" download>Download CSV</a>
    ${filterSelects()}
  </form>
  <p class="muted small" id="u-span"></p>
  <div id="u-body"><p class="loading">Loading…</p></div>`;
}

/** The selected range in epoch ms [from, to) and its step. */
export function span(q, earliest) {
  const now = clock.now();
  const range = q.range || '30d';
  let from;
  let to = now;
  switch (range) {
    case '24h':
      from = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
      break;
    case '7d':
      from = dayStart(now, -6);
      break;
    case '90d':
      from = dayStart(now, -89);
      break;
    case 'month':
      from = monthStart(now);
      break;
    case 'all':
      from = earliest != null ? dayStart(earliest) : dayStart(now, -29);
      break;
    case 'custom': {
      const f = parseDay(q.from);
      const t = parseDay(q.to);
      from = Number.isFinite(f) ? f : dayStart(now, -29);
      to = Number.isFinite(t) ? dayStart(t, 1) : now;
      if (to <= from) to = dayStart(from, 1);
      break;
    }
    default:
      from = dayStart(now, -29);
  }
  const hourOk = to - from <= 31 * DAY;
  const step = q.step === 'hour' && hourOk ? 'hour' : q.step === 'day' ? 'day' : range === '24h' ? 'hour' : 'day';
  return { range, from, to, step, hourOk };
}

export function syncForm(root, form, q, sp) {
  for (const b of form.querySelectorAll('button[data-range]')) {
    b.classList.toggle('on', b.dataset.range === sp.range);
    b.setAttribute('aria-pressed', b.dataset.range === sp.range);
  }
  for (const b of form.querySelectorAll('button[data-step]')) {
    b.classList.toggle('on', b.dataset.step === sp.step);
    b.setAttribute('aria-pressed', b.dataset.step === sp.step);
    b.disabled = b.dataset.step === 'hour' && !sp.hourOk;
    b.title = b.disabled ? 'Hourly steps need a range of 31 days or less' : '';
  }
  $('#u-custom', root).hidden = sp.range !== 'custom';
  if (document.activeElement !== form.from) form.from.value = isoDay(sp.from);
  if (document.activeElement !== form.to) form.to.value = isoDay(sp.to - 1);
  form.agent.value = q.agent || '';
  form.profile.value = q.profile || '';
  const last = sp.step === 'day' ? isoDay(sp.to - 1) : fmtTime(sp.to).slice(0, 16);
  const first = sp.step === 'day' ? isoDay(sp.from) : fmtTime(sp.from).slice(0, 16);
  $('#u-span', root).textContent =
    `${first} to ${last} (${zone.name}), ${sp.step === 'hour' ? 'hourly' : 'daily'}${q.agent ? `, agent ${q.agent}` : ''}` +
    FILTERS.filter(([k]) => q[k])
      .map(([k]) => `, ${k} ${q[k]}`)
      .join('');
}

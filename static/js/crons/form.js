// The cron job form: its HTML for a new or an existing job, and the form read back as the body
// of POST / PUT /api/crons (with messages people understand when something is missing).
import { clock, html } from '../util.js';

const UNITS = [
  ['60000', 'minutes'],
  ['3600000', 'hours'],
  ['86400000', 'days'],
];
/** Wide form fields (app.css styles no forms of this kind). */
const W = 'width:100%;max-width:40em;box-sizing:border-box';

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

/** The form for `job` (null: a new job); `agents` are the agent ids to offer. */
export function formHTML(job, agents) {
  const s = job?.schedule || { kind: 'every', everyMs: 3_600_000 };
  const [n, unit] = splitEvery(s.everyMs);
  const p = job?.payload || { kind: 'agentTurn' };
  const target = job?.sessionTarget || 'isolated';
  return html`<h2>${job ? html`Edit ${job.name}` : 'New cron job'}</h2>
    ${job?.managed ? html`<p class="muted small">Built-in job (${job.declarationKey}): its owner may change it back.</p>` : ''}
    <form id="c-form" novalidate autocomplete="off">
      <table class="cf-table" role="presentation"><tbody>
        <tr><th><label for="cf-name">Name</label></th><td><input id="cf-name" name="name" required maxlength="200" value="${job ? job.name : ''}" style="${W}"></td></tr>
        <tr><th><label for="cf-desc">Description</label></th><td><input id="cf-desc" name="description" maxlength="2000" value="${job?.description || ''}" placeholder="optional" style="${W}"></td></tr>
        <tr><th><label for="cf-agent">Agent</label></th><td><select id="cf-agent" name="agentId"><option value="">default agent</option>
          ${agents.map((a) => html`<option value="${a}" ${job && job.agentId === a ? 'selected' : ''}>${a}</option>`)}</select></td></tr>
        <tr><th><label for="cf-kind">Schedule</label></th><td>
          <select id="cf-kind" name="kind">
            <option value="every" ${s.kind === 'every' ? 'selected' : ''}>every</option>
            <option value="cron" ${s.kind === 'cron' ? 'selected' : ''}>cron expression</option>
            <option value="at" ${s.kind === 'at' ? 'selected' : ''}>once at</option></select>
          <span data-kind="every"><input name="everyN" type="number" min="1" step="1" value="${n}" aria-label="Interval" style="width:6em">
            <select name="everyUnit" aria-label="Unit">${UNITS.map(([v, l]) => html`<option value="${v}" ${v === unit ? 'selected' : ''}>${l}</option>`)}</select></span>
          <span data-kind="cron"><input name="expr" placeholder="0 7 * * 1-5" value="${s.expr || ''}" aria-label="Cron expression" style="width:12em">
            <input name="tz" placeholder="time zone, e.g. UTC" value="${s.tz || ''}" aria-label="Time zone" style="width:12em"></span>
          <span data-kind="at"><input name="at" type="datetime-local" value="${localInput(s.at)}" aria-label="Run at"></span></td></tr>
        <tr><th><label for="cf-target">Session</label></th><td><select id="cf-target" name="sessionTarget">
          <option value="isolated" ${target === 'isolated' ? 'selected' : ''}>isolated: a fresh agent turn each run</option>
          <option value="main" ${target === 'main' ? 'selected' : ''}>main: a system event in the main session</option>
          ${target !== 'isolated' && target !== 'main' ? html`<option value="${target}" selected>${target}</option>` : ''}</select></td></tr>
        <tr><th><label for="cf-msg">Message</label></th><td><textarea id="cf-msg" name="message" rows="4" required style="${W}">${p.message || p.text || ''}</textarea></td></tr>
        <tr data-turn><th><label for="cf-model">Model</label></th><td><input id="cf-model" name="model" placeholder="agent default" value="${p.model || ''}" style="${W}"></td></tr>
        <tr data-turn><th><label for="cf-timeout">Timeout (s)</label></th><td><input id="cf-timeout" name="timeoutSeconds" type="number" min="0" step="1" value="${p.timeoutSeconds ?? ''}" placeholder="default" style="width:8em"></td></tr>
        <tr data-turn><th><label for="cf-deliver">Deliver result</label></th><td><select id="cf-deliver" name="delivery">
          <option value="none" ${!job?.delivery || job.delivery.mode === 'none' ? 'selected' : ''}>no</option>
          <option value="announce" ${job?.delivery && job.delivery.mode === 'announce' ? 'selected' : ''}>announce to the last channel</option></select></td></tr>
        <tr><th><label for="cf-enabled">Enabled</label></th><td><input id="cf-enabled" type="checkbox" name="enabled" ${!job || job.enabled ? 'checked' : ''}></td></tr>
      </tbody></table>
      <p class="errmsg" id="cf-error" role="alert" hidden></p>
      <p><button type="submit">${job ? 'Save changes' : 'Create job'}</button> <button type="button" class="link" id="cf-cancel">Cancel</button></p>
    </form>`;
}

/** The form as an API body; throws with a message people understand. */
export function readForm(f, job) {
  const name = f.name.value.trim();
  if (!name) throw new Error('Give the job a name.');
  const kind = f.kind.value;
  let schedule;
  if (kind === 'every') {
    const n = Number(f.everyN.value);
    if (!Number.isInteger(n) || n < 1) throw new Error('The interval must be a whole number, 1 or more.');
    schedule = { kind, everyMs: n * Number(f.everyUnit.value) };
  } else if (kind === 'cron') {
    const expr = f.expr.value.trim().split(/\s+/).filter(Boolean);
    if (expr.length < 5 || expr.length > 6)
      throw new Error('A cron expression has 5 fields: minute hour day month weekday.');
    schedule = { kind, expr: expr.join(' ') };
    if (f.tz.value.trim()) schedule.tz = f.tz.value.trim();
  } else {
    const d = new Date(f.at.value);
    if (!f.at.value || Number.isNaN(d.getTime())) throw new Error('Pick the date and time to run at.');
    if (!job && d.getTime() < clock.now()) throw new Error('That time is in the past.');
    schedule = { kind, at: d.toISOString() };
  }
  const msg = f.message.value.trim();
  const target = f.sessionTarget.value;
  if (!msg) throw new Error(target === 'main' ? 'Write the system event text.' : 'Write the message the agent gets.');
  const payload = target === 'main' ? { kind: 'systemEvent', text: msg } : { kind: 'agentTurn', message: msg };
  if (target !== 'main') {
    if (f.model.value.trim()) payload.model = f.model.value.trim();
    if (f.timeoutSeconds.value !== '') {
      const t = Number(f.timeoutSeconds.value);
      if (!(t >= 0)) throw new Error('The timeout is a number of seconds.');
      payload.timeoutSeconds = t;
    }
  }
  const body = { name, schedule, sessionTarget: target, payload, enabled: f.enabled.checked };
  const desc = f.description.value.trim();
  if (desc || job?.description) body.description = desc;
  if (f.agentId.value) body.agentId = f.agentId.value;
  if (target !== 'main') body.delivery = { mode: f.delivery.value };
  return body;
}

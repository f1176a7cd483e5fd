// The cron job form read back as the body of POST / PUT /api/crons; a missing or wrong field
// throws with a message people understand (shown above the form's buttons).
import { clock } from '../util.js';

function scheduleOf(f, job) {
  const kind = f.kind.value;
  if (kind === 'every') {
    const n = Number(f.everyN.value);
    if (!Number.isInteger(n) || n < 1) throw new Error('The interval must be a whole number, 1 or more.');
    return { kind, everyMs: n * Number(f.everyUnit.value) };
  }
  if (kind === 'cron') {
    const expr = f.expr.value.trim().split(/\s+/).filter(Boolean);
    if (expr.length < 5 || expr.length > 6) {
      throw new Error('A cron expression has 5 fields: minute hour day month weekday.');
    }
    const schedule = { kind, expr: expr.join(' ') };
    if (f.tz.value.trim()) schedule.tz = f.tz.value.trim();
    return schedule;
  }
  const d = new Date(f.at.value);
  if (!f.at.value || Number.isNaN(d.getTime())) throw new Error('Pick the date and time to run at.');
  if (!job && d.getTime() < clock.now()) throw new Error('That time is in the past.');
  return { kind, at: d.toISOString() };
}

/** A system event for the main session, else an agent turn (with its model and timeout). */
function payloadOf(f, target) {
  const msg = f.message.value.trim();
  if (!msg) throw new Error(target === 'main' ? 'Write the system event text.' : 'Write the message the agent gets.');
  if (target === 'main') return { kind: 'systemEvent', text: msg };
  const payload = { kind: 'agentTurn', message: msg };
  if (f.model.value.trim()) payload.model = f.model.value.trim();
  if (f.timeoutSeconds.value !== '') {
    const t = Number(f.timeoutSeconds.value);
    if (!(t >= 0)) throw new Error('The timeout is a number of seconds.');
    payload.timeoutSeconds = t;
  }
  return payload;
}

/** The form `f` as an API body (`job`: the job it edits, null for a new one). */
export function readForm(f, job) {
  const name = f.name.value.trim();
  if (!name) throw new Error('Give the job a name.');
  const schedule = scheduleOf(f, job);
  const target = f.sessionTarget.value;
  const payload = payloadOf(f, target);
  const body = { name, schedule, sessionTarget: target, payload, enabled: f.enabled.checked };
  const desc = f.description.value.trim();
  if (desc || job?.description) body.description = desc;
  if (f.agentId.value) body.agentId = f.agentId.value;
  if (target !== 'main') body.delivery = { mode: f.delivery.value };
  return body;
}

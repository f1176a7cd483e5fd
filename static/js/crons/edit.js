// The cron job form at work: shows the fields the schedule kind and session target need, and
// sends the job (POST for a new one, PUT for an edit).
import { $, $$, send, setHTML, setQuery } from '../util.js';
import { formHTML } from './form.js';
import { readForm } from './read.js';

/** Shows only the fields that apply to the chosen schedule and session target. */
function syncFields(form) {
  for (const el of $$('[data-kind]', form)) el.hidden = el.dataset.kind !== form.kind.value;
  const turn = form.sessionTarget.value !== 'main';
  for (const el of $$('[data-turn]', form)) el.hidden = !turn;
  $('label[for=cf-msg]', form).textContent = turn ? 'Message' : 'System event text';
}

/** Sends the form; `saved(message)` runs when the API took it. */
async function submit(form, job, saved) {
  const err = $('#cf-error', form);
  let body;
  try {
    body = readForm(form, job);
  } catch (x) {
    err.textContent = x.message;
    err.hidden = false;
    return;
  }
  err.hidden = true;
  const btn = $('button[type=submit]', form);
  btn.disabled = true;
  try {
    if (job) await send('PUT', `/api/crons/${encodeURIComponent(job.id)}`, body);
    else await send('POST', '/api/crons', body);
    saved(job ? `"${body.name || job.name}" saved.` : `"${body.name}" created.`);
  } catch (x) {
    err.textContent = x.message;
    err.hidden = false;
  } finally {
    btn.disabled = false;
  }
}

/** Opens the form for `job` (null: a new one) in `panel`. */
export function openForm(panel, job, agents, saved) {
  panel.hidden = false;
  setHTML(panel, formHTML(job, agents));
  const form = $('#c-form', panel);
  const sync = () => syncFields(form);
  form.kind.onchange = sync;
  form.sessionTarget.onchange = sync;
  sync();
  $('#cf-cancel', form).onclick = () => setQuery({ edit: '' });
  form.onsubmit = (e) => {
    e.preventDefault();
    submit(form, job, saved);
  };
  for (const th of $$('th', form)) {
    th.style.cssText =
      'text-align:left;font-weight:normal;padding:4px 12px 4px 0;vertical-align:top;white-space:nowrap';
  }
  form.name.focus();
}

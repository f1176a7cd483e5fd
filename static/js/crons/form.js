// The cron job form's HTML for a new or an existing job (crons/read.js reads it back, and
// crons/edit.js shows the fields that apply).
import { html } from '../util.js';
import { opt, scheduleCell } from './schedule.js';

/** Wide form fields (app.css styles no forms of this kind). */
const W = 'width:100%;max-width:40em;box-sizing:border-box';

/** A row of the form: its label and its control; `turn` rows apply to agent turns only. */
const row = (id, label, control, turn = false) =>
  html`<tr ${turn ? 'data-turn' : ''}><th><label for="cf-${id}">${label}</label></th><td>${control}</td></tr>`;

function targetSelect(target) {
  const other =
    target !== 'isolated' && target !== 'main' ? html`<option value="${target}" selected>${target}</option>` : '';
  return html`<select id="cf-target" name="sessionTarget">
    ${opt('isolated', 'isolated: a fresh agent turn each run', target === 'isolated')}
    ${opt('main', 'main: a system event in the main session', target === 'main')}
    ${other}</select>`;
}

function rows(job, agents) {
  const s = job?.schedule || { kind: 'every', everyMs: 3_600_000 };
  const p = job?.payload || { kind: 'agentTurn' };
  const mode = job?.delivery?.mode;
  const agentOpts = agents.map(
    (a) => html`<option value="${a}" ${job && job.agentId === a ? 'selected' : ''}>${a}</option>`,
  );
  const input = (id, attrs, style = W) => html`<input id="cf-${id}" ${attrs} style="${style}">`;
  return [
    row('name', 'Name', input('name', html`name="name" required maxlength="200" value="${job ? job.name : ''}"`)),
    row(
      'desc',
      'Description',
      input('desc', html`name="description" maxlength="2000" value="${job?.description || ''}" placeholder="optional"`),
    ),
    row(
      'agent',
      'Agent',
      html`<select id="cf-agent" name="agentId"><option value="">default agent</option>
      ${agentOpts}</select>`,
    ),
    row('kind', 'Schedule', scheduleCell(s)),
    row('target', 'Session', targetSelect(job?.sessionTarget || 'isolated')),
    row(
      'msg',
      'Message',
      html`<textarea id="cf-msg" name="message" rows="4" required style="${W}"
      >${p.message || p.text || ''}</textarea>`,
    ),
    row(
      'model',
      'Model',
      input('model', html`name="model" placeholder="agent default" value="${p.model || ''}"`),
      true,
    ),
    row(
      'timeout',
      'Timeout (s)',
      input(
        'timeout',
        html`name="timeoutSeconds" type="number" min="0" step="1" value="${p.timeoutSeconds ?? ''}"
          placeholder="default"`,
        'width:8em',
      ),
      true,
    ),
    row(
      'deliver',
      'Deliver result',
      html`<select id="cf-deliver" name="delivery">
      ${opt('none', 'no', !job?.delivery || mode === 'none')}
      ${opt('announce', 'announce to the last channel', job?.delivery && mode === 'announce')}</select>`,
      true,
    ),
    row(
      'enabled',
      'Enabled',
      html`<input id="cf-enabled" type="checkbox" name="enabled" ${!job || job.enabled ? 'checked' : ''}>`,
    ),
  ];
}

/** The form for `job` (null: a new job); `agents` are the agent ids to offer. */
export function formHTML(job, agents) {
  const managed = job?.managed
    ? html`<p class="muted small">Built-in job (${job.declarationKey}): its owner may change it back.</p>`
    : '';
  return html`<h2>${job ? html`Edit ${job.name}` : 'New cron job'}</h2>
    ${managed}
    <form id="c-form" novalidate autocomplete="off">
      <table class="cf-table" role="presentation"><tbody>
        ${rows(job, agents)}
      </tbody></table>
      <p class="errmsg" id="cf-error" role="alert" hidden></p>
      <p><button type="submit">${job ? 'Save changes' : 'Create job'}</button>
        <button type="button" class="link" id="cf-cancel">Cancel</button></p>
    </form>`;
}

// The alerts page's guard panel (issue 17): the loop rules' thresholds and auto-stop, the
// gateway paused or resumed by hand, and the audit log of every stop, pause and resume.
import { $, ago, empty, html, send } from '../util.js';
import { field, num, W } from './fields.js';

/** Each rule: [key, label, [[field, label]…]]. */
const RULES = [
  [
    'repeat',
    'Same tool, same arguments',
    [
      ['calls', 'times'],
      ['window', 'within the last (calls)'],
    ],
  ],
  ['alternate', 'Two calls taking turns', [['cycles', 'cycles']]],
  [
    'noProgress',
    'Model turns without text',
    [
      ['turns', 'turns in a row'],
      ['tokens', 'using at least (tokens)'],
    ],
  ],
  [
    'tokenRate',
    'Tokens far above the usual rate',
    [
      ['factor', 'times the usual'],
      ['minutes', 'within (minutes)'],
      ['minTokens', 'at least (tokens)'],
    ],
  ],
];

function ruleSet(s, [key, label, fields]) {
  const r = s[key] || {};
  const input = ([k, l]) =>
    field(l, html`<input name="${key}.${k}" type="number" min="0" step="any" value="${r[k]}" style="${W}">`);
  return html`<fieldset class="g-rule"><legend><label><input type="checkbox" name="${key}.enabled" ${
    r.enabled ? 'checked' : ''
  }> ${label}</label></legend>${fields.map(input)}</fieldset>`;
}

const auditRow = (e) => html`<tr><td class="nowrap">${ago(e.ts)}</td><td>${e.action}</td>
  <td class="name">${e.sessionKey || e.sessionId || (e.method ? 'gateway' : '')}</td><td class="small">${e.who}</td>
  <td><span class="${e.ok ? 'ok' : 'bad'}">${e.ok ? 'ok' : 'failed'}</span>
  <span class="muted small">${e.error || e.gateway?.status || ''}</span></td></tr>`;

/** The panel for the answers of /api/guard and /api/guard/audit. */
export function guardPanel(guard, audit) {
  const s = guard.settings;
  const paused = guard.pause?.active;
  const log = audit.entries.length
    ? html`<div class="scroll"><table class="grid" id="g-audit"><thead><tr><th>When</th><th>Action</th>
        <th>Session</th><th>Who</th><th>Answer</th></tr></thead><tbody>${audit.entries.map(auditRow)}</tbody></table></div>`
    : empty('No actions yet', 'Stops, pauses and resumes are recorded here.');
  return html`<section class="panel" id="a-guard"><h2>Guard: loops and runaway runs</h2>
    <form id="f-guard">${RULES.map((r) => ruleSet(s, r))}
      <label><input type="checkbox" name="autoStop" ${s.autoStop ? 'checked' : ''}> Stop a run when a rule fires
        (through the gateway's ${guard.abortMethod || 'abort'})</label>
      <p><button type="submit">Save guard settings</button></p></form>
    <p>Gateway: ${paused ? html`<b class="bad">paused by hand</b> <button type="button" id="g-resume">Resume</button>` : html`<button type="button" class="danger" id="g-pause">Pause the gateway</button>`}</p>
    <h3>Audit log</h3>
    ${audit.error ? html`<p class="errmsg small">${audit.error}</p>` : ''}${log}</section>`;
}

/** The guard form as the body of PUT /api/guard. */
function guardOf(f) {
  const out = { autoStop: f.autoStop.checked };
  for (const [key, , fields] of RULES) {
    out[key] = { enabled: f[`${key}.enabled`].checked };
    for (const [k] of fields) out[key][k] = num(f[`${key}.${k}`].value);
  }
  return out;
}

/** Wires the panel: `act(call, message)` sends and reloads. */
export function wireGuard(root, act) {
  const f = $('#f-guard', root);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => send('PUT', '/api/guard', guardOf(f)), 'Guard settings saved.');
  });
  const pause = $('#g-pause', root);
  const question = 'Pause the OpenClaw gateway? It accepts no new work and runs no cron jobs until resumed.';
  if (pause)
    pause.onclick = () => confirm(question) && act(() => send('POST', '/api/guard/pause', {}), 'Gateway paused.');
  const resume = $('#g-resume', root);
  if (resume) resume.onclick = () => act(() => send('POST', '/api/guard/resume', {}), 'Gateway resumed.');
}

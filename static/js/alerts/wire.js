// The alerts page's forms: what each sends to the API, and the rule form's fields per kind.
import { $, $$, html, send, setHTML } from '../util.js';
import { field, num, RULES, W } from './fields.js';

/** The rule form's number fields for the chosen kind. */
export function ruleFields(root) {
  const form = $('#f-rule', root);
  const def = RULES[form.kind.value];
  const input = ([k, label, dflt]) =>
    field(label, html`<input name="${k}" type="number" min="0" value="${dflt}" style="${W}">`);
  setHTML($('#rule-fields', root), def.fields.map(input));
}

/** The budget form as the body of PUT /api/budget. */
function budgetOf(f) {
  const agents = {};
  for (const tr of $$('tr[data-agent]', f)) {
    const d = num($('input[name=d]', tr).value);
    const m = num($('input[name=m]', tr).value);
    if (d != null || m != null) agents[tr.dataset.agent] = { dailyUsd: d, monthlyUsd: m };
  }
  return {
    dailyUsd: num(f.dailyUsd.value),
    monthlyUsd: num(f.monthlyUsd.value),
    warnPercent: num(f.warnPercent.value),
    autoPause: f.autoPause.checked,
    agents,
  };
}

/** The channel forms as the body of PUT /api/alerts/channels. */
function channelsOf(form) {
  const out = {};
  for (const fs of $$('fieldset[data-channel]', form)) {
    const id = fs.dataset.channel;
    const vals = {};
    let any = false;
    for (const el of $$('input[name]:not([name=on]), select[name]', fs)) {
      if (el.type === 'password' && el.value === '') continue; // keep the stored secret
      vals[el.name] = el.name === 'port' ? num(el.value) : el.value.trim();
      // A select always has a value (e-mail's security): it alone does not make a form filled in.
      if (el.value.trim() && el.tagName !== 'SELECT') any = true;
    }
    if (!any && !fs.querySelector('input[name=on]').checked) continue;
    vals.enabled = fs.querySelector('input[name=on]').checked;
    out[id] = vals;
  }
  return out;
}

/** The new rule form as the body of POST /api/alerts/rules. */
function ruleOf(rf) {
  const v = {
    kind: rf.kind.value,
    cooldownMinutes: num(rf.cooldownMinutes.value),
    repeatMinutes: num(rf.repeatMinutes.value),
  };
  if (rf.name.value.trim()) v.name = rf.name.value.trim();
  for (const [k] of RULES[v.kind].fields) v[k] = num(rf[k].value);
  return v;
}

const submit = (form, fn) =>
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    fn(e.target);
  });

/**
 * Wires the forms of a freshly rendered page: `act(call, message)` sends and reloads, `say`
 * shows a message, `rules` are the rules on the page.
 */
export function wire(root, { act, say, rules }) {
  submit($('#f-budget', root), (f) => act(() => send('PUT', '/api/budget', budgetOf(f)), 'Budget saved.'));
  const resume = $('#b-resume', root);
  const resumed = 'Resumed; auto-pause waits for the next budget period.';
  if (resume) resume.onclick = () => act(() => send('POST', '/api/budget/resume', {}), resumed);
  submit($('#f-channels', root), (f) =>
    act(() => send('PUT', '/api/alerts/channels', channelsOf(f)), 'Channels saved.'),
  );
  $('#c-test', root).onclick = async () => {
    say('Sending…');
    try {
      const r = await send('POST', '/api/alerts/test', {});
      say(`Test message delivered: ${r.results.map((x) => x.channel).join(', ')}.`);
    } catch (e) {
      say(e.message, true);
    }
  };
  const rf = $('#f-rule', root);
  rf.kind.addEventListener('change', () => ruleFields(root));
  submit(rf, () => act(() => send('POST', '/api/alerts/rules', ruleOf(rf)), 'Rule added.'));
  const ackAll = $('#a-ack-all', root);
  if (ackAll)
    ackAll.onclick = () => act(() => send('POST', '/api/alerts/ack', { all: true }), 'All alerts marked read.');
  $('#a-log', root).addEventListener('click', (e) => {
    const el = e.target.closest('[data-act=ack]');
    if (!el) return;
    const id = Number(el.closest('tr').dataset.id);
    act(() => send('POST', '/api/alerts/ack', { ids: [id] }), 'Marked read.');
  });
  $('#a-rules', root).addEventListener('click', (e) => {
    const el = e.target.closest('[data-act]');
    if (!el) return;
    const id = Number(el.closest('tr').dataset.id);
    const rule = rules.find((r) => r.id === id);
    if (el.dataset.act === 'delete') act(() => send('DELETE', `/api/alerts/rules/${id}`), 'Rule deleted.');
    if (el.dataset.act === 'toggle') {
      const body = { ...rule, enabled: el.checked };
      act(() => send('PUT', `/api/alerts/rules/${id}`, body), el.checked ? 'Rule on.' : 'Rule off.');
    }
  });
}

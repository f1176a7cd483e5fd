// The alerts page's panels: the budget (alerts/budget.js), the alert channels, the rules and the
// alert log. Forms only; alerts/wire.js sends what they hold.
import { ago, empty, html } from '../util.js';
import { budgetPanel } from './budget.js';
import { field, RULES, W } from './fields.js';

const NO_ALERTS = 'Budget warnings, over-budget alerts and your rules appear here.';
const SEV = { critical: 'failed', warning: 'running', info: 'done' };
const FIELDSET = 'border:1px solid var(--line);border-radius:6px;margin:0 0 .8rem;min-width:0';

/** One input of a channel form; secrets are never shown, only said to be stored. */
function channelField(c, [k, label, kind, setKey]) {
  if (kind === 'select') {
    const options = ['starttls', 'tls', 'none'].map((v) => html`<option ${c[k] === v ? 'selected' : ''}>${v}</option>`);
    return field(label, html`<select name="${k}" style="${W}">${options}</select>`);
  }
  const val = kind === 'secret' ? '' : Array.isArray(c[k]) ? c[k].join(', ') : (c[k] ?? '');
  const ph = kind === 'secret' && c[setKey] ? 'stored; leave empty to keep' : '';
  const type = kind === 'secret' ? 'password' : kind === 'number' ? 'number' : 'text';
  return field(label, html`<input name="${k}" type="${type}" value="${val}" placeholder="${ph}" style="${W}">`);
}

function channelForm(id, title, c, fields) {
  c = c || {};
  const on = c && Object.keys(c).length && c.enabled !== false;
  return html`<fieldset data-channel="${id}" style="${FIELDSET}"><legend><label><input type="checkbox" name="on" ${
    on ? 'checked' : ''
  }> ${title}</label></legend>
    ${fields.map((f) => channelField(c, f))}</fieldset>`;
}

function channelsPanel(channels) {
  const telegram = [
    ['botToken', 'Bot token', 'secret', 'botTokenSet'],
    ['chatId', 'Chat id or @channel'],
  ];
  const webhook = [
    ['url', 'URL (JSON POST)'],
    ['secret', 'Signing secret (optional, HMAC-SHA256)', 'secret', 'secretSet'],
  ];
  const slack = [['url', 'Incoming webhook URL (hooks.slack.com/services/…)', 'secret', 'urlSet']];
  const discord = [['url', 'Webhook URL (discord.com/api/webhooks/…)', 'secret', 'urlSet']];
  const ntfy = [
    ['url', 'Topic URL (https://ntfy.sh/your-topic)'],
    ['token', 'Access token (optional)', 'secret', 'tokenSet'],
  ];
  const email = [
    ['host', 'SMTP server'],
    ['port', 'Port', 'number'],
    ['security', 'Security', 'select'],
    ['username', 'User name'],
    ['password', 'Password', 'secret', 'passwordSet'],
    ['from', 'From'],
    ['to', 'To (comma-separated)'],
  ];
  return html`<section class="panel" id="a-channels"><h2>Channels</h2><form id="f-channels" autocomplete="off">
    <div class="cols" style="gap:0 1rem">
      ${channelForm('telegram', 'Telegram', channels.telegram, telegram)}
      ${channelForm('webhook', 'Webhook', channels.webhook, webhook)}
      ${channelForm('email', 'E-mail', channels.email, email)}
      ${channelForm('slack', 'Slack', channels.slack, slack)}
      ${channelForm('discord', 'Discord', channels.discord, discord)}
      ${channelForm('ntfy', 'ntfy', channels.ntfy, ntfy)}
    </div><p><button type="submit">Save channels</button>
      <button type="button" id="c-test">Send a test message</button></p>
  </form></section>`;
}

const ruleRow = (r) => html`<tr data-id="${r.id}"><td>${r.name}</td><td>${RULES[r.kind]?.label || r.kind}</td>
  <td class="n">${r.cooldownMinutes} min</td><td class="n">${r.repeatMinutes ? `${r.repeatMinutes} min` : 'never'}</td>
  <td><input type="checkbox" data-act="toggle" ${r.enabled ? 'checked' : ''} aria-label="enabled"></td>
  <td><button type="button" class="link" data-act="delete">Delete</button></td></tr>`;

function rulesPanel(rules) {
  const table = rules.length
    ? html`<table class="grid"><thead><tr><th>Rule</th><th>Kind</th><th class="n">Cooldown</th><th class="n">Reminder</th><th>On</th><th></th></tr>
      </thead><tbody>${rules.map(ruleRow)}</tbody></table>`
    : html`<p class="muted">No custom rules. Budgets alert on their own.</p>`;
  const kinds = Object.entries(RULES).map(([k, v]) => html`<option value="${k}">${v.label}</option>`);
  const cooldown = html`<input name="cooldownMinutes" type="number" min="0" value="30" style="${W}">`;
  const repeat = html`<input name="repeatMinutes" type="number" min="0" value="1440" style="${W}">`;
  return html`<section class="panel" id="a-rules"><h2>Rules</h2>
    ${table}
    <form id="f-rule" autocomplete="off"><h3 style="margin-top:.8rem">Add a rule</h3>
      ${field('Kind', html`<select name="kind" style="${W}">${kinds}</select>`)}
      <div id="rule-fields"></div>
      <p class="muted small">One alert per incident: a rule alerts when its condition starts, and again only
        after it has resolved (at least the cooldown after the last alert) or as a reminder while it lasts.</p>
      ${field('Cooldown (minutes before a new incident alerts again)', cooldown)}
      ${field('Reminder while still firing (minutes, 0 = never)', repeat)}
      ${field('Name (optional)', html`<input name="name" style="${W}">`)}
      <p><button type="submit">Add rule</button></p></form></section>`;
}

/** Where an alert went: each channel with ✓ or ✗, and the errors of those that failed. */
function delivery(a) {
  const d = Array.isArray(a.deliveries) ? a.deliveries : [];
  if (a.status === 'not-sent') return html`<span class="muted small">recorded (no channel)</span>`;
  if (!d.length) return html`<span class="muted small">${a.status}</span>`;
  const chip = (x) =>
    html`<span class="chip" title="${x.error || `${x.attempts} attempt(s)`}"
      >${x.ok ? '✓' : '✗'} ${x.channel}</span>`;
  const failed = d.filter((x) => !x.ok);
  const errors = failed.map((x) => `${x.channel}: ${x.error}`).join('; ');
  return html`${d.map(chip)}${failed.length ? html`<br><span class="errmsg small">${errors}</span>` : ''}`;
}

/** A rule alert's incident: still firing, or when it resolved. */
function incident(a) {
  if (a.ruleId == null) return '';
  if (a.resolvedMs)
    return html` <span class="chip" title="${new Date(a.resolvedMs).toISOString()}">resolved ${ago(a.resolvedMs)}</span>`;
  return html` <span class="badge st-failed">firing</span>`;
}

// An alert not marked read yet is bold, with a button to mark it read (the count on the tab).
const alertRow = (
  a,
) => html`<tr data-id="${a.id}" class="${a.ackedMs ? '' : 'unread'}"><td class="nowrap">${ago(a.ts)}</td>
  <td><span class="badge st-${SEV[a.severity] || 'done'}">${a.severity}</span></td>
  <td class="name"><b>${a.title}</b>${incident(a)}<br><span class="muted small">${a.message}</span></td>
  <td>${delivery(a)}</td>
  <td>${a.ackedMs ? html`<span class="muted small" title="Marked read">✓</span>` : html`<button type="button" class="link" data-act="ack">Mark read</button>`}</td></tr>`;

function logPanel(log) {
  const table = html`<div class="scroll"><table class="grid">
    <thead><tr><th>When</th><th>Severity</th><th>Alert</th><th>Delivery</th><th></th></tr></thead>
    <tbody>${log.alerts.map(alertRow)}</tbody></table></div>`;
  const all = log.unread
    ? html` <button type="button" class="link" id="a-ack-all">Mark all ${log.unread} read</button>`
    : '';
  return html`<section class="panel" id="a-log"><h2>Alert log <span class="muted">(${log.total})</span>${
    log.unread ? html` <span class="count warn" id="a-unread">${log.unread} unread</span>` : ''
  }${all}</h2>
    ${log.alerts.length ? table : empty('No alerts yet', NO_ALERTS)}
  </section>`;
}

/** Every panel for the answers of /api/budget and /api/alerts*. */
export const panels = ({ budget, channels, rules, log }) => [
  budgetPanel(budget),
  channelsPanel(channels),
  rulesPanel(rules),
  logPanel(log),
];

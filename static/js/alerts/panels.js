// The alerts page's panels: the budget with its limits, the alert channels, the rules and the
// alert log. Forms only; alerts/wire.js sends what they hold.
import { ago, empty, fmtCost, html } from '../util.js';

export const RULES = {
  token_spike: {
    label: 'Token spike',
    fields: [
      ['tokens', 'more than (tokens)', 100000],
      ['minutes', 'within (minutes)', 10],
    ],
  },
  error_rate: {
    label: 'Error rate',
    fields: [
      ['percent', 'above (%)', 20],
      ['minutes', 'over (minutes)', 15],
      ['minEvents', 'at least (events)', 10],
    ],
  },
  long_session: { label: 'Long session', fields: [['minutes', 'running longer than (minutes)', 60]] },
  cron_failure: { label: 'Cron failure', fields: [['minutes', 'failed within (minutes)', 60]] },
  disk: { label: 'Disk full', fields: [['percent', 'fuller than (%)', 90]] },
  gateway_down: { label: 'Gateway down', fields: [] },
};
const SEV = { critical: 'failed', warning: 'running', info: 'done' };
export const W = 'width:100%;max-width:28em;box-sizing:border-box';
export const num = (v) => (v === '' || v == null ? null : Number(v));
export const field = (label, input) => html`<label style="display:block;margin:.35rem 0">${label}<br>${input}</label>`;

function budgetPanel(budget) {
  const b = budget.budget;
  const st = budget.status || {};
  const p = budget.pause;
  const agents = budget.agents || [];
  return html`<section class="panel" id="a-budget"><h2>Budget <span class="muted small">today ${fmtCost(st.todayUsd)} · this month ${fmtCost(st.monthUsd)}</span></h2>
  ${
    (st.limits || []).length
      ? html`<ul class="bars">${st.limits.map(
          (l) => html`<li><div class="bar-label"><b>${l.agent ? `agent ${l.agent}` : 'all agents'}, ${l.period}</b>
    <span class="muted">${fmtCost(l.spentUsd)} of ${fmtCost(l.limitUsd)}</span><b class="badge st-${l.level === 'over' ? 'failed' : l.level === 'warning' ? 'running' : 'done'}">${l.percent}%</b></div>
    <div class="bar"><span style="width:${Math.min(100, l.percent)}%;${l.level === 'over' ? 'background:var(--bad)' : l.level === 'warning' ? 'background:var(--warn)' : ''}"></span></div></li>`,
        )}</ul>`
      : html`<p class="muted">No limits set: spend is only shown.</p>`
  }
  ${p.active || p.lastError ? html`<p class="${p.active ? 'errmsg' : ''}">${p.active ? html`Gateway paused since ${ago(p.sinceMs)}: ${p.reason}.` : html`Auto-pause: <span class="errmsg">${p.lastError}</span>`}</p>` : ''}
  <form id="f-budget" autocomplete="off">
    <div class="cols" style="gap:0 1rem">
      <div>${field('Daily limit, all agents (USD)', html`<input name="dailyUsd" type="number" min="0" step="0.01" value="${b.dailyUsd ?? ''}" style="${W}">`)}
        ${field('Monthly limit, all agents (USD)', html`<input name="monthlyUsd" type="number" min="0" step="0.01" value="${b.monthlyUsd ?? ''}" style="${W}">`)}
        ${field('Warn at (% of a limit)', html`<input name="warnPercent" type="number" min="1" max="99" value="${b.warnPercent}" style="${W}">`)}
        <label style="display:block;margin:.5rem 0"><input type="checkbox" name="autoPause" ${b.autoPause ? 'checked' : ''}> Pause the gateway when over a limit</label></div>
      <div><table class="grid"><thead><tr><th>Agent</th><th>Daily USD</th><th>Monthly USD</th></tr></thead><tbody>
        ${agents.map(
          (
            a,
          ) => html`<tr data-agent="${a}"><td>${a}</td><td><input name="d" type="number" min="0" step="0.01" style="width:7em" value="${b.agents[a]?.dailyUsd ?? ''}"></td>
          <td><input name="m" type="number" min="0" step="0.01" style="width:7em" value="${b.agents[a]?.monthlyUsd ?? ''}"></td></tr>`,
        )}
      </tbody></table></div>
    </div>
    <p><button type="submit">Save budget</button> ${p.active || (st.over || []).length ? html`<button type="button" id="b-resume">Resume the gateway</button>` : ''}</p>
    <details><summary class="muted small">What does pausing do?</summary><p class="small">${p.explanation}</p></details>
  </form></section>`;
}

function channelsPanel(channels) {
  return html`<section class="panel" id="a-channels"><h2>Channels</h2><form id="f-channels" autocomplete="off"><div class="cols" style="gap:0 1rem">
  ${channelForm('telegram', 'Telegram', channels.telegram, [
    ['botToken', 'Bot token', 'secret', 'botTokenSet'],
    ['chatId', 'Chat id or @channel'],
  ])}
  ${channelForm('webhook', 'Webhook', channels.webhook, [
    ['url', 'URL (JSON POST)'],
    ['secret', 'Signing secret (optional, HMAC-SHA256)', 'secret', 'secretSet'],
  ])}
  ${channelForm('email', 'E-mail', channels.email, [
    ['host', 'SMTP server'],
    ['port', 'Port', 'number'],
    ['security', 'Security', 'select'],
    ['username', 'User name'],
    ['password', 'Password', 'secret', 'passwordSet'],
    ['from', 'From'],
    ['to', 'To (comma-separated)'],
  ])}
</div><p><button type="submit">Save channels</button> <button type="button" id="c-test">Send a test message</button></p></form></section>`;
}

function rulesPanel(rules) {
  return html`<section class="panel" id="a-rules"><h2>Rules</h2>
  ${
    rules.length
      ? html`<table class="grid"><thead><tr><th>Rule</th><th>Kind</th><th class="n">Cooldown</th><th>On</th><th></th></tr></thead><tbody>
    ${rules.map(
      (
        r,
      ) => html`<tr data-id="${r.id}"><td>${r.name}</td><td>${RULES[r.kind]?.label || r.kind}</td><td class="n">${r.cooldownMinutes} min</td>
      <td><input type="checkbox" data-act="toggle" ${r.enabled ? 'checked' : ''} aria-label="enabled"></td><td><button type="button" class="link" data-act="delete">Delete</button></td></tr>`,
    )}
  </tbody></table>`
      : html`<p class="muted">No custom rules. Budgets alert on their own.</p>`
  }
  <form id="f-rule" autocomplete="off"><h3 style="margin-top:.8rem">Add a rule</h3>
    ${field('Kind', html`<select name="kind" style="${W}">${Object.entries(RULES).map(([k, v]) => html`<option value="${k}">${v.label}</option>`)}</select>`)}
    <div id="rule-fields"></div>
    ${field('Cooldown (minutes between repeats)', html`<input name="cooldownMinutes" type="number" min="0" value="30" style="${W}">`)}
    ${field('Name (optional)', html`<input name="name" style="${W}">`)}
    <p><button type="submit">Add rule</button></p></form></section>`;
}

function logPanel(log) {
  return html`<section class="panel" id="a-log"><h2>Alert log <span class="muted">(${log.total})</span></h2>
  ${
    log.alerts.length
      ? html`<div class="scroll"><table class="grid"><thead><tr><th>When</th><th>Severity</th><th>Alert</th><th>Delivery</th></tr></thead><tbody>
    ${log.alerts.map(
      (
        a,
      ) => html`<tr><td class="nowrap">${ago(a.ts)}</td><td><span class="badge st-${SEV[a.severity] || 'done'}">${a.severity}</span></td>
      <td class="name"><b>${a.title}</b><br><span class="muted small">${a.message}</span></td>
      <td>${delivery(a)}</td></tr>`,
    )}
  </tbody></table></div>`
      : empty('No alerts yet', 'Budget warnings, over-budget alerts and your rules appear here.')
  }
</section>`;
}

function delivery(a) {
  const d = Array.isArray(a.deliveries) ? a.deliveries : [];
  if (a.status === 'not-sent') return html`<span class="muted small">recorded (no channel)</span>`;
  if (!d.length) return html`<span class="muted small">${a.status}</span>`;
  return html`${d.map((x) => html`<span class="chip" title="${x.error || `${x.attempts} attempt(s)`}">${x.ok ? '✓' : '✗'} ${x.channel}</span>`)}${
    d.some((x) => !x.ok)
      ? html`<br><span class="errmsg small">${d
          .filter((x) => !x.ok)
          .map((x) => `${x.channel}: ${x.error}`)
          .join('; ')}</span>`
      : ''
  }`;
}

function channelForm(id, title, c, fields) {
  c = c || {};
  return html`<fieldset data-channel="${id}" style="border:1px solid var(--line);border-radius:6px;margin:0 0 .8rem;min-width:0"><legend><label><input type="checkbox" name="on" ${c && Object.keys(c).length && c.enabled !== false ? 'checked' : ''}> ${title}</label></legend>
    ${fields.map(([k, label, kind, setKey]) => {
      if (kind === 'select')
        return field(
          label,
          html`<select name="${k}" style="${W}">${['starttls', 'tls', 'none'].map((v) => html`<option ${c[k] === v ? 'selected' : ''}>${v}</option>`)}</select>`,
        );
      const val = kind === 'secret' ? '' : Array.isArray(c[k]) ? c[k].join(', ') : (c[k] ?? '');
      const ph = kind === 'secret' && c[setKey] ? 'stored; leave empty to keep' : '';
      return field(
        label,
        html`<input name="${k}" type="${kind === 'secret' ? 'password' : kind === 'number' ? 'number' : 'text'}" value="${val}" placeholder="${ph}" style="${W}">`,
      );
    })}</fieldset>`;
}

/** Every panel for the answers of /api/budget and /api/alerts*. */
export const panels = ({ budget, channels, rules, log }) => [
  budgetPanel(budget),
  channelsPanel(channels),
  rulesPanel(rules),
  logPanel(log),
];

// Alerts: budgets (spend against daily and monthly limits, overall and per agent, auto-pause of
// the gateway), alert channels (Telegram, webhook, e-mail; secrets are write-only), custom alert
// rules, and the alert log with each channel's delivery. Everything goes through /api/budget and
// /api/alerts*; like every API call they need the dashboard's token (SECURITY.md).
import { api, send, html, setHTML, $, $$, ago, fmtCost, empty } from './util.js';

const RULES = {
  token_spike: { label: 'Token spike', fields: [['tokens', 'more than (tokens)', 100000], ['minutes', 'within (minutes)', 10]] },
  error_rate: { label: 'Error rate', fields: [['percent', 'above (%)', 20], ['minutes', 'over (minutes)', 15], ['minEvents', 'at least (events)', 10]] },
  long_session: { label: 'Long session', fields: [['minutes', 'running longer than (minutes)', 60]] },
  cron_failure: { label: 'Cron failure', fields: [['minutes', 'failed within (minutes)', 60]] },
  disk: { label: 'Disk full', fields: [['percent', 'fuller than (%)', 90]] },
  gateway_down: { label: 'Gateway down', fields: [] },
};
const SEV = { critical: 'failed', warning: 'running', info: 'done' };
const W = 'width:100%;max-width:28em;box-sizing:border-box';
const num = (v) => (v === '' || v == null ? null : Number(v));
const field = (label, input) => html`<label style="display:block;margin:.35rem 0">${label}<br>${input}</label>`;

export function mount(root, route, app) {
  let ctrl = null;
  let data = null;

  setHTML(root, html`<h1>Budgets &amp; alerts</h1>
    <p id="a-msg" role="status" class="muted small"></p>
    <div id="a-body"><p class="loading">Loading…</p></div>`);
  const body = $('#a-body', root);
  const say = (text, bad = false) => {
    const m = $('#a-msg', root);
    m.textContent = text;
    m.className = bad ? 'errmsg' : 'ok';
  };

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      const [budget, channels, rules, log] = await Promise.all([
        api('/api/budget', { signal }), api('/api/alerts/channels', { signal }),
        api('/api/alerts/rules', { signal }), api('/api/alerts?limit=100', { signal }),
      ]);
      if (signal.aborted) return;
      data = { budget, channels: channels.channels, rules: rules.rules, log };
      render();
      app.rendered('alerts');
    } catch (e) {
      app.failed(body, e, load);
    }
  }

  function render() {
    const { budget, channels, rules, log } = data;
    const b = budget.budget;
    const st = budget.status || {};
    const p = budget.pause;
    const agents = budget.agents || [];
    setHTML(body, html`
      <section class="panel" id="a-budget"><h2>Budget <span class="muted small">today ${fmtCost(st.todayUsd)} · this month ${fmtCost(st.monthUsd)}</span></h2>
        ${(st.limits || []).length ? html`<ul class="bars">${st.limits.map((l) => html`<li><div class="bar-label"><b>${l.agent ? `agent ${l.agent}` : 'all agents'}, ${l.period}</b>
          <span class="muted">${fmtCost(l.spentUsd)} of ${fmtCost(l.limitUsd)}</span><b class="badge st-${l.level === 'over' ? 'failed' : l.level === 'warning' ? 'running' : 'done'}">${l.percent}%</b></div>
          <div class="bar"><span style="width:${Math.min(100, l.percent)}%;${l.level === 'over' ? 'background:var(--bad)' : l.level === 'warning' ? 'background:var(--warn)' : ''}"></span></div></li>`)}</ul>`
          : html`<p class="muted">No limits set: spend is only shown.</p>`}
        ${p.active || p.lastError ? html`<p class="${p.active ? 'errmsg' : ''}">${p.active ? html`Gateway paused since ${ago(p.sinceMs)}: ${p.reason}.` : html`Auto-pause: <span class="errmsg">${p.lastError}</span>`}</p>` : ''}
        <form id="f-budget" autocomplete="off">
          <div class="cols" style="gap:0 1rem">
            <div>${field('Daily limit, all agents (USD)', html`<input name="dailyUsd" type="number" min="0" step="0.01" value="${b.dailyUsd ?? ''}" style="${W}">`)}
              ${field('Monthly limit, all agents (USD)', html`<input name="monthlyUsd" type="number" min="0" step="0.01" value="${b.monthlyUsd ?? ''}" style="${W}">`)}
              ${field('Warn at (% of a limit)', html`<input name="warnPercent" type="number" min="1" max="99" value="${b.warnPercent}" style="${W}">`)}
              <label style="display:block;margin:.5rem 0"><input type="checkbox" name="autoPause" ${b.autoPause ? 'checked' : ''}> Pause the gateway when over a limit</label></div>
            <div><table class="grid"><thead><tr><th>Agent</th><th>Daily USD</th><th>Monthly USD</th></tr></thead><tbody>
              ${agents.map((a) => html`<tr data-agent="${a}"><td>${a}</td><td><input name="d" type="number" min="0" step="0.01" style="width:7em" value="${(b.agents[a] || {}).dailyUsd ?? ''}"></td>
                <td><input name="m" type="number" min="0" step="0.01" style="width:7em" value="${(b.agents[a] || {}).monthlyUsd ?? ''}"></td></tr>`)}
            </tbody></table></div>
          </div>
          <p><button type="submit">Save budget</button> ${p.active || (st.over || []).length ? html`<button type="button" id="b-resume">Resume the gateway</button>` : ''}</p>
          <details><summary class="muted small">What does pausing do?</summary><p class="small">${p.explanation}</p></details>
        </form></section>

      <section class="panel" id="a-channels"><h2>Channels</h2><form id="f-channels" autocomplete="off"><div class="cols" style="gap:0 1rem">
        ${channelForm('telegram', 'Telegram', channels.telegram, [['botToken', 'Bot token', 'secret', 'botTokenSet'], ['chatId', 'Chat id or @channel']])}
        ${channelForm('webhook', 'Webhook', channels.webhook, [['url', 'URL (JSON POST)'], ['secret', 'Signing secret (optional, HMAC-SHA256)', 'secret', 'secretSet']])}
        ${channelForm('email', 'E-mail', channels.email, [['host', 'SMTP server'], ['port', 'Port', 'number'], ['security', 'Security', 'select'], ['username', 'User name'], ['password', 'Password', 'secret', 'passwordSet'], ['from', 'From'], ['to', 'To (comma-separated)']])}
      </div><p><button type="submit">Save channels</button> <button type="button" id="c-test">Send a test message</button></p></form></section>

      <section class="panel" id="a-rules"><h2>Rules</h2>
        ${rules.length ? html`<table class="grid"><thead><tr><th>Rule</th><th>Kind</th><th class="n">Cooldown</th><th>On</th><th></th></tr></thead><tbody>
          ${rules.map((r) => html`<tr data-id="${r.id}"><td>${r.name}</td><td>${(RULES[r.kind] || {}).label || r.kind}</td><td class="n">${r.cooldownMinutes} min</td>
            <td><input type="checkbox" data-act="toggle" ${r.enabled ? 'checked' : ''} aria-label="enabled"></td><td><button type="button" class="link" data-act="delete">Delete</button></td></tr>`)}
        </tbody></table>` : html`<p class="muted">No custom rules. Budgets alert on their own.</p>`}
        <form id="f-rule" autocomplete="off"><h3 style="margin-top:.8rem">Add a rule</h3>
          ${field('Kind', html`<select name="kind" style="${W}">${Object.entries(RULES).map(([k, v]) => html`<option value="${k}">${v.label}</option>`)}</select>`)}
          <div id="rule-fields"></div>
          ${field('Cooldown (minutes between repeats)', html`<input name="cooldownMinutes" type="number" min="0" value="30" style="${W}">`)}
          ${field('Name (optional)', html`<input name="name" style="${W}">`)}
          <p><button type="submit">Add rule</button></p></form></section>

      <section class="panel" id="a-log"><h2>Alert log <span class="muted">(${log.total})</span></h2>
        ${log.alerts.length ? html`<div class="scroll"><table class="grid"><thead><tr><th>When</th><th>Severity</th><th>Alert</th><th>Delivery</th></tr></thead><tbody>
          ${log.alerts.map((a) => html`<tr><td class="nowrap">${ago(a.ts)}</td><td><span class="badge st-${SEV[a.severity] || 'done'}">${a.severity}</span></td>
            <td class="name"><b>${a.title}</b><br><span class="muted small">${a.message}</span></td>
            <td>${delivery(a)}</td></tr>`)}
        </tbody></table></div>` : empty('No alerts yet', 'Budget warnings, over-budget alerts and your rules appear here.')}
      </section>`);
    ruleFields();
    wire();
  }

  function delivery(a) {
    const d = Array.isArray(a.deliveries) ? a.deliveries : [];
    if (a.status === 'not-sent') return html`<span class="muted small">recorded (no channel)</span>`;
    if (!d.length) return html`<span class="muted small">${a.status}</span>`;
    return html`${d.map((x) => html`<span class="chip" title="${x.error || `${x.attempts} attempt(s)`}">${x.ok ? '✓' : '✗'} ${x.channel}</span>`)}${d.some((x) => !x.ok) ? html`<br><span class="errmsg small">${d.filter((x) => !x.ok).map((x) => `${x.channel}: ${x.error}`).join('; ')}</span>` : ''}`;
  }

  function channelForm(id, title, c, fields) {
    c = c || {};
    return html`<fieldset data-channel="${id}" style="border:1px solid var(--line);border-radius:6px;margin:0 0 .8rem;min-width:0"><legend><label><input type="checkbox" name="on" ${c && Object.keys(c).length && c.enabled !== false ? 'checked' : ''}> ${title}</label></legend>
      ${fields.map(([k, label, kind, setKey]) => {
        if (kind === 'select') return field(label, html`<select name="${k}" style="${W}">${['starttls', 'tls', 'none'].map((v) => html`<option ${c[k] === v ? 'selected' : ''}>${v}</option>`)}</select>`);
        const val = kind === 'secret' ? '' : Array.isArray(c[k]) ? c[k].join(', ') : c[k] ?? '';
        const ph = kind === 'secret' && c[setKey] ? 'stored; leave empty to keep' : '';
        return field(label, html`<input name="${k}" type="${kind === 'secret' ? 'password' : kind === 'number' ? 'number' : 'text'}" value="${val}" placeholder="${ph}" style="${W}">`);
      })}</fieldset>`;
  }

  function ruleFields() {
    const form = $('#f-rule', root);
    const def = RULES[form.kind.value];
    setHTML($('#rule-fields', root), def.fields.map(([k, label, dflt]) => field(label, html`<input name="${k}" type="number" min="0" value="${dflt}" style="${W}">`)));
  }

  async function act(fn, ok) {
    try {
      await fn();
      say(ok);
      await load();
    } catch (e) {
      say(e.message, true);
    }
  }

  function wire() {
    $('#f-budget', root).addEventListener('submit', (e) => {
      e.preventDefault();
      const f = e.target;
      const agents = {};
      for (const tr of $$('tr[data-agent]', f)) {
        const d = num($('input[name=d]', tr).value);
        const m = num($('input[name=m]', tr).value);
        if (d != null || m != null) agents[tr.dataset.agent] = { dailyUsd: d, monthlyUsd: m };
      }
      const v = { dailyUsd: num(f.dailyUsd.value), monthlyUsd: num(f.monthlyUsd.value), warnPercent: num(f.warnPercent.value), autoPause: f.autoPause.checked, agents };
      act(() => send('PUT', '/api/budget', v), 'Budget saved.');
    });
    const resume = $('#b-resume', root);
    if (resume) resume.onclick = () => act(() => send('POST', '/api/budget/resume', {}), 'Resumed; auto-pause waits for the next budget period.');
    $('#f-channels', root).addEventListener('submit', (e) => {
      e.preventDefault();
      const out = {};
      for (const fs of $$('fieldset[data-channel]', e.target)) {
        const id = fs.dataset.channel;
        const vals = {};
        let any = false;
        for (const el of $$('input[name]:not([name=on]), select[name]', fs)) {
          if (el.type === 'password' && el.value === '') continue; // keep the stored secret
          vals[el.name] = el.name === 'port' ? num(el.value) : el.value.trim();
          if (el.value.trim()) any = true;
        }
        if (!any && !fs.querySelector('input[name=on]').checked) continue;
        vals.enabled = fs.querySelector('input[name=on]').checked;
        out[id] = vals;
      }
      act(() => send('PUT', '/api/alerts/channels', out), 'Channels saved.');
    });
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
    rf.kind.addEventListener('change', ruleFields);
    rf.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = { kind: rf.kind.value, cooldownMinutes: num(rf.cooldownMinutes.value) };
      if (rf.name.value.trim()) v.name = rf.name.value.trim();
      for (const [k] of RULES[v.kind].fields) v[k] = num(rf[k].value);
      act(() => send('POST', '/api/alerts/rules', v), 'Rule added.');
    });
    const rules = $('#a-rules', root);
    rules.addEventListener('click', (e) => {
      const el = e.target.closest('[data-act]');
      if (!el) return;
      const id = Number(el.closest('tr').dataset.id);
      const rule = data.rules.find((r) => r.id === id);
      if (el.dataset.act === 'delete') act(() => send('DELETE', `/api/alerts/rules/${id}`), 'Rule deleted.');
      if (el.dataset.act === 'toggle') act(() => send('PUT', `/api/alerts/rules/${id}`, { ...rule, enabled: el.checked }), el.checked ? 'Rule on.' : 'Rule off.');
    });
  }

  load();
  const timer = setInterval(() => { if (!document.hidden && !root.contains(document.activeElement)) load(); }, 30_000);
  return {
    update() {},
    refresh() { /* spend follows the index; the next 30 s refresh shows it */ },
    unmount() { if (ctrl) ctrl.abort(); clearInterval(timer); },
  };
}

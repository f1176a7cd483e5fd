// Crons: OpenClaw's scheduled jobs: schedule, next and last run, errors and run history, with
// run-now, enable/disable, create, edit and delete through the gateway. When the gateway is not
// connected the list comes from OpenClaw's own store and is read-only. #/crons?job=<id> opens a
// job's history; #/crons?edit=<id> or ?edit=new opens the form.
import {
  api, send, html, setHTML, $, $$, ago, clock, fmtDuration, fmtTokens, fmtTime, setQuery, href, empty,
} from './util.js';

const STATUS_CLASS = { ok: 'done', error: 'failed', running: 'running', skipped: 'done' };
const statusBadge = (s, title) => html`<span class="badge st-${STATUS_CLASS[s] || s}" title="${title || s}">${s}</span>`;
const UNITS = [['60000', 'minutes'], ['3600000', 'hours'], ['86400000', 'days']];
/** Wide form fields (app.css styles no forms of this kind). */
const W = 'width:100%;max-width:40em;box-sizing:border-box';

/** "in 23 min", "in 7 h", "overdue" for a time ahead; the exact time in the title. */
function until(ts) {
  if (ts == null) return html`<span class="muted">–</span>`;
  const d = ts - clock.now();
  const t = d < -60_000 ? 'overdue' : d < 60_000 ? 'due now' : d < 3_600_000 ? `in ${Math.round(d / 60_000)} min`
    : d < 86_400_000 ? `in ${Math.round(d / 3_600_000)} h` : d < 30 * 86_400_000 ? `in ${Math.round(d / 86_400_000)} d` : fmtTime(ts);
  return html`<span title="${fmtTime(ts)}">${t}</span>`;
}

/** everyMs as the largest unit that divides it. */
function splitEvery(ms) {
  for (const [u] of [...UNITS].reverse()) if (ms && ms % Number(u) === 0) return [ms / Number(u), u];
  return [Math.max(1, Math.round((ms || 3_600_000) / 60000)), '60000'];
}

/** A datetime-local value ("2026-12-24T18:00") for an ISO time, in local time. */
function localInput(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function mount(root, route, app) {
  let q = route.query;
  let ctrl = null;
  let data = null;
  let busy = false;

  setHTML(root, html`<h1>Crons <span class="muted" id="c-total"></span></h1>
    <div id="c-note"></div>
    <div class="toolbar"><button type="button" id="c-new">New job</button>
      <span class="muted small" id="c-sched"></span></div>
    <section class="panel" id="c-form-panel" hidden></section>
    <div class="scroll"><table class="grid" id="c-table"><thead><tr>
      <th>Status</th><th>Job</th><th class="opt">Agent</th><th>Schedule</th><th>Next run</th><th>Last run</th>
      <th class="n opt">Errors</th><th>Actions</th></tr></thead><tbody></tbody></table></div>
    <div id="c-empty"></div>
    <section class="panel" id="c-history" hidden></section>`);

  const tbody = $('#c-table tbody', root);
  $('#c-new', root).onclick = () => setQuery({ edit: 'new', job: '' });

  tbody.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b || busy) return;
    const id = b.closest('tr').dataset.id;
    const job = data && data.jobs.find((j) => j.id === id);
    if (!job) return;
    const act = b.dataset.act;
    if (act === 'history') return setQuery({ job: q.job === id ? '' : id, edit: '' });
    if (act === 'edit') return setQuery({ edit: id, job: '' });
    if (act === 'delete' && !confirm(`Delete the cron job "${job.name}"? This cannot be undone.`)) return;
    const calls = {
      run: () => send('POST', `/api/crons/${encodeURIComponent(id)}/run`),
      toggle: () => send('POST', `/api/crons/${encodeURIComponent(id)}/toggle`, { enabled: !job.enabled }),
      delete: () => send('DELETE', `/api/crons/${encodeURIComponent(id)}`),
    };
    busy = true;
    b.disabled = true;
    try {
      const r = await calls[act]();
      note(act === 'run' ? `Run of "${job.name}" queued${r && r.runId ? ` (${r.runId})` : ''}; its result appears in the history.`
        : act === 'toggle' ? `"${job.name}" ${job.enabled ? 'disabled' : 'enabled'}.` : `"${job.name}" deleted.`, 'info');
      if (act === 'delete' && q.job === id) setQuery({ job: '' });
    } catch (err) {
      note(err.message, 'warn');
    } finally {
      busy = false;
      load();
    }
  });

  let noteTimer = 0;
  function note(text, kind) {
    const el = $('#c-note', root);
    clearTimeout(noteTimer);
    setHTML(el, html`<div class="banner ${kind}" role="status">${text}</div>`);
    if (kind === 'info') noteTimer = setTimeout(() => { el.textContent = ''; }, 8000);
  }

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      const d = await api('/api/crons', { signal });
      if (signal.aborted) return;
      data = d;
      render();
      await renderHistory(signal);
      renderForm();
      app.rendered('crons');
    } catch (e) {
      app.failed($('#c-empty', root), e, () => load());
    }
  }

  function render() {
    const d = data;
    $('#c-total', root).textContent = `(${d.total})`;
    const ro = d.readOnly;
    $('#c-new', root).disabled = ro;
    $('#c-new', root).title = ro ? 'Needs the gateway connection' : 'Schedule a new job';
    const s = d.scheduler;
    $('#c-sched', root).textContent = s ? `Scheduler ${s.enabled === false ? 'off' : 'on'}${s.storage ? ` · ${s.storage}` : ''}` : '';
    if (ro && !$('#c-note .banner.warn', root)) {
      setHTML($('#c-note', root), html`<div class="banner warn" role="status"><strong>Read-only.</strong>
        The OpenClaw gateway is not connected${d.gateway && d.gateway.lastError ? html` (${d.gateway.lastError})` : ''};
        these jobs come from ${d.source === 'files' ? 'cron/jobs.json' : d.source === 'state-db' ? 'state/openclaw.sqlite' : 'nowhere'}.
        Run, edit and delete come back with the connection (see <a href="/api/gateway">/api/gateway</a>).</div>`);
    } else if (!ro && $('#c-note .banner.warn strong', root)) {
      $('#c-note', root).textContent = '';
    }
    setHTML(tbody, d.jobs.map((j) => row(j, ro)));
    setHTML($('#c-empty', root), d.jobs.length ? '' : empty('No cron jobs',
      ro ? 'OpenClaw has no scheduled jobs on disk.' : 'Create one with "New job", or with `openclaw cron add`.'));
  }

  function row(j, ro) {
    const last = j.runs && j.runs[0];
    const dis = ro ? html` disabled title="Needs the gateway connection"` : '';
    // The form edits agent turns and system events; other payloads (heartbeat, command) only via the CLI.
    const noEdit = ro ? dis : ['agentTurn', 'systemEvent'].includes(j.payloadKind) ? '' : html` disabled title="Edit ${j.payloadKind} jobs with openclaw cron edit"`;
    return html`<tr data-id="${j.id}" class="${q.job === j.id ? 'on' : ''}">
      <td>${statusBadge(j.status, j.lastError || j.status)}</td>
      <td class="name"><b>${j.displayName || j.name}</b>${j.managed ? html` <span class="tag" title="Declared by ${j.declarationKey}; its owner may recreate it">built-in</span>` : ''}
        ${j.description ? html`<div class="muted small clamp" title="${j.description}">${j.description}</div>` : ''}
        ${j.lastError ? html`<div class="errmsg small clamp" title="${j.lastError}">${j.lastError}</div>` : ''}</td>
      <td class="opt">${j.agentId || html`<span class="muted">default</span>`}</td>
      <td><span title="${JSON.stringify(j.schedule)}">${j.scheduleText}</span>${j.sessionTarget ? html`<div class="muted small">${j.sessionTarget} session</div>` : ''}</td>
      <td>${j.enabled ? until(j.nextRunMs) : html`<span class="muted">disabled</span>`}</td>
      <td>${j.lastRunMs ? html`${ago(j.lastRunMs)} ${j.lastStatus ? statusBadge(j.lastStatus) : ''}
        ${j.lastDurationMs != null ? html`<div class="muted small">${fmtDuration(j.lastDurationMs)}</div>` : ''}` : last ? ago(last.ts) : html`<span class="muted">never</span>`}</td>
      <td class="n opt">${j.consecutiveErrors ? html`<span class="count err">${j.consecutiveErrors}</span>` : '0'}</td>
      <td><div style="display:flex;flex-wrap:wrap;gap:4px">
        <button type="button" data-act="run"${dis}>Run now</button>
        <button type="button" data-act="toggle"${dis}>${j.enabled ? 'Disable' : 'Enable'}</button>
        <button type="button" data-act="history" aria-expanded="${q.job === j.id}">History</button>
        <button type="button" data-act="edit"${noEdit}>Edit</button>
        <button type="button" data-act="delete" class="link"${dis}>Delete</button></div></td>
    </tr>`;
  }

  async function renderHistory(signal) {
    const panel = $('#c-history', root);
    const job = q.job && data.jobs.find((j) => j.id === q.job);
    if (!job) { panel.hidden = true; return; }
    let runs = job.runs || [];
    let more = '';
    try {
      const h = await api(`/api/crons/${encodeURIComponent(job.id)}/runs?limit=50`, { signal });
      runs = h.runs;
      if (h.hasMore) more = html`<p class="muted small">Showing the newest ${runs.length} of ${h.total} runs.</p>`;
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      more = html`<p class="muted small">Full history unavailable: ${e.message}</p>`;
    }
    panel.hidden = false;
    setHTML(panel, html`<h2>History of ${job.name} <button type="button" class="link" id="c-hclose">close</button></h2>
      ${runs.length ? html`<div class="scroll"><table class="grid"><thead><tr><th>Finished</th><th>Status</th>
        <th class="n">Duration</th><th>Result</th><th class="opt">Model</th><th class="n opt">Tokens</th><th>Session</th></tr></thead><tbody>
        ${runs.map((r) => html`<tr><td title="${fmtTime(r.ts)}">${ago(r.ts)}</td><td>${statusBadge(r.status || '?', r.error)}</td>
          <td class="n">${fmtDuration(r.durationMs)}</td>
          <td>${r.error ? html`<span class="errmsg clamp" title="${r.error}">${r.error}</span>` : html`<span class="clamp" title="${r.summary || ''}">${r.summary || ''}</span>`}</td>
          <td class="opt">${r.model || ''}</td><td class="n opt">${r.usage && r.usage.total != null ? fmtTokens(r.usage.total) : ''}</td>
          <td>${r.sessionKey || r.sessionId ? html`<a href="${href(['sessions', r.sessionId || r.sessionKey])}">transcript</a>` : ''}</td></tr>`)}
        </tbody></table></div>${more}` : empty('No runs yet', `${job.name} has not run${job.enabled ? '; next ' : ''}${job.enabled && job.nextRunMs ? fmtTime(job.nextRunMs) : ''}.`)}`);
    $('#c-hclose', panel).onclick = () => setQuery({ job: '' });
  }

  // ---- create / edit form ----------------------------------------------------------------------

  let formFor = null;

  function renderForm() {
    const panel = $('#c-form-panel', root);
    const id = q.edit;
    if (!id || data.readOnly) { panel.hidden = true; formFor = null; return; }
    if (formFor === id) return; // keep what the user typed across live refreshes
    const job = id === 'new' ? null : data.jobs.find((j) => j.id === id);
    if (id !== 'new' && !job) { panel.hidden = true; formFor = null; return; }
    formFor = id;
    const s = (job && job.schedule) || { kind: 'every', everyMs: 3_600_000 };
    const [n, unit] = splitEvery(s.everyMs);
    const p = (job && job.payload) || { kind: 'agentTurn' };
    const target = (job && job.sessionTarget) || 'isolated';
    const agents = ((app.health && app.health.openclaw && app.health.openclaw.agents) || []).map((a) => a.id);
    panel.hidden = false;
    setHTML(panel, html`<h2>${job ? html`Edit ${job.name}` : 'New cron job'}</h2>
      ${job && job.managed ? html`<p class="muted small">Built-in job (${job.declarationKey}): its owner may change it back.</p>` : ''}
      <form id="c-form" novalidate autocomplete="off">
        <table class="cf-table" role="presentation"><tbody>
          <tr><th><label for="cf-name">Name</label></th><td><input id="cf-name" name="name" required maxlength="200" value="${job ? job.name : ''}" style="${W}"></td></tr>
          <tr><th><label for="cf-desc">Description</label></th><td><input id="cf-desc" name="description" maxlength="2000" value="${(job && job.description) || ''}" placeholder="optional" style="${W}"></td></tr>
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
            <option value="none" ${!job || !job.delivery || job.delivery.mode === 'none' ? 'selected' : ''}>no</option>
            <option value="announce" ${job && job.delivery && job.delivery.mode === 'announce' ? 'selected' : ''}>announce to the last channel</option></select></td></tr>
          <tr><th><label for="cf-enabled">Enabled</label></th><td><input id="cf-enabled" type="checkbox" name="enabled" ${!job || job.enabled ? 'checked' : ''}></td></tr>
        </tbody></table>
        <p class="errmsg" id="cf-error" role="alert" hidden></p>
        <p><button type="submit">${job ? 'Save changes' : 'Create job'}</button> <button type="button" class="link" id="cf-cancel">Cancel</button></p>
      </form>`);
    const form = $('#c-form', panel);
    const sync = () => {
      for (const el of $$('[data-kind]', form)) el.hidden = el.dataset.kind !== form.kind.value;
      const turn = form.sessionTarget.value !== 'main';
      for (const el of $$('[data-turn]', form)) el.hidden = !turn;
      $('label[for=cf-msg]', form).textContent = turn ? 'Message' : 'System event text';
    };
    form.kind.onchange = sync;
    form.sessionTarget.onchange = sync;
    sync();
    $('#cf-cancel', form).onclick = () => setQuery({ edit: '' });
    form.onsubmit = async (e) => {
      e.preventDefault();
      const err = $('#cf-error', form);
      let body;
      try { body = readForm(form, job); } catch (x) { err.textContent = x.message; err.hidden = false; return; }
      err.hidden = true;
      const btn = $('button[type=submit]', form);
      btn.disabled = true;
      try {
        if (job) await send('PUT', `/api/crons/${encodeURIComponent(job.id)}`, body);
        else await send('POST', '/api/crons', body);
        note(job ? `"${body.name || job.name}" saved.` : `"${body.name}" created.`, 'info');
        formFor = null;
        setQuery({ edit: '' });
        load();
      } catch (x) {
        err.textContent = x.message;
        err.hidden = false;
      } finally {
        btn.disabled = false;
      }
    };
    for (const th of $$('th', form)) th.style.cssText = 'text-align:left;font-weight:normal;padding:4px 12px 4px 0;vertical-align:top;white-space:nowrap';
    form.name.focus();
  }

  /** The form as an API body; throws with a message people understand. */
  function readForm(f, job) {
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
      if (expr.length < 5 || expr.length > 6) throw new Error('A cron expression has 5 fields: minute hour day month weekday.');
      schedule = { kind, expr: expr.join(' ') };
      if (f.tz.value.trim()) schedule.tz = f.tz.value.trim();
    } else {
      const d = new Date(f.at.value);
      if (!f.at.value || isNaN(d)) throw new Error('Pick the date and time to run at.');
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
    if (desc || (job && job.description)) body.description = desc;
    if (f.agentId.value) body.agentId = f.agentId.value;
    if (target !== 'main') body.delivery = { mode: f.delivery.value };
    return body;
  }

  load();
  return {
    update(r) { q = r.query; if (!q.edit) formFor = null; if (data) { render(); renderForm(); renderHistory(null).catch(() => {}); } else load(); },
    refresh: () => load(),
    unmount() { if (ctrl) ctrl.abort(); clearTimeout(noteTimer); },
  };
}

// Crons: OpenClaw's scheduled jobs: schedule, next and last run, errors and run history, with
// run-now, enable/disable, create, edit and delete through the gateway. When the gateway is not
// connected the list comes from OpenClaw's own store and is read-only. #/crons?job=<id> opens a
// job's history; #/crons?edit=<id> or ?edit=new opens the form.
import { openForm } from './crons/edit.js';
import { renderHistory } from './crons/history.js';
import { render } from './crons/table.js';
import { loader } from './loader.js';
import { $, api, html, send, setHTML, setQuery } from './util.js';

const SHELL = () => html`<h1>Crons <span class="muted" id="c-total"></span></h1>
  <div id="c-note"></div>
  <div class="toolbar"><button type="button" id="c-new">New job</button>
    <span class="muted small" id="c-sched"></span></div>
  <section class="panel" id="c-form-panel" hidden></section>
  <div class="scroll"><table class="grid" id="c-table"><thead><tr>
    <th>Status</th><th>Job</th><th class="opt">Agent</th><th>Schedule</th><th>Next run</th><th>Last run</th>
    <th class="n opt">Errors</th><th>Actions</th></tr></thead><tbody></tbody></table></div>
  <div id="c-empty"></div>
  <section class="panel" id="c-history" hidden></section>`;

/** Run now, enable / disable or delete `job`; resolves with what to tell the user. */
async function act(job, action) {
  const id = encodeURIComponent(job.id);
  if (action === 'run') {
    const r = await send('POST', `/api/crons/${id}/run`);
    return `Run of "${job.name}" queued${r?.runId ? ` (${r.runId})` : ''}; its result appears in the history.`;
  }
  if (action === 'toggle') {
    await send('POST', `/api/crons/${id}/toggle`, { enabled: !job.enabled });
    return `"${job.name}" ${job.enabled ? 'disabled' : 'enabled'}.`;
  }
  await send('DELETE', `/api/crons/${id}`);
  return `"${job.name}" deleted.`;
}

export function mount(root, route, app) {
  let q = route.query;
  let data = null;
  let busy = false;
  let formFor = null; // the job whose form is open, kept across live refreshes
  let noteTimer = 0;

  setHTML(root, SHELL());
  $('#c-new', root).onclick = () => setQuery({ edit: 'new', job: '' });

  function note(text, kind) {
    const el = $('#c-note', root);
    clearTimeout(noteTimer);
    setHTML(el, html`<div class="banner ${kind}" role="status">${text}</div>`);
    if (kind === 'info') {
      noteTimer = setTimeout(() => {
        el.textContent = '';
      }, 8000);
    }
  }

  $('#c-table tbody', root).addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b || busy) return;
    const id = b.closest('tr').dataset.id;
    const job = data?.jobs.find((j) => j.id === id);
    if (!job) return;
    const action = b.dataset.act;
    if (action === 'history') return setQuery({ job: q.job === id ? '' : id, edit: '' });
    if (action === 'edit') return setQuery({ edit: id, job: '' });
    if (action === 'delete' && !confirm(`Delete the cron job "${job.name}"? This cannot be undone.`)) return;
    busy = true;
    b.disabled = true;
    try {
      note(await act(job, action), 'info');
      if (action === 'delete' && q.job === id) setQuery({ job: '' });
    } catch (err) {
      note(err.message, 'warn');
    } finally {
      busy = false;
      load();
    }
  });

  function renderForm() {
    const panel = $('#c-form-panel', root);
    const id = q.edit;
    const hide = () => {
      panel.hidden = true;
      formFor = null;
    };
    if (!id || data.readOnly) return hide();
    if (formFor === id) return; // keep what the user typed across live refreshes
    const job = id === 'new' ? null : data.jobs.find((j) => j.id === id);
    if (id !== 'new' && !job) return hide();
    formFor = id;
    const agents = (app.health?.openclaw?.agents || []).map((a) => a.id);
    openForm(panel, job, agents, (message) => {
      note(message, 'info');
      formFor = null;
      setQuery({ edit: '' });
      load();
    });
  }

  const load = loader(app, {
    view: 'crons',
    fetch: (signal) => api('/api/crons', { signal }),
    async render(d, signal) {
      data = d;
      render(root, data, q);
      await renderHistory(root, data, q, signal);
      renderForm();
    },
    errorIn: () => $('#c-empty', root),
  });

  load();
  return {
    update(r) {
      q = r.query;
      if (!q.edit) formFor = null;
      if (data) {
        render(root, data, q);
        renderForm();
        renderHistory(root, data, q, null).catch(() => {});
      } else load();
    },
    refresh: () => load(),
    unmount() {
      load.abort();
      clearTimeout(noteTimer);
    },
  };
}

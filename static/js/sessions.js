// Sessions: a searchable, sortable, paginated table. Every control lives in the URL
// (#/sessions?q=..&agent=..&status=..&kind=..&sort=..&order=..&page=..), so views can be linked.
import {
  api, html, setHTML, $, fmtTokens, fmtCost, fmtInt, fmtDuration, ago, badge, kindTag, stateTag, sessionName, modelName,
  sessionHref, setQuery, qs, debounce, renderChunks, empty,
} from './util.js';

const COLS = [
  // [sort key or null, header, class]
  ['status', 'Status', ''],
  ['agent', 'Agent', 'opt'],
  ['label', 'Session', ''],
  [null, 'Channel', 'opt'],
  ['model', 'Model', 'opt'],
  ['tokens', 'Tokens', 'n opt'],
  ['cost', 'Cost', 'n'],
  ['duration', 'Duration', 'n opt'],
  ['last', 'Last activity', 'opt'],
];
const TEXT_SORTS = new Set(['status', 'agent', 'label', 'model']);
const KINDS = [['', 'All kinds'], ['top', 'Main & chats'], ['subagent', 'Sub-agents'], ['main', 'Main only'], ['cron', 'Cron'], ['chat', 'Chats']];
const STATUSES = [['', 'Any status'], ['running', 'Running'], ['done', 'Done'], ['failed', 'Failed']];
// What became of a session in OpenClaw (the API's `state`); deleted and purged sessions still count.
const STATES = [['', 'Any state'], ['live', 'Live'], ['archived', 'Archived'], ['deleted', 'Deleted'], ['purged', 'Purged'], ['reset', 'Reset']];
const SIZES = [25, 50, 100, 200];

export function mount(root, route, app) {
  let q = route.query;
  let ctrl = null;

  setHTML(root, html`<h1>Sessions <span class="muted" id="s-total"></span></h1>
    <form class="filters" id="s-filters" role="search" autocomplete="off">
      <input type="search" name="q" placeholder="Search label, key, id, channel or model   ( / )" aria-label="Search sessions">
      <select name="profile" aria-label="OpenClaw profile" hidden><option value="">All profiles</option></select>
      <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
      <select name="status" aria-label="Status">${STATUSES.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select>
      <select name="kind" aria-label="Kind">${KINDS.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select>
      <select name="state" aria-label="State">${STATES.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select>
      <button type="button" class="link" id="s-clear" hidden>Clear filters</button>
    </form>
    <div class="scroll"><table class="grid sessions" id="s-table"><thead><tr>${COLS.map(([key, label, cls]) => html`<th class="${cls}"
      >${key ? html`<button type="button" class="sort" data-sort="${key}">${label}<span class="arrow"></span></button>` : label}</th>`)}</tr></thead>
      <tbody></tbody></table></div>
    <div id="s-empty"></div>
    <nav class="pager" id="s-pager" aria-label="Pages"></nav>`);

  const form = $('#s-filters', root);
  const tbody = $('#s-table tbody', root);

  app.getHealth().then((h) => {
    const sel = form.agent;
    for (const a of (h.openclaw && h.openclaw.agents) || []) sel.add(new Option(a.id, a.id));
    sel.value = q.agent || '';
    // Several OpenClaw profiles (~/.openclaw-<name>): one more filter.
    const others = (h.openclaw && h.openclaw.otherProfiles) || [];
    if (others.length) {
      for (const p of [h.openclaw.profile, ...others.map((o) => o.name)]) form.profile.add(new Option(p, p));
      form.profile.hidden = false;
      form.profile.value = q.profile || '';
    }
  }).catch(() => {});

  const syncForm = () => {
    if (document.activeElement !== form.q) form.q.value = q.q || '';
    form.agent.value = q.agent || '';
    form.profile.value = q.profile || '';
    form.status.value = q.status || '';
    form.kind.value = q.kind || '';
    form.state.value = q.state || '';
    $('#s-clear', root).hidden = !(q.q || q.agent || q.profile || q.status || q.kind || q.state);
  };

  const typed = debounce(() => setQuery({ q: form.q.value.trim(), page: '' }, { replace: true }), 250);
  form.q.addEventListener('input', typed);
  form.addEventListener('submit', (e) => { e.preventDefault(); typed.cancel(); setQuery({ q: form.q.value.trim(), page: '' }); });
  for (const name of ['profile', 'agent', 'status', 'kind', 'state']) {
    form[name].addEventListener('change', () => setQuery({ [name]: form[name].value, page: '' }));
  }
  $('#s-clear', root).onclick = () => setQuery({ q: '', profile: '', agent: '', status: '', kind: '', state: '', page: '' });
  $('#s-table thead', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-sort]');
    if (!b) return;
    const key = b.dataset.sort;
    const cur = q.sort || 'last';
    const order = cur === key ? ((q.order || 'desc') === 'desc' ? 'asc' : 'desc') : (TEXT_SORTS.has(key) ? 'asc' : 'desc');
    setQuery({ sort: key, order, page: '' });
  });
  // A click anywhere on a row opens the session (links and selections keep working).
  tbody.addEventListener('click', (e) => {
    if (e.target.closest('a') || String(getSelection())) return;
    const tr = e.target.closest('tr[data-id]');
    if (tr) location.hash = sessionHref(tr.dataset.id);
  });
  const onKey = (e) => {
    if (e.key === '/' && document.activeElement.tagName !== 'INPUT') { e.preventDefault(); form.q.focus(); }
  };
  document.addEventListener('keydown', onKey);

  async function load(changed) {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    syncForm();
    const size = SIZES.includes(Number(q.size)) ? Number(q.size) : 50;
    const page = Math.max(1, parseInt(q.page, 10) || 1);
    const sort = q.sort || 'last';
    const order = q.order || (TEXT_SORTS.has(sort) ? 'asc' : 'desc');
    for (const b of root.querySelectorAll('button[data-sort]')) {
      const on = b.dataset.sort === sort;
      b.parentElement.setAttribute('aria-sort', on ? (order === 'asc' ? 'ascending' : 'descending') : 'none');
      b.querySelector('.arrow').textContent = on ? (order === 'asc' ? ' ▲' : ' ▼') : '';
    }
    try {
      const d = await api('/api/sessions' + qs({
        q: q.q, profile: q.profile, agent: q.agent, status: q.status, kind: q.kind, state: q.state, sort, order, limit: size, offset: (page - 1) * size,
      }), { signal });
      if (signal.aborted) return;
      $('#s-total', root).textContent = `(${fmtInt(d.total)})`;
      tbody.textContent = '';
      const emptyBox = $('#s-empty', root);
      if (!d.sessions.length) {
        const filtered = q.q || q.profile || q.agent || q.status || q.kind || q.state;
        setHTML(emptyBox, filtered
          ? empty('No session matches', 'Nothing matches these filters.', html`<p><a href="#/sessions">Clear the filters</a></p>`)
          : page > 1 ? empty('Past the last page', `There are ${d.total} sessions.`, html`<p><a href="#/sessions">First page</a></p>`)
            : empty('No sessions yet', 'When your OpenClaw agents talk, their sessions appear here live.'));
      } else emptyBox.textContent = '';
      const flash = changed ? changed.ids : new Set();
      await renderChunks(tbody, d.sessions, (s) => row(s, flash.has(s.id)), { signal });
      pager(d.total, page, size);
      app.rendered('sessions');
    } catch (e) {
      if (e.name !== 'AbortError') app.failed($('#s-empty', root), e, () => load());
    }
  }

  function row(s, flash) {
    return html`<tr data-id="${s.id}" class="${flash ? 'flash' : ''}">
      <td>${badge(s.status, s.statusDetail)}</td>
      <td class="opt">${s.agent}</td>
      <td class="name"><a href="${sessionHref(s.id)}" title="${s.key || s.id}">${sessionName(s)}</a> ${kindTag(s.kind)} ${stateTag(s)}
        ${s.errors ? html`<span class="count err" title="${s.errors} errors">${s.errors}</span>` : ''}
        ${s.task ? html`<div class="muted small clamp opt" title="${s.task}">${s.task}</div>` : ''}
        <div class="muted small phone">${ago(s.lastMs)} · ${fmtTokens(s.tokens.total)} tokens</div></td>
      <td class="opt">${s.channel || html`<span class="muted">–</span>`}</td>
      <td class="opt nowrap">${modelName(s.model)}</td>
      <td class="n opt" title="${fmtInt(s.tokens.total)} tokens">${fmtTokens(s.tokens.total)}</td>
      <td class="n">${fmtCost(s.cost)}</td>
      <td class="n opt">${fmtDuration(s.durationMs)}</td>
      <td class="opt">${ago(s.lastMs)}</td></tr>`;
  }

  function pager(total, page, size) {
    const el = $('#s-pager', root);
    const pages = Math.max(1, Math.ceil(total / size));
    const from = total ? (page - 1) * size + 1 : 0;
    const to = Math.min(total, page * size);
    setHTML(el, html`<span class="muted">${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(total)}</span>
      <button type="button" data-page="${page - 1}" ${page <= 1 ? html`disabled` : ''}>‹ Previous</button>
      <span>Page ${page} of ${pages}</span>
      <button type="button" data-page="${page + 1}" ${page >= pages ? html`disabled` : ''}>Next ›</button>
      <label class="muted">Rows <select id="s-size">${SIZES.map((n) => html`<option ${n === size ? html`selected` : ''}>${n}</option>`)}</select></label>`);
    el.onclick = (e) => {
      const b = e.target.closest('button[data-page]');
      if (b && !b.disabled) setQuery({ page: b.dataset.page === '1' ? '' : b.dataset.page });
    };
    $('#s-size', el).onchange = (e) => setQuery({ size: e.target.value === '50' ? '' : e.target.value, page: '' });
  }

  load();
  return {
    update(r) { q = r.query; load(); },
    // Any change can move rows (sort by last activity, new sessions): re-read this page.
    refresh(changes) { load(changes.all ? null : changes); },
    unmount() { if (ctrl) ctrl.abort(); document.removeEventListener('keydown', onKey); typed.cancel(); },
  };
}

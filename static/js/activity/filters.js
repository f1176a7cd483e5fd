// The activity page's frame and filters: the form, the kind buttons, and which rows pass the
// filters of the URL (#/activity?agent=..&profile=..&sessionKind=..&kind=..).
import { $, $$, html, setQuery } from '../util.js';
import { KINDS } from './row.js';

export function shell() {
  return html`<h1>Activity <span class="muted" id="a-count"></span></h1>
    <form class="toolbar" id="a-filters" role="search" aria-label="Filter activity">
      <select name="agent" aria-label="Agent"><option value="">All agents</option></select>
      <select name="profile" aria-label="Profile" hidden><option value="">All profiles</option></select>
      <select name="sessionKind" aria-label="Session kind"><option value="">All sessions</option>
        <option value="main">main</option><option value="chat">chat</option><option value="cron">cron</option>
        <option value="subagent">sub-agent</option></select>
      <div class="seg" role="group" aria-label="Event kinds">${KINDS.map(
        ([k, label]) => html`<button type="button" data-kind="${k}" aria-pressed="true" class="on">${label}</button>`,
      )}</div>
      <button type="button" id="a-pause" aria-pressed="false">Pause</button>
      <span class="muted" id="a-held" aria-live="polite"></span>
    </form>
    <div id="a-density" class="density" aria-label="Events per minute, last hour"></div>
    <ol class="activity" id="a-list" aria-live="off"></ol><div id="a-empty"></div>`;
}

/** The kinds the URL turned off (`kind` lists the ones shown; absent = all). */
export const shownKinds = (q) => new Set(q.kind ? q.kind.split(',') : KINDS.map(([k]) => k));

/** Whether a row passes the filters of query `q`. */
export function passes(r, q) {
  return (
    (!q.agent || r.agent === q.agent) &&
    (!q.profile || r.profile === q.profile) &&
    (!q.sessionKind || r.sessionKind === q.sessionKind) &&
    shownKinds(q).has(r.kind)
  );
}

export function syncForm(root, form, q) {
  form.agent.value = q.agent || '';
  form.profile.value = q.profile || '';
  form.sessionKind.value = q.sessionKind || '';
  const on = shownKinds(q);
  for (const b of $$('button[data-kind]', root)) {
    b.classList.toggle('on', on.has(b.dataset.kind));
    b.setAttribute('aria-pressed', on.has(b.dataset.kind));
  }
}

export function wire(root, form, q, state) {
  form.addEventListener('change', () =>
    setQuery({ agent: form.agent.value, profile: form.profile.value, sessionKind: form.sessionKind.value }),
  );
  $('.seg', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-kind]');
    if (!b) return;
    const on = shownKinds(q());
    if (on.has(b.dataset.kind)) on.delete(b.dataset.kind);
    else on.add(b.dataset.kind);
    setQuery({ kind: on.size === KINDS.length ? '' : [...on].join(',') || 'none' });
  });
  $('#a-pause', root).addEventListener('click', () => state.togglePause());
}

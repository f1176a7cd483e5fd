// clawmetry web UI: the hash router, the live event stream and the view lifecycle. Each view is
// an ES module (static/js/*.js) loaded on first use and exporting mount(root, route, app) ->
// { update?(route), refresh(changes), unmount() }.
import { api, parseHash, setHTML, html, $, $$, tickTimes, errorBox, debounce, zoneLabel } from './js/util.js';
import { showLogin } from './js/login.js';

const VIEWS = {
  overview: { title: 'Overview', load: () => import('./js/overview.js') },
  activity: { title: 'Activity', load: () => import('./js/activity.js') },
  sessions: { title: 'Sessions', load: () => import('./js/sessions.js') },
  session: { title: 'Session', nav: 'sessions', load: () => import('./js/session.js') },
  subagents: { title: 'Sub-agents', load: () => import('./js/subagents.js') },
  usage: { title: 'Usage & cost', load: () => import('./js/usage.js') },
  flow: { title: 'Flow', load: () => import('./js/flow.js') },
  crons: { title: 'Crons', load: () => import('./js/crons.js') },
  logs: { title: 'Logs', load: () => import('./js/logs.js') },
  memory: { title: 'Memory', load: () => import('./js/memory.js') },
  search: { title: 'Search', load: () => import('./js/search.js') },
  health: { title: 'Health', load: () => import('./js/health.js') },
  alerts: { title: 'Budgets & alerts', load: () => import('./js/alerts.js') },
  otlp: { title: 'OTLP', load: () => import('./js/otlp.js') },
  fleet: { title: 'Fleet', load: () => import('./js/fleet.js') },
};

// State visible to the browser tests (and handy in the console).
const probe = { view: '', renders: 0, errors: [], live: 'connecting', refreshes: 0 };
window.__cm = probe;
const main = $('#main');

function record(kind, msg) {
  probe.errors.push(`${kind}: ${msg}`);
  toast(`Something went wrong: ${msg}`);
}
window.addEventListener('error', (e) => record('error', e.message || String(e.error)));
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason && e.reason.name === 'AbortError') return;
  record('rejection', e.reason?.message || String(e.reason));
});

let toastTimer = 0;
function toast(text) {
  let t = $('#toast');
  if (!t) {
    t = document.createElement('div');
    t.id = 'toast';
    t.setAttribute('role', 'alert');
    document.body.append(t);
  }
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.hidden = true;
  }, 6000);
}

// An API call answered 401: the dashboard needs its token (SECURITY.md). The login form reloads
// the page once the session cookie is set.
window.addEventListener('cm:unauthorized', (e) => {
  probe.login = true;
  showLogin(e.detail);
});

// ---- installation status (banner, footer) -----------------------------------------------------

const app = {
  health: null,
  /** Fetches /api/health (cached unless `fresh`). */
  async getHealth(fresh = false) {
    if (!this.health || fresh) {
      this.health = await api('/api/health');
      showInstall(this.health);
    }
    return this.health;
  },
  /** A view calls this after each render: the tests wait on it. */
  rendered(name) {
    probe.renders++;
    probe.view = name;
    document.documentElement.dataset.view = name;
    document.documentElement.dataset.state = 'ready';
    tickTimes(main);
  },
  /** Standard error state with a retry button. */
  failed(root, e, retry) {
    if (e && e.name === 'AbortError') return;
    // Only a login missing: the login form is the whole story (no error card behind it); it
    // reloads the page once logged in, and the view asked for loads then.
    if (e && e.status === 401) {
      setHTML(root, html`<p class="muted login-wait">Log in to see this page.</p>`);
      document.documentElement.dataset.state = 'login';
      probe.renders++;
      return;
    }
    setHTML(root, errorBox(e));
    const b = $('[data-action=retry]', root);
    if (b) b.onclick = retry;
    document.documentElement.dataset.state = 'error';
    probe.renders++;
  },
};

function showInstall(h) {
  const b = $('#banner');
  const oc = h.openclaw || {};
  if (!oc.found) {
    b.hidden = false;
    b.className = 'banner warn';
    setHTML(
      b,
      html`<strong>No OpenClaw installation found</strong> at <code>${oc.stateDir || '?'}</code>.
      Start clawmetry with <code>--openclaw-dir DIR</code> (or set <code>OPENCLAW_STATE_DIR</code>); this page picks it up once it appears.`,
    );
  } else if (h.index && !h.index.ready) {
    b.hidden = false;
    b.className = 'banner info';
    setHTML(
      b,
      html`Indexing <code>${oc.stateDir}</code>… ${h.index.files || 0} files and ${h.index.databases || 0} databases read so far.`,
    );
  } else {
    b.hidden = true;
  }
  setHTML(
    $('#foot-install'),
    oc.found ? html`OpenClaw: <code>${oc.stateDir}</code> (${oc.chosenBy || 'detected'})` : html`OpenClaw: not found`,
  );
  // The zone of days and times (util.js shows every time in it, UTC on hover).
  const tz = h.tz || {};
  setHTML(
    $('#foot-tz'),
    html`<span title="${tz.problem || `from ${tz.source || 'the server'}; hover a time for UTC`}">Times in ${zoneLabel()}</span>`,
  );
  setHTML($('#foot-version'), html`clawmetry ${h.version}`);
}

// ---- routing ----------------------------------------------------------------------------------

function resolve({ parts }) {
  const [a, b] = parts;
  if (!a || a === 'overview') return { name: 'overview', key: 'overview' };
  if (a === 'sessions' && b) return { name: 'session', key: `session:${b}` };
  if (VIEWS[a] && a !== 'session') return { name: a, key: a };
  return { name: null, key: 'missing' };
}

let current = null;
let navSeq = 0;

async function navigate() {
  const route = parseHash();
  const { name, key } = resolve(route);
  if (current && current.key === key && current.instance?.update) {
    current.instance.update(route);
    return;
  }
  const seq = ++navSeq;
  if (current?.instance) current.instance.unmount();
  current = null;
  const def = VIEWS[name];
  for (const a of $$('#nav a')) {
    const on = def && a.dataset.view === (def.nav || name);
    a.classList.toggle('on', !!on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.documentElement.dataset.state = 'loading';
  if (!def) {
    document.title = 'Not found · clawmetry';
    setHTML(
      main,
      html`<div class="empty"><h3>No such page</h3><p><code>${location.hash}</code> is not a view of this dashboard.</p>
      <p><a href="#/">Go to the overview</a></p></div>`,
    );
    app.rendered('missing');
    return;
  }
  document.title = `${def.title} · clawmetry`;
  main.innerHTML = '<p class="loading">Loading…</p>';
  let mod;
  try {
    mod = await def.load();
  } catch (e) {
    app.failed(main, e, navigate);
    return;
  }
  if (seq !== navSeq) return;
  main.scrollTop = 0;
  window.scrollTo(0, 0);
  current = { key, name, instance: mod.mount(main, route, app) };
}

window.addEventListener('hashchange', navigate);

// The app's shell for the home screen (static/sw.js). Browsers allow a service worker only in a
// secure context: https (`--tls-cert`), or this machine itself.
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => {});
}

// `/` from anywhere: the search box of the page when it has one marked `data-slash`, else the
// search page.
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = document.activeElement;
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  e.preventDefault();
  const box = $('input[data-slash]');
  if (box) box.focus();
  else location.hash = '#/search';
});

// ---- live updates -----------------------------------------------------------------------------

/** Changes collected since the last refresh: session ids, or everything. */
let pending = { ids: new Set(), all: false };
let firstPending = 0;

function flush() {
  if (document.hidden) return; // applied when the tab is visible again
  const changes = pending;
  pending = { ids: new Set(), all: false };
  firstPending = 0;
  if (!changes.all && !changes.ids.size) return;
  probe.refreshes++;
  if (current?.instance) current.instance.refresh(changes);
}
const flushSoon = debounce(flush, 250);

function queue(ids, all = false) {
  for (const id of ids || []) pending.ids.add(id);
  pending.all = pending.all || all;
  // Trailing debounce, but never more than 1.5 s behind a continuous stream of changes.
  if (!firstPending) firstPending = Date.now();
  if (Date.now() - firstPending > 1500) {
    flushSoon.cancel();
    flush();
  } else flushSoon();
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) flush();
});

let es = null;
let connectedOnce = false;
let retryMs = 2000;
let retryTimer = 0;

function setLive(state, title) {
  probe.live = state;
  const el = $('#live');
  el.className = `live ${state}`;
  el.textContent = { live: 'live', connecting: 'connecting…', reconnecting: 'reconnecting…', offline: 'offline' }[
    state
  ];
  el.title = title || '';
}

/** The number of alerts not marked read, on the Alerts tab (nothing without the token for it). */
async function unread() {
  try {
    const r = await fetch('/api/alerts?limit=1', { headers: { Accept: 'application/json' } });
    if (!r.ok) return;
    const n = (await r.json()).unread || 0;
    const b = $('#nav-unread');
    b.textContent = n > 99 ? '99+' : String(n);
    b.hidden = n === 0;
  } catch {
    /* the next alert tries again */
  }
}

function connect() {
  clearTimeout(retryTimer);
  if (es) es.close();
  es = new EventSource('/api/events');
  es.addEventListener('hello', () => {
    retryMs = 2000;
    setLive('live', 'Updates arrive as OpenClaw writes them');
    // After a drop, changes may have been missed: re-read everything once.
    if (connectedOnce) resync();
    connectedOnce = true;
  });
  es.addEventListener('sessions', (e) => {
    let d = {};
    try {
      d = JSON.parse(e.data);
    } catch {
      /* keep going */
    }
    queue(d.ids || [], !d.ids);
  });
  es.addEventListener('index', () => {
    app.getHealth(true).catch(() => {});
    queue([], true);
  });
  // Activity rows go to whichever view listens (js/activity.js); they are not index changes.
  es.addEventListener('activity', (e) => {
    try {
      window.dispatchEvent(new CustomEvent('cm:activity', { detail: JSON.parse(e.data) }));
    } catch {
      /* a row the page cannot read is skipped */
    }
  });
  es.addEventListener('resync', () => resync());
  es.addEventListener('alert', () => unread());
  es.addEventListener('alerts-read', () => unread());
  es.addEventListener('cron', () => queue([], true)); // the gateway's cron events (static/js/crons.js)
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream (e.g. too many open): retry with backoff.
      setLive('offline', `Retrying in ${Math.round(retryMs / 1000)} s`);
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    } else {
      setLive('reconnecting', 'The connection to clawmetry dropped; the browser is reconnecting');
    }
  };
}

function resync() {
  app.getHealth(true).catch(() => {});
  queue([], true);
}

// Relative times ("3 min ago") age without any request.
setInterval(() => tickTimes(document), 30_000);

// The first view waits for /api/health: its `nowMs` sets the clock (util.js `clock`), so "today",
// "this month" and "3 min ago" are the server's, not the browser's (a Pi without a real-time
// clock, a phone whose clock is off, a test server on a fixed clock).
app
  .getHealth()
  .catch((e) => toast(e.message))
  .finally(() => {
    navigate();
    connect();
    unread();
  });

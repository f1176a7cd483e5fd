// Shared helpers: safe HTML templates, numbers and times formatted for people, the API client
// (reads and writes), the hash router's URL helpers, incremental list rendering and the charts'
// common set-up (uPlot, loaded on first use).

// ---- HTML ------------------------------------------------------------------------------------

class Raw {
  constructor(s) {
    this.s = s;
  }
  toString() {
    return this.s;
  }
}

/** Marks a string as already-safe HTML. */
export const raw = (s) => new Raw(String(s));

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

function piece(v) {
  if (v == null || v === false || v === true) return '';
  if (v instanceof Raw) return v.s;
  if (Array.isArray(v)) return v.map(piece).join('');
  return esc(v);
}

/** Tagged template: every interpolated value is escaped unless it is `raw()` or another `html`. */
export function html(strings, ...vals) {
  let out = strings[0];
  for (let i = 0; i < vals.length; i++) out += piece(vals[i]) + strings[i + 1];
  return new Raw(out);
}

export function setHTML(el, h) {
  el.innerHTML = piece(h);
  return el;
}
export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// ---- numbers ---------------------------------------------------------------------------------

const trim0 = (s) => s.replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1');

/** 532, 1.2k, 602.4k, 1.25M */
export function fmtTokens(n) {
  n = Number(n) || 0;
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  if (a < 999_950) return `${trim0((n / 1e3).toFixed(1))}k`;
  if (a < 9_995_000) return `${trim0((n / 1e6).toFixed(2))}M`;
  if (a < 999_950_000) return `${trim0((n / 1e6).toFixed(1))}M`;
  return `${trim0((n / 1e9).toFixed(2))}B`;
}

/** $0.00, $0.0043, $0.5966, $12.34, $1,234 */
export function fmtCost(c) {
  c = Number(c) || 0;
  const a = Math.abs(c);
  if (a === 0) return '$0.00';
  if (a < 0.0001) return '<$0.0001';
  if (a < 1) return `$${c.toFixed(4)}`;
  if (a < 1000) return `$${c.toFixed(2)}`;
  return `$${Math.round(c).toLocaleString('en-US')}`;
}

export const fmtInt = (n) => (Number(n) || 0).toLocaleString('en-US');
export const fmtPct = (x) =>
  `${x >= 0.995 ? '100' : x < 0.001 && x > 0 ? '<0.1' : (x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

/** 403 ms, 2.1 s, 51 s, 3 min 12 s, 2 h 5 min, 3 d 4 h */
export function fmtDuration(ms) {
  if (ms == null || !Number.isFinite(Number(ms))) return '–';
  ms = Math.max(0, ms);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m} min ${Math.round(s % 60)} s`;
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return h % 24 ? `${Math.floor(h / 24)} d ${h % 24} h` : `${Math.floor(h / 24)} d`;
}

/** 1.2 GB, 512 MB */
export function fmtBytes(n) {
  if (n == null) return '–';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = Number(n);
  while (x >= 1000 && i < u.length - 1) {
    x /= 1000;
    i++;
  }
  return `${x >= 100 || i === 0 ? Math.round(x) : x.toFixed(1)} ${u[i]}`;
}

// ---- time ------------------------------------------------------------------------------------

/** The server's clock: "3 min ago" is relative to the server, which may be a fixed test clock. */
export const clock = {
  skew: 0,
  now() {
    return Date.now() + this.skew;
  },
};

export function fmtAgo(ts, now = clock.now()) {
  if (ts == null) return 'never';
  const d = now - ts;
  if (d < 45_000) return 'just now';
  if (d < 90_000) return '1 min ago';
  if (d < 3_600_000) return `${Math.round(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)} h ago`;
  if (d < 2 * 86_400_000) return 'yesterday';
  if (d < 30 * 86_400_000) return `${Math.floor(d / 86_400_000)} days ago`;
  return fmtDate(ts);
}

// ---- the server's time zone ------------------------------------------------------------------
// Days, months and times are shown in the zone the server counts its days in (`tz` of
// /api/health and other answers: --tz, TZ or the machine's), not the browser's: "today" on the
// page is the server's "today". Hovering a time shows it in UTC.

const pad = (n) => String(n).padStart(2, '0');

export const zone = { name: 'UTC', offsetSeconds: 0, abbreviation: 'UTC', intl: null };

/** Takes the zone an API answer names (`{name, offsetSeconds, abbreviation}`). */
export function setZone(tz) {
  if (!tz || typeof tz.name !== 'string') return;
  if (tz.name === zone.name && tz.offsetSeconds === zone.offsetSeconds) return;
  Object.assign(zone, { name: tz.name, offsetSeconds: tz.offsetSeconds || 0, abbreviation: tz.abbreviation || '' });
  zone.intl = null;
  try {
    zone.intl = new Intl.DateTimeFormat('en-US', {
      timeZone: tz.name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    // A zone the browser does not know (a POSIX rule, "localtime"): its current fixed offset.
  }
}

/** The wall-clock fields of `ts` in the server's zone. */
function wall(ts) {
  if (!zone.intl) {
    const d = new Date(ts + zone.offsetSeconds * 1000);
    const f = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours()];
    return { y: f[0], mo: f[1], d: f[2], h: f[3], mi: d.getUTCMinutes(), s: d.getUTCSeconds() };
  }
  const p = {};
  for (const { type, value } of zone.intl.formatToParts(ts)) p[type] = Number(value);
  return { y: p.year, mo: p.month, d: p.day, h: p.hour, mi: p.minute, s: p.second };
}

/** The zone's offset from UTC at `ts`, in ms. */
function offsetAt(ts) {
  const w = wall(ts);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(ts / 1000) * 1000;
}

/** The instant of a wall-clock time (ms as if UTC) in the zone; a time in a DST gap moves on. */
function instant(wallMs) {
  let t = wallMs - offsetAt(wallMs);
  t = wallMs - offsetAt(t);
  return t;
}

/** Start of the server-zone day `n` days after the one holding `ts` (a DST day: 23 or 25 h). */
export function dayStart(ts, n = 0) {
  const w = wall(ts);
  return instant(Date.UTC(w.y, w.mo - 1, w.d + n));
}

/** Start of the server-zone month holding `ts`. */
export function monthStart(ts) {
  const w = wall(ts);
  return instant(Date.UTC(w.y, w.mo - 1, 1));
}

/** `YYYY-MM-DD` (a date input's value) as the start of that day in the server's zone. */
export function parseDay(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
  return m ? instant(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : Number.NaN;
}

/** "Europe/Berlin (UTC+1)" at `ts`. */
export function zoneLabel(ts = clock.now()) {
  const off = Math.round(offsetAt(ts) / 60_000);
  const a = Math.abs(off);
  const hm = `${Math.floor(a / 60)}${a % 60 ? `:${pad(a % 60)}` : ''}`;
  return off === 0 ? `${zone.name} (UTC)` : `${zone.name} (UTC${off < 0 ? '−' : '+'}${hm})`;
}

export function fmtDate(ts) {
  const w = wall(ts);
  return `${w.y}-${pad(w.mo)}-${pad(w.d)}`;
}
export function fmtTime(ts) {
  if (ts == null) return '–';
  const w = wall(ts);
  return `${w.y}-${pad(w.mo)}-${pad(w.d)} ${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
}
export const fmtClock = (ts) => {
  const w = wall(ts);
  return `${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
};
/** `2026-12-06 20:00:00 UTC`: the hover text of a time shown in the server's zone. */
export const fmtUtc = (ts) => (ts == null ? '' : `${new Date(ts).toISOString().slice(0, 19).replace('T', ' ')} UTC`);

/** A <time> that keeps saying "3 min ago" correctly (see tickTimes); its local time and UTC on
 * hover. */
export const ago = (ts) =>
  ts == null
    ? html`<span class="muted">–</span>`
    : html`<time datetime="${new Date(ts).toISOString()}" title="${fmtTime(ts)} · ${fmtUtc(ts)}" data-ts="${ts}">${fmtAgo(ts)}</time>`;

/** A time in the server's zone, UTC on hover. */
export const when = (ts) =>
  ts == null ? html`<span class="muted">–</span>` : html`<time title="${fmtUtc(ts)}">${fmtTime(ts)}</time>`;

export function tickTimes(root = document) {
  const now = clock.now();
  for (const t of $$('time[data-ts]', root)) {
    const s = fmtAgo(Number(t.dataset.ts), now);
    if (t.textContent !== s) t.textContent = s;
  }
}

// ---- API -------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
    // Every API call ends here on failure: a 401 means "log in" (app.js shows js/login.js).
    if (status === 401) window.dispatchEvent(new CustomEvent('cm:unauthorized', { detail: message }));
  }
}

/** One request: (response, its JSON body or null). Only an abort is thrown as it is. */
async function fetchJSON(path, init) {
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach the clawmetry server');
  }
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
  }
  return [r, body];
}

/** GET a JSON endpoint; errors carry the API's own message. */
export async function api(path, { signal } = {}) {
  const [r, body] = await fetchJSON(path, { signal, headers: { Accept: 'application/json' } });
  if (!r.ok || body == null) throw new ApiError(r.status, body?.error || `${path}: HTTP ${r.status}`);
  if (typeof body.nowMs === 'number') clock.skew = body.nowMs - Date.now();
  if (body.tz) setZone(body.tz);
  return body;
}

/** POST/PUT/DELETE with a JSON body; errors carry the API's message. */
export async function send(method, path, body) {
  const [r, data] = await fetchJSON(path, {
    method,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new ApiError(r.status, data?.error || `${method} ${path}: HTTP ${r.status}`);
  return data;
}

/** Query string from an object, skipping empty values. */
export function qs(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== '' && v != null && v !== false) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

// ---- router URLs -----------------------------------------------------------------------------

/** The hash as {parts: ['sessions', 'id'], query: {k: v}}. */
export function parseHash(hash = location.hash) {
  const h = hash.replace(/^#\/?/, '');
  const [p, q = ''] = h.split('?');
  const parts = p
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { parts, query: Object.fromEntries(new URLSearchParams(q)) };
}

export const href = (parts, query = {}) => `#/${parts.map(encodeURIComponent).join('/')}${qs(query)}`;
export const sessionHref = (id, query) => href(['sessions', id], query);

/** Changes the query part of the current view's hash; `replace` keeps history short while typing. */
export function setQuery(patch, { replace = false } = {}) {
  const { parts, query } = parseHash();
  const next = { ...query, ...patch };
  for (const k of Object.keys(next)) if (next[k] === '' || next[k] == null) delete next[k];
  const url = href(parts, next);
  if (url === location.hash) return;
  if (replace) {
    history.replaceState(history.state, '', url);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else location.hash = url;
}

// ---- little widgets --------------------------------------------------------------------------

/** Fills a filter form's agent select, and its profile select when there are several OpenClaw
 * profiles (~/.openclaw-<name>), from /api/health `h`; `q` holds the values the URL chose. */
export function fillAgentFilters(form, h, q) {
  for (const a of h.openclaw?.agents || []) form.agent.add(new Option(a.id, a.id));
  form.agent.value = q.agent || '';
  const others = h.openclaw?.otherProfiles || [];
  // A form without a profile select (search, memory) lists every profile's agents only.
  if (others.length && form.profile) {
    for (const p of [h.openclaw.profile, ...others.map((o) => o.name)]) form.profile.add(new Option(p, p));
    form.profile.hidden = false;
    form.profile.value = q.profile || '';
  }
}

export const badge = (status, title) =>
  html`<span class="badge st-${status}" title="${title || status}">${status}</span>`;

const KIND_LABEL = { main: 'main', subagent: 'sub-agent', cron: 'cron', chat: 'chat' };
export const kindTag = (kind) => html`<span class="tag k-${kind}">${KIND_LABEL[kind] || kind}</span>`;

const STATE_TITLE = {
  reset: 'OpenClaw reset this session; its transcript is kept in an archive',
  archived: 'Archived in OpenClaw',
  deleted: 'Deleted in OpenClaw; its transcript is read from the archive OpenClaw keeps',
  purged: 'OpenClaw no longer has this transcript; clawmetry keeps its figures in its ledger',
};
/** A tag for a session that is no longer live in OpenClaw (nothing for a live one). */
export const stateTag = (s) =>
  !s.state || s.state === 'live'
    ? ''
    : html`<span class="tag st-${s.state}" title="${STATE_TITLE[s.state] || ''}">${s.state}</span>`;

/** A session's name for people: label, else the key's tail, else the id's start. */
export function sessionName(s) {
  if (!s) return '';
  if (s.label) return s.label;
  const key = s.key || '';
  if (key) {
    const parts = key.split(':');
    if (parts[2] === 'subagent' || parts[2] === 'cron') return `${parts[2]} ${(parts[3] || '').slice(0, 8)}`;
    return parts.slice(2).join(':') || key;
  }
  return (s.id || '').slice(0, 8);
}

/** A model id for people: without the provider and a region / vendor prefix
 * (`amazon-bedrock/us.anthropic.claude-opus-4-6-v1` -> `claude-opus-4-6-v1`). */
export function shortModel(m) {
  if (!m) return '';
  let s = m.includes('/') ? m.slice(m.lastIndexOf('/') + 1) : m;
  s = s
    .replace(/^(us|eu|apac|global)\./, '')
    .replace(/^(anthropic|amazon|meta|mistral|cohere|ai21|openai|google)\./, '');
  return s || m;
}

/** The short model name; the full one in the title. */
export const modelName = (m) =>
  m ? html`<span title="${m}">${shortModel(m)}</span>` : html`<span class="muted">–</span>`;

/** "1 call", "3 calls" */
export const plural = (n, one, many = `${one}s`) => `${fmtInt(n)} ${Number(n) === 1 ? one : many}`;

export const TOKEN_KINDS = [
  ['input', 'input'],
  ['output', 'output'],
  ['cacheRead', 'cache read'],
  ['cacheWrite', 'cache write'],
];

/** A stacked bar of token kinds with its legend. */
export function tokenBar(u) {
  const total = TOKEN_KINDS.reduce((a, [k]) => a + (u[k] || 0), 0);
  if (!total) return '';
  return html`<div class="tbar" role="img" aria-label="tokens by kind">${TOKEN_KINDS.map(([k, label]) =>
    u[k]
      ? html`<span class="tseg t-${k}" style="width:${((100 * u[k]) / total).toFixed(2)}%" title="${label}: ${fmtInt(u[k])}"></span>`
      : '',
  )}</div>`;
}

export function empty(title, text, extra = '') {
  return html`<div class="empty"><h3>${title}</h3><p>${text}</p>${extra}</div>`;
}

export function errorBox(e) {
  return html`<div class="empty error"><h3>Could not load this view</h3><p>${e?.message ? e.message : String(e)}</p>
    <p><button type="button" data-action="retry">Try again</button></p></div>`;
}

// ---- scheduling ------------------------------------------------------------------------------

export function debounce(fn, ms) {
  let t = 0;
  const d = (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

/**
 * Appends `items` to `container` in chunks: the first `first` at once, the rest one animation
 * frame at a time, so a long list never blocks the page. Resolves when done (or cancelled via
 * `signal`).
 */
export function renderChunks(container, items, render, { first = 60, chunk = 120, signal, where = 'beforeend' } = {}) {
  return new Promise((resolve) => {
    let i = 0;
    const step = (n) => {
      if (signal?.aborted) return resolve(false);
      const end = Math.min(items.length, i + n);
      let out = '';
      for (; i < end; i++) out += piece(render(items[i], i));
      if (out) container.insertAdjacentHTML(where, out);
      if (i < items.length) requestAnimationFrame(() => step(chunk));
      else resolve(true);
    };
    step(first);
  });
}

/** Downloads-free copy of a CSS custom property (for charts). */
export const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// ---- charts (uPlot) --------------------------------------------------------------------------

const UPLOT = '/vendor/uplot-1.6.32/';
let uplotLoading = null;

/** Loads the vendored uPlot once (script + stylesheet); resolves with the uPlot constructor. */
export function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = `${UPLOT}uPlot.min.css`;
      document.head.append(css);
      const s = document.createElement('script');
      s.src = `${UPLOT}uPlot.iife.min.js`;
      s.onload = () => resolve(window.uPlot);
      s.onerror = () => {
        uplotLoading = null;
        reject(new Error('cannot load the chart library'));
      };
      document.head.append(s);
    });
  }
  return uplotLoading;
}

/** The options every chart shares: the box's width, the height, times in the server's zone. */
export const chartBase = (U, el, height) => ({
  width: chartWidth(el),
  height,
  tzDate: (ts) =>
    zone.intl
      ? U.tzDate(new Date(ts * 1e3), zone.name)
      : U.tzDate(new Date(ts * 1e3 + zone.offsetSeconds * 1000), 'Etc/UTC'),
});

/** An axis in the theme's colours (read when the chart is drawn). */
export const chartAxis = () => ({
  stroke: cssVar('--muted'),
  grid: { stroke: cssVar('--line'), width: 1 },
  ticks: { stroke: cssVar('--line'), width: 1 },
  font: '11px system-ui, sans-serif',
});

export const chartWidth = (el) => Math.max(280, el.clientWidth);

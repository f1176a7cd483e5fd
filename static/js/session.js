// Session: one session's header (figures, parent, sub-agents) and its timeline: messages,
// thinking (collapsed), tool calls with their results nested (collapsed, long output clipped),
// tokens and cost per call and per turn, model changes and errors. Follows a live session.
import {
  api, html, setHTML, $, $$, fmtTokens, fmtCost, fmtInt, fmtDuration, fmtTime, fmtClock, fmtDate, ago, badge,
  kindTag, stateTag, sessionName, sessionHref, setQuery, qs, renderChunks, tokenBar, empty, TOKEN_KINDS, plural, shortModel,
} from './util.js';

const PAGE = 200;
const CLIP_CHARS = 2000;
const CLIP_LINES = 40;
const FILTERS = [['all', 'All'], ['messages', 'Messages'], ['tools', 'Tools'], ['thinking', 'Thinking'], ['errors', 'Errors']];

export function mount(root, route, app) {
  const id = route.parts[1];
  let kind = FILTERS.some(([k]) => k === route.query.kind) ? route.query.kind : 'all';
  let summary = null;
  let loaded = 0; // events of the current filter in the DOM
  let total = 0; // events of the current filter on disk
  let gen = 0; // bumps when the timeline is rebuilt, so stale loads are dropped
  let genCtrl = new AbortController(); // aborts the loads and renders of the current build
  let inflight = null; // the page load in flight
  let again = false; // a live change arrived during a load
  let follow = true;
  let st; // per-timeline render state
  let observer = null;

  const resetState = () => {
    st = { calls: new Set(), turn: 0, turns: new Map(), dirtyTurns: new Set(), lastModel: null, lastDate: null, full: new Map(), nfull: 0 };
  };
  resetState();

  setHTML(root, html`<p class="crumbs"><a href="#/sessions">← Sessions</a></p><div id="s-head"><p class="loading">Loading…</p></div>
    <div class="toolbar" id="tl-bar" hidden>
      <div class="seg" role="group" aria-label="Show events">${FILTERS.map(([k, l]) => html`<button type="button" data-kind="${k}">${l}<span class="c"></span></button>`)}</div>
      <label class="follow"><input type="checkbox" id="tl-follow" checked> Follow live</label>
      <button type="button" class="link" id="tl-expand">Expand all</button>
      <button type="button" class="link" id="tl-end">Jump to end</button>
    </div>
    <ol class="timeline" id="tl" aria-live="polite"></ol>
    <div id="tl-more"></div>`);
  const tl = $('#tl', root);
  const more = $('#tl-more', root);

  $('#tl-bar', root).addEventListener('click', (e) => {
    const b = e.target.closest('button[data-kind]');
    if (b) setQuery({ kind: b.dataset.kind === 'all' ? '' : b.dataset.kind });
  });
  $('#tl-follow', root).onchange = (e) => { follow = e.target.checked; };
  $('#tl-expand', root).onclick = (e) => {
    const open = e.target.textContent === 'Expand all';
    for (const d of $$('details', tl)) d.open = open;
    e.target.textContent = open ? 'Collapse all' : 'Expand all';
  };
  $('#tl-end', root).onclick = async () => {
    const myGen = gen;
    while (loaded < total && myGen === gen) {
      if (!(await loadPage(1000))) break;
    }
    window.scrollTo(0, document.body.scrollHeight);
  };
  tl.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-full]');
    if (!b) return;
    const pre = b.previousElementSibling;
    pre.textContent = st.full.get(b.dataset.full) || '';
    b.remove();
  });

  // ---- header -------------------------------------------------------------------------------

  function renderHead(s) {
    const head = $('#s-head', root);
    const live = s.status === 'running';
    document.title = `${sessionName(s)} · clawmetry`;
    const kv = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
    const t = s.tokens;
    setHTML(head, html`<header class="s-head">
      <h1>${sessionName(s)} ${kindTag(s.kind)} ${stateTag(s)} ${badge(s.status, `${s.statusDetail} (${s.statusSource})`)}
        ${live ? html`<span class="livebadge" title="This session is running: new events appear here as they happen">● live</span>` : ''}</h1>
      <p class="muted small mono" title="session key and id">${s.key || ''}${s.key ? ' · ' : ''}${s.id}</p>
      ${s.task ? html`<p class="task"><span class="label">Task</span> ${s.task}</p>` : ''}
      <dl class="kv">
        ${kv('Agent', s.agent)}
        ${kv('Channel', s.channel || '–')}
        ${kv((s.models || []).length > 1 ? 'Models' : 'Model', html`<span title="${(s.models || []).join(', ') || s.model || ''}">${(s.models && s.models.length ? s.models : [s.model]).map((m) => shortModel(m) || '–').join(', ')}</span>`)}
        ${kv('Started', html`<span title="${fmtTime(s.firstMs)}">${s.firstMs ? fmtTime(s.firstMs) : '–'}</span>`)}
        ${kv('Last activity', ago(s.lastMs))}
        ${kv('Duration', fmtDuration(s.durationMs))}
        ${kv('Messages', html`${fmtInt(s.userMessages)} user · ${fmtInt(s.assistantMessages)} assistant`)}
        ${kv('Tool calls', fmtInt(s.toolCalls))}
        ${kv('Errors', s.errors ? html`<a class="err" href="${sessionHref(id, { kind: 'errors' })}">${fmtInt(s.errors)}</a>` : '0')}
        ${kv('Tokens', html`<span title="${fmtInt(t.total)}">${fmtTokens(t.total)}</span>`)}
        ${kv('Cost', html`<b>${fmtCost(s.cost)}</b>${s.estimatedCostCalls ? html` <span class="muted small" title="${s.estimatedCostCalls} calls priced from the price table">(partly estimated)</span>` : ''}`)}
      </dl>
      ${t.total ? html`<div class="split">${tokenBar(t)}<span class="legend">${TOKEN_KINDS.map(([k, l]) => html`<span><i class="dot t-${k}"></i>${l} ${fmtTokens(t[k])}</span>`)}</span></div>` : ''}
      ${s.parentId || s.parentKey ? html`<p class="rel">Spawned by <a href="${sessionHref(s.parentId || s.parentKey)}">${s.parentLabel || (s.parentKey || s.parentId)}</a></p>` : ''}
      ${s.children && s.children.length ? html`<div class="rel"><span>Sub-agents (${s.children.length})</span><ul class="plain children">${s.children.map((c) => html`<li>${badge(c.status)}
        <a href="${sessionHref(c.id)}">${sessionName(c)}</a>${c.label ? html` <span class="muted small mono">${(c.key || '').split(':').pop().slice(0, 8)}</span>` : ''}</li>`)}</ul></div>` : ''}
    </header>`);
    // Filter buttons show counts where the summary has them.
    const counts = { all: s.events, messages: s.messages, tools: s.toolCalls + s.toolResults, errors: s.errors };
    for (const b of $$('#tl-bar button[data-kind]', root)) {
      const c = counts[b.dataset.kind];
      b.querySelector('.c').textContent = c != null ? ` ${fmtInt(c)}` : '';
      b.classList.toggle('on', b.dataset.kind === kind);
      b.setAttribute('aria-pressed', b.dataset.kind === kind);
      if (b.dataset.kind === 'errors') b.classList.toggle('has-err', !!s.errors);
    }
    $('#tl-bar', root).hidden = false;
  }

  // ---- events -------------------------------------------------------------------------------

  function clip(text, cls = '') {
    text = String(text ?? '');
    const lines = text.split('\n');
    if (text.length <= CLIP_CHARS && lines.length <= CLIP_LINES) return html`<pre class="${cls}">${text}</pre>`;
    let shown = lines.slice(0, CLIP_LINES).join('\n');
    if (shown.length > CLIP_CHARS) shown = shown.slice(0, CLIP_CHARS);
    const key = String(++st.nfull);
    st.full.set(key, text);
    return html`<pre class="${cls} clipped">${shown}…</pre><button type="button" class="link" data-full="${key}">Show all (${fmtTokens(text.length)} chars, ${fmtInt(lines.length)} lines)</button>`;
  }

  const timeTag = (ts) => ts ? html`<time class="at" title="${fmtTime(ts)}">${fmtClock(ts)}</time>` : '';

  /** The tool name and arguments, unwrapping OpenClaw's tool-search wrapper (`tool_call`). */
  function toolOf(b) {
    const a = b.arguments;
    if (b.name === 'tool_call' && a && typeof a.id === 'string') return { name: a.id, via: 'tool_call', args: a.args ?? a };
    return { name: b.name || 'tool', via: null, args: a };
  }
  function argSummary(args) {
    if (args == null) return '';
    if (typeof args !== 'object') return String(args).slice(0, 140);
    for (const k of ['command', 'cmd', 'path', 'file_path', 'filePath', 'file', 'url', 'query', 'pattern', 'task', 'message', 'label', 'text']) {
      if (typeof args[k] === 'string') return args[k].replace(/\s+/g, ' ').slice(0, 140);
    }
    const s = JSON.stringify(args);
    return s === '{}' ? '' : s.slice(0, 140);
  }
  const pretty = (v) => typeof v === 'string' ? v : JSON.stringify(v, null, 2);

  function usageLine(u) {
    if (!u) return '';
    const tokens = (u.input || 0) + (u.output || 0) + (u.cacheRead || 0) + (u.cacheWrite || 0);
    return html`<span class="usage" title="input ${fmtInt(u.input)} · output ${fmtInt(u.output)} · cache read ${fmtInt(u.cacheRead)} · cache write ${fmtInt(u.cacheWrite)}${u.reasoning ? ` · reasoning ${fmtInt(u.reasoning)}` : ''}"
      >${fmtTokens(u.input)} in · ${fmtTokens(u.output)} out${u.cacheRead ? ` · ${fmtTokens(u.cacheRead)} cached` : ''}${u.cacheWrite ? ` · ${fmtTokens(u.cacheWrite)} cache write` : ''}
      <span class="sep">=</span> ${fmtTokens(tokens)} · ${u.cost != null ? fmtCost(u.cost) : 'no cost'}</span>`;
  }

  function blocksHTML(blocks, ev) {
    return (blocks || []).map((b) => {
      switch (b.type) {
        case 'text': return clip(String(b.text ?? '').trim(), 'text');
        case 'thinking': return html`<details class="thinking"><summary>Thinking <span class="muted">(${fmtTokens((b.text || '').length)} chars)</span></summary>${clip(b.text)}</details>`;
        case 'tool_call': {
          const t = toolOf(b);
          if (b.id) st.calls.add(b.id);
          const childLink = t.name === 'sessions_spawn' && t.args && t.args.label ? html` <span class="muted">“${t.args.label}”</span>` : '';
          return html`<details class="tool" data-call="${b.id || ''}"><summary><span class="tname">${t.name}</span>${t.via ? html` <span class="muted small">via ${t.via}</span>` : ''}${childLink}
            <code class="targ">${argSummary(t.args)}</code><span class="tstat"></span></summary>
            <div class="tbody"><div class="label">Arguments</div>${clip(pretty(t.args))}<div class="tres-slot"><p class="muted small pending">No result yet.</p></div></div></details>`;
        }
        case 'image': return html`<p class="muted">[image${b.mimeType ? `, ${b.mimeType}` : ''}]</p>`;
        default: return html`<details class="sys"><summary>${b.type || 'block'}</summary>${clip(pretty(b.raw ?? b))}</details>`;
      }
    }).concat(ev && ev.errorMessage ? [html`<p class="errmsg">${ev.errorMessage}</p>`] : []);
  }

  function resultHTML(ev, standalone) {
    const d = ev.details || {};
    const text = (ev.blocks || []).filter((b) => b.type === 'text').map((b) => b.text).join('\n');
    const facts = [
      ev.isError ? 'error' : d.status || null,
      d.exitCode != null ? `exit ${d.exitCode}` : null,
      d.durationMs != null ? fmtDuration(d.durationMs) : null,
    ].filter(Boolean).join(' · ');
    const child = (text.match(/agent:[\w.-]+:subagent:[0-9a-f-]{8,}/) || [])[0];
    return html`<div class="tres ${ev.isError ? 'err' : ''}" data-seq="${ev.seq}">
      <div class="label">${standalone ? html`Result of <b>${ev.toolName || 'tool'}</b> · ` : 'Result · '}${facts}</div>
      ${child ? html`<p><a class="sublink" href="${sessionHref(child)}">Open the sub-agent's transcript →</a></p>` : ''}
      ${clip(text || pretty(ev.details ?? ''))}</div>`;
  }

  function dayDivider(ts) {
    if (!ts) return '';
    const d = fmtDate(ts);
    if (d === st.lastDate) return '';
    st.lastDate = d;
    return html`<li class="day"><span>${d}</span></li>`;
  }

  function eventHTML(ev) {
    const pre = dayDivider(ev.ts);
    const at = timeTag(ev.ts);
    switch (ev.kind) {
      case 'user': {
        const n = ++st.turn;
        st.turns.set(n, { calls: 0, tokens: 0, cost: 0 });
        return html`${pre}<li class="ev user" id="ev-${ev.seq}"><div class="ev-head"><span class="who">User</span>
          <span class="turn">turn ${n}</span>${kind === 'all' ? html`<span class="turn-sum" data-turn="${n}"></span>` : ''}${at}</div>
          <div class="ev-body">${blocksHTML(ev.blocks)}</div></li>`;
      }
      case 'assistant': {
        const model = ev.provider && ev.model ? `${ev.provider}/${ev.model}` : ev.model || '';
        const changed = st.lastModel && model && model !== st.lastModel;
        if (model) st.lastModel = model;
        const u = ev.usage;
        if (u && st.turns.has(st.turn)) {
          const t = st.turns.get(st.turn);
          t.calls++;
          t.tokens += (u.input || 0) + (u.output || 0) + (u.cacheRead || 0) + (u.cacheWrite || 0);
          t.cost += Number(u.cost) || 0;
          st.dirtyTurns.add(st.turn);
        }
        const err = ev.stopReason === 'error';
        return html`${pre}<li class="ev assistant ${err ? 'err' : ''} ${ev.injected ? 'injected' : ''}" id="ev-${ev.seq}"><div class="ev-head">
          <span class="who">${ev.injected ? 'Delivered' : 'Assistant'}</span>
          <span class="model ${changed ? 'changed' : ''}" title="${model}${changed ? ' (model changed)' : ''}">${shortModel(model)}</span>
          ${err ? html`<span class="badge st-failed">error</span>` : ''}${usageLine(u)}${at}</div>
          <div class="ev-body">${blocksHTML(ev.blocks, ev)}</div></li>`;
      }
      case 'tool_result': {
        // Nested under its call when the call is on the page (see attachResults).
        const attach = ev.toolCallId && st.calls.has(ev.toolCallId) ? 'attach' : '';
        return html`${pre}<li class="ev tool_result ${ev.isError ? 'err' : ''} ${attach}" id="ev-${ev.seq}" data-for="${ev.toolCallId || ''}"
          data-ok="${ev.isError ? 'err' : 'ok'}" data-facts="${ev.details && ev.details.durationMs != null ? fmtDuration(ev.details.durationMs) : ''}">
          <div class="ev-head"><span class="who">Tool result</span><span class="tname">${ev.toolName || ''}</span>${at}</div>
          <div class="ev-body">${resultHTML(ev, true)}</div></li>`;
      }
      case 'model_change':
        st.lastModel = `${ev.provider || ''}/${ev.modelId || ''}`;
        return html`${pre}<li class="ev sys model"><span>Model → <b>${ev.provider}/${ev.modelId}</b></span>${at}</li>`;
      case 'thinking_level':
        return html`${pre}<li class="ev sys"><span>Thinking level: <b>${ev.thinkingLevel}</b></span>${at}</li>`;
      case 'session':
        return html`${pre}<li class="ev sys"><span>Session started${ev.cwd ? html` in <code>${ev.cwd}</code>` : ''}</span>${at}</li>`;
      case 'compaction':
        return html`${pre}<li class="ev sys compaction"><details><summary>Context compacted${ev.tokensBefore ? ` (was ${fmtTokens(ev.tokensBefore)} tokens)` : ''}</summary>${clip(ev.summary || '')}</details>${at}</li>`;
      case 'custom':
        return html`${pre}<li class="ev sys custom"><details><summary>${ev.customType || ev.role || 'custom event'}</summary>${clip(pretty(ev.data ?? ev.content ?? ev.details ?? ''))}${ev.blocks && ev.blocks.length ? blocksHTML(ev.blocks) : ''}</details>${at}</li>`;
      default:
        return html`${pre}<li class="ev sys"><span>Unknown event <code>${ev.type || ev.kind}</code></span>${at}</li>`;
    }
  }

  /** Moves each tool result into its call's slot and marks the call with the outcome. */
  function attachResults() {
    for (const li of $$('li.attach', tl)) {
      const call = tl.querySelector(`[data-call="${CSS.escape(li.dataset.for)}"]`);
      if (!call) { li.classList.remove('attach'); continue; }
      const slot = call.querySelector('.tres-slot');
      slot.textContent = '';
      const res = li.querySelector('.tres');
      res.querySelector('.label').firstChild.textContent = 'Result · ';
      slot.append(res);
      const ok = li.dataset.ok === 'ok';
      const stat = call.querySelector('.tstat');
      stat.textContent = (ok ? ' ✓' : ' ✗ error') + (li.dataset.facts ? ` ${li.dataset.facts}` : '');
      stat.className = 'tstat ' + (ok ? 'ok' : 'err');
      if (!ok) call.classList.add('err');
      if (li.classList.contains('new')) call.closest('li').classList.add('new');
      li.remove();
    }
  }

  function updateTurns() {
    for (const n of st.dirtyTurns) {
      const el = tl.querySelector(`.turn-sum[data-turn="${n}"]`);
      const t = st.turns.get(n);
      if (el && t) el.textContent = `${plural(t.calls, 'call')} · ${fmtTokens(t.tokens)} tokens · ${fmtCost(t.cost)}`;
    }
    st.dirtyTurns.clear();
  }

  function renderMore() {
    if (!total && summary && summary.transcriptAvailable === false) {
      setHTML(more, empty('Transcript no longer available', summary.state === 'purged'
        ? 'OpenClaw purged this session\'s transcript. Its tokens and cost stay counted: clawmetry kept them in its ledger.'
        : 'This session has no transcript: its model calls came as OpenTelemetry data.'));
    } else if (!total) {
      setHTML(more, kind === 'all'
        ? empty('No events yet', 'This session has no transcript events on disk yet; they appear here as OpenClaw writes them.')
        : empty(`No ${kind === 'all' ? '' : kind + ' '}events`, 'Nothing of this kind in this session.', html`<p><a href="${sessionHref(id)}">Show all events</a></p>`));
    } else if (loaded < total) {
      setHTML(more, html`<p class="more"><span class="muted">Showing ${fmtInt(loaded)} of ${fmtInt(total)} events.</span>
        <button type="button" id="tl-load">Load ${fmtInt(Math.min(PAGE, total - loaded))} more</button></p><div id="tl-sentinel"></div>`);
      $('#tl-load', more).onclick = () => loadPage();
      if (observer) observer.disconnect();
      if ('IntersectionObserver' in window) {
        observer = new IntersectionObserver((es) => { if (es.some((x) => x.isIntersecting)) loadPage(); }, { rootMargin: '400px' });
        observer.observe($('#tl-sentinel', more));
      }
    } else {
      setHTML(more, html`<p class="end muted">${fmtInt(total)} event${total === 1 ? '' : 's'}${summary && summary.status === 'running' ? ' · waiting for more…' : ''}</p>`);
    }
  }

  /**
   * Appends the next page of events (`limit` overrides the page size); `live` marks them as new
   * and scrolls to them when following. One load at a time: a caller during a load gets the
   * load in flight, and a live change during a load is applied right after it.
   */
  function loadPage(limit = PAGE, live = false) {
    if (inflight) {
      if (live) again = true;
      return inflight;
    }
    inflight = doLoad(limit, live).finally(() => {
      inflight = null;
      if (again) { again = false; followUp(); }
    });
    return inflight;
  }

  async function doLoad(limit, live) {
    const myGen = gen;
    const signal = genCtrl.signal;
    try {
      const d = await api(`/api/transcript/${encodeURIComponent(id)}` + qs({ kind: kind === 'all' ? '' : kind, offset: loaded, limit }), { signal });
      if (myGen !== gen) return false;
      if (d.total < loaded) { setTimeout(rebuild); return false; } // the transcript was replaced or shrank
      total = d.total;
      const nearEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 300;
      const before = tl.lastElementChild;
      if (!(await renderChunks(tl, d.events, eventHTML, { signal }))) return false;
      loaded += d.events.length;
      const firstNew = before ? before.nextElementSibling : tl.firstElementChild;
      if (live && before) for (let e = firstNew; e; e = e.nextElementSibling) e.classList.add('new');
      attachResults();
      updateTurns();
      renderMore();
      if (live && before && firstNew && follow && nearEnd) window.scrollTo({ top: document.body.scrollHeight, behavior: 'smooth' });
      app.rendered('session');
      return true;
    } catch (e) {
      if (e.name !== 'AbortError') app.failed(more, e, () => loadPage());
      return false;
    }
  }

  function rebuild() {
    gen++;
    genCtrl.abort();
    genCtrl = new AbortController();
    inflight = null;
    again = false;
    loaded = 0;
    total = 0;
    tl.textContent = '';
    more.textContent = '';
    resetState();
    return loadPage();
  }

  async function loadHead() {
    const signal = genCtrl.signal;
    const s = await api(`/api/sessions/${encodeURIComponent(id)}`, { signal });
    if (s.parentId) {
      try { s.parentLabel = sessionName(await api(`/api/sessions/${encodeURIComponent(s.parentId)}`, { signal })); } catch { /* label stays the key */ }
    }
    summary = s;
    renderHead(summary);
  }

  async function start() {
    try {
      await loadHead();
    } catch (e) {
      if (e.status === 404) {
        setHTML($('#s-head', root), empty('No such session', `There is no session “${id}”. It may have been deleted, or the link is incomplete.`,
          html`<p><a href="#/sessions">Browse all sessions</a></p>`));
        app.rendered('session');
      } else app.failed($('#s-head', root), e, start);
      return;
    }
    await rebuild();
  }

  /** Live: re-read the header, then append what is new, or just recount when the end of the
   * transcript is not on the page yet. */
  async function followUp() {
    try { await loadHead(); } catch { return; }
    if (loaded >= total) return loadPage(PAGE, true);
    try {
      const d = await api(`/api/transcript/${encodeURIComponent(id)}` + qs({ kind: kind === 'all' ? '' : kind, offset: loaded, limit: 1 }), { signal: genCtrl.signal });
      total = d.total;
      renderMore();
      app.rendered('session');
    } catch { /* the next change retries */ }
  }

  start();
  return {
    update(r) {
      const k = FILTERS.some(([x]) => x === r.query.kind) ? r.query.kind : 'all';
      if (k === kind) return;
      kind = k;
      if (summary) renderHead(summary);
      rebuild();
    },
    refresh(changes) {
      if (changes.all || changes.ids.has(id) || (summary && changes.ids.has(summary.id))) followUp();
    },
    unmount() { gen++; genCtrl.abort(); if (observer) observer.disconnect(); },
  };
}

// The timeline's events: one <li> per transcript event (with day dividers and per-turn sums),
// results moved under their calls, and the state a timeline keeps while it grows.
import { $$, fmtCost, fmtDate, fmtDuration, fmtTokens, html, plural, shortModel } from '../util.js';

import { blocksHTML, clip, pretty, resultHTML, timeTag, usageLine } from './blocks.js';

/** A fresh timeline state; `kind` is the filter it shows. */
export const newState = (kind) => ({
  kind,
  calls: new Set(),
  turn: 0,
  turns: new Map(),
  dirtyTurns: new Set(),
  lastModel: null,
  lastDate: null,
  full: new Map(),
  nfull: 0,
});

function dayDivider(st, ts) {
  if (!ts) return '';
  const d = fmtDate(ts);
  if (d === st.lastDate) return '';
  st.lastDate = d;
  return html`<li class="day"><span>${d}</span></li>`;
}

export function eventHTML(st, ev) {
  const pre = dayDivider(st, ev.ts);
  const at = timeTag(ev.ts);
  switch (ev.kind) {
    case 'user': {
      const n = ++st.turn;
      st.turns.set(n, { calls: 0, tokens: 0, cost: 0 });
      const sum = st.kind === 'all' ? html`<span class="turn-sum" data-turn="${n}"></span>` : '';
      return html`${pre}<li class="ev user" id="ev-${ev.seq}"><div class="ev-head"><span class="who">User</span>
        <span class="turn">turn ${n}</span>${sum}${at}</div>
        <div class="ev-body">${blocksHTML(st, ev.blocks)}</div></li>`;
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
      const cls = `${err ? 'err' : ''} ${ev.injected ? 'injected' : ''}`;
      const title = `${model}${changed ? ' (model changed)' : ''}`;
      return html`${pre}<li class="ev assistant ${cls}" id="ev-${ev.seq}"><div class="ev-head">
        <span class="who">${ev.injected ? 'Delivered' : 'Assistant'}</span>
        <span class="model ${changed ? 'changed' : ''}" title="${title}">${shortModel(model)}</span>
        ${err ? html`<span class="badge st-failed">error</span>` : ''}${usageLine(u)}${at}</div>
        <div class="ev-body">${blocksHTML(st, ev.blocks, ev)}</div></li>`;
    }
    case 'tool_result': {
      // Nested under its call when the call is on the page (see attachResults).
      const attach = ev.toolCallId && st.calls.has(ev.toolCallId) ? 'attach' : '';
      const tname = html`<span class="tname">${ev.toolName || ''}</span>`;
      const facts = ev.details && ev.details.durationMs != null ? fmtDuration(ev.details.durationMs) : '';
      return html`${pre}<li class="ev tool_result ${ev.isError ? 'err' : ''} ${attach}" id="ev-${ev.seq}"
        data-for="${ev.toolCallId || ''}" data-ok="${ev.isError ? 'err' : 'ok'}" data-facts="${facts}">
        <div class="ev-head"><span class="who">Tool result</span>${tname}${at}</div>
        <div class="ev-body">${resultHTML(st, ev, true)}</div></li>`;
    }
    case 'model_change':
      st.lastModel = `${ev.provider || ''}/${ev.modelId || ''}`;
      return html`${pre}<li class="ev sys model"><span>Model → <b>${ev.provider}/${ev.modelId}</b></span>${at}</li>`;
    case 'thinking_level':
      return html`${pre}<li class="ev sys"><span>Thinking level: <b>${ev.thinkingLevel}</b></span>${at}</li>`;
    case 'session':
      return html`${pre}<li class="ev sys"><span>Session started${
        ev.cwd ? html` in <code>${ev.cwd}</code>` : ''
      }</span>${at}</li>`;
    case 'compaction':
      return html`${pre}<li class="ev sys compaction"><details><summary>Context compacted${
        ev.tokensBefore ? ` (was ${fmtTokens(ev.tokensBefore)} tokens)` : ''
      }</summary>${clip(st, ev.summary || '')}</details>${at}</li>`;
    case 'custom': {
      const summary = ev.customType || ev.role || 'custom event';
      const body = clip(st, pretty(ev.data ?? ev.content ?? ev.details ?? ''));
      const blocks = ev.blocks?.length ? blocksHTML(st, ev.blocks) : '';
      const details = html`<details><summary>${summary}</summary>${body}${blocks}</details>`;
      return html`${pre}<li class="ev sys custom">${details}${at}</li>`;
    }
    default:
      return html`${pre}<li class="ev sys"><span>Unknown event <code>${ev.type || ev.kind}</code></span>${at}</li>`;
  }
}

/** Moves each tool result into its call's slot and marks the call with the outcome. */
export function attachResults(tl) {
  for (const li of $$('li.attach', tl)) {
    const call = tl.querySelector(`[data-call="${CSS.escape(li.dataset.for)}"]`);
    if (!call) {
      li.classList.remove('attach');
      continue;
    }
    const slot = call.querySelector('.tres-slot');
    slot.textContent = '';
    const res = li.querySelector('.tres');
    res.querySelector('.label').firstChild.textContent = 'Result · ';
    slot.append(res);
    const ok = li.dataset.ok === 'ok';
    const stat = call.querySelector('.tstat');
    stat.textContent = (ok ? ' ✓' : ' ✗ error') + (li.dataset.facts ? ` ${li.dataset.facts}` : '');
    stat.className = `tstat ${ok ? 'ok' : 'err'}`;
    if (!ok) call.classList.add('err');
    if (li.classList.contains('new')) call.closest('li').classList.add('new');
    li.remove();
  }
}

export function updateTurns(st, tl) {
  for (const n of st.dirtyTurns) {
    const el = tl.querySelector(`.turn-sum[data-turn="${n}"]`);
    const t = st.turns.get(n);
    if (el && t) el.textContent = `${plural(t.calls, 'call')} · ${fmtTokens(t.tokens)} tokens · ${fmtCost(t.cost)}`;
  }
  st.dirtyTurns.clear();
}

// A session's events as HTML: message blocks (text, thinking, tool calls), tool results, usage
// lines; long text is clipped, its full form kept in the timeline state `st` for "Show all".
import { fmtClock, fmtCost, fmtDuration, fmtInt, fmtTime, fmtTokens, html, sessionHref } from '../util.js';

const CLIP_CHARS = 2000;
const CLIP_LINES = 40;

export function clip(st, text, cls = '') {
  text = String(text ?? '');
  const lines = text.split('\n');
  if (text.length <= CLIP_CHARS && lines.length <= CLIP_LINES) return html`<pre class="${cls}">${text}</pre>`;
  let shown = lines.slice(0, CLIP_LINES).join('\n');
  if (shown.length > CLIP_CHARS) shown = shown.slice(0, CLIP_CHARS);
  const key = String(++st.nfull);
  st.full.set(key, text);
  const all = `Show all (${fmtTokens(text.length)} chars, ${fmtInt(lines.length)} lines)`;
  return html`<pre class="${cls} clipped">${shown}…</pre><button type="button" class="link"
    data-full="${key}">${all}</button>`;
}

export const timeTag = (ts) => (ts ? html`<time class="at" title="${fmtTime(ts)}">${fmtClock(ts)}</time>` : '');

/** The tool name and arguments, unwrapping OpenClaw's tool-search wrapper (`tool_call`). */
function toolOf(b) {
  const a = b.arguments;
  if (b.name === 'tool_call' && a && typeof a.id === 'string')
    return { name: a.id, via: 'tool_call', args: a.args ?? a };
  return { name: b.name || 'tool', via: null, args: a };
}
function argSummary(args) {
  if (args == null) return '';
  if (typeof args !== 'object') return String(args).slice(0, 140);
  for (const k of [
    'command',
    'cmd',
    'path',
    'file_path',
    'filePath',
    'file',
    'url',
    'query',
    'pattern',
    'task',
    'message',
    'label',
    'text',
  ]) {
    if (typeof args[k] === 'string') return args[k].replace(/\s+/g, ' ').slice(0, 140);
  }
  const s = JSON.stringify(args);
  return s === '{}' ? '' : s.slice(0, 140);
}
export const pretty = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

export function usageLine(u) {
  if (!u) return '';
  const tokens = (u.input || 0) + (u.output || 0) + (u.cacheRead || 0) + (u.cacheWrite || 0);
  const reasoning = u.reasoning ? ` · reasoning ${fmtInt(u.reasoning)}` : '';
  const kinds = [`input ${fmtInt(u.input)}`, `output ${fmtInt(u.output)}`, `cache read ${fmtInt(u.cacheRead)}`];
  const title = `${[...kinds, `cache write ${fmtInt(u.cacheWrite)}`].join(' · ')}${reasoning}`;
  const cached = u.cacheRead ? ` · ${fmtTokens(u.cacheRead)} cached` : '';
  const written = u.cacheWrite ? ` · ${fmtTokens(u.cacheWrite)} cache write` : '';
  return html`<span class="usage" title="${title}"
    >${fmtTokens(u.input)} in · ${fmtTokens(u.output)} out${cached}${written}
    <span class="sep">=</span> ${fmtTokens(tokens)} · ${u.cost != null ? fmtCost(u.cost) : 'no cost'}</span>`;
}

export function blocksHTML(st, blocks, ev) {
  return (blocks || [])
    .map((b) => {
      switch (b.type) {
        case 'text':
          return clip(st, String(b.text ?? '').trim(), 'text');
        case 'thinking':
          return html`<details class="thinking"><summary>Thinking <span class="muted">(${fmtTokens(
            (b.text || '').length,
          )} chars)</span></summary>${clip(st, b.text)}</details>`;
        case 'tool_call': {
          const t = toolOf(b);
          if (b.id) st.calls.add(b.id);
          const childLink =
            t.name === 'sessions_spawn' && t.args && t.args.label
              ? html` <span class="muted">“${t.args.label}”</span>`
              : '';
          const via = t.via ? html` <span class="muted small">via ${t.via}</span>` : '';
          const slot = html`<div class="tres-slot"><p class="muted small pending">No result yet.</p></div>`;
          return html`<details class="tool" data-call="${b.id || ''}"
            ><summary><span class="tname">${t.name}</span>${via}${childLink}
          <code class="targ">${argSummary(t.args)}</code><span class="tstat"></span></summary>
          <div class="tbody"><div class="label">Arguments</div>${clip(st, pretty(t.args))}${slot}</div></details>`;
        }
        case 'image':
          return html`<p class="muted">[image${b.mimeType ? `, ${b.mimeType}` : ''}]</p>`;
        default:
          return html`<details class="sys"><summary>${b.type || 'block'}</summary>${clip(
            st,
            pretty(b.raw ?? b),
          )}</details>`;
      }
    })
    .concat(ev?.errorMessage ? [html`<p class="errmsg">${ev.errorMessage}</p>`] : []);
}

export function resultHTML(st, ev, standalone) {
  const d = ev.details || {};
  const text = (ev.blocks || [])
    .filter((b) => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
  const facts = [
    ev.isError ? 'error' : d.status || null,
    d.exitCode != null ? `exit ${d.exitCode}` : null,
    d.durationMs != null ? fmtDuration(d.durationMs) : null,
  ]
    .filter(Boolean)
    .join(' · ');
  const child = (text.match(/agent:[\w.-]+:subagent:[0-9a-f-]{8,}/) || [])[0];
  return html`<div class="tres ${ev.isError ? 'err' : ''}" data-seq="${ev.seq}">
    <div class="label">${standalone ? html`Result of <b>${ev.toolName || 'tool'}</b> · ` : 'Result · '}${facts}</div>
    ${child ? html`<p><a class="sublink" href="${sessionHref(child)}">Open the sub-agent's transcript →</a></p>` : ''}
    ${clip(st, text || pretty(ev.details ?? ''))}</div>`;
}

// The flow graph as SVG: four columns of nodes (channels, the gateway, models, tools) and the
// edges between them, their widths following the counts.
import { esc, fmtCost, fmtTokens, plural, qs, raw, shortModel } from '../util.js';

const W = 1000;
const NODE_W = 190;
const NODE_H = 50;
const GAP = 14;
const COLS = [20, 283, 546, 790];

function edge(a, b, w, title, running) {
  const x1 = a.x + NODE_W;
  const y1 = a.y + NODE_H / 2;
  const x2 = b.x;
  const y2 = b.y + NODE_H / 2;
  const mx = (x1 + x2) / 2;
  return `<path class="edge${running ? ' running' : ''}" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" stroke-width="${w.toFixed(1)}"><title>${esc(title)}</title></path>`;
}

/** A node box; a name too long for it keeps its start and end around an ellipsis. */
function node(n, cls, line, link, extra, shown = n.name) {
  const name = shown.length > 22 ? `${shown.slice(0, 9)}…${shown.slice(-12)}` : shown;
  const run = n.running
    ? `<circle class="pulse" cx="${n.x + NODE_W - 12}" cy="${n.y + 12}" r="5"><title>${n.running} running</title></circle>`
    : '';
  const body = `<rect x="${n.x}" y="${n.y}" width="${NODE_W}" height="${NODE_H}" rx="8"></rect>
    <text x="${n.x + 10}" y="${n.y + 20}" class="nname">${esc(name)}</text>
    <text x="${n.x + 10}" y="${n.y + 38}" class="ncount">${esc(line)}</text>${run}
    <title>${esc(n.name)}: ${esc(line)}${extra ? ` · ${esc(extra)}` : ''}${n.running ? ` · ${n.running} running` : ''}${n.folded ? ` (${n.folded} folded)` : ''}</title>`;
  return `<g class="node ${cls}${n.running ? ' running' : ''}" data-name="${esc(n.name)}">${link ? `<a href="${esc(link)}">${body}</a>` : body}</g>`;
}

/** The graph for one answer of /api/flow. */
export function svg(d) {
  const cols = [d.channels, [d.gateway], d.models, d.tools];
  const rows = Math.max(...cols.map((c) => c.length), 1);
  const H = rows * (NODE_H + GAP) + 40;
  const place = (list, x) => {
    const top = (H - list.length * (NODE_H + GAP) + GAP) / 2;
    return list.map((n, i) => ({ ...n, x, y: top + i * (NODE_H + GAP) }));
  };
  const [ch, gw, mo, to] = cols.map((c, i) => place(c, COLS[i]));
  const g = gw[0];
  const maxOf = (xs) => Math.max(1, ...xs);
  const edges = [];
  const width = (v, max) => 1.5 + 12 * Math.sqrt(v / max);
  const maxS = maxOf(ch.map((c) => c.sessions));
  for (const c of ch)
    edges.push(edge(c, g, width(c.sessions, maxS), `${c.name} → gateway: ${c.sessions} sessions`, c.running));
  const maxC = maxOf(mo.map((m) => m.calls));
  for (const m of mo)
    edges.push(edge(g, m, width(m.calls, maxC), `gateway → ${m.name}: ${m.calls} model calls`, m.running));
  const maxT = maxOf(d.modelTool.map((e) => e.calls));
  for (const e of d.modelTool) {
    const m = mo.find((x) => x.name === e.model);
    const t = to.find((x) => x.name === e.tool);
    if (m && t) edges.push(edge(m, t, width(e.calls, maxT), `${e.model} → ${e.tool}: ${e.calls} tool calls`, 0));
  }
  const agents = Object.entries(g.agents || {})
    .map(([a, n]) => `${a} ${n}`)
    .join(' · ');
  const nodes = [
    ...ch.map((c) =>
      node(
        c,
        'channel',
        `${plural(c.sessions, 'session')} · ${plural(c.messages, 'message')}`,
        `#/sessions${qs({ q: ['direct', 'cron', 'sub-agent'].includes(c.name) ? '' : c.name, kind: c.name === 'cron' ? 'cron' : c.name === 'sub-agent' ? 'subagent' : '' })}`,
      ),
    ),
    node(g, 'gateway', `${plural(g.sessions, 'session')} · ${plural(g.calls, 'call')}`, '#/sessions', agents),
    ...mo.map((m) =>
      node(
        m,
        'model',
        `${plural(m.calls, 'call')} · ${fmtCost(m.cost)}`,
        '#/usage',
        `${fmtTokens(m.tokens)} tokens`,
        shortModel(m.name),
      ),
    ),
    ...to.map((t) => node(t, 'tool', `${plural(t.calls, 'call')} · ${plural(t.sessions, 'session')}`, null)),
  ];
  const heads = ['Channels', 'Gateway', 'Models', 'Tools']
    .map((h, i) => `<text class="colhead" x="${COLS[i]}" y="16">${h}</text>`)
    .join('');
  return raw(`<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="Flow of sessions from channels through the gateway to models and tools" style="min-width:720px;max-height:${Math.max(H, 260)}px">
    ${heads}<g class="edges">${edges.join('')}</g><g class="nodes">${nodes.join('')}</g></svg>`);
}

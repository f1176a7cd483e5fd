// A session header's figures: agent, channel, models, times, counts, tokens (with their split by
// kind) and cost.
import {
  ago,
  fmtCost,
  fmtDuration,
  fmtInt,
  when,
  fmtTokens,
  html,
  sessionHref,
  shortModel,
  TOKEN_KINDS,
  tokenBar,
} from '../util.js';

function models(s) {
  const all = s.models?.length ? s.models : [s.model];
  const title = (s.models || []).join(', ') || s.model || '';
  return html`<span title="${title}">${all.map((m) => shortModel(m) || '–').join(', ')}</span>`;
}

function cost(s) {
  const estimated = s.estimatedCostCalls
    ? html` <span class="muted small" title="${s.estimatedCostCalls} calls priced from the price table"
        >(partly estimated)</span>`
    : '';
  return html`<b>${fmtCost(s.cost)}</b>${estimated}`;
}

/** The largest prompt against the window, and the compactions. */
function context(c) {
  const comp = c.compactions
    ? html`<span class="muted"> · ${c.compactions} compaction${c.compactions > 1 ? 's' : ''} removed
        ${fmtTokens(c.compactedTokens)}</span>`
    : '';
  if (c.percent == null) {
    return html`<span data-k="context" title="the window of ${c.model || 'its model'} is unknown"
      >${fmtTokens(c.maxPrompt)} of an unknown window</span>${comp}`;
  }
  return html`<span data-k="context" title="${fmtInt(c.maxPrompt)} of ${fmtInt(c.window)} tokens in one call (${c.model}; window from ${c.windowSource})"
    ><b>${c.percent}%</b> ${fmtTokens(c.maxPrompt)} of ${fmtTokens(c.window)}</span>${comp}`;
}

/** The figures: agent, channel, models, times, counts, tokens and cost. */
export function figures(s, id) {
  const kv = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
  const t = s.tokens;
  const errors = s.errors
    ? html`<a class="err" href="${sessionHref(id, { kind: 'errors' })}">${fmtInt(s.errors)}</a>`
    : '0';
  return html`<dl class="kv">
      ${kv('Agent', s.agent)}
      ${kv('Channel', s.channel || '–')}
      ${kv((s.models || []).length > 1 ? 'Models' : 'Model', models(s))}
      ${kv('Started', html`<span id="s-started">${when(s.firstMs)}</span>`)}
      ${kv('Last activity', ago(s.lastMs))}
      ${kv('Duration', fmtDuration(s.durationMs))}
      ${kv('Messages', html`${fmtInt(s.userMessages)} user · ${fmtInt(s.assistantMessages)} assistant`)}
      ${kv('Tool calls', fmtInt(s.toolCalls))}
      ${kv('Errors', errors)}
      ${kv('Tokens', html`<span title="${fmtInt(t.total)}">${fmtTokens(t.total)}</span>`)}
      ${s.context?.maxPrompt ? kv('Context', context(s.context)) : ''}
      ${kv('Cost', cost(s))}
      ${
        s.treeCost && s.treeCost.sessions > 1
          ? kv(
              'With sub-agents',
              html`<b data-k="tree-cost" title="${s.treeCost.method}">${fmtCost(s.treeCost.cost)}</b>
              <span class="muted">(${s.treeCost.sessions} sessions)</span>`,
            )
          : ''
      }
    </dl>`;
}

export function tokens(t) {
  if (!t.total) return '';
  const legend = TOKEN_KINDS.map(([k, l]) => html`<span><i class="dot t-${k}"></i>${l} ${fmtTokens(t[k])}</span>`);
  return html`<div class="split">${tokenBar(t)}<span class="legend">${legend}</span></div>`;
}

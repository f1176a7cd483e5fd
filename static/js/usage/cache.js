// The usage page's prompt-cache section (/api/insight): hit rate, money saved and cache-write
// overhead per model, agent and session over the last 30 days (whatever range the page shows).
import { fmtPct, fmtCost, fmtTokens, html, modelName, sessionHref, sessionName } from '../util.js';

const money = (x) => (x == null ? html`<span class="muted" title="no known price">–</span>` : fmtCost(x));

function row(name, r) {
  return html`<tr><td>${name}</td><td class="n">${r.hitRate == null ? '–' : fmtPct(r.hitRate)}</td>
    <td class="n opt">${fmtTokens(r.cacheRead)}</td><td class="n opt">${fmtTokens(r.cacheWrite)}</td>
    <td class="n">${money(r.saved)}</td><td class="n opt">${money(r.writeOverhead)}</td></tr>`;
}

const head = (what) => html`<thead><tr><th>${what}</th><th class="n">Hit rate</th><th class="n opt">Cache read</th>
  <th class="n opt">Cache write</th><th class="n">Saved</th><th class="n opt">Write overhead</th></tr></thead>`;

/** The section, or nothing when no prompt token was cached in the last 30 days. */
export function cacheSection(c) {
  if (!c.total.cacheRead && !c.total.cacheWrite) return '';
  const sessions = c.topSessions.map((s) =>
    row(
      html`<a href="${sessionHref(s.id)}">${sessionName(s.label?.includes(':') ? { key: s.label, id: s.id } : s)}</a>`,
      s,
    ),
  );
  return html`<section class="panel" id="u-cache"><h2>Prompt cache <span class="muted">(last ${c.days} days)</span></h2>
    <p class="muted small">Hit rate = cache-read tokens over all prompt tokens; saved = cache reads at the input price
      minus the cache-read price; write overhead = cache writes at the cache-write price minus the input price.
      A model without a known price shows –.</p>
    <div class="scroll"><table class="grid">${head('Model')}<tbody>
      ${c.byModel.map((r) => row(modelName(r.model), r))}
      ${row(html`<b>total</b>`, c.total)}
    </tbody></table></div>
    <div class="scroll"><table class="grid">${head('Agent')}<tbody>${c.byAgent.map((r) => row(r.agent, r))}</tbody></table></div>
    <div class="scroll"><table class="grid">${head('Session')}<tbody>${sessions}</tbody></table></div>
  </section>`;
}

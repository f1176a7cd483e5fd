// The density strip: one bar per minute of the last hour, its height the rows in that minute,
// its title the rows and the cost.
import { fmtClock, fmtCost, html } from '../util.js';

/** Adds live rows to their minute's bucket; minutes past the strip's end move it on. */
export function noteDensity(buckets, rows) {
  for (const r of rows) {
    if (r.ts == null) continue;
    const start = Math.floor(r.ts / 60_000) * 60_000;
    let last = buckets[buckets.length - 1] || { startMs: start - 60_000, events: 0, cost: 0 };
    while (last.startMs < start) {
      last = { startMs: last.startMs + 60_000, events: 0, cost: 0 };
      buckets.push(last);
      if (buckets.length > 60) buckets.shift();
    }
    const b = buckets.find((x) => x.startMs === start);
    if (b) {
      b.events += 1;
      b.cost += r.cost || 0;
    }
  }
}

export function densityStrip(buckets) {
  const max = Math.max(1, ...buckets.map((b) => b.events));
  return html`${buckets.map((b) => {
    const h = b.events ? Math.max(8, Math.round((100 * b.events) / max)) : 0;
    const title = `${fmtClock(b.startMs)}: ${b.events} events, ${fmtCost(b.cost)}`;
    return html`<span class="bar" style="height:${h}%" title="${title}" data-events="${b.events}"></span>`;
  })}`;
}

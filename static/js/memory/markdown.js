// A memory file as text with headings: `#`…`######` lines become headings, everything else stays
// preformatted text (lists, code, tables read as written). Every piece goes through the `html`
// template, so nothing in the file is ever interpreted as HTML.
import { html, raw } from '../util.js';

const HEADING = /^(#{1,6})[ \t]+(.*?)[ \t#]*$/;
const FENCE = /^\s*(```|~~~)/;

/** The file's text as headings (one level below the page's h2) and preformatted blocks. */
export function markdown(text) {
  const out = [];
  let block = [];
  let fenced = false;
  const flush = () => {
    while (block.length && !block[block.length - 1].trim()) block.pop();
    while (block.length && !block[0].trim()) block.shift();
    if (block.length) out.push(html`<pre class="md-text">${block.join('\n')}</pre>`);
    block = [];
  };
  for (const line of String(text).split(/\r?\n/)) {
    if (FENCE.test(line)) fenced = !fenced;
    const m = !fenced && HEADING.exec(line);
    if (!m) {
      block.push(line);
      continue;
    }
    flush();
    // h3…h6: the page has its h1 and the file's name is an h2.
    const tag = raw(`h${Math.min(6, m[1].length + 2)}`);
    out.push(html`<${tag} class="md-h md-h${m[1].length}">${m[2]}</${tag}>`);
  }
  flush();
  return html`<div class="md">${out}</div>`;
}

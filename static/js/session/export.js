// The session page's export menu (JSON, JSONL, Markdown, CSV downloads from
// /api/sessions/<id>/export) and "Copy as Markdown", with a text box to copy from by hand where
// the clipboard is not available (plain http:// other than localhost).
import { $, html, setHTML } from '../util.js';

const FORMATS = [
  ['json', 'JSON', 'the session and every event'],
  ['jsonl', 'JSONL', 'the transcript as OpenClaw stored it'],
  ['md', 'Markdown', 'a readable transcript'],
  ['csv', 'CSV', 'one row per model call'],
];

const exportHref = (id, format) => `/api/sessions/${encodeURIComponent(id)}/export?format=${format}`;

/** The menu and the copy button, for the toolbar (links are set by `wireExport`). */
export const exportHTML = () => html`<details class="menu" id="tl-export">
    <summary class="link">Export</summary>
    <ul class="plain menu-items">${FORMATS.map(
      ([f, label, what]) => html`<li><a data-format="${f}" download title="${what}">${label}</a></li>`,
    )}</ul>
  </details>
  <button type="button" class="link" id="tl-copy">Copy as Markdown</button>
  <span class="muted small" id="tl-copied" role="status"></span>
  <div id="tl-copybox" hidden></div>`;

/** Points the menu at session `id` and wires "Copy as Markdown". */
export function wireExport(root, id) {
  const menu = $('#tl-export', root);
  for (const a of menu.querySelectorAll('a[data-format]')) a.href = exportHref(id, a.dataset.format);
  menu.addEventListener('click', (e) => {
    if (e.target.closest('a')) menu.open = false;
  });
  const status = $('#tl-copied', root);
  $('#tl-copy', root).onclick = async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    status.textContent = 'Copying…';
    try {
      const r = await fetch(exportHref(id, 'md'));
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const text = await r.text();
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        status.textContent = 'Copied';
      } else {
        showBox(root, text);
        status.textContent = document.execCommand?.('copy') ? 'Copied' : 'Select the text below and copy it';
      }
    } catch (err) {
      status.textContent = `Could not copy: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  };
}

/** The Markdown in a selected text box (the fallback when the clipboard API is not there). */
function showBox(root, text) {
  const box = $('#tl-copybox', root);
  setHTML(
    box,
    html`<textarea class="copybox" rows="12" readonly aria-label="Session as Markdown"></textarea>
      <button type="button" class="link" id="tl-copyclose">Close</button>`,
  );
  const area = box.querySelector('textarea');
  area.value = text;
  box.hidden = false;
  area.focus();
  area.select();
  $('#tl-copyclose', root).onclick = () => {
    box.hidden = true;
    box.textContent = '';
  };
}

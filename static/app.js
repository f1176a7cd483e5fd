// Minimal dashboard page: overview figures and the session list, from the JSON API.
const $ = (s) => document.querySelector(s);
const fmtTokens = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : String(n);
const fmtCost = (c) => '$' + (c >= 1 ? c.toFixed(2) : c.toFixed(4));
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

async function load() {
  const [health, ov, list] = await Promise.all([
    fetch('/api/health').then((r) => r.json()),
    fetch('/api/overview').then((r) => r.json()),
    fetch('/api/sessions?limit=100').then((r) => r.json()),
  ]);
  $('#status').textContent = health.openclaw.found ? health.openclaw.stateDir : 'OpenClaw not found';
  if (!health.openclaw.found) {
    $('#app').innerHTML = `<p>${esc(health.openclaw.hint)}</p>`;
    return;
  }
  const u = ov.usage;
  const card = (label, value) => `<div class="card"><span class="muted">${label}</span><b>${value}</b></div>`;
  const rows = list.sessions.map((s) => `<tr><td>${esc(s.agent)}</td><td>${esc(s.label ?? s.key ?? s.id)}</td>
    <td>${esc(s.status)}</td><td>${esc(s.model)}</td><td class="n">${fmtTokens(s.tokens.total)}</td>
    <td class="n">${fmtCost(s.cost)}</td></tr>`).join('');
  $('#app').innerHTML = `<div class="cards">
      ${card('Sessions', ov.sessions.total)}${card('Running', ov.sessions.running)}
      ${card('Cost today', fmtCost(u.today.cost))}${card('Cost this month', fmtCost(u.month.cost))}
      ${card('Cost, all time', fmtCost(u.total.cost))}${card('Tokens, all time', fmtTokens(u.total.totalTokens))}
    </div>
    <table><thead><tr><th>Agent</th><th>Session</th><th>Status</th><th>Model</th><th>Tokens</th><th>Cost</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

load().catch((e) => { $('#app').textContent = 'Cannot reach the clawmetry API: ' + e; });

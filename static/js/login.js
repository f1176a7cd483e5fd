// The login screen: shown when an API call answers 401 (app.js listens for 'cm:unauthorized').
// Posts the token to /api/login, which sets an HttpOnly session cookie (the token itself is never
// stored by the page), then reloads so every view and the live stream start again signed in.
import { html, setHTML, $ } from './util.js';

let shown = false;

/** What a login link that did not work left in the address (`/?login=…`, see api/login_link.rs). */
function linkNote() {
  const why = new URLSearchParams(location.search).get('login');
  const text = {
    expired: 'That login link was used already or has expired (a link works once, for 15 minutes).',
    blocked: 'Too many failed logins from this device; wait a minute.',
    failed: 'The server could not start a login session.',
  }[why];
  return text ? html`<p class="bad" id="login-link-note">${text}</p>` : '';
}

export function showLogin(message) {
  if (shown) return;
  shown = true;
  const box = document.createElement('div');
  box.id = 'login';
  box.setAttribute('role', 'dialog');
  box.setAttribute('aria-modal', 'true');
  box.setAttribute('aria-labelledby', 'login-title');
  box.style.cssText =
    'position:fixed;inset:0;z-index:30;display:flex;align-items:center;justify-content:center;background:rgba(0,0,0,.45)';
  setHTML(
    box,
    html`<form class="card" style="background:var(--bg, #fff);padding:1.2rem 1.4rem;border-radius:var(--radius, 6px);border:1px solid var(--line, #ccc);max-width:26rem;width:90vw">
      <h2 id="login-title" style="margin-top:0">Log in to clawmetry</h2>
      ${linkNote()}
      <p>Open the <b>login link</b> clawmetry printed when it started (in its terminal, or
        <code>journalctl -u clawmetry@$USER | tail</code>); <code>clawmetry login-link</code> on that machine makes a new one.</p>
      <p class="muted">Or enter the token: clawmetry's <code>--token</code> (or <code>CLAWMETRY_TOKEN</code>), else the
        OpenClaw gateway token (<code>gateway.auth.token</code> in openclaw.json). ${message ? html`<br>${message}` : ''}</p>
      <label style="display:block;margin:.5rem 0">Token<br>
        <input name="token" type="password" autocomplete="current-password" required style="width:100%;box-sizing:border-box"></label>
      <p id="login-error" role="alert" style="color:var(--bad)" hidden></p>
      <button type="submit">Log in</button>
    </form>`,
  );
  document.body.append(box);
  const form = $('form', box);
  const err = $('#login-error', box);
  const input = $('input[name=token]', box);
  input.focus();
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    let r = null;
    let data = null;
    try {
      r = await fetch('/api/login', {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: input.value }),
      });
      data = await r.json().catch(() => null);
    } catch {
      data = { error: 'cannot reach the clawmetry server' };
    }
    if (r?.ok) {
      location.reload();
      return;
    }
    err.textContent = data?.error || `login failed (HTTP ${r ? r.status : 0})`;
    err.hidden = false;
    input.select();
  };
}

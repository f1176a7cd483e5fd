// Alerts: budgets (spend against daily and monthly limits, overall and per agent, auto-pause of
// the gateway), alert channels (Telegram, webhook, e-mail, Slack, Discord, ntfy; secrets are write-only), custom alert
// rules, and the alert log with each channel's delivery. Everything goes through /api/budget and
// /api/alerts*; like every API call they need the dashboard's token (SECURITY.md).
import { guardPanel, wireGuard } from './alerts/guard.js';
import { panels } from './alerts/panels.js';
import { ruleFields, wire } from './alerts/wire.js';
import { loader } from './loader.js';
import { $, api, html, setHTML } from './util.js';

export function mount(root, _route, app) {
  setHTML(
    root,
    html`<h1>Budgets &amp; alerts</h1>
      <p id="a-msg" role="status" class="muted small"></p>
      <div id="a-body"><p class="loading">Loading…</p></div>`,
  );
  const body = $('#a-body', root);
  const say = (text, bad = false) => {
    const m = $('#a-msg', root);
    m.textContent = text;
    m.className = bad ? 'errmsg' : 'ok';
  };
  /** Sends a change, says how it went and shows the page as it is now. */
  async function act(fn, ok) {
    try {
      await fn();
      say(ok);
      await load();
    } catch (e) {
      say(e.message, true);
    }
  }

  const load = loader(app, {
    view: 'alerts',
    async fetch(signal) {
      const [budget, channels, rules, log, guard, audit] = await Promise.all([
        api('/api/budget', { signal }),
        api('/api/alerts/channels', { signal }),
        api('/api/alerts/rules', { signal }),
        api('/api/alerts?limit=100', { signal }),
        api('/api/guard?limit=1', { signal }),
        api('/api/guard/audit?limit=50', { signal }),
      ]);
      return { budget, channels: channels.channels, rules: rules.rules, log, guard, audit };
    },
    render(data) {
      setHTML(body, [...panels(data), guardPanel(data.guard, data.audit)]);
      ruleFields(root);
      wire(root, { act, say, rules: data.rules });
      wireGuard(root, act);
    },
    errorIn: () => body,
  });

  load();
  const timer = setInterval(() => {
    if (!document.hidden && !root.contains(document.activeElement)) load();
  }, 30_000);
  return {
    update() {},
    refresh() {
      /* spend follows the index; the next 30 s refresh shows it */
    },
    unmount() {
      load.abort();
      clearInterval(timer);
    },
  };
}

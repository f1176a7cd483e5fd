// What the alerts page's forms share: the kinds of rule with their fields, the field layout and
// the reading of a number field (empty is null).
import { html } from '../util.js';

export const RULES = {
  token_spike: {
    label: 'Token spike',
    fields: [
      ['tokens', 'more than (tokens)', 100000],
      ['minutes', 'within (minutes)', 10],
    ],
  },
  error_rate: {
    label: 'Error rate',
    fields: [
      ['percent', 'above (%)', 20],
      ['minutes', 'over (minutes)', 15],
      ['minEvents', 'at least (events)', 10],
    ],
  },
  long_session: { label: 'Long session', fields: [['minutes', 'running longer than (minutes)', 60]] },
  cron_failure: { label: 'Cron failure', fields: [['minutes', 'failed within (minutes)', 60]] },
  disk: { label: 'Disk full', fields: [['percent', 'fuller than (%)', 90]] },
  gateway_down: { label: 'Gateway down', fields: [] },
  cron_health: { label: 'Cron job unhealthy (silent failures, repeats, missed runs)', fields: [] },
  spend_anomaly: { label: 'Unusual hourly cost or tokens', fields: [] },
};
export const W = 'width:100%;max-width:28em;box-sizing:border-box';
export const num = (v) => (v === '' || v == null ? null : Number(v));
export const field = (label, input) => html`<label style="display:block;margin:.35rem 0">${label}<br>${input}</label>`;

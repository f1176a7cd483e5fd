//! Budgets, alert rules and alert channels, and the sender thread that delivers alerts.
//!
//! * Settings: [`Budget`] (daily and monthly USD limits, overall and per agent, warning
//!   percentage, auto-pause), [`Channels`] (Telegram, a JSON webhook, e-mail over SMTP, Slack,
//!   Discord and ntfy in their own formats: `chat.rs`) and
//!   [`Rule`]s (token spike, error rate, long session, cron failure, disk, gateway down). Each is
//!   decoded from the API's JSON with a clear error for the first thing wrong, and stored as JSON
//!   by `history.rs`. Secrets (bot token, webhook secret, SMTP password) are never serialised by
//!   the `public_json` functions the API uses.
//! * Evaluation: [`evaluate`] turns a rule and the monitor's observations into alerts; pure, so it
//!   is unit-tested here. One alert per incident ([`Incidents`]: open while the rule keeps
//!   finding it, resolved at the first check that does not, reminders and cooldowns); recording
//!   is the monitor's.
//! * Delivery: [`spawn_sender`] starts the `alert-sender` thread; the monitor and the test
//!   endpoint hand it [`Job`]s over a channel. Each channel gets a timeout on every socket
//!   operation and up to three attempts; the outcome of every attempt ends up in the alert's
//!   record (`history.rs`), so a failed send is visible in `GET /api/alerts`, never silent.
//!
//! Webhook signature: with a secret, the POST carries `X-Clawmetry-Signature-256:
//! sha256=<hex HMAC-SHA256(secret, body)>`; the body holds `atMs`, so a receiver can also reject
//! replays. E-mail: SMTP with STARTTLS (port 587), implicit TLS (465), or plain SMTP (a local
//! relay); a password is never sent unencrypted except to a loopback server.

mod budget;
mod channels;
mod chat;
mod guard;
mod incident;
mod json;
mod rules;
mod sender;
mod smtp;

pub use budget::*;
pub use channels::*;
pub use guard::*;
pub use incident::{Incidents, Step};
pub use rules::*;
pub use sender::*;

#[cfg(test)]
mod tests;

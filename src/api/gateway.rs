//! `GET /api/gateway`: the gateway connection as the dashboard sees it: state, protocol,
//! server version, last error (with the approve command when pairing is pending), the
//! methods and events the gateway offers, and which sessions it reports running.

use super::{Answer, Ctx};
use super::{Req, Resp};

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    let mut v = ctx.gateway.status_json();
    v["nowMs"] = ctx.index.now_ms().into();
    // The last error and the server's hello are the gateway's words: redact them.
    crate::redact::value(&mut v);
    Ok(Resp::json(&v))
}

//! `GET /api/gateway`: the gateway connection as the dashboard sees it: state, protocol,
//! server version, last error (with the approve command when pairing is pending), the
//! methods and events the gateway offers, and which sessions it reports running.

use super::Ctx;
use super::{Req, Resp};

pub fn get(_req: &Req, ctx: &Ctx) -> Resp {
    let mut v = ctx.gateway.status_json();
    v["nowMs"] = ctx.index.now_ms().into();
    // The last error and the server's hello are the gateway's words: redact them.
    crate::redact::value(&mut v);
    Resp::json(&v)
}

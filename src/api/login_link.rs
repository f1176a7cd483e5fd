//! `GET /login/<code>`: a one-time login link (`login_link.rs` makes and keeps the codes). A
//! valid code starts a login session like `POST /api/login` and sends the browser to `/` (`303`),
//! so the code leaves the address bar and the history entry; a used, expired or unknown code
//! sends it to `/?login=expired`, where the login form says so. Failures count against the peer
//! like wrong tokens.

use super::auth::session_cookie;
use super::{Ctx, Req, Resp};
use crate::login_link::{redeem, Refused};
use std::net::IpAddr;

pub fn get(req: &Req, ctx: &Ctx, code: &str) -> Resp {
    let ip = req.remote.map(|a| a.ip()).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let to = |location: &str| {
        let mut r = Resp::json(&serde_json::json!({ "location": location }));
        r.status = 303;
        r.headers.push(("Location", location.to_string()));
        r.headers.push(("Referrer-Policy", "no-referrer".into()));
        r
    };
    if ctx.auth.blocked_for(ip).is_some() {
        return to("/?login=blocked");
    }
    let Some(dir) = ctx.auth.data_dir.as_deref() else { return to("/?login=expired") };
    match redeem(dir, code, ctx.index.now_ms()) {
        Ok(()) => {
            let id = ctx.auth.new_session();
            if id.is_empty() {
                return to("/?login=failed");
            }
            let mut r = to("/");
            r.headers.push(("Set-Cookie", session_cookie(req, &id)));
            r
        }
        Err(Refused::Expired) | Err(Refused::Unknown) => {
            ctx.auth.record_failure(ip);
            to("/?login=expired")
        }
    }
}

//! The route table: a plain `match` on (method, path segments). The one place where a
//! handler's [`ApiError`] becomes its HTTP answer.

use super::cache::cached;
use super::{health, logs, memory, overview, sessions, static_files, transcript, usage, Req, Resp};
use super::{Answer, ApiError, Ctx};

pub fn route(req: &Req, ctx: &Ctx) -> Resp {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    // HEAD is GET without the body (the server drops it).
    let method = if req.method == "HEAD" { "GET" } else { req.method.as_str() };
    let answer: Answer = match (method, segs.as_slice()) {
        ("GET", ["api", "health"]) => health::get(req, ctx),
        ("GET", ["login", code]) => Ok(super::login_link::get(req, ctx, code)),
        ("POST", ["api", "login"]) => super::auth::login(req, ctx),
        ("POST", ["api", "logout"]) => super::auth::logout(req, ctx),
        ("GET", ["api", "overview"]) => cached(req, ctx, || overview::get(req, ctx)),
        ("GET", ["api", "sessions"]) if req.q("format").is_some() => sessions::export(req, ctx),
        ("GET", ["api", "sessions"]) => cached(req, ctx, || sessions::list(req, ctx)),
        ("GET", ["api", "sessions", id]) => sessions::one(req, ctx, id),
        ("GET", ["api", "subagents"]) => cached(req, ctx, || sessions::subagents(req, ctx)),
        ("GET", ["api", "transcript", id]) => transcript::page(req, ctx, id),
        ("GET", ["api", "activity"]) => super::activity::get(req, ctx),
        ("GET", ["api", "search"]) => super::search::get(req, ctx),
        ("GET", ["api", "quotas"]) => super::quotas::get(req, ctx),
        ("GET", ["api", "timeline"]) => transcript::timeline(req, ctx),
        ("GET", ["api", "usage"]) => cached(req, ctx, || usage::get(req, ctx)),
        ("GET", ["api", "insight"]) => super::insight::cached_get(req, ctx),
        ("GET", ["api", "usage.csv"]) => cached(req, ctx, || usage::csv(req, ctx)),
        ("GET", ["api", "memory"]) => memory::get(req, ctx),
        ("GET", ["api", "logs"]) => logs::get(req, ctx),
        ("GET", ["api", "flow"]) => super::flow::get(req, ctx),
        ("GET", ["api", "gateway"]) => super::gateway::get(req, ctx),
        ("GET", ["api", "crons"]) => super::crons::list(req, ctx),
        ("POST", ["api", "crons"]) => super::crons::create(req, ctx),
        ("GET", ["api", "crons", id, "runs"]) => super::crons::runs(req, ctx, id),
        ("POST", ["api", "crons", id, "run"]) => super::crons::run_now(req, ctx, id),
        ("POST", ["api", "crons", id, "toggle"]) => super::crons::toggle(req, ctx, id),
        ("PUT", ["api", "crons", id]) => super::crons::edit(req, ctx, id),
        ("DELETE", ["api", "crons", id]) => super::crons::remove(req, ctx, id),
        ("GET", ["api", "system-health"]) => super::system_health::get(req, ctx),
        ("GET", ["api", "budget"]) => super::budget::get(req, ctx),
        ("PUT", ["api", "budget"]) => super::budget::put(req, ctx),
        ("POST", ["api", "budget", "resume"]) => super::budget::resume(req, ctx),
        ("GET", ["api", "alerts"]) => super::alerts::list(req, ctx),
        ("GET", ["api", "alerts", "rules"]) => super::alerts::rules(req, ctx),
        ("POST", ["api", "alerts", "rules"]) => super::alerts::add_rule(req, ctx),
        ("PUT", ["api", "alerts", "rules", id]) => super::alerts::update_rule(req, ctx, id),
        ("DELETE", ["api", "alerts", "rules", id]) => super::alerts::delete_rule(req, ctx, id),
        ("GET", ["api", "alerts", "channels"]) => super::alerts::channels(req, ctx),
        ("PUT", ["api", "alerts", "channels"]) => super::alerts::put_channels(req, ctx),
        ("POST", ["api", "alerts", "test"]) => super::alerts::test(req, ctx),
        ("POST", ["api", "alerts", "ack"]) => super::alerts::ack(req, ctx),
        ("GET", ["api", "guard"]) => super::guard::get(req, ctx),
        ("PUT", ["api", "guard"]) => super::guard::put(req, ctx),
        ("POST", ["api", "guard", "stop"]) => super::guard::stop(req, ctx),
        ("POST", ["api", "guard", "pause"]) => super::guard::pause(req, ctx, true),
        ("POST", ["api", "guard", "resume"]) => super::guard::pause(req, ctx, false),
        ("GET", ["api", "guard", "audit"]) => super::guard::audit(req, ctx),
        ("GET", ["api", "history"]) => super::history::get(req, ctx),
        ("GET", ["api", "otlp"]) => super::otlp::get(req, ctx),
        ("POST", ["v1", signal @ ("traces" | "metrics" | "logs")]) => super::otlp::post(req, ctx, signal),
        ("GET", ["metrics"]) => super::metrics::get(req, ctx),
        ("POST", ["api", "nodes", "register"]) => super::nodes::register(req, ctx),
        ("POST", ["api", "nodes", "report"]) => super::nodes::report(req, ctx),
        ("GET", ["api", "nodes"]) => super::nodes::list(req, ctx),
        (_, ["v1", ..]) => Err(ApiError::new(405, "OTLP/HTTP: POST /v1/traces, /v1/metrics or /v1/logs")),
        (_, ["api", ..]) if method != "GET" => Err(ApiError::new(405, format!("{} is not allowed here", req.method))),
        (_, ["api", ..]) => Err(ApiError::not_found(&format!("endpoint {}", req.path))),
        ("GET", _) => Ok(static_files::get(req)),
        _ => Err(ApiError::new(405, format!("{} is not allowed here", req.method))),
    };
    let mut resp = answer.unwrap_or_else(Resp::from);
    if resp.status == 405 {
        resp.headers.push(("Allow", allowed(&segs).into()));
    }
    resp
}

/// The methods a path takes, for the `Allow` header of a 405 (tests/it/http_methods.rs checks it
/// against the table above).
pub fn allowed(segs: &[&str]) -> &'static str {
    match segs {
        ["api", "login" | "logout"] | ["api", "budget", "resume"] | ["api", "alerts", "test" | "ack"] => "POST",
        ["api", "nodes", "register" | "report"] | ["v1", ..] => "POST",
        ["api", "crons", _, "run" | "toggle"] => "POST",
        ["api", "guard", "stop" | "pause" | "resume"] => "POST",
        ["api", "crons"] | ["api", "alerts", "rules"] => "GET, HEAD, POST",
        ["api", "crons", _] | ["api", "alerts", "rules", _] => "PUT, DELETE",
        ["api", "budget"] | ["api", "alerts", "channels"] | ["api", "guard"] => "GET, HEAD, PUT",
        _ => "GET, HEAD",
    }
}

//! `GET /api/budget` (limits, spend against them, pause state), `PUT /api/budget` (set the
//! limits; the whole object, validated) and `POST /api/budget/resume` (end a budget pause by
//! hand). Changes are allowed from this machine only, like every other change.

use super::auth::authorize_mutation;
use super::{Answer, Ctx};
use super::{Req, Resp};
use crate::monitor::Monitor;
use serde_json::{json, Value};

fn answer(ctx: &Ctx, mon: &Monitor) -> Value {
    let cfg = mon.config();
    json!({
        "nowMs": ctx.index.now_ms(),
        "budget": cfg.budget.to_json(),
        "status": mon.budget_status(),
        "pause": mon.pause_json(),
        "channelsEnabled": cfg.channels.enabled(),
        "agents": ctx.index.read().install.agents.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
    })
}

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    Ok(Resp::json(&answer(ctx, &ctx.monitor)))
}

pub fn put(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let mon = &ctx.monitor;
    let v = super::body_json(req, super::Empty::Refused)?;
    mon.set_budget(&v, ctx.index.now_ms())?;
    // The check runs at once; give it a moment so the answer shows the new status.
    wait_for_check(mon, ctx);
    Ok(Resp::json(&answer(ctx, mon)))
}

pub fn resume(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let mon = &ctx.monitor;
    let r = mon.resume()?;
    let mut a = answer(ctx, mon);
    a["result"] = r;
    Ok(Resp::json(&a))
}

/// Waits (at most 2 s) until the monitor ran a check after this call.
fn wait_for_check(mon: &Monitor, _ctx: &Ctx) {
    let before = mon.monitor_json()["ticks"].as_u64().unwrap_or(0);
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(2) {
        if mon.monitor_json()["ticks"].as_u64().unwrap_or(0) > before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

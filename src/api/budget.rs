//! `GET /api/budget` (limits, spend against them, pause state), `PUT /api/budget` (set the
//! limits; the whole object, validated) and `POST /api/budget/resume` (end a budget pause by
//! hand). Changes are allowed from this machine only, like every other change.

use super::{Req, Resp};
use crate::monitor::Monitor;
use crate::state::Shared;
use serde_json::{json, Value};

pub(super) fn monitor(ctx: &Shared) -> Result<&std::sync::Arc<Monitor>, Resp> {
    ctx.monitor.get().ok_or_else(|| Resp::error(503, "the monitor thread is not running"))
}

pub(super) fn api_error((status, msg): (u16, String)) -> Resp {
    Resp::error(status, &msg)
}

fn answer(ctx: &Shared, mon: &Monitor) -> Value {
    let cfg = mon.config();
    json!({
        "nowMs": ctx.now_ms(),
        "budget": cfg.budget.to_json(),
        "status": mon.budget_status(),
        "pause": mon.pause_json(),
        "channelsEnabled": cfg.channels.enabled(),
        "agents": ctx.read().install.agents.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
    })
}

pub fn get(_req: &Req, ctx: &Shared) -> Resp {
    match monitor(ctx) {
        Ok(m) => Resp::json(&answer(ctx, m)),
        Err(r) => r,
    }
}

pub fn put(req: &Req, ctx: &Shared) -> Resp {
    let run = || -> Result<Value, Resp> {
        super::crons::authorize_mutation(req, ctx)?;
        let mon = monitor(ctx)?;
        let v = super::body_json(req, super::Empty::Refused)?;
        mon.set_budget(&v, ctx.now_ms()).map_err(api_error)?;
        // The check runs at once; give it a moment so the answer shows the new status.
        wait_for_check(mon, ctx);
        Ok(answer(ctx, mon))
    };
    run().map(|v| Resp::json(&v)).unwrap_or_else(|r| r)
}

pub fn resume(req: &Req, ctx: &Shared) -> Resp {
    let run = || -> Result<Value, Resp> {
        super::crons::authorize_mutation(req, ctx)?;
        let mon = monitor(ctx)?;
        let r = mon.resume(ctx).map_err(api_error)?;
        let mut a = answer(ctx, mon);
        a["result"] = r;
        Ok(a)
    };
    run().map(|v| Resp::json(&v)).unwrap_or_else(|r| r)
}

/// Waits (at most 2 s) until the monitor ran a check after this call.
fn wait_for_check(mon: &Monitor, _ctx: &Shared) {
    let before = mon.monitor_json()["ticks"].as_u64().unwrap_or(0);
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(2) {
        if mon.monitor_json()["ticks"].as_u64().unwrap_or(0) > before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

//! `GET /api/system-health`: disks of the OpenClaw and data dirs (flagged at 85%), memory, load,
//! CPU use and temperature (thermal zones, the Raspberry Pi's included), uptime, the gateway's
//! version and uptime, port checks of the gateway and the configured model providers, GPUs
//! (`nvidia-smi`), and the history database. The monitor thread collects it every few seconds
//! (`monitor.rs`); this handler only returns its latest report.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use serde_json::json;

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    let mon = &ctx.monitor;
    let Some(mut h) = mon.health() else {
        return Err(ApiError::unavailable("the first health check is still running; try again in a second")
            .with_header("Retry-After", "1"));
    };
    h["nowMs"] = json!(ctx.index.now_ms());
    h["monitor"] = mon.monitor_json();
    if let Some(o) = h.as_object_mut() {
        o.remove("disksObserved");
    }
    Ok(Resp::json(&h))
}

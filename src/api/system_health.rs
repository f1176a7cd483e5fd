//! `GET /api/system-health`: disks of the OpenClaw and data dirs (flagged at 85%), memory, load,
//! CPU use and temperature (thermal zones, the Raspberry Pi's included), uptime, the gateway's
//! version and uptime, port checks of the gateway and the configured model providers, GPUs
//! (`nvidia-smi`), and the history database. The monitor thread collects it every few seconds
//! (`monitor.rs`); this handler only returns its latest report.

use super::Ctx;
use super::{Req, Resp};
use serde_json::json;

pub fn get(_req: &Req, ctx: &Ctx) -> Resp {
    let mon = &ctx.monitor;
    match mon.health() {
        Some(mut h) => {
            h["nowMs"] = json!(ctx.index.now_ms());
            h["monitor"] = mon.monitor_json();
            if let Some(o) = h.as_object_mut() {
                o.remove("disksObserved");
            }
            Resp::json(&h)
        }
        None => {
            let mut r = Resp::error(503, "the first health check is still running; try again in a second");
            r.headers.push(("Retry-After", "1".into()));
            r
        }
    }
}

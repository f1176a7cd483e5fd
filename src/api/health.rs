//! `GET /api/health`: version, uptime, what was found, index progress and input problems, and
//! the HTTP layer's counters (connections, refusals, timeouts).

use super::{Answer, Ctx};
use super::{Req, Resp};
use serde_json::json;

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    let st = ctx.index.read();
    let i = &st.install;
    let hint = (!i.found).then(|| {
        format!(
            "No OpenClaw installation at {} (chosen by {}). Start OpenClaw once, or point clawmetry at it with --openclaw-dir DIR or $OPENCLAW_STATE_DIR.",
            i.state_dir.display(),
            i.chosen_by
        )
    });
    // The truth in one word, with the reasons: failing when nothing can be read, degraded when
    // a part is broken (a source, the ledger, the history database), else ok. Each reason goes
    // away once its cause is fixed.
    let mut reasons: Vec<String> = Vec::new();
    if !i.found {
        reasons.push(format!("no OpenClaw installation at {}", i.state_dir.display()));
    }
    for (source, why) in &st.problems {
        reasons.push(format!("cannot read {source}: {why}"));
    }
    if let Some(e) = &st.ledger.last_error {
        reasons.push(format!("ledger: {e}"));
    }
    if let Some(e) = &ctx.monitor.history.open_error {
        reasons.push(format!("history kept in memory only, settings cannot be saved: {e}"));
    }
    if let Some(e) = ctx.monitor.history_error() {
        reasons.push(e);
    }
    let tz = crate::tz::chosen();
    if let Some(p) = &tz.problem {
        reasons.push(p.clone());
    }
    let databases = i.agents.iter().filter(|a| a.db_path.is_file()).count();
    let failing_dbs =
        st.problems.keys().filter(|k| i.agents.iter().any(|a| a.db_path.display().to_string() == **k)).count();
    let status = if !i.found || (databases > 0 && failing_dbs == databases && st.health.files == 0) {
        "failing"
    } else if reasons.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    let v = json!({
        "status": status,
        "reasons": reasons,
        "version": ctx.index.version,
        "nowMs": ctx.index.now_ms(),
        "uptimeSeconds": ctx.index.uptime_seconds(),
        "tz": super::tz_json(ctx.index.now_ms()),
        "otlpExport": crate::otlp_export::status_json("export"),
        "fleetOtlp": crate::otlp_export::status_json("fleet"),
        "openclaw": {
            "found": i.found,
            "stateDir": i.state_dir,
            "chosenBy": i.chosen_by,
            "hint": hint,
            "configPath": i.config_path,
            "configError": i.config_error,
            "gatewayPort": i.gateway_port,
            "agents": i.agents,
            "stateDb": i.state_db,
            "profile": i.profile,
            "otherProfiles": i.other_profiles,
        },
        "sources": {
            "jsonlFiles": st.health.files,
            "databases": st.health.databases,
            "sessions": st.sessions.len(),
            "purgedSessions": st.purged_sessions(),
            "subagentRuns": st.subagent_runs.len(),
            "prices": st.price_source,
        },
        "index": st.health,
        "ledger": st.ledger,
        "checkpoint": st.checkpoint,
        "search": ctx.search.status_json(),
        "http": crate::http::server::limits::stats(),
    });
    drop(st);
    Ok(Resp::json(&v))
}

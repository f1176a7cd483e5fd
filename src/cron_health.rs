//! Cron health: what a job's recent runs say beyond their status. Pure (fed by `api/crons.rs`
//! and the monitor's `cron_health` rule), so every finding is unit-tested with figures worked
//! out by hand.
//!
//! Per job: runs looked at, share that ended ok, median duration, mean cost per run (the cost of
//! each run's session in the index), failures in a row, the last error; and findings:
//! - `failing`: the newest runs failed, N in a row (critical from 3);
//! - `silent`: runs reported ok although a tool call of their session failed or their output
//!   says it failed (words such as "error", "failed", "unable to", not "no errors");
//! - `short`: the newest ok output under a quarter of the job's usual length (the median of the
//!   other ok runs, at least 3 of them, usually 40+ characters);
//! - `same`: the same output 3 runs in a row;
//! - `slow`: the newest run more than 3× the median duration of the others (at least 3);
//! - `stuck`: a run still going after 3× the usual duration (at least 30 minutes);
//! - `missed`: an enabled job whose next run time passed more than 5 minutes ago while the
//!   gateway is up, with no run going.

use serde_json::{json, Value};

/// What the index knows of a run's session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunFacts {
    pub cost: f64,
    pub tool_errors: u64,
    /// Tool calls that ran but whose command exited non-zero.
    pub exit_failures: u64,
}

const MISSED_AFTER_MS: i64 = 5 * 60_000;
const STUCK_MIN_MS: i64 = 30 * 60_000;

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Whether an output reads as a failure ("error", "failed", …), leaving out the usual
/// reassurances ("no errors", "0 errors", "without error").
pub fn says_failed(text: &str) -> bool {
    let t = text.to_lowercase();
    let mut cleaned = t.clone();
    for ok in ["no errors", "no error", "0 errors", "zero errors", "without error", "not failed", "no failures"] {
        cleaned = cleaned.replace(ok, " ");
    }
    [
        "error",
        "failed",
        "failure",
        "exception",
        "traceback",
        "unable to",
        "could not",
        "couldn't",
        "permission denied",
        "timed out",
    ]
    .iter()
    .any(|w| cleaned.contains(w))
}

fn finding(kind: &str, severity: &str, message: String, run: Option<&Value>) -> Value {
    json!({"kind": kind, "severity": severity, "message": message,
        "runId": run.and_then(|r| r.get("runId")).cloned().unwrap_or(Value::Null)})
}

/// The health of one job (`sources::crons::job`'s shape: `runs` newest first).
/// Every cron job of the installation (read-only from OpenClaw's store, the last 500 runs) in
/// the API's shape, with its [`assess`]ment; empty when there is no store to read.
pub fn of_installed(index: &crate::state::Index, now_ms: i64, gateway_up: bool) -> Vec<(Value, Value)> {
    use crate::sources::crons;
    let install = index.read().install.clone();
    let Some(Ok(store)) = crons::read_installed(&install, 500) else { return Vec::new() };
    let st = index.read();
    let facts = |r: &Value| st.cron_run_facts(r);
    store
        .jobs
        .iter()
        .map(|j| {
            let job = crons::job(j, &store.runs, 10);
            let health = assess(&job, now_ms, gateway_up, &facts);
            (job, health)
        })
        .collect()
}

pub fn assess(job: &Value, now_ms: i64, gateway_up: bool, facts: &dyn Fn(&Value) -> Option<RunFacts>) -> Value {
    let runs: Vec<&Value> = job["runs"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let status = |r: &Value| r["status"].as_str().unwrap_or("").to_string();
    let finished: Vec<&Value> = runs.iter().copied().filter(|r| status(r) != "running").collect();
    let is_ok = |r: &Value| matches!(status(r).as_str(), "ok" | "success" | "skipped");
    let ok: Vec<&Value> = finished.iter().copied().filter(|r| is_ok(r)).collect();
    let durations = |rs: &[&Value]| rs.iter().filter_map(|r| r["durationMs"].as_f64()).collect::<Vec<_>>();
    let costs: Vec<f64> = finished.iter().filter_map(|r| facts(r)).map(|f| f.cost).collect();
    let failures_in_row = finished.iter().take_while(|r| !is_ok(r)).count();
    let last_error = finished.iter().find_map(|r| r["error"].as_str().filter(|e| !e.is_empty()));
    let summary = |r: &Value| r["summary"].as_str().unwrap_or("").trim().to_string();
    let mut findings = Vec::new();

    if failures_in_row > 0 {
        let sev = if failures_in_row >= 3 { "critical" } else { "warning" };
        let last = last_error
            .map(|e| format!("; last error: {}", crate::sources::transcript::short(e, 160)))
            .unwrap_or_default();
        findings.push(finding(
            "failing",
            sev,
            format!("{failures_in_row} failed run(s) in a row{last}"),
            finished.first().copied(),
        ));
    }
    // Runs reported ok that did not go well.
    let silent: Vec<(&Value, String)> = ok
        .iter()
        .filter_map(|r| {
            let f = facts(r).unwrap_or_default();
            if f.tool_errors > 0 {
                Some((*r, format!("{} tool call(s) of its session failed", f.tool_errors)))
            } else if f.exit_failures > 0 {
                Some((*r, format!("{} command(s) of its session exited non-zero", f.exit_failures)))
            } else if says_failed(&summary(r)) {
                Some((*r, format!("its output says: \"{}\"", crate::sources::transcript::short(&summary(r), 120))))
            } else {
                None
            }
        })
        .collect();
    if let Some((r, why)) = silent.first() {
        findings.push(finding(
            "silent",
            "warning",
            format!("{} of the last {} runs reported ok although {why}", silent.len(), finished.len()),
            Some(r),
        ));
    }
    if let Some((newest, rest)) = ok.split_first() {
        let lens: Vec<f64> = rest.iter().map(|r| summary(r).chars().count() as f64).collect();
        if let Some(m) = median(lens.clone()).filter(|m| lens.len() >= 3 && *m >= 40.0) {
            let n = summary(newest).chars().count() as f64;
            if n < m / 4.0 {
                findings.push(finding(
                    "short",
                    "warning",
                    format!("the last output has {n} characters; the job's usual is {m:.0}"),
                    Some(newest),
                ));
            }
        }
    }
    let same = ok.iter().take_while(|r| !summary(r).is_empty() && summary(r) == summary(ok[0])).count();
    if same >= 3 {
        findings.push(finding(
            "same",
            "warning",
            format!(
                "the same output {same} runs in a row: \"{}\"",
                crate::sources::transcript::short(&summary(ok[0]), 80)
            ),
            Some(ok[0]),
        ));
    }
    let usual = median(durations(finished.get(1..).unwrap_or(&[])));
    if let (Some(newest), Some(m)) = (finished.first(), usual.filter(|_| finished.len() >= 4)) {
        if let Some(d) = newest["durationMs"].as_f64().filter(|d| m >= 1000.0 && *d > 3.0 * m) {
            findings.push(finding(
                "slow",
                "warning",
                format!("the last run took {:.0} s, over 3× the usual {:.0} s", d / 1000.0, m / 1000.0),
                Some(newest),
            ));
        }
    }
    let running = runs.iter().find(|r| status(r) == "running");
    if let Some(r) = running {
        let limit = usual.map_or(STUCK_MIN_MS as f64, |m| (3.0 * m).max(STUCK_MIN_MS as f64));
        if let Some(start) = r["runAtMs"].as_i64().filter(|s| (now_ms - s) as f64 > limit) {
            findings.push(finding(
                "stuck",
                "warning",
                format!("a run has been going for {} min", (now_ms - start) / 60_000),
                Some(r),
            ));
        }
    }
    let enabled = job["enabled"].as_bool().unwrap_or(true);
    if let Some(next) =
        job["nextRunMs"].as_i64().filter(|n| enabled && gateway_up && running.is_none() && now_ms - n > MISSED_AFTER_MS)
    {
        findings.push(finding(
            "missed",
            "warning",
            format!(
                "the run due at {} did not happen ({} min ago)",
                crate::timefmt::iso(next),
                (now_ms - next) / 60_000
            ),
            None,
        ));
    }
    let n = finished.len();
    json!({
        "runs": n,
        "okRate": if n > 0 { Some(ok.len() as f64 / n as f64) } else { None },
        "medianDurationMs": median(durations(&finished)),
        "costPerRun": if costs.is_empty() { None } else { Some(crate::state::round_cost(costs.iter().sum::<f64>() / costs.len() as f64)) },
        "failuresInRow": failures_in_row,
        "lastError": last_error,
        "findings": findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, summary: &str, dur: i64, session: &str) -> Value {
        json!({"runId": format!("r-{session}"), "status": status, "summary": summary, "durationMs": dur,
            "sessionId": session, "runAtMs": 1_000})
    }

    fn kinds(h: &Value) -> Vec<&str> {
        h["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect()
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn figures_and_a_healthy_job() {
        let long = "Checked the mailbox: 3 new messages, all filed; nothing urgent today.";
        let job = json!({"enabled": true, "nextRunMs": NOW + 60_000, "runs": [
            run("ok", &format!("{long} A"), 10_000, "a"), run("ok", &format!("{long} B"), 20_000, "b"),
            run("error", "", 30_000, "c"), run("ok", &format!("{long} D"), 40_000, "d")]});
        let facts = |r: &Value| match r["sessionId"].as_str() {
            Some("a") => Some(RunFacts { cost: 0.10, tool_errors: 0, exit_failures: 0 }),
            Some("b") => Some(RunFacts { cost: 0.30, tool_errors: 0, exit_failures: 0 }),
            _ => None,
        };
        let h = assess(&job, NOW, true, &facts);
        assert_eq!(h["runs"], 4);
        assert_eq!(h["okRate"], 0.75);
        // Durations 10, 20, 30, 40 s: median 25 s. Costs of the two known sessions: mean 0.20.
        assert_eq!(h["medianDurationMs"], 25_000.0);
        assert_eq!(h["costPerRun"], 0.2);
        assert_eq!(h["failuresInRow"], 0);
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    #[test]
    fn failures_in_a_row_and_silent_failures() {
        let job = json!({"runs": [run("error", "", 1, "a"), run("error", "", 1, "b"), run("error", "", 1, "c"),
            run("ok", "done", 1, "d")]});
        let h = assess(&job, NOW, true, &|_| None);
        assert_eq!(h["failuresInRow"], 3);
        assert_eq!(h["findings"][0]["severity"], "critical");
        let job = json!({"runs": [run("ok", "Report sent.", 1, "a"), run("ok", "Unable to reach the API; gave up.", 1, "b"),
            run("ok", "No errors found.", 1, "c")]});
        let facts =
            |r: &Value| (r["sessionId"] == "a").then_some(RunFacts { cost: 0.0, tool_errors: 2, exit_failures: 0 });
        let h = assess(&job, NOW, true, &facts);
        assert_eq!(kinds(&h), vec!["silent"]);
        let f = &h["findings"][0];
        assert_eq!(f["message"], "2 of the last 3 runs reported ok although 2 tool call(s) of its session failed");
        assert_eq!(f["runId"], "r-a");
        // A command that exited non-zero (OpenClaw: not an error) makes an ok run silent too.
        let job = json!({"runs": [run("ok", "Done. The tool returned: failing", 1, "a")]});
        let facts = |_: &Value| Some(RunFacts { cost: 0.0, tool_errors: 0, exit_failures: 1 });
        let h = assess(&job, NOW, true, &facts);
        assert_eq!(
            h["findings"][0]["message"],
            "1 of the last 1 runs reported ok although 1 command(s) of its session exited non-zero"
        );
        assert!(!says_failed("No errors found.") && says_failed("Traceback (most recent call last)"));
    }

    #[test]
    fn short_same_slow_stuck_and_missed() {
        let usual = "x".repeat(100);
        let job = json!({"runs": [run("ok", "ok", 1000, "a"), run("ok", &usual, 1000, "b"), run("ok", &usual, 1000, "c"),
            run("ok", &format!("{usual}y"), 1000, "d")]});
        // Other ok runs: 100, 100, 101 characters, median 100; "ok" is 2 < 25.
        assert_eq!(kinds(&assess(&job, NOW, true, &|_| None)), vec!["short"]);
        let job = json!({"runs": [run("ok", "Same.", 1000, "a"), run("ok", "Same.", 1000, "b"), run("ok", "Same.", 1000, "c")]});
        assert_eq!(kinds(&assess(&job, NOW, true, &|_| None)), vec!["same"]);
        // 40 s against a median of 10 s (others 10, 10, 12 s).
        let job = json!({"runs": [run("ok", "a1", 40_000, "a"), run("ok", "b1", 10_000, "b"), run("ok", "c1", 10_000, "c"),
            run("ok", "d1", 12_000, "d")]});
        let h = assess(&job, NOW, true, &|_| None);
        assert_eq!(kinds(&h), vec!["slow"]);
        assert_eq!(h["findings"][0]["message"], "the last run took 40 s, over 3× the usual 10 s");
        // A run going for 31 minutes (the usual 1 s × 3 is under the 30-minute floor).
        let mut going = run("running", "", 0, "z");
        going["runAtMs"] = json!(NOW - 31 * 60_000);
        let job = json!({"enabled": true, "nextRunMs": NOW - 3_600_000, "runs": [going, run("ok", "a", 1000, "a")]});
        assert_eq!(kinds(&assess(&job, NOW, true, &|_| None)), vec!["stuck"], "a run going is not a missed one");
        // Due 6 minutes ago, nothing running, gateway up: missed; gateway down or disabled: not.
        let job = json!({"enabled": true, "nextRunMs": NOW - 6 * 60_000, "runs": []});
        assert_eq!(kinds(&assess(&job, NOW, true, &|_| None)), vec!["missed"]);
        assert_eq!(kinds(&assess(&job, NOW, false, &|_| None)), Vec::<&str>::new());
        let job = json!({"enabled": false, "nextRunMs": NOW - 6 * 60_000, "runs": []});
        assert_eq!(kinds(&assess(&job, NOW, true, &|_| None)), Vec::<&str>::new());
        let h = assess(&json!({"runs": []}), NOW, true, &|_| None);
        assert_eq!((h["runs"].as_u64(), h["okRate"].is_null()), (Some(0), true));
    }
}

//! The monitor thread's loop: health every few seconds; usage sync, budget check and alert
//! rules every interval; history snapshots and retention.

use super::budget::*;
use super::cells::{CellId, Cells};
use super::health::*;
use super::*;
use crate::alerts::{self, Alert, Job, Observations, Sample};
use crate::history::{CellKey, Snapshot, UsageRow, SNAPSHOT_METRICS};
use crate::state::round_cost;
use crate::sync::lock;
use foldhash::HashMap;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the thread carries from one tick to the next.
pub(super) struct Loop {
    pub(super) started: Instant,
    pub(super) obs: Observations,
    pub(super) cpu_prev: Option<(u64, u64)>,
    pub(super) next_health: Instant,
    pub(super) next_gpu: Instant,
    pub(super) gpu: Value,
    pub(super) next_check: Instant,
    pub(super) next_snapshot: Instant,
    pub(super) next_prune: Instant,
    /// The guard also runs without new lines now and then, to forget idle sessions.
    pub(super) next_guard: Instant,
    /// The history's cells (max of what was stored and what the index holds).
    pub(super) known: Option<Cells>,
    pub(super) requeued: bool,
    pub(super) gateway_open: Option<bool>,
    /// The rules' open incidents (`None` until the first check restores them from the history).
    pub(super) incidents: Option<alerts::Incidents>,
}

pub(super) fn run(mon: Arc<Monitor>) {
    let now = Instant::now();
    let health_every = mon.settings.interval.min(Duration::from_secs(10)).max(Duration::from_secs(1));
    let mut l = Loop {
        started: now,
        obs: Observations::default(),
        cpu_prev: None,
        next_health: now,
        next_gpu: now,
        gpu: json!({"available": false, "gpus": []}),
        next_check: now,
        next_snapshot: now,
        next_prune: now,
        next_guard: now,
        known: None,
        requeued: false,
        gateway_open: None,
        incidents: None,
    };
    loop {
        let now = Instant::now();
        if now >= l.next_health {
            let h = collect_health(&mon, &mut l);
            lock(&mon.status).health = Some(h);
            l.next_health = now + health_every;
            crate::sources::sqlite_store::drop_idle_spares();
            crate::sources::lines::drop_idle_inflated();
        }
        let ready = mon.index.read().health.ready;
        let (woken, guard_due) = {
            let mut w = lock(&mon.wake.0);
            (std::mem::take(&mut w.check), std::mem::take(&mut w.guard))
        };
        if guard_due || now >= l.next_guard {
            super::guard::tick(&mon, l.started);
            l.next_guard = now + super::guard::TICK_EVERY;
        }
        if ready && (now >= l.next_check || woken) {
            if let Err(e) = check(&mon, &mut l) {
                eprintln!("clawmetry: monitor: {e}");
                lock(&mon.status).last_error = Some(e);
            }
            l.next_check = now + mon.settings.interval;
        }
        if ready && l.known.is_some() && now >= l.next_snapshot {
            match snapshot(&mon, &l) {
                Ok(()) => lock(&mon.status).history_error = None,
                Err(e) => {
                    eprintln!("clawmetry: history snapshot: {e}");
                    let mut st = lock(&mon.status);
                    st.last_error = Some(format!("history snapshot: {e}"));
                    st.history_error = Some(format!("history snapshot: {e}"));
                }
            }
            l.next_snapshot = now + mon.settings.history_interval;
        }
        if ready && now >= l.next_prune {
            if let Err(e) = mon.history.prune(mon.index.now_ms()) {
                eprintln!("clawmetry: history retention: {e}");
            }
            l.next_prune = now + Duration::from_secs(3600);
        }
        let next = [l.next_health, l.next_check, l.next_snapshot, l.next_guard].into_iter().min().unwrap_or(now);
        // Before the index is ready, look again soon: the first check runs right after it.
        let wait = if ready { next.saturating_duration_since(Instant::now()) } else { Duration::from_millis(100) };
        let g = lock(&mon.wake.0);
        let _ = mon.wake.1.wait_timeout_while(g, wait, |w| !w.check && !w.guard);
    }
}

/// Copies the index's usage cells into the history (only cells that grew or were re-priced:
/// a cell the index lost, because OpenClaw deleted the transcript, keeps its stored value).
pub(super) fn sync_usage(mon: &Monitor, l: &mut Loop) -> Result<usize, String> {
    let now = mon.index.now_ms();
    let from_hour = (mon.history.cutoff_ms(now) / 3_600_000) as u32;
    if l.known.is_none() {
        l.known =
            Some(Cells::from_rows(mon.history.load_cells(from_hour).map_err(|e| format!("reading history.db: {e}"))?));
    }
    let known = l.known.as_mut().expect("loaded");
    let mut changed: Vec<(CellId, UsageRow)> = Vec::new();
    {
        let st = mon.index.read();
        // The index's model and agent positions as the cells' (looked up once each).
        let (mut models, mut agents): (Vec<Option<u32>>, Vec<Option<u32>>) = (Vec::new(), Vec::new());
        for (&(hour, m, a), c) in st.hourly.range((from_hour, 0, 0)..) {
            let row = UsageRow {
                input: c.usage.input,
                output: c.usage.output,
                cache_read: c.usage.cache_read,
                cache_write: c.usage.cache_write,
                reasoning: c.usage.reasoning,
                cost: c.usage.cost,
                calls: c.calls,
            };
            let model = position(&mut models, m as usize, || known.intern(st.models.name(m)));
            let agent = position(&mut agents, usize::from(a), || {
                known.intern(st.agents.get(usize::from(a)).map_or("", |n| &**n))
            });
            let id = (hour, model, agent);
            match known.get(id) {
                Some(k) if k.calls > row.calls || *k == row => {}
                _ => changed.push((id, row)),
            }
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    known.set(&changed);
    let changed: Vec<(CellKey, UsageRow)> = changed.into_iter().map(|(id, r)| (known.key(id), r)).collect();
    mon.history.store_cells(&changed).map_err(|e| format!("writing history.db: {e}"))?;
    if mon.history.meta("backfilled_ms").is_none() {
        let _ = mon.history.set_meta("backfilled_ms", &now.to_string());
    }
    Ok(changed.len())
}

/// The cells' position of the index's name at position `i`, interned the first time (`seen`:
/// what each index position became).
fn position(seen: &mut Vec<Option<u32>>, i: usize, intern: impl FnOnce() -> u32) -> u32 {
    if seen.len() <= i {
        seen.resize(i + 1, None);
    }
    *seen[i].get_or_insert_with(intern)
}

pub(super) fn check(mon: &Monitor, l: &mut Loop) -> Result<(), String> {
    let t_check = Instant::now();
    let now = mon.index.now_ms();
    if !l.requeued {
        // Alerts recorded but never sent (clawmetry stopped in between): send them now.
        l.requeued = true;
        for a in mon.history.pending_alerts(now - 86_400_000).unwrap_or_default() {
            let alert = Alert {
                kind: a.kind,
                severity: match a.severity.as_str() {
                    "critical" => "critical",
                    "warning" => "warning",
                    _ => "info",
                },
                rule_id: a.rule_id,
                dedupe: a.dedupe,
                title: a.title,
                message: a.message,
                data: a.data,
            };
            let job = Job {
                alert_id: Some(a.id),
                alert,
                at_ms: a.ts,
                channels: mon.config().channels,
                attempts: 3,
                reply: None,
            };
            let _ = lock(&mon.outbox).send(job);
        }
    }
    let sync_err = sync_usage(mon, l).err();
    let cfg = mon.config();
    let budget = budget_check(mon, l, &cfg.budget, now);
    // Observations for the rules.
    let t_rules = Instant::now();
    let needs = |k: &str| cfg.rules.iter().any(|r| r.enabled && r.kind_name() == k);
    {
        let st = mon.index.read();
        let (mut tokens, mut events, mut errors) = (0u64, 0u64, 0u64);
        let mut running = Vec::new();
        // The guard's baseline: each agent's sessions' tokens per minute (over their span, at
        // least a minute), whose median is the agent's usual rate.
        let mut rates: HashMap<&str, Vec<f64>> = HashMap::default();
        for s in st.sessions.values() {
            let used = s.tally.usage.total_tokens();
            if let (true, Some(a), Some(b)) = (used > 0, s.first_ms(), s.last_ms()) {
                let minutes = ((b - a) as f64 / 60_000.0).max(1.0);
                rates.entry(&s.agent).or_default().push(used as f64 / minutes);
            }
            tokens += s.tally.usage.total_tokens();
            events += u64::from(s.tally.tool_results) + u64::from(s.tally.assistant_messages);
            errors += s.tally.errors();
            if needs("long_session") && st.status_of(s, now).status == "running" {
                if let Some(started) = s.first_ms() {
                    running.push(alerts::RunningSession {
                        id: s.id.to_string(),
                        agent: s.agent.to_string(),
                        label: s.meta.label.as_deref().map(str::to_string),
                        started_ms: started,
                    });
                }
            }
        }
        let baseline: HashMap<String, f64> = rates
            .into_iter()
            .map(|(a, mut v)| {
                v.sort_by(f64::total_cmp);
                (a.to_string(), v[v.len() / 2])
            })
            .collect();
        *lock(&mon.guard_baseline) = baseline;
        l.obs.window.push(Sample { mono_ms: l.started.elapsed().as_millis() as i64, tokens, events, errors });
        l.obs.running = running;
    }
    l.obs.now_ms = now;
    l.obs.cron_failures = if needs("cron_failure") {
        let install = mon.index.read().install.clone();
        read_cron_failures(&install, now - 7 * 86_400_000)
    } else {
        Vec::new()
    };
    l.obs.cron_health = if needs("cron_health") { cron_health(mon, now) } else { Vec::new() };
    l.obs.disks = lock(&mon.status)
        .health
        .as_ref()
        .and_then(|h| h["disksObserved"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|d| Some((d[0].as_str()?.to_string(), d[1].as_str()?.to_string(), d[2].as_f64()?)))
        .collect();
    l.obs.hours = if needs("spend_anomaly") { mon.index.read().hour_checks(now, 2, &|_| true) } else { Vec::new() };
    l.obs.gateway = l.gateway_open.map(|open| (mon.index.read().install.gateway_port, open));
    rule_alerts(mon, l, &cfg.rules, now);
    let mut st = lock(&mon.status);
    st.budget = budget;
    st.last_tick_ms = Some(now);
    st.ticks += 1;
    st.open_incidents = l.incidents.as_ref().map_or(0, |i| i.open_count());
    st.rules_us = t_rules.elapsed().as_micros() as u64;
    st.check_us = t_check.elapsed().as_micros() as u64;
    st.last_error = sync_err.clone();
    drop(st);
    match sync_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Evaluates the rules and records one alert per incident (`alerts/incident.rs`); marks the
/// incidents that ended resolved.
fn rule_alerts(mon: &Monitor, l: &mut Loop, rules: &[alerts::Rule], now: i64) {
    let incidents = l.incidents.get_or_insert_with(|| {
        // Incidents of the last week still open when clawmetry stopped go on where they were.
        alerts::Incidents::restore(mon.history.open_incidents(now - 7 * 86_400_000).unwrap_or_default())
    });
    for rule in rules {
        for mut a in alerts::evaluate(rule, &l.obs) {
            let key = a.dedupe.clone();
            let step = incidents.step(
                &key,
                now,
                rule.cooldown_minutes as i64 * 60_000,
                rule.repeat_minutes as i64 * 60_000,
                || mon.history.last_fired(&key),
            );
            if step == alerts::Step::Quiet {
                continue;
            }
            if step == alerts::Step::Remind {
                a.title = format!("Still firing: {}", a.title);
                a.data["reminder"] = json!(true);
            }
            let id = mon.record(a, now);
            incidents.recorded(&key, id, now);
        }
    }
    for (key, ids) in incidents.end_check() {
        if let Err(e) = mon.history.resolve_alerts(&ids, now) {
            eprintln!("clawmetry: cannot mark alerts {ids:?} resolved: {e}");
        }
        if !ids.is_empty() {
            mon.index.hub.publish("alert-resolved", json!({"ids": ids, "key": key, "resolvedMs": now}));
        }
    }
}

pub(super) fn snapshot(mon: &Monitor, l: &Loop) -> Result<(), String> {
    let now = mon.index.now_ms();
    let mut values: Vec<Option<f64>> = vec![None; SNAPSHOT_METRICS.len()];
    let mut set = |name: &str, v: Option<f64>| {
        if let Some(i) = SNAPSHOT_METRICS.iter().position(|m| m.1 == name) {
            values[i] = v;
        }
    };
    {
        let st = mon.index.read();
        let counts = st.status_counts(now);
        set("sessions", Some(st.sessions.len() as f64));
        set("running", Some(counts.running as f64));
        set("failed", Some(counts.failed as f64));
    }
    if let Some(known) = &l.known {
        let tokens: u64 = known.iter().map(|(_, _, r)| r.input + r.output + r.cache_read + r.cache_write).sum();
        set("tokensTotal", Some(tokens as f64));
        set("costTotal", Some(round_cost(known.iter().map(|(_, _, r)| r.cost).sum())));
        let day = crate::insight::first_hour(crate::tz::zone().day_start(now));
        set("costToday", Some(round_cost(known.iter().filter(|(h, _, _)| *h >= day).map(|(_, _, r)| r.cost).sum())));
    }
    if let Some(h) = lock(&mon.status).health.clone() {
        let disk = |name: &str| {
            h["disks"]
                .as_array()
                .and_then(|d| d.iter().find(|x| x["name"] == name))
                .and_then(|x| x["usedPercent"].as_f64())
        };
        set("disk", disk("OpenClaw dir"));
        set("dataDisk", disk("data dir"));
        set("memory", h["memory"]["usedPercent"].as_f64());
        set("load", h["load"]["one"].as_f64());
        set("cpu", h["cpu"]["percent"].as_f64());
        set("cpuTemp", h["temperature"]["cpuC"].as_f64());
        let gpus = h["gpu"]["gpus"].as_array().cloned().unwrap_or_default();
        let utils: Vec<f64> = gpus.iter().filter_map(|g| g["utilizationPercent"].as_f64()).collect();
        set("gpu", (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64));
        set("rss", h["clawmetry"]["rssBytes"].as_f64());
        set("gatewayUp", h["gateway"]["listening"].as_bool().map(|b| if b { 1.0 } else { 0.0 }));
    }
    mon.history.store_snapshot(&Snapshot { ts: now, values }).map_err(|e| e.to_string())
}

// ---- cron runs (read-only) -------------------------------------------------------------------

/// A run of OpenClaw's run log (as `sources/crons.rs` reads it), when it failed.
pub fn failed_run(r: &Value, jobs: &[Value]) -> Option<alerts::CronFailure> {
    let status = r.get("status")?.as_str()?;
    if !matches!(status, "error" | "failed" | "timeout" | "timed_out" | "interrupted") {
        return None;
    }
    let job = r.get("jobId")?.as_str()?.to_string();
    let finished = r.get("ts").and_then(Value::as_i64)?;
    let name =
        r.get("jobName").and_then(Value::as_str).map(str::to_string).or_else(|| {
            jobs.iter().find(|j| j["id"] == job.as_str()).and_then(|j| j["name"].as_str()).map(str::to_string)
        });
    Some(alerts::CronFailure {
        run_id: ["runId", "sessionId"]
            .iter()
            .find_map(|k| r.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{job}@{finished}")),
        job_id: job,
        job_name: name,
        finished_ms: finished,
        status: status.to_string(),
        error: r.get("error").and_then(Value::as_str).map(|s| s.chars().take(300).collect()),
    })
}

/// Every cron job's health findings (`cron_health.rs`), from OpenClaw's own store (read-only),
/// with each run's session figures from the index.
fn cron_health(mon: &Monitor, now: i64) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (job, h) in crate::cron_health::of_installed(&mon.index, now, mon.gateway.connected()) {
        let id = job["id"].as_str().unwrap_or("").to_string();
        let name = job["name"].as_str().unwrap_or(&id).to_string();
        for f in h["findings"].as_array().into_iter().flatten() {
            out.push((id.clone(), name.clone(), f.clone()));
        }
    }
    out
}

/// Failed cron runs since `since_ms`, from OpenClaw's own store (read-only): the state database
/// (2026.6+) or the file era's `cron/jobs.json` + `cron/runs/`.
pub fn read_cron_failures(install: &crate::sources::detect::Install, since_ms: i64) -> Vec<alerts::CronFailure> {
    let Some(Ok(store)) = crate::sources::crons::read_installed(install, 500) else { return Vec::new() };
    store.runs.iter().filter_map(|r| failed_run(r, &store.jobs)).filter(|f| f.finished_ms >= since_ms).collect()
}

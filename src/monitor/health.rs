//! The system health report (`/api/system-health`): disks, memory, load, CPU, temperature,
//! the gateway's version and uptime, port checks, GPUs, and the history database.

use super::run::*;
use super::*;
use crate::alerts::{self};
use crate::gateway;
use crate::system::{self, Roots};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

// ---- the gateway hook ------------------------------------------------------------------------

/// Hook to the gateway module (`gateway.rs`): one RPC, or why it cannot be made. Everything the
/// monitor asks the gateway goes through here.
pub(super) fn gateway_rpc(gw: &gateway::Handle, method: &str, params: Value) -> Result<Value, String> {
    if !gw.connected() {
        return Err(format!("gateway RPC unavailable: {}", gw.unavailable_reason()));
    }
    if !gw.offers(method) {
        return Err(format!("gateway RPC unavailable: this gateway does not offer {method}"));
    }
    gw.call(method, params, RPC_TIMEOUT).map_err(|e| e.to_string())
}

/// The gateway's version and uptime: from the gateway connection when there is one (`status`
/// RPC: version and pid), else from the process table.
pub(super) fn gateway_info(
    mon: &Monitor,
    roots: &Roots,
    boot_uptime: Option<f64>,
    port: u16,
    listening: bool,
) -> Value {
    let conn = mon.gateway.status_json();
    let mut v = json!({"port": port, "listening": listening, "connected": conn["connected"],
        "connection": conn["state"], "version": conn["serverVersion"], "pid": null, "uptimeSeconds": null,
        "source": null});
    if conn["connected"] == true {
        v["source"] = json!("gateway");
        if let Ok(s) = gateway_rpc(&mon.gateway, "status", json!({})) {
            if v["version"].is_null() {
                v["version"] = s["runtimeVersion"].clone();
            }
            v["pid"] = s["pid"].clone();
            if let Some(pid) = s["pid"].as_u64() {
                let stat = std::fs::read_to_string(roots.proc.join(format!("{pid}/stat"))).ok();
                if let (Some(up), Some(t)) = (boot_uptime, stat.as_deref().and_then(system::parse_proc_start_ticks)) {
                    v["uptimeSeconds"] = json!(((up - t as f64 / 100.0) * 10.0).round() / 10.0);
                }
            }
        }
    }
    if v["uptimeSeconds"].is_null() {
        if let Some(p) = system::find_gateway(roots, boot_uptime) {
            if v["source"].is_null() {
                v["source"] = json!("process table");
            }
            if v["version"].is_null() {
                v["version"] = json!(p.version);
            }
            v["pid"] = json!(p.pid);
            v["uptimeSeconds"] = json!(p.uptime_seconds);
        }
    }
    let cfg_version =
        mon.index.read().install.config.as_ref().and_then(|c| c.pointer("/meta/lastTouchedVersion").cloned());
    v["configVersion"] = cfg_version.unwrap_or(Value::Null);
    v
}

pub(super) fn collect_health(mon: &Monitor, l: &mut Loop) -> Value {
    let roots = &mon.settings.roots;
    let read = |p: &str| std::fs::read_to_string(roots.proc.join(p)).ok();
    let (state_dir, found, port, providers) = {
        let st = mon.index.read();
        let providers: Vec<(String, String, u16)> = st
            .install
            .config
            .as_ref()
            .and_then(|c| c.pointer("/models/providers"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(id, p)| {
                        let url = p.get("baseUrl")?.as_str()?;
                        let (h, port) = system::url_host_port(url)?;
                        // Local services only (Ollama, a local LLM server): no calls to the internet.
                        system::is_local_host(&h).then(|| (format!("model provider {id}"), h, port))
                    })
                    .take(8)
                    .collect()
            })
            .unwrap_or_default();
        (st.install.state_dir.clone(), st.install.found, st.install.gateway_port, providers)
    };
    let mut disks = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut disk_obs = Vec::new();
    let mut dirs = vec![("OpenClaw dir", Some(state_dir.clone()).filter(|_| found))];
    dirs.push(("data dir", mon.settings.data_dir.clone()));
    for (name, dir) in dirs {
        let Some(dir) = dir else { continue };
        match system::disk(&dir) {
            Ok(d) => {
                let warn = d.used_percent >= DISK_WARN_PERCENT;
                if warn {
                    warnings.push(format!(
                        "The disk holding the {name} ({}) is {}% full.",
                        dir.display(),
                        d.used_percent
                    ));
                }
                disk_obs.push((name.to_string(), dir.display().to_string(), d.used_percent));
                disks.push(json!({"name": name, "path": dir, "warn": warn, "totalBytes": d.total_bytes,
                    "usedBytes": d.used_bytes, "availBytes": d.avail_bytes, "usedPercent": d.used_percent}));
            }
            Err(e) => disks.push(json!({"name": name, "path": dir, "error": e.to_string()})),
        }
    }
    let memory = read("meminfo").as_deref().and_then(system::parse_meminfo);
    if let Some(m) = &memory {
        if m.used_percent >= 90.0 {
            warnings.push(format!("Memory is {}% used.", m.used_percent));
        }
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = read("loadavg").as_deref().and_then(system::parse_loadavg);
    let uptime = read("uptime").as_deref().and_then(system::parse_uptime);
    let cpu_now = read("stat").as_deref().and_then(system::parse_cpu_stat);
    let cpu_pct = match (l.cpu_prev, cpu_now) {
        (Some(a), Some(b)) => system::cpu_percent(a, b),
        _ => None,
    };
    if cpu_now.is_some() {
        l.cpu_prev = cpu_now;
    }
    let zones = system::thermal_zones(roots);
    let cpu_temp = system::cpu_temperature(&zones);
    if let Some(t) = cpu_temp.filter(|t| *t >= 80.0) {
        warnings.push(format!("The CPU is at {t:.0} °C."));
    }
    let throttled = system::pi_throttled(roots);
    if let Some(t) = throttled.as_ref().filter(|t| t.under_voltage_now || t.throttled_now) {
        warnings.push(format!("The Raspberry Pi reports under-voltage or throttling now ({}).", t.raw));
    }
    // Ports: the gateway and the configured model providers, in parallel, 1 s each.
    let mut targets = vec![("gateway".to_string(), "127.0.0.1".to_string(), port)];
    targets.extend(providers);
    let ports: Vec<system::PortCheck> = std::thread::scope(|s| {
        let hs: Vec<_> = targets
            .iter()
            .map(|(n, h, p)| s.spawn(move || system::check_port(n, h, *p, Duration::from_secs(1))))
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let gw_open = ports.first().is_some_and(|p| p.open);
    l.gateway_open = found.then_some(gw_open);
    if found && !gw_open {
        warnings.push(format!("Nothing listens on the gateway port {port}: is the OpenClaw gateway running?"));
    }
    if Instant::now() >= l.next_gpu {
        l.gpu = match system::nvidia_smi(Duration::from_secs(5)) {
            Ok(None) => json!({"available": false, "gpus": [], "note": "nvidia-smi is not installed"}),
            Ok(Some(g)) => json!({"available": !g.is_empty(), "gpus": g}),
            Err(e) => json!({"available": false, "gpus": [], "error": e}),
        };
        l.next_gpu = Instant::now() + Duration::from_secs(30);
    }
    let gateway = gateway_info(mon, roots, uptime, port, gw_open);
    let rss = read("self/status").as_deref().and_then(system::parse_vmrss);
    let h = &mon.history;
    json!({
        "nowMs": mon.index.now_ms(),
        "collectedMs": crate::timefmt::now_ms(),
        "host": {"hostname": alerts::hostname(), "board": system::board_model(roots), "cpus": cpus,
            "uptimeSeconds": uptime, "os": std::env::consts::OS, "arch": std::env::consts::ARCH},
        "disks": disks,
        "diskWarnPercent": DISK_WARN_PERCENT,
        "memory": memory,
        "load": load.map(|l| json!({"one": l[0], "five": l[1], "fifteen": l[2], "perCpu": (l[0] / cpus as f64 * 100.0).round() / 100.0})),
        "cpu": {"percent": cpu_pct, "count": cpus},
        "temperature": {"cpuC": cpu_temp, "zones": zones},
        "throttled": throttled,
        "gateway": gateway,
        "ports": ports,
        "gpu": l.gpu,
        "clawmetry": {"version": mon.index.version, "pid": std::process::id(), "rssBytes": rss,
            "uptimeSeconds": mon.index.uptime_seconds()},
        "history": {"path": h.path(), "persistent": h.persistent(), "error": h.open_error,
            "retentionDays": h.retention_days, "snapshots": h.snapshot_count(), "lastSnapshotMs": h.last_snapshot_ms()},
        "warnings": warnings,
        "disksObserved": disk_obs.iter().map(|(n, p, u)| json!([n, p, u])).collect::<Vec<_>>(),
    })
}

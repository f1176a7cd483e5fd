//! The wiring: parses the command line, detects the installation, builds the index and every
//! thread's handle, then starts the threads (HTTP server, monitor, fleet reporter, watcher,
//! gateway client). See ARCHITECTURE.md for the map.

use crate::sources::detect;
use crate::{alloc, api, cli, fleet, gateway, http, monitor, search, state, watch};
use std::process::ExitCode;

/// The whole program: what `src/main.rs` runs.
pub fn main() -> ExitCode {
    alloc::tune();
    let cfg = match cli::parse() {
        Ok(cli::Command::Run(c)) => *c,
        Ok(cli::Command::Help) => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Version) => {
            // build.rs sets the target triple and the git commit.
            println!(
                "clawmetry {} ({}, commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("CLAWMETRY_TARGET"),
                env!("CLAWMETRY_GIT_COMMIT")
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("clawmetry: {e}");
            return ExitCode::from(2);
        }
    };
    let install = detect::detect(&cfg);
    if cfg.fleet_server.is_some() && cfg.fleet_key.is_none() {
        eprintln!("clawmetry: --fleet-server needs the fleet key in CLAWMETRY_FLEET_KEY");
        return ExitCode::from(2);
    }
    // The index and every thread's handle exist before any thread starts.
    let index = state::Index::new(install, cfg.fake_now_ms);
    let gateway = gateway::Handle::disabled();
    let monitor = match monitor::Monitor::open(index.clone(), gateway.clone(), monitor::Settings::from_cli(&cfg)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("clawmetry: cannot start the alert sender thread: {e}");
            return ExitCode::from(1);
        }
    };
    let search = std::sync::Arc::new(match &cfg.data_dir {
        Some(dir) if !cfg.no_search => search::Search::new(dir),
        _ => search::Search::off(),
    });
    let ctx = api::Ctx::new(index.clone(), gateway.clone(), monitor.clone(), search.clone(), &cfg);
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => match http::server::tls::load(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("clawmetry: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (port, http_threads) = match api::spawn(ctx, &cfg.host, cfg.port, cfg.workers, tls) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("clawmetry: {e}");
            return ExitCode::from(1);
        }
    };
    // The line tests and scripts wait for; keep its shape.
    println!("clawmetry {} listening on {scheme}://{}:{port}", env!("CARGO_PKG_VERSION"), cfg.host);
    {
        let st = index.read();
        let i = &st.install;
        if i.found {
            println!(
                "clawmetry: OpenClaw state dir {} ({}), {} agent(s)",
                i.state_dir.display(),
                i.chosen_by,
                i.agents.len()
            );
        }
    }
    if let Err(e) = monitor::spawn(monitor) {
        eprintln!("clawmetry: cannot start the monitor thread: {e}");
        return ExitCode::from(1);
    }
    if let (Some(server), Some(key)) = (&cfg.fleet_server, &cfg.fleet_key) {
        let reporter = fleet::Reporter {
            server: server.clone(),
            key: key.clone(),
            interval: std::time::Duration::from_secs(cfg.fleet_interval_secs),
            name: cfg.node_name.clone().unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
            }),
            data_dir: cfg.data_dir.clone(),
        };
        if let Err(e) = fleet::spawn(index.clone(), reporter) {
            eprintln!("clawmetry: cannot start the fleet reporter: {e}");
            return ExitCode::from(1);
        }
    }
    if let Err(e) = watch::spawn(index.clone(), cfg.clone()) {
        eprintln!("clawmetry: cannot start the watcher thread: {e}");
        return ExitCode::from(1);
    }
    if search.status().state != "off" {
        if let Err(e) = search::spawn(index.clone(), search) {
            eprintln!("clawmetry: cannot start the search thread: {e}");
            return ExitCode::from(1);
        }
    }
    if !cfg.no_gateway {
        let s = gateway::Settings {
            url: cfg.gateway_url.clone(),
            token: cfg.gateway_token.clone(),
            data_dir: cfg.data_dir.clone(),
        };
        if let Err(e) = gateway::spawn(index, gateway, s) {
            eprintln!("clawmetry: cannot start the gateway thread: {e}");
        }
    }
    for h in http_threads {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}

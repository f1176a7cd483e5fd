//! The wiring: parses the command line, detects the installation, builds the index and every
//! thread's handle, then starts the threads (HTTP server, monitor, fleet reporter, watcher,
//! gateway client). See ARCHITECTURE.md for the map.

use crate::sources::detect;
use crate::{alloc, api, cli, fleet, gateway, http, login_link, monitor, search, state, watch};
use std::process::ExitCode;

/// The whole program: what `src/main.rs` runs.
pub fn main() -> ExitCode {
    alloc::tune();
    panic_policy();
    let cfg = match cli::parse() {
        Ok(cli::Command::Run(c)) => *c,
        Ok(cli::Command::LoginLink(c)) => return new_login_link(&c),
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
    // The zone of days and months, fixed before anything computes a period.
    match crate::tz::resolve(cfg.tz.as_deref(), std::env::var("TZ").ok().as_deref()) {
        Ok(c) => {
            if let Some(p) = &c.problem {
                eprintln!("clawmetry: {p}");
            }
            crate::tz::init(c);
        }
        Err(e) => {
            eprintln!("clawmetry: {e}");
            return ExitCode::from(2);
        }
    }
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
    print_addresses(&cfg, scheme, port, &index);
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
    // This machine's name in the fleet view and in OTLP exports.
    let node_name = cfg.node_name.clone().unwrap_or_else(|| crate::system::host_name().unwrap_or_default());
    if let (Some(server), Some(key), false) = (&cfg.fleet_server, &cfg.fleet_key, cfg.fleet_otlp) {
        let reporter = fleet::Reporter {
            server: server.clone(),
            key: key.clone(),
            interval: std::time::Duration::from_secs(cfg.fleet_interval_secs),
            name: node_name.clone(),
            data_dir: cfg.data_dir.clone(),
        };
        if let Err(e) = fleet::spawn(index.clone(), reporter) {
            eprintln!("clawmetry: cannot start the fleet reporter: {e}");
            return ExitCode::from(1);
        }
    }
    if let (Some(server), Some(key), true) = (&cfg.fleet_server, &cfg.fleet_key, cfg.fleet_otlp) {
        let node_id = match fleet::node_id(cfg.data_dir.as_deref()) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("clawmetry: fleet: not reporting: {e}");
                return ExitCode::from(1);
            }
        };
        let exporter = crate::otlp_export::Exporter {
            url: server.clone(),
            headers: Vec::new(),
            interval: std::time::Duration::from_secs(cfg.fleet_interval_secs),
            node: node_name.clone(),
            node_id: Some(node_id),
            fleet: Some(crate::otlp_export::FleetNode { key: key.clone() }),
        };
        if let Err(e) = crate::otlp_export::spawn(index.clone(), exporter) {
            eprintln!("clawmetry: cannot start the fleet exporter: {e}");
            return ExitCode::from(1);
        }
    }
    if let Some(url) = &cfg.otlp_export {
        let exporter = crate::otlp_export::Exporter {
            url: url.clone(),
            headers: cfg.otlp_headers.clone(),
            interval: std::time::Duration::from_secs(cfg.otlp_interval_secs),
            node: node_name.clone(),
            // Without a data dir (or randomness) no id: receivers key the node by its name.
            node_id: fleet::node_id(cfg.data_dir.as_deref()).ok(),
            fleet: None,
        };
        if let Err(e) = crate::otlp_export::spawn(index.clone(), exporter) {
            eprintln!("clawmetry: cannot start the OTLP exporter: {e}");
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

/// Where a browser on the LAN can open the dashboard, and a login link with a one-time code
/// (`login_link.rs`) when the dashboard needs a login; `--qr` adds the link as a QR code. The
/// token itself is never printed.
fn print_addresses(cfg: &cli::Config, scheme: &str, port: u16, index: &state::Index) {
    let urls = login_link::base_urls(scheme, &cfg.host, port);
    println!("clawmetry: open {}", urls.join("  or  "));
    let needs_login = cfg.token.is_some() || index.read().install.gateway_token.as_ref().is_some_and(|t| !t.is_empty());
    let Some(dir) = cfg.data_dir.as_deref() else { return };
    if let Err(e) = login_link::write_listen(dir, scheme, &cfg.host, port) {
        eprintln!("clawmetry: {e} (clawmetry login-link will not find this instance)");
    }
    if !needs_login {
        return;
    }
    match login_link::issue(dir, index.now_ms()) {
        Ok(code) => print_link(&urls, &code, cfg.qr),
        Err(e) => eprintln!("clawmetry: no login link: {e}"),
    }
}

fn print_link(urls: &[String], code: &str, qr: bool) {
    let minutes = login_link::TTL_MS / 60_000;
    println!("clawmetry: log in once with this link (valid {minutes} minutes, one use; `clawmetry login-link` makes another):");
    for u in urls {
        println!("  {u}/login/{code}");
    }
    if qr {
        match login_link::qr_text(&format!("{}/login/{code}", urls[0])) {
            Ok(q) => println!("{q}"),
            Err(e) => eprintln!("clawmetry: {e}"),
        }
    }
}

/// `clawmetry login-link`: a new code for the running instance (found through the data dir).
fn new_login_link(cfg: &cli::Config) -> ExitCode {
    let Some(dir) = cfg.data_dir.as_deref() else {
        eprintln!("clawmetry: no data dir (set --data-dir or HOME)");
        return ExitCode::from(2);
    };
    let (scheme, host, port) = match login_link::read_listen(dir) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("clawmetry: {e}");
            return ExitCode::from(1);
        }
    };
    match login_link::issue(dir, crate::timefmt::now_ms()) {
        Ok(code) => {
            print_link(&login_link::base_urls(&scheme, &host, port), &code, cfg.qr);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("clawmetry: {e}");
            ExitCode::from(1)
        }
    }
}

/// The threads a panic on which ends the process. Release builds unwind so that a handler's
/// panic costs one request a 500 (`http/server`); a panic that ended one of these long-lived
/// threads instead would leave the dashboard answering with figures that no longer move, alerts
/// unsent or no new connection taken, with nothing to say so. They abort as every panic did
/// before, for the service manager to restart clawmetry (a restart takes the checkpoint: under
/// a second at 1 GB). The others unwind: handler threads (`http-N`), a connection's thread, the
/// cold index's workers and the checkpoint's loader, whose callers take their failure, and the
/// search indexer (search answers from what it indexed; ending everything for it could only
/// turn a bad transcript into a restart loop).
const ABORT_ON_PANIC: [&str; 9] =
    ["watcher", "inotify", "monitor", "gateway", "fleet", "otlp-export", "alert-sender", "http-accept", "main"];

fn ends_process(thread: Option<&str>) -> bool {
    thread.is_some_and(|t| ABORT_ON_PANIC.contains(&t))
}

/// Installs the panic policy ([`ABORT_ON_PANIC`]): the default report, then an abort on those
/// threads.
fn panic_policy() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        if ends_process(std::thread::current().name()) {
            eprintln!("clawmetry: a panic on a thread it cannot run without; ending (a service manager restarts it)");
            std::process::abort();
        }
    }));
}

#[cfg(test)]
mod panic_tests {
    #[test]
    fn long_lived_threads_end_the_process_handlers_and_workers_do_not() {
        for t in ["watcher", "monitor", "gateway", "http-accept", "main"] {
            assert!(super::ends_process(Some(t)), "{t}");
        }
        for t in [Some("http-0"), Some("http-conn"), Some("checkpoint-load"), None] {
            assert!(!super::ends_process(t), "{t:?}");
        }
    }
}

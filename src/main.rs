//! clawmetry: wiring only. Parses the command line, detects the installation, builds the
//! shared state and starts the threads (watcher, HTTP). See ARCHITECTURE.md for the map.

mod alloc;
mod cli;
mod detect;
mod http;
mod model;
mod pricing;
mod sources;
mod state;
mod timefmt;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    alloc::tune();
    let cfg = match cli::parse() {
        Ok(cli::Command::Run(c)) => c,
        Ok(cli::Command::Help) => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Version) => {
            println!("clawmetry {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("clawmetry: {e}");
            return ExitCode::from(2);
        }
    };
    let install = detect::detect(&cfg);
    let ctx = state::Ctx::new(install, cfg.fake_now_ms);
    let (port, http_threads) = match http::spawn(ctx.clone(), &cfg.host, cfg.port, cfg.workers) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("clawmetry: {e}");
            return ExitCode::from(1);
        }
    };
    // The line tests and scripts wait for; keep its shape.
    println!("clawmetry {} listening on http://{}:{port}", env!("CARGO_PKG_VERSION"), cfg.host);
    {
        let st = ctx.read();
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
    if let Err(e) = watch::spawn(ctx.clone(), cfg.clone()) {
        eprintln!("clawmetry: cannot start the watcher thread: {e}");
        return ExitCode::from(1);
    }
    for h in http_threads {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}

//! Command-line flags and environment: turns `argv` into a [`Config`].
//!
//! Only parsing lives here; finding the OpenClaw installation is `detect.rs`.

use std::path::PathBuf;

/// Everything the user can set. Defaults give the zero-configuration behaviour.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub openclaw_dir: Option<PathBuf>,
    /// Further `--openclaw-dir` flags: other OpenClaw profiles indexed beside the first.
    pub more_openclaw_dirs: Vec<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    pub prices: Option<PathBuf>,
    pub no_gateway: bool,
    /// No full-text search index (`<data-dir>/search.db`).
    pub no_search: bool,
    /// Print the login link as a QR code too.
    pub qr: bool,
    pub gateway_url: Option<String>,
    pub gateway_token: Option<String>,
    pub workers: usize,
    /// Fixed "now" in epoch milliseconds, for tests and reproducible screenshots.
    pub fake_now_ms: Option<i64>,
    /// The monitor (`monitor.rs`): checks, history snapshots, retention, Telegram API.
    pub monitor_interval_secs: u64,
    pub history_interval_secs: u64,
    pub history_days: u32,
    pub telegram_api_base: String,
    pub alert_retry_secs: u64,
    /// Fleet: the central clawmetry this node reports to.
    pub fleet_server: Option<String>,
    /// `--otlp-export URL`: push usage as OTLP metrics to a collector (`otlp_export.rs`).
    pub otlp_export: Option<String>,
    /// `--otlp-header 'Name: value'` (repeatable).
    pub otlp_headers: Vec<(String, String)>,
    pub otlp_interval_secs: u64,
    /// `--fleet-wire json|otlp`: how a node reports to `--fleet-server` (`otlp`: an OTLP
    /// export to the central's `/v1/metrics` with the fleet key).
    pub fleet_otlp: bool,
    pub fleet_interval_secs: u64,
    pub node_name: Option<String>,
    /// Fleet key (`CLAWMETRY_FLEET_KEY`): needed to report, and to accept reports.
    pub fleet_key: Option<String>,
    /// Dashboard access token (`--token` / `CLAWMETRY_TOKEN`); else the gateway token is used.
    pub token: Option<String>,
    /// `--no-auth`: loopback peers need no token.
    pub no_auth: bool,
    /// `--public-overview`: `GET /api/overview` needs no token.
    pub public_overview: bool,
    /// `--tls-cert` / `--tls-key`: serve HTTPS with this PEM certificate chain and key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--forget-purged`: drop from the ledger the sessions no source has any more.
    pub forget_purged: bool,
    /// `--no-checkpoint`: index every source at start, ignoring `<data-dir>/checkpoint`.
    pub no_checkpoint: bool,
    /// `--allow-host NAME`: a host name (besides localhost and the loopback addresses) that
    /// requests let in without a token from this machine may name (DNS rebinding guard).
    pub allow_hosts: Vec<String>,
    /// `--tz NAME`: the zone of days and months (else `TZ`, else `/etc/localtime`; tz.rs).
    pub tz: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "0.0.0.0".into(),
            port: 8900,
            openclaw_dir: None,
            more_openclaw_dirs: Vec::new(),
            data_dir: None,
            log_dir: None,
            prices: None,
            no_gateway: false,
            no_search: false,
            qr: false,
            gateway_url: None,
            gateway_token: None,
            workers: 4,
            fake_now_ms: None,
            forget_purged: false,
            no_checkpoint: false,
            allow_hosts: Vec::new(),
            tz: None,
            monitor_interval_secs: 60,
            history_interval_secs: 300,
            history_days: 90,
            telegram_api_base: "https://api.telegram.org".into(),
            alert_retry_secs: 5,
            fleet_server: None,
            otlp_export: None,
            otlp_headers: Vec::new(),
            otlp_interval_secs: 60,
            fleet_otlp: false,
            fleet_interval_secs: 60,
            node_name: None,
            fleet_key: None,
            token: None,
            no_auth: false,
            public_overview: false,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// What the command line asks for.
// Parsed once at start: the size of `Run` does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Run(Box<Config>),
    /// `clawmetry login-link`: a new login link for the running instance.
    LoginLink(Box<Config>),
    Help,
    Version,
}

pub const HELP: &str = "\
clawmetry - observability dashboard for the OpenClaw agent gateway

USAGE:
    clawmetry [OPTIONS]
    clawmetry login-link [--data-dir DIR] [--qr]   a new login link for the running clawmetry

Finds the OpenClaw state dir by itself ($OPENCLAW_STATE_DIR, $OPENCLAW_HOME, ~/.openclaw,
~/.clawdbot, ~/.moltbot), indexes every session and serves the dashboard on http://HOST:PORT.
It only reads OpenClaw's files; it never writes under them.

OPTIONS:
    --port N             port to listen on (default 8900; 0 picks a free one)
    --host ADDR          address to bind (default 0.0.0.0: the whole LAN)
    --openclaw-dir DIR   the OpenClaw state dir, when auto-detection picks the wrong one; give it
                         again for each further profile to index (by default every
                         ~/.openclaw-<profile> is found by itself)
    --data-dir DIR       where clawmetry keeps its own files (default ~/.clawmetry)
    --log-dir DIR        gateway log dir (default: logging.file from openclaw.json, else /tmp/openclaw)
    --prices FILE        a prices.json overriding the embedded price table
    --forget-purged      drop the sessions OpenClaw no longer has from clawmetry's ledger
                         (<data-dir>/ledger.db); by default their spend stays counted
    --no-checkpoint      read every source at start instead of taking the unchanged ones
                         from <data-dir>/checkpoint (a cold index)
    --workers N          HTTP handler threads (default 4)
    --no-gateway         do not connect to the gateway WebSocket
    --qr                 print the login link as a QR code as well (to open it on a phone)
    --no-search          keep no full-text search index (<data-dir>/search.db, about the size
                         of the transcripts' text; built in the background)
    --gateway-url URL    gateway WebSocket (default ws://127.0.0.1:<gateway.port from openclaw.json>)
    --gateway-token T    gateway token (default gateway.auth.token from openclaw.json)
    --monitor-interval S budget and alert-rule checks every S seconds (default 60)
    --history-interval S history snapshot every S seconds (default 300)
    --history-days N     keep snapshots, hourly usage and alerts N days (default 90, at least
                         32); daily totals are kept
    --telegram-api-base URL   Telegram Bot API (default https://api.telegram.org)
    --alert-retry-secs S a failed alert is sent again after S and 5*S seconds (default 5)
    --otlp-export URL    push usage as OTLP metrics (OTLP/HTTP protobuf) to a collector's base URL
                         (metrics go to URL/v1/metrics); e.g. http://alloy:4318
    --otlp-header 'N: V' a header for every export (repeatable), e.g. an API key
    --otlp-interval S    seconds between exports (default 60)
    --fleet-server URL   report this node to a central clawmetry (needs CLAWMETRY_FLEET_KEY)
    --fleet-interval S   seconds between fleet reports (default 60)
    --fleet-wire W       json (default: clawmetry's own reports) or otlp (an OTLP metrics export
                         to the central's /v1/metrics, with the fleet key and this node's facts)
    --node-name NAME     this node's name in the fleet view (default: the host name)
    --token T            dashboard access token (default: $CLAWMETRY_TOKEN, else the gateway
                         token from openclaw.json); without any token only this machine
                         (loopback) may use the API. See SECURITY.md
    --no-auth            requests from this machine (loopback) need no token
    --allow-host NAME    a name such requests may use besides localhost / 127.0.0.1 (repeatable;
                         other names are refused: a guard against DNS rebinding)
    --public-overview    GET /api/overview needs no token
    --tz NAME            the time zone of days, weeks and months (today's cost, budgets, daily
                         charts, the month-end forecast): an IANA name such as Europe/Berlin,
                         or UTC (default: $TZ, else /etc/localtime, else UTC)
    --tls-cert FILE      serve HTTPS (only) with this PEM certificate chain ...
    --tls-key FILE       ... and this PEM private key; login cookies are then Secure
    --version            print the version and exit
    -h, --help           print this help and exit

ENVIRONMENT:
    OPENCLAW_STATE_DIR, OPENCLAW_HOME   where OpenClaw keeps its state
    CLAWMETRY_PORT, CLAWMETRY_HOST      defaults for --port and --host
    CLAWMETRY_FLEET_KEY                 shared fleet key: a node sends it, a central instance
                                        accepts nodes only when it is set
    CLAWMETRY_TOKEN                     default for --token
    TZ, TZDIR                           the machine's time zone (default for --tz) and where the
                                        zone files are (default /usr/share/zoneinfo)
";

/// Parses the process arguments.
pub fn parse() -> Result<Command, String> {
    parse_from(std::env::args_os().skip(1))
}

/// Parses an argument list (without the program name); testable.
pub fn parse_from<I>(args: I) -> Result<Command, String>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    use lexopt::prelude::*;
    let mut cfg = Config::default();
    if let Ok(p) = std::env::var("CLAWMETRY_PORT") {
        cfg.port = p.parse().map_err(|_| format!("CLAWMETRY_PORT={p:?} is not a port number"))?;
    }
    if let Ok(h) = std::env::var("CLAWMETRY_HOST") {
        cfg.host = h;
    }
    cfg.data_dir = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".clawmetry"));
    cfg.fleet_key = std::env::var("CLAWMETRY_FLEET_KEY").ok().filter(|k| !k.is_empty());
    cfg.token = std::env::var("CLAWMETRY_TOKEN").ok().filter(|t| !t.is_empty());
    let mut parser = lexopt::Parser::from_args(args);
    let mut login_link = false;
    let mut first = true;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        let at_start = std::mem::replace(&mut first, false);
        match arg {
            Value(v) if at_start && v == "login-link" => login_link = true,
            Long("qr") => cfg.qr = true,
            Long("port") => cfg.port = parse_value(&mut parser, "--port")?,
            Long("host") => cfg.host = string_value(&mut parser, "--host")?,
            Long("openclaw-dir") => {
                let dir: PathBuf = parser.value().map_err(|e| e.to_string())?.into();
                if cfg.openclaw_dir.is_none() {
                    cfg.openclaw_dir = Some(dir);
                } else {
                    cfg.more_openclaw_dirs.push(dir);
                }
            }
            Long("data-dir") => cfg.data_dir = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("log-dir") => cfg.log_dir = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("prices") => cfg.prices = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("workers") => cfg.workers = parse_value::<usize>(&mut parser, "--workers")?.clamp(1, 64),
            Long("no-gateway") => cfg.no_gateway = true,
            Long("no-search") => cfg.no_search = true,
            Long("forget-purged") => cfg.forget_purged = true,
            Long("no-checkpoint") => cfg.no_checkpoint = true,
            Long("gateway-url") => cfg.gateway_url = Some(string_value(&mut parser, "--gateway-url")?),
            Long("gateway-token") => cfg.gateway_token = Some(string_value(&mut parser, "--gateway-token")?),
            Long("monitor-interval") => {
                cfg.monitor_interval_secs = parse_value::<u64>(&mut parser, "--monitor-interval")?.clamp(1, 86_400)
            }
            Long("history-interval") => {
                cfg.history_interval_secs = parse_value::<u64>(&mut parser, "--history-interval")?.clamp(1, 86_400)
            }
            Long("history-days") => {
                cfg.history_days = parse_value::<u32>(&mut parser, "--history-days")?.clamp(32, 36_500)
            }
            Long("telegram-api-base") => cfg.telegram_api_base = string_value(&mut parser, "--telegram-api-base")?,
            Long("alert-retry-secs") => {
                cfg.alert_retry_secs = parse_value::<u64>(&mut parser, "--alert-retry-secs")?.min(600)
            }
            Long("fleet-server") => cfg.fleet_server = Some(string_value(&mut parser, "--fleet-server")?),
            Long("otlp-export") => {
                let url = string_value(&mut parser, "--otlp-export")?;
                if !url.starts_with("http://") && !url.starts_with("https://") {
                    return Err(format!(
                        "--otlp-export {url:?}: an http:// or https:// URL (e.g. http://collector:4318)"
                    ));
                }
                cfg.otlp_export = Some(url);
            }
            Long("otlp-header") => {
                let h = string_value(&mut parser, "--otlp-header")?;
                let (k, v) = h
                    .split_once(':')
                    .or_else(|| h.split_once('='))
                    .filter(|(k, _)| !k.trim().is_empty() && !k.contains(char::is_whitespace))
                    .ok_or_else(|| format!("--otlp-header {h:?}: use 'Name: value'"))?;
                cfg.otlp_headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            Long("otlp-interval") => {
                cfg.otlp_interval_secs = parse_value::<u64>(&mut parser, "--otlp-interval")?.clamp(1, 86_400)
            }
            Long("fleet-wire") => {
                cfg.fleet_otlp = match string_value(&mut parser, "--fleet-wire")?.as_str() {
                    "json" => false,
                    "otlp" => true,
                    w => return Err(format!("--fleet-wire {w:?}: json (the default) or otlp")),
                }
            }
            Long("fleet-interval") => {
                cfg.fleet_interval_secs = parse_value::<u64>(&mut parser, "--fleet-interval")?.clamp(1, 86_400)
            }
            Long("node-name") => cfg.node_name = Some(string_value(&mut parser, "--node-name")?),
            Long("token") => cfg.token = Some(string_value(&mut parser, "--token")?).filter(|t| !t.is_empty()),
            Long("no-auth") => cfg.no_auth = true,
            Long("allow-host") => {
                cfg.allow_hosts.push(parser.value().map_err(|e| e.to_string())?.to_string_lossy().to_string())
            }
            Long("tz") => cfg.tz = Some(string_value(&mut parser, "--tz")?),
            Long("public-overview") => cfg.public_overview = true,
            Long("tls-cert") => cfg.tls_cert = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("tls-key") => cfg.tls_key = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("fake-now-ms") => cfg.fake_now_ms = Some(parse_value(&mut parser, "--fake-now-ms")?),
            Long("version") | Short('V') => return Ok(Command::Version),
            Long("help") | Short('h') => return Ok(Command::Help),
            other => return Err(format!("{}; see clawmetry --help", other.unexpected())),
        }
    }
    if cfg.tls_cert.is_some() != cfg.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if login_link {
        return Ok(Command::LoginLink(Box::new(cfg)));
    }
    Ok(Command::Run(Box::new(cfg)))
}

fn string_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, String> {
    parser.value().map_err(|e| e.to_string())?.into_string().map_err(|_| format!("{flag} needs a UTF-8 value"))
}

fn parse_value<T: std::str::FromStr>(parser: &mut lexopt::Parser, flag: &str) -> Result<T, String> {
    let s = string_value(parser, flag)?;
    s.parse().map_err(|_| format!("{flag} {s:?}: not a valid value; see clawmetry --help"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        match parse_from(args.iter().copied()).unwrap() {
            Command::Run(c) => *c,
            _ => panic!("expected run"),
        }
    }

    #[test]
    fn flags_override_defaults() {
        let c = run(&["--port", "0", "--host", "127.0.0.1", "--openclaw-dir", "/x", "--no-gateway"]);
        assert_eq!(c.port, 0);
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.openclaw_dir.unwrap(), PathBuf::from("/x"));
        assert!(c.no_gateway);
    }

    #[test]
    fn bad_port_is_a_clear_error() {
        let e = parse_from(["--port", "eighty"]).err().unwrap();
        assert!(e.contains("--port"), "{e}");
        let e = parse_from(["--bogus"]).err().unwrap();
        assert!(e.contains("--help"), "{e}");
    }
}

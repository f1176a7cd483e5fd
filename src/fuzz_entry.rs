//! The fuzz targets' bodies: one function per target in `fuzz/`, taking the fuzzer's bytes.
//! The cargo-fuzz binaries (`fuzz/fuzz_targets/*.rs`) call these, and so does the ordinary
//! `cargo test` suite (`tests/it/fuzz_regressions.rs`), which feeds them every committed seed and
//! every input that once crashed (`fuzz/regressions/`), so a regression is caught without
//! cargo-fuzz. A function returns normally on any input; a panic or an abort is the bug.
//!
//! Not part of the dashboard: `main.rs` never calls it, so it is not in the binary.

use crate::api::Ctx;
use crate::api::{auth, routes, Req};
use crate::http::server::{read_all, write_resp};
use crate::model::Tally;
use crate::otlp::{decode_logs, decode_metrics, decode_traces, gunzip, Buffers, Encoding};
use crate::pricing::PriceTable;
use crate::sources::event_json::Renderer;
use crate::sources::transcript::{render, summarize, KindFilter};
use crate::state::Index;
use std::sync::{Arc, OnceLock};

/// The names of the targets, as in `fuzz/Cargo.toml` and the folders of `fuzz/seeds/`.
pub const TARGETS: [&str; 6] = ["transcript", "json5", "otlp", "router", "http", "query"];

/// Runs the target called `name` on `data`; false when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "transcript" => transcript(data),
        "json5" => json5(data),
        "otlp" => otlp(data),
        "router" => router(data),
        "http" => http(data),
        "query" => query(data),
        _ => return false,
    }
    true
}

/// The transcript line decoder: the fast summary, what the index makes of it (the line added
/// twice to a session's tally, priced by the embedded table) and the full render, under every
/// filter, of any bytes taken as one line; the transcript page's writer must give the same bytes.
pub fn transcript(data: &[u8]) {
    if let Ok(line) = summarize(data) {
        let prices = prices();
        let mut tally = Tally::default();
        for _ in 0..2 {
            tally.add_line(&line, &|model, usage| prices.cost(model, usage));
        }
        let _ = tally.usage.total_tokens();
    }
    for f in [KindFilter::All, KindFilter::Messages, KindFilter::Tools, KindFilter::Thinking, KindFilter::Errors] {
        // The transcript page writes the event without a `Value`: the same bytes, or a bug.
        let old = render(data, 7, f).map(|ev| {
            ev.map(|mut v| {
                crate::redact::value(&mut v);
                serde_json::to_vec(&v).unwrap_or_default()
            })
        });
        let mut out = Vec::new();
        let mut r = Renderer::default();
        let new = r.write(&mut out, data, 7, f).map(|written| written.then_some(out));
        assert_eq!(old.is_ok(), new.is_ok(), "{f:?}: malformed for one renderer only");
        if let (Ok(old), Ok(new)) = (old, new) {
            assert!(old == new, "{f:?}: {:?} != {:?}", old.map(String::from_utf8), new.map(String::from_utf8));
        }
        assert_eq!(r.passes(data, 7, f).ok(), render(data, 7, f).ok().map(|e| e.is_some()));
    }
}

/// The JSON5 config reader (`openclaw.json`); bytes that are not UTF-8 never reach it.
pub fn json5(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::sources::json5::parse(text);
    }
}

/// The OTLP decoders and what is made of a decoded export. The first byte selects: bit 0 the
/// encoding (protobuf, JSON), bits 1-2 the signal (traces, metrics, logs), bit 3 a gzip body.
/// A decoded export is ingested twice into fresh buffers, so the second pass meets the
/// cumulative-metric state the first one left.
pub fn otlp(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else { return };
    let enc = if sel & 1 == 0 { Encoding::Protobuf } else { Encoding::Json };
    let inflated;
    let body = if sel & 8 != 0 {
        match gunzip(body) {
            Ok(b) => {
                inflated = b;
                &inflated[..]
            }
            Err(_) => return,
        }
    } else {
        body
    };
    let mut buf = Buffers::default();
    match (sel >> 1) % 3 {
        0 => {
            if let Ok(req) = decode_traces(body, enc) {
                for now in [1.0e12, 1.0e12 + 1000.0] {
                    let _ = buf.ingest_traces(&req, now);
                }
            }
        }
        1 => {
            if let Ok(req) = decode_metrics(body, enc) {
                for now in [1.0e12, 1.0e12 + 1000.0] {
                    let _ = buf.ingest_metrics(&req, now, sel & 16 != 0);
                }
            }
        }
        _ => {
            if let Ok(req) = decode_logs(body, enc) {
                for now in [1.0e12, 1.0e12 + 1000.0] {
                    let _ = buf.ingest_logs(&req, now);
                }
            }
        }
    }
}

/// The HTTP router: a request made of the bytes against an empty state (no installation, no
/// gateway, a data dir in a temp dir), built by `Req::new` as the server builds it. The first byte
/// is the method (its value mod 7) and flags: bit 7 Accept-Encoding: gzip, bit 6 Content-Type
/// JSON (else protobuf), bit 5 Content-Encoding: gzip, bit 4 over TLS; then `path?query` up to
/// the first NUL; the rest is the body. Every answer must carry an HTTP status.
pub fn router(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"][m as usize % 7];
    let (url, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let url = String::from_utf8_lossy(url);
    let mut headers: Vec<(String, String)> = [
        ("host", "127.0.0.1:8900"),
        ("content-type", if m & 0x40 != 0 { "application/json" } else { "application/x-protobuf" }),
        ("content-encoding", if m & 0x20 != 0 { "gzip" } else { "identity" }),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    if m & 0x80 != 0 {
        headers.push(("accept-encoding".into(), "gzip".into()));
    }
    let mut req = Req::new(method, &url, headers, body.to_vec(), Some(([127, 0, 0, 1], 1234).into()));
    req.secure = m & 0x10 != 0;
    let resp = routes::route(&req, router_ctx());
    assert!((100..600).contains(&resp.status), "status {} for {method} {url}", resp.status);
}

fn prices() -> &'static PriceTable {
    static PRICES: OnceLock<PriceTable> = OnceLock::new();
    PRICES.get_or_init(|| PriceTable::load(None, None).expect("the embedded price table loads"))
}

/// The token of the state [`router`] and [`http`] share: an `http` input that sends it reaches
/// the routes.
pub const FUZZ_TOKEN: &str = "fuzz-token";

/// The server's HTTP/1.1 request reader on raw bytes (`http::server::read_all`: request line,
/// headers, body, keep-alive requests one after another), then what a handler thread does with
/// each request it accepts: the auth gate (token [`FUZZ_TOKEN`], cookies, cross-site checks),
/// the router, the response written out. A refusal must be an HTTP error status (or 0: the
/// bytes ended); an answer must carry an HTTP status.
pub fn http(data: &[u8]) {
    for r in read_all(data, crate::api::body_limit) {
        match r {
            Ok(req) => {
                let resp = match auth::check(&req, router_ctx()) {
                    Ok(()) => routes::route(&req, router_ctx()),
                    Err(refused) => refused.into(),
                };
                assert!((100..600).contains(&resp.status), "status {} for {} {}", resp.status, req.method, req.path);
                let mut out = Vec::new();
                write_resp(&mut out, resp, req.method == "HEAD", true).expect("writing to memory");
            }
            Err(status) => assert!(status == 0 || (400..600).contains(&status), "refused with status {status}"),
        }
    }
}

/// The GET endpoints whose query strings [`query`] fuzzes (a session id of the fixture where a
/// path takes one).
const QUERY_ROUTES: [&str; 20] = [
    "/api/overview",
    "/api/sessions",
    "/api/sessions/bdfa3cc5-508a-4896-9c98-ae502491d01e",
    "/api/subagents",
    "/api/transcript/bdfa3cc5-508a-4896-9c98-ae502491d01e",
    "/api/timeline",
    "/api/usage",
    "/api/usage.csv",
    "/api/memory",
    "/api/logs",
    "/api/flow",
    "/api/crons",
    "/api/crons/x/runs",
    "/api/system-health",
    "/api/budget",
    "/api/alerts",
    "/api/history",
    "/api/otlp",
    "/api/nodes",
    "/metrics",
];

/// Query strings of every GET endpoint (issue 13: ten URLs once killed the server): the first
/// byte picks the endpoint, the rest is its query string, against the lab fixture indexed with
/// the monitor thread running (so history, budget and alerts answer for real). No answer may be
/// a 500 (a handler's panic) nor anything but an HTTP status; every error body is JSON.
pub fn query(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let path = QUERY_ROUTES[sel as usize % QUERY_ROUTES.len()];
    let url = format!("{path}?{}", String::from_utf8_lossy(rest));
    let headers = vec![("host".to_string(), "127.0.0.1:8900".to_string())];
    let req = Req::new("GET", &url, headers, Vec::new(), Some(([127, 0, 0, 1], 1234).into()));
    let resp = routes::route(&req, query_ctx());
    assert!((200..500).contains(&resp.status) || resp.status == 503, "status {} for GET {url}", resp.status);
    if resp.status >= 400 {
        let v: serde_json::Value = serde_json::from_slice(&resp.body).expect("error bodies are JSON");
        assert!(v["error"].is_string(), "GET {url}: {v}");
    }
}

/// The state [`query`] runs against: the lab fixture (read in place, read-only), indexed once,
/// with the monitor thread; data dir under [`router_dir`].
fn query_ctx() -> &'static Arc<Ctx> {
    static CTX: OnceLock<Arc<Ctx>> = OnceLock::new();
    CTX.get_or_init(|| {
        let tmp = router_dir().join("query");
        let _ = std::fs::create_dir_all(tmp.join("data"));
        let cfg = crate::cli::Config {
            openclaw_dir: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab-2026.9/home")),
            data_dir: Some(tmp.join("data")),
            no_gateway: true,
            fake_now_ms: Some(1_795_600_000_000),
            ..Default::default()
        };
        let ctx = api_ctx(&cfg);
        let _ = crate::watch::spawn(ctx.index.clone(), cfg.clone());
        // The index is ready within a second; inputs before that see a part of it, also fine.
        let t0 = std::time::Instant::now();
        while !ctx.index.read().health.ready && t0.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        ctx
    })
}

/// The temp dir of the router's state in this process (the caller may remove it when done).
pub fn router_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("clawmetry-fuzz-{}", std::process::id()))
}

/// One state for the whole process (building it per input would cost more than routing), in
/// [`router_dir`].
fn router_ctx() -> &'static Arc<Ctx> {
    static CTX: OnceLock<Arc<Ctx>> = OnceLock::new();
    CTX.get_or_init(|| {
        let tmp = router_dir();
        let _ = std::fs::create_dir_all(tmp.join("data"));
        let cfg = crate::cli::Config {
            openclaw_dir: Some(tmp.join("no-openclaw")),
            data_dir: Some(tmp.join("data")),
            no_gateway: true,
            token: Some(FUZZ_TOKEN.into()),
            ..Default::default()
        };
        let ctx = api_ctx(&cfg);
        // Nothing to index here: ready at once, so that the monitor checks (a budget change
        // waits for one) run as they would on a real install.
        ctx.index.write().health.ready = true;
        ctx
    })
}

/// The handlers' context as `main.rs` wires it, with the monitor thread and no gateway.
fn api_ctx(cfg: &crate::cli::Config) -> Arc<Ctx> {
    let index = Index::new(crate::sources::detect::detect(cfg), cfg.fake_now_ms);
    let gateway = crate::gateway::Handle::disabled();
    let monitor =
        crate::monitor::Monitor::open(index.clone(), gateway.clone(), crate::monitor::Settings::from_cli(cfg))
            .expect("the monitor's alert sender thread starts");
    let _ = crate::monitor::spawn(monitor.clone());
    Ctx::new(index, gateway, monitor, std::sync::Arc::new(crate::search::Search::off()), cfg)
}

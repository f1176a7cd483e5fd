//! Dashboard authentication and cross-site protection: one gate, [`check`], called by
//! `handle()` in `mod.rs` before routing (and before the `/api/events` stream). The checks the
//! API areas share live here too: [`authorize_mutation`] for every change (crons, budget,
//! alerts) and [`fleet_off`], the refusal of the fleet endpoints.
//!
//! Rules (also in `SECURITY.md`):
//! - Mutating requests (POST/PUT/DELETE/PATCH) whose `Origin` names another host than `Host`
//!   are refused (403), whatever the path.
//! - Protected: every `/api/*` endpoint, OTLP `/v1/*` and `/metrics`. Public: the UI's static
//!   files, `GET /login/<code>` (a one-time login link, `login_link.rs`), `GET /api/health`,
//!   `POST /api/login`, `POST /api/logout`, the fleet endpoints
//!   `POST /api/nodes/register|report` (they check the fleet key themselves) and, with
//!   `--public-overview`, `GET /api/overview`.
//! - The token is `--token` / `CLAWMETRY_TOKEN`, else the OpenClaw gateway token. It is accepted
//!   as `Authorization: Bearer <token>`, or as a session cookie set by `POST /api/login`
//!   (a random id kept in memory with an expiry; never the token itself).
//! - No token at all: loopback peers only; others get a 403 that says to set `--token`.
//! - `--no-auth`: loopback peers skip the check (other peers still need the token).
//! - Failed logins are limited per peer address: [`MAX_FAILURES`] per [`FAILURE_WINDOW`], then 429.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use foldhash::HashMap;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "clawmetry_session";
/// How long a login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest goes first).
const MAX_SESSIONS: usize = 1024;
/// Failed logins allowed per peer address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Peer addresses whose failures are remembered at most.
const MAX_PEERS: usize = 4096;

/// The settings and in-memory state of the gate; one per server, in `api::Ctx`.
#[derive(Default)]
pub struct Auth {
    /// `--token` / `CLAWMETRY_TOKEN`.
    pub token: Option<String>,
    /// `--no-auth`: loopback peers skip the check.
    pub no_auth: bool,
    /// `--public-overview`: `GET /api/overview` needs no token.
    pub public_overview: bool,
    /// Host names a request let in for coming from loopback may name (DNS rebinding): the
    /// loopback names, the bound address and `--allow-host`.
    pub allowed_hosts: Vec<String>,
    /// Where login links' codes are kept (`login_link.rs`), when there is a data dir.
    pub data_dir: Option<std::path::PathBuf>,
    /// Session id -> expiry.
    sessions: Mutex<HashMap<String, Instant>>,
    /// Peer -> times of its recent failed logins.
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    /// Peer -> times of its recent wrong Bearer tokens (the same limit, counted apart: guessing
    /// through the login form does not lock out a correct Bearer client, nor the other way).
    bearer_failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

type Failures = Mutex<HashMap<IpAddr, Vec<Instant>>>;

impl Auth {
    pub fn from_cli(cfg: &crate::cli::Config) -> Auth {
        Auth {
            token: cfg.token.clone().filter(|t| !t.is_empty()),
            no_auth: cfg.no_auth,
            public_overview: cfg.public_overview,
            data_dir: cfg.data_dir.clone(),
            allowed_hosts: cfg
                .allow_hosts
                .iter()
                .chain(std::iter::once(&cfg.host))
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
                .collect(),
            ..Auth::default()
        }
    }

    pub(super) fn new_session(&self) -> String {
        // No OS randomness: no session (the caller reports it); never a guessable id.
        let Ok(id) = crate::codec::random_id::<32>() else { return String::new() };
        let now = Instant::now();
        let mut s = crate::sync::lock(&self.sessions);
        s.retain(|_, exp| *exp > now);
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                s.remove(&oldest);
            }
        }
        s.insert(id.clone(), now + SESSION_TTL);
        id
    }

    fn session_valid(&self, id: &str) -> bool {
        if id.is_empty() {
            return false;
        }
        let now = Instant::now();
        let mut s = crate::sync::lock(&self.sessions);
        // Constant-time over the ids: the map lookup alone would compare byte by byte.
        let found = s.iter().find(|(k, _)| crate::codec::secret_matches(k, id)).map(|(k, e)| (k.clone(), *e));
        match found {
            Some((_, exp)) if exp > now => true,
            Some((k, _)) => {
                s.remove(&k);
                false
            }
            None => false,
        }
    }

    fn end_session(&self, id: &str) {
        crate::sync::lock(&self.sessions).remove(id);
    }

    /// Seconds until this peer may try again, when it is over the limit.
    pub(super) fn blocked_for(&self, ip: IpAddr) -> Option<u64> {
        Self::blocked_in(&self.failures, ip)
    }

    pub(super) fn record_failure(&self, ip: IpAddr) {
        Self::record_in(&self.failures, ip)
    }

    fn blocked_in(failures: &Failures, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut f = crate::sync::lock(failures);
        let times = f.get_mut(&ip)?;
        times.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        if times.len() < MAX_FAILURES {
            return None;
        }
        let oldest = times.iter().min().copied()?;
        let wait = FAILURE_WINDOW.saturating_sub(now.duration_since(oldest));
        Some(wait.as_secs().max(1))
    }

    fn record_in(failures: &Failures, ip: IpAddr) {
        let now = Instant::now();
        let mut f = crate::sync::lock(failures);
        if f.len() >= MAX_PEERS {
            f.retain(|_, ts| ts.iter().any(|t| now.duration_since(*t) < FAILURE_WINDOW));
        }
        if f.len() < MAX_PEERS || f.contains_key(&ip) {
            f.entry(ip).or_default().push(now);
        }
    }
}

/// The token in force: `--token` / `CLAWMETRY_TOKEN`, else the OpenClaw gateway token.
pub fn token(ctx: &Ctx) -> Option<String> {
    ctx.auth.token.clone().or_else(|| ctx.index.read().install.gateway_token.clone().filter(|t| !t.is_empty()))
}

fn is_loopback(req: &Req) -> bool {
    req.remote.is_some_and(|a| a.ip().is_loopback() || is_mapped_loopback(a.ip()))
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

fn is_mutation(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "DELETE" | "PATCH")
}

/// Whether a path needs the token (see the module comment).
fn protected(req: &Req, public_overview: bool) -> bool {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match segs.as_slice() {
        ["api", "health"] => false,
        ["api", "login" | "logout"] => false,
        ["api", "nodes", "register" | "report"] if m == "POST" => false,
        ["api", "overview"] if public_overview && m == "GET" => false,
        ["api", ..] | ["v1", ..] | ["metrics", ..] => true,
        _ => false,
    }
}

/// The host part of a `Host` header or of an `Origin` URL, lower case, port kept.
fn origin_host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    rest.split('/').next().unwrap_or("")
}

/// Refuses a cross-site mutation: an `Origin` whose host:port is not the `Host` header.
fn same_origin(req: &Req) -> Result<(), ApiError> {
    if !is_mutation(&req.method) {
        return Ok(());
    }
    let Some(origin) = req.header("origin") else { return Ok(()) };
    let host = req.header("host").unwrap_or("");
    if !host.is_empty() && origin_host(origin).eq_ignore_ascii_case(host) {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        format!("cross-origin {} refused: Origin {origin:?} is not this dashboard ({host:?})", req.method),
    ))
}

fn bearer(req: &Req) -> Option<&str> {
    let v = req.header("authorization")?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

fn cookie(req: &Req) -> Option<&str> {
    req.headers
        .iter()
        .filter(|(k, _)| k == "cookie")
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
}

/// The gate: `Ok` when the request may go on to routing, else the refusal to send.
pub fn check(req: &Req, ctx: &Ctx) -> Result<(), ApiError> {
    same_origin(req)?;
    // Fleet endpoints exist only on a central (a fleet key set): refused on the head, before
    // any body is read.
    if req.path.starts_with("/api/nodes/") && req.method == "POST" && ctx.fleet_key.is_none() {
        return Err(fleet_off());
    }
    if !protected(req, ctx.auth.public_overview) {
        return Ok(());
    }
    // Fleet over OTLP: a node's export to a central carries the fleet key, not a dashboard token.
    if req.method == "POST" && req.path == "/v1/metrics" && super::nodes::has_fleet_key(req, ctx) {
        return Ok(());
    }
    authenticated(req, ctx)
}

/// The host name of a `Host` header, without its port or IPv6 brackets, lower case.
fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        h.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(h, |(n, _)| n)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A request let in because it comes from this machine must also name this machine: a page
/// on another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name
/// as `Host`. Loopback literals, `localhost` (and `*.localhost`), the bound address and the
/// names of `--allow-host` are accepted; a request without `Host` (HTTP/1.0 tools) too.
fn local_host_allowed(req: &Req, auth: &Auth) -> Result<(), ApiError> {
    let Some(host) = req.header("host") else { return Ok(()) };
    let name = host_name(host);
    let loopback_ip = name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback() || is_mapped_loopback(ip));
    if loopback_ip
        || name == "localhost"
        || name.ends_with(".localhost")
        || auth.allowed_hosts.iter().any(|h| *h == name && h != "0.0.0.0" && h != "::")
    {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        format!(
            "Host {host:?} is not this machine: requests let in without a token because they come from this \
             machine must name it (localhost, 127.0.0.1); to use another name, start clawmetry with --allow-host {name}"
        ),
    ))
}

/// Whether this request carries the dashboard's credentials (or needs none: see the rules).
pub fn authenticated(req: &Req, ctx: &Ctx) -> Result<(), ApiError> {
    let local = is_loopback(req);
    if local && ctx.auth.no_auth {
        return local_host_allowed(req, &ctx.auth);
    }
    let Some(token) = token(ctx) else {
        if local {
            return local_host_allowed(req, &ctx.auth);
        }
        let peer = req.remote.map(|a| a.ip().to_string()).unwrap_or_else(|| "an unknown address".into());
        return Err(ApiError::new(
            403,
            format!(
                "this dashboard has no access token, so only this machine may use it (request from {peer}); \
                 start clawmetry with --token <secret> (or CLAWMETRY_TOKEN) to open it to other machines"
            ),
        ));
    };
    if let Some(b) = bearer(req) {
        // Wrong tokens count like failed logins: guessing over a keep-alive connection is as
        // slow as through the login form.
        let ip = req.remote.map(|a| a.ip()).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if let Some(wait) = Auth::blocked_in(&ctx.auth.bearer_failures, ip) {
            return Err(ApiError::new(429, format!("too many wrong tokens; try again in {wait} s"))
                .with_header("Retry-After", wait.to_string()));
        }
        if crate::codec::secret_matches(&token, b) {
            return Ok(());
        }
        Auth::record_in(&ctx.auth.bearer_failures, ip);
    }
    if cookie(req).is_some_and(|c| ctx.auth.session_valid(c)) {
        return Ok(());
    }
    Err(ApiError::new(401, "authentication required: log in, or send Authorization: Bearer <token>")
        .with_header("WWW-Authenticate", "Bearer realm=\"clawmetry\""))
}

/// The gate for every change (crons, budget, alerts): the dashboard's auth, which `handle()`
/// has already applied; kept so that each mutation states its check where it happens.
pub fn authorize_mutation(req: &Req, ctx: &Ctx) -> Result<(), ApiError> {
    authenticated(req, ctx)
}

/// Who made an authorised request, for the audit log: the token, a login session (named by a
/// keyed hash of its cookie, never the cookie itself), or this machine without credentials.
pub fn who(req: &Req, ctx: &Ctx) -> String {
    let peer = req.remote.map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown address".into());
    if let (Some(b), Some(t)) = (bearer(req), token(ctx)) {
        if crate::codec::secret_matches(&t, b) {
            return format!("token (from {peer})");
        }
    }
    if let Some(c) = cookie(req).filter(|c| ctx.auth.session_valid(c)) {
        let tag = crate::codec::hex(&crate::codec::hmac_sha256(b"clawmetry-audit", c.as_bytes())[..4]);
        return format!("login session {tag} (from {peer})");
    }
    format!("this machine without a token (from {peer})")
}

/// The refusal of the fleet endpoints on an instance without a fleet key.
pub fn fleet_off() -> ApiError {
    ApiError::new(403, "fleet mode is off on this instance: start it with CLAWMETRY_FLEET_KEY set")
}

/// `POST /api/login {"token": "..."}`: sets the session cookie.
pub fn login(req: &Req, ctx: &Ctx) -> Answer {
    let ip = req.remote.map(|a| a.ip()).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if let Some(wait) = ctx.auth.blocked_for(ip) {
        return Err(ApiError::new(429, format!("too many failed logins; try again in {wait} s"))
            .with_header("Retry-After", wait.to_string()));
    }
    let given = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let Some(token) = token(ctx) else {
        return Err(ApiError::bad_request(
            "this dashboard has no access token to log in with; start clawmetry with --token <secret> (or CLAWMETRY_TOKEN)",
        ));
    };
    if !crate::codec::secret_matches(&token, &given) {
        ctx.auth.record_failure(ip);
        return Err(ApiError::new(401, "wrong token"));
    }
    let id = ctx.auth.new_session();
    if id.is_empty() {
        return Err(ApiError::new(500, "no OS randomness for a session id"));
    }
    let mut r = Resp::json(&json!({ "ok": true, "expiresInSeconds": SESSION_TTL.as_secs() }));
    r.headers.push(("Set-Cookie", session_cookie(req, &id)));
    Ok(r)
}

/// The `Set-Cookie` value of a new login session.
pub(super) fn session_cookie(req: &Req, id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", SESSION_TTL.as_secs(), secure(req))
}

/// `POST /api/logout`: forgets the session and clears the cookie.
pub fn logout(req: &Req, ctx: &Ctx) -> Answer {
    if let Some(c) = cookie(req) {
        ctx.auth.end_session(c);
    }
    let mut r = Resp::json(&json!({ "ok": true }));
    r.headers.push(("Set-Cookie", format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", secure(req))));
    Ok(r)
}

/// The cookie attribute that keeps a cookie set over HTTPS from ever going out over plain HTTP.
fn secure(req: &Req) -> &'static str {
    if req.secure {
        "; Secure"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, remote: &str, headers: &[(&str, &str)]) -> Req {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Req::new(method, path, headers, Vec::new(), Some(remote.parse().unwrap()))
    }

    #[test]
    fn which_paths_are_protected() {
        let p = |m: &str, path: &str, po: bool| protected(&req(m, path, "127.0.0.1:1", &[]), po);
        assert!(p("GET", "/api/transcript/x", false));
        assert!(p("GET", "/api/nodes", false));
        assert!(p("GET", "/api/overview", false));
        assert!(!p("GET", "/api/overview", true));
        assert!(p("POST", "/api/overview", true));
        assert!(p("POST", "/v1/traces", false));
        assert!(p("GET", "/metrics", false));
        assert!(p("GET", "//api//logs", false));
        assert!(!p("GET", "/api/health", false));
        assert!(!p("POST", "/api/login", false));
        assert!(!p("POST", "/api/nodes/report", false));
        assert!(p("GET", "/api/nodes/report", false));
        assert!(!p("GET", "/", false));
        assert!(!p("GET", "/js/util.js", false));
    }

    #[test]
    fn cross_origin_mutations_are_refused() {
        let h = |o: &'static str| [("host", "pi:8900"), ("origin", o)];
        assert!(same_origin(&req("POST", "/api/login", "127.0.0.1:1", &h("http://pi:8900"))).is_ok());
        assert!(same_origin(&req("POST", "/api/login", "127.0.0.1:1", &h("http://PI:8900"))).is_ok());
        for bad in ["http://evil.example", "http://pi:8901", "null", "http://pi:8900.evil.example"] {
            let r = same_origin(&req("POST", "/api/budget", "127.0.0.1:1", &h(bad))).err().unwrap();
            assert_eq!(r.status, 403, "{bad}");
        }
        // No Origin (curl, fleet nodes) or a GET: not a browser's cross-site write.
        assert!(same_origin(&req("POST", "/api/budget", "127.0.0.1:1", &[("host", "pi:8900")])).is_ok());
        assert!(same_origin(&req("GET", "/api/budget", "127.0.0.1:1", &h("http://evil.example"))).is_ok());
    }

    #[test]
    fn credentials_are_parsed() {
        let r = req(
            "GET",
            "/api/logs",
            "10.0.0.2:1",
            &[("authorization", "Bearer  abc "), ("cookie", "a=b; clawmetry_session=s1d")],
        );
        assert_eq!(bearer(&r), Some("abc"));
        assert_eq!(cookie(&r), Some("s1d"));
        assert!(is_loopback(&req("GET", "/", "[::ffff:127.0.0.1]:1", &[])));
        assert!(is_loopback(&req("GET", "/", "[::1]:1", &[])));
        assert!(!is_loopback(&req("GET", "/", "192.168.1.20:1", &[])));
    }

    #[test]
    fn sessions_expire_and_end() {
        let a = Auth::default();
        let id = a.new_session();
        assert_eq!(id.len(), 64);
        assert!(a.session_valid(&id));
        assert!(!a.session_valid("nope"));
        assert!(!a.session_valid(""));
        a.end_session(&id);
        assert!(!a.session_valid(&id));
        let old = a.new_session();
        a.sessions.lock().unwrap().insert(old.clone(), Instant::now() - Duration::from_secs(1));
        assert!(!a.session_valid(&old));
    }

    #[test]
    fn failed_logins_are_limited_per_peer() {
        let a = Auth::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(a.blocked_for(ip).is_none());
            a.record_failure(ip);
        }
        let wait = a.blocked_for(ip).unwrap();
        assert!((1..=60).contains(&wait));
        assert!(a.blocked_for("10.0.0.10".parse().unwrap()).is_none());
    }
}

//! Resource limits of the HTTP layer (SECURITY.md, "Resource limits"), enforced by `server.rs`:
//!
//! - read deadlines: a connection idle between requests is closed after `idle_timeout`; once a
//!   request has begun, its head must arrive within `head_timeout` and its body within
//!   `body_deadline`, however slowly it trickles (408 otherwise); a write that cannot go on for
//!   `write_timeout` ends the connection;
//! - connections: at most `max_conns` open, `max_conns_per_peer` from one address; more get a
//!   503 and are closed;
//! - the handler pool's queue: past `max_queued` waiting requests the answer is a 503 with
//!   `Retry-After` at once;
//! - head and body sizes: the constants in `server.rs` and the body limit per path the application hands the server (`crate::api::body_limit`).

use super::Resp;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

/// Requests waiting for a handler thread, at most (the in-flight limit is this plus the workers).
pub const MAX_QUEUED: usize = 256;
/// Open connections at most, and from one peer address.
pub const MAX_CONNS: usize = 512;
pub const MAX_CONNS_PER_PEER: usize = 128;
/// How long a keep-alive connection may stay idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a request head may take to arrive once its first byte has.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a request body may take to arrive, however it trickles.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);
/// Request bodies held in memory by all connections together, at most (a request past it gets
/// a 503): 16 MiB OTLP exports from 512 connections would otherwise be 8 GiB.
pub const BODY_BUDGET: usize = 64 << 20;
/// The longest one write to a client may block.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests answered 503 because the queue was full, since start.
pub static REJECTED: AtomicU64 = AtomicU64::new(0);
/// Requests whose handler panicked (answered 500; the server goes on), since start.
pub static HANDLER_PANICS: AtomicU64 = AtomicU64::new(0);
/// Connections refused because of the connection limits, since start.
pub static REFUSED_CONNS: AtomicU64 = AtomicU64::new(0);
/// Requests whose head or body did not arrive in time, since start.
pub static TIMED_OUT: AtomicU64 = AtomicU64::new(0);
/// Failed `accept` calls (e.g. out of file descriptors), since start.
pub static ACCEPT_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Requests queued or being handled right now.
pub static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Connections open right now.
pub static OPEN_CONNS: AtomicUsize = AtomicUsize::new(0);

/// The limits in force. Tests shrink them through the environment: `CLAWMETRY_MAX_QUEUED`,
/// `CLAWMETRY_MAX_CONNS`, `CLAWMETRY_MAX_CONNS_PER_PEER`, `CLAWMETRY_READ_TIMEOUT_MS` (the head
/// and idle timeouts; body and write get three times that) and `CLAWMETRY_HANDLER_DELAY_MS`
/// (every handler sleeps that long first: a way to fill the queue on purpose),
/// `CLAWMETRY_BODY_BUDGET` (bytes) and `CLAWMETRY_TEST_HANDLER_PANIC=1` (a request for
/// [`TEST_PANIC_PATH`] panics on its handler thread, as a bug in a handler would: how the tests and
/// cross/qemu-test.py check that the release binary survives one).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_queued: usize,
    pub max_conns: usize,
    pub max_conns_per_peer: usize,
    pub idle_timeout: Duration,
    pub head_timeout: Duration,
    pub body_deadline: Duration,
    pub write_timeout: Duration,
    pub handler_delay: Duration,
    pub body_budget: usize,
    pub test_panic: bool,
}

/// The path that panics when `test_panic` is on.
pub const TEST_PANIC_PATH: &str = "/__test/panic";

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_queued: MAX_QUEUED,
            max_conns: MAX_CONNS,
            max_conns_per_peer: MAX_CONNS_PER_PEER,
            idle_timeout: IDLE_TIMEOUT,
            head_timeout: HEAD_TIMEOUT,
            body_deadline: BODY_DEADLINE,
            write_timeout: WRITE_TIMEOUT,
            handler_delay: Duration::ZERO,
            body_budget: BODY_BUDGET,
            test_panic: false,
        }
    }
}

impl Limits {
    pub fn from_env() -> Limits {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.trim().parse::<u64>().ok());
        let mut l = Limits::default();
        if let Some(n) = num("CLAWMETRY_MAX_QUEUED") {
            l.max_queued = (n as usize).max(1);
        }
        if let Some(n) = num("CLAWMETRY_MAX_CONNS") {
            l.max_conns = (n as usize).max(1);
        }
        if let Some(n) = num("CLAWMETRY_MAX_CONNS_PER_PEER") {
            l.max_conns_per_peer = (n as usize).max(1);
        }
        if let Some(ms) = num("CLAWMETRY_READ_TIMEOUT_MS") {
            let t = Duration::from_millis(ms.max(10));
            (l.idle_timeout, l.head_timeout, l.body_deadline, l.write_timeout) = (t, t, t * 3, t * 3);
        }
        if let Some(n) = num("CLAWMETRY_BODY_BUDGET") {
            l.body_budget = n as usize;
        }
        if let Some(ms) = num("CLAWMETRY_HANDLER_DELAY_MS") {
            l.handler_delay = Duration::from_millis(ms);
        }
        l.test_panic = num("CLAWMETRY_TEST_HANDLER_PANIC") == Some(1);
        l
    }
}

/// The counters above, for `/api/health` (and `/metrics`).
pub fn stats() -> serde_json::Value {
    use std::sync::atomic::Ordering::Relaxed;
    serde_json::json!({
        "openConnections": OPEN_CONNS.load(Relaxed),
        "inFlight": IN_FLIGHT.load(Relaxed),
        "queueFullRejections": REJECTED.load(Relaxed),
        "handlerPanics": HANDLER_PANICS.load(Relaxed),
        "refusedConnections": REFUSED_CONNS.load(Relaxed),
        "timedOutRequests": TIMED_OUT.load(Relaxed),
        "acceptErrors": ACCEPT_ERRORS.load(Relaxed),
    })
}

/// The 503 of a full queue.
pub fn overloaded() -> Resp {
    let mut r = Resp::error(503, "server busy: too many requests waiting; retry shortly");
    r.headers.push(("Retry-After", "1".into()));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_answer_is_a_json_503_with_retry_after() {
        let r = overloaded();
        assert_eq!(r.status, 503);
        assert!(r.headers.iter().any(|(k, v)| *k == "Retry-After" && v == "1"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("busy"));
    }
}

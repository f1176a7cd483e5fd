//! Resource limits of the HTTP layer (SECURITY.md, "Resource limits"):
//!
//! - a deadline for reading a request body (`read_body`): a client that trickles its body gets a
//!   408 once the deadline has passed (one that stalls completely still holds the handler thread
//!   until it goes: tiny_http 0.12 sets no read timeout, see SECURITY.md "Not protected (yet)");
//! - a bound on the work waiting for the handler pool (`Dispatch`): one dispatcher thread takes
//!   requests off tiny_http's queue and hands them to the pool over a bounded channel; when it is
//!   full the request is answered 503 with `Retry-After` at once, by a separate rejector thread
//!   (answering can block behind an earlier response on the same keep-alive connection);
//! - `TCP_NODELAY` on the listening socket (`no_delay`).

use super::Resp;
use std::io::Read;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests waiting for a handler thread, at most (the in-flight limit is this plus the workers).
pub const MAX_QUEUED: usize = 256;
/// The longest a request body may take to arrive, however it trickles.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// Requests answered 503 because the queue was full, since start.
pub static REJECTED: AtomicU64 = AtomicU64::new(0);
/// Requests queued or being handled right now.
pub static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// The limits in force; tests shrink them with `CLAWMETRY_MAX_QUEUED` and
/// `CLAWMETRY_READ_TIMEOUT_MS` (the body deadline is then three times that).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_queued: usize,
    pub body_deadline: Duration,
}

impl Limits {
    pub fn from_env() -> Limits {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.trim().parse::<u64>().ok());
        let mut l = Limits { max_queued: MAX_QUEUED, body_deadline: BODY_DEADLINE };
        if let Some(n) = num("CLAWMETRY_MAX_QUEUED") {
            l.max_queued = (n as usize).max(1);
        }
        if let Some(ms) = num("CLAWMETRY_READ_TIMEOUT_MS") {
            l.body_deadline = Duration::from_millis(ms.max(10)) * 3;
        }
        l
    }
}

/// Reads at most `limit` bytes of body within `deadline`. `Err` = the client was too slow (or the
/// connection failed): answer 408.
pub fn read_body(r: &mut dyn Read, limit: usize, deadline: Duration) -> Result<Vec<u8>, Resp> {
    let t0 = Instant::now();
    let mut body = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if body.len() >= limit {
            return Ok(body);
        }
        if t0.elapsed() > deadline {
            return Err(Resp::error(408, "request body not received in time"));
        }
        let want = chunk.len().min(limit - body.len());
        match r.read(&mut chunk[..want]) {
            Ok(0) => return Ok(body),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(Resp::error(408, "request body not received in time"));
            }
            Err(e) => return Err(Resp::error(400, &format!("cannot read the request body: {e}"))),
        }
    }
}

/// The 503 of a full queue.
pub fn overloaded() -> Resp {
    let mut r = Resp::error(503, "server busy: too many requests waiting; retry shortly");
    r.headers.push(("Retry-After", "1".into()));
    r
}

/// The dispatcher: takes requests off tiny_http's queue and hands them to the handler pool over
/// a channel of `max_queued` places; a request that finds it full is answered 503.
pub struct Dispatch {
    pub rx: Arc<Mutex<Receiver<tiny_http::Request>>>,
}

impl Dispatch {
    pub fn start(server: Arc<tiny_http::Server>, max_queued: usize) -> std::io::Result<Dispatch> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<tiny_http::Request>(max_queued);
        let (reject_tx, reject_rx) = std::sync::mpsc::sync_channel::<tiny_http::Request>(1024);
        std::thread::Builder::new().name("http-reject".into()).spawn(move || {
            for rq in reject_rx {
                super::respond(rq, overloaded());
            }
        })?;
        std::thread::Builder::new().name("http-dispatch".into()).spawn(move || loop {
            match server.recv() {
                Ok(rq) => dispatch(&tx, &reject_tx, rq),
                Err(e) => eprintln!("clawmetry: http accept: {e}"),
            }
        })?;
        Ok(Dispatch { rx: Arc::new(Mutex::new(rx)) })
    }

    /// The next request for a handler thread; `None` when the dispatcher is gone.
    pub fn next(&self) -> Option<tiny_http::Request> {
        let rq = self.rx.lock().unwrap_or_else(|p| p.into_inner()).recv().ok();
        rq
    }
}

fn dispatch(tx: &SyncSender<tiny_http::Request>, reject_tx: &SyncSender<tiny_http::Request>, rq: tiny_http::Request) {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    match tx.try_send(rq) {
        Ok(()) => {}
        Err(TrySendError::Full(rq)) => {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            REJECTED.fetch_add(1, Ordering::Relaxed);
            // The rejector may itself be stuck behind a slow connection: then wait for the pool
            // (back-pressure, as without a limit) rather than spawn threads under load.
            if let Err(TrySendError::Full(rq)) = reject_tx.try_send(rq) {
                IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(rq);
            }
        }
        Err(TrySendError::Disconnected(_)) => {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Marks one request handled (the worker calls it when done).
pub fn done() {
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

/// Turns Nagle's algorithm off for the connections this listener accepts (Linux copies the
/// listening socket's `TCP_NODELAY` to accepted sockets). tiny_http writes a response's head and
/// body separately, so with Nagle a keep-alive client waited for its own delayed ACK, about
/// 40 ms per request.
pub fn no_delay(listener: &std::net::TcpListener) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        extern "C" {
            fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
        }
        const IPPROTO_TCP: i32 = 6;
        const TCP_NODELAY: i32 = 1;
        let on: i32 = 1;
        // SAFETY: a valid socket fd, a pointer to a live i32 and its size.
        let rc = unsafe {
            setsockopt(
                listener.as_raw_fd(),
                IPPROTO_TCP,
                TCP_NODELAY,
                &on as *const i32 as *const std::ffi::c_void,
                std::mem::size_of::<i32>() as u32,
            )
        };
        if rc != 0 {
            eprintln!("clawmetry: cannot set TCP_NODELAY: {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `data`, then fails as a socket with a read timeout does.
    struct Stall(Vec<u8>);
    impl Read for Stall {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, "timed out"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn body_reading_stops_at_the_limit_and_on_a_stall() {
        let mut r: &[u8] = b"0123456789";
        assert_eq!(read_body(&mut r, 4, BODY_DEADLINE).ok().unwrap(), b"0123");
        let mut r: &[u8] = b"0123";
        assert_eq!(read_body(&mut r, 100, BODY_DEADLINE).ok().unwrap(), b"0123");
        let err = read_body(&mut Stall(b"half".to_vec()), 100, BODY_DEADLINE).err().unwrap();
        assert_eq!(err.status, 408);
    }

    #[test]
    fn overload_answer_is_a_json_503_with_retry_after() {
        let r = overloaded();
        assert_eq!(r.status, 503);
        assert!(r.headers.iter().any(|(k, v)| *k == "Retry-After" && v == "1"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("busy"));
    }
}

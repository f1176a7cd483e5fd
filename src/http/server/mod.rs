//! The HTTP/1.1 server itself: the `http-accept` thread, one `http-conn` thread per open
//! connection (kept for `IDLE_THREAD` afterwards to take the next one) and the handler pool
//! (`http-N` threads).
//!
//! A connection thread does all the socket work: it reads a request head and body under the
//! limits of `limits.rs` (read deadlines, head and body size caps), hands the parsed request to
//! the pool over a bounded queue, waits for the reply and writes it. Handler threads never touch
//! a socket, so a slow or stalled client ties up only its own connection thread, and the number
//! of connection threads is capped (overall and per peer address).
//!
//! Files: `accept.rs` (the accept thread, connection caps, idle threads), `connection.rs` (one
//! connection's requests: head, body, handing over, keep-alive), `parse.rs` (the request head),
//! `write.rs` (responses), `tls.rs`, `limits.rs` (deadlines and caps, counters for /api/health).
//!
//! What is parsed: HTTP/1.0 and 1.1 requests, keep-alive and pipelining, `Content-Length` and
//! `chunked` request bodies, `Expect: 100-continue`. What is refused: a head over
//! `MAX_HEAD` bytes or `MAX_HEADERS` lines (431), a request target over `MAX_TARGET` (414), a
//! body over the path's limit (413, before any of it is read), `Content-Length` together with
//! `Transfer-Encoding` or two different lengths (400), another protocol version (505).

mod accept;
mod connection;
pub mod limits;
mod parse;
pub mod tls;
mod write;

pub use connection::read_all;
pub use write::write_resp;

use crate::http::{Req, Resp};
use limits::Limits;
use std::io::{self, Write};
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines in one request.
pub const MAX_HEADERS: usize = 100;
/// Longest request target (path and query).
pub const MAX_TARGET: usize = 16 * 1024;
/// Stack of a connection thread: it parses, writes and runs event streams, never a handler.
const CONN_STACK: usize = 256 * 1024;
/// Connections being refused at a time (each on a short-lived thread); past it they are dropped.
const MAX_REFUSING: usize = 32;

/// What a handler answers.
pub enum Reply {
    Resp(Resp),
    /// A response the connection thread writes itself for as long as it lasts (an event stream,
    /// head included); the connection closes after it.
    Stream(StreamWriter),
}

/// Writes a streamed response to the connection.
pub type StreamWriter = Box<dyn FnOnce(&mut dyn Write) + Send>;

/// The handler the pool runs for each request.
pub type Handler = dyn Fn(Req) -> Reply + Send + Sync;

/// Checked on the connection thread before a request body is read (the request has no body
/// yet): an answer here is sent instead, so an unauthorised client cannot make the server
/// buffer bodies.
pub type Gate = dyn Fn(&Req) -> Option<Resp> + Send + Sync;

/// What the server needs to know of the application: the handler the pool runs, the gate and
/// the body limit of each path (read before the body is).
#[derive(Clone)]
pub struct Api {
    pub handler: Arc<Handler>,
    pub gate: Arc<Gate>,
    pub body_limit: fn(&str) -> usize,
}

pub(super) struct Job {
    pub(super) req: Req,
    pub(super) reply: SyncSender<Reply>,
}

/// Starts the handler pool and the accept thread on `listener`.
pub fn start(
    listener: TcpListener,
    limits: Limits,
    workers: usize,
    api: Api,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let (tx, rx) = sync_channel::<Job>(limits.max_queued);
    let rx = Arc::new(Mutex::new(rx));
    let mut handles = Vec::new();
    for i in 0..workers {
        let rx = rx.clone();
        let handler = api.handler.clone();
        handles.push(std::thread::Builder::new().name(format!("http-{i}")).spawn(move || loop {
            let job = crate::sync::lock(&rx).recv();
            let Ok(job) = job else { return };
            if !limits.handler_delay.is_zero() {
                std::thread::sleep(limits.handler_delay);
            }
            // A handler that panics costs its request a 500, not the thread nor the process
            // (release builds unwind too; Cargo.toml says what that costs).
            let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if limits.test_panic && job.req.path == limits::TEST_PANIC_PATH {
                    panic!("a deliberate test panic in a handler (CLAWMETRY_TEST_HANDLER_PANIC)");
                }
                handler(job.req)
            }))
            .unwrap_or_else(|_| {
                limits::HANDLER_PANICS.fetch_add(1, Ordering::Relaxed);
                Reply::Resp(Resp::error(500, "the request handler failed; see the server's log"))
            });
            limits::IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            // The connection may have gone meanwhile; nothing to do about it.
            let _ = job.reply.send(reply);
        })?);
    }
    let conns = Arc::new(accept::Conns::default());
    handles.push(
        std::thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || accept::accept_loop(&listener, &tx, limits, &conns, api, tls))?,
    );
    Ok(handles)
}

#[cfg(test)]
mod tests;

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
//! What is parsed: HTTP/1.0 and 1.1 requests, keep-alive and pipelining, `Content-Length` and
//! `chunked` request bodies, `Expect: 100-continue`. What is refused: a head over
//! `MAX_HEAD` bytes or `MAX_HEADERS` lines (431), a request target over `MAX_TARGET` (414), a
//! body over the path's limit (413, before any of it is read), `Content-Length` together with
//! `Transfer-Encoding` or two different lengths (400), another protocol version (505).

use super::limits::{self, Limits};
use super::tls::Transport;
use super::{Req, Resp};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

struct Job {
    req: Req,
    reply: SyncSender<Reply>,
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
            // A handler that panics costs its request a 500, not the thread (where panics unwind:
            // debug builds and the tests; release builds abort, Cargo.toml says why).
            let reply =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(job.req))).unwrap_or_else(|_| {
                    limits::HANDLER_PANICS.fetch_add(1, Ordering::Relaxed);
                    Reply::Resp(Resp::error(500, "the request handler failed; see the server's log"))
                });
            limits::IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            // The connection may have gone meanwhile; nothing to do about it.
            let _ = job.reply.send(reply);
        })?);
    }
    let conns = Arc::new(Conns::default());
    handles.push(
        std::thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || accept_loop(&listener, &tx, limits, &conns, api, tls))?,
    );
    Ok(handles)
}

/// Accepts for as long as the process runs. An accept error never ends the loop: running out of
/// file descriptors (EMFILE, ENFILE) or memory backs off for a moment and tries again.
fn accept_loop(
    listener: &TcpListener,
    pool: &SyncSender<Job>,
    limits: Limits,
    conns: &Arc<Conns>,
    api: Api,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let idle = Arc::new(Idle::default());
    let mut last_log: Option<Instant> = None;
    let mut log = |what: String| {
        if last_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
            eprintln!("clawmetry: http: {what}");
            last_log = Some(Instant::now());
        }
    };
    loop {
        let (sock, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                limits::ACCEPT_ERRORS.fetch_add(1, Ordering::Relaxed);
                log(format!("accept: {e}"));
                if matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        let Some(slot) = conns.admit(peer.ip(), &limits) else {
            limits::REFUSED_CONNS.fetch_add(1, Ordering::Relaxed);
            // A TLS client could not read a plain answer: it is just closed.
            if tls.is_none() {
                refuse(sock);
            }
            continue;
        };
        let work = Accepted { sock, peer, slot };
        if let Some(work) = idle.hand_over(work) {
            let ctx = ConnCtx { pool: pool.clone(), limits, api: api.clone(), tls: tls.clone(), idle: idle.clone() };
            let spawned = std::thread::Builder::new()
                .name("http-conn".into())
                .stack_size(CONN_STACK)
                .spawn(move || conn_thread(work, &ctx));
            if let Err(e) = spawned {
                log(format!("cannot start a connection thread: {e}"));
            }
        }
    }
}

/// An accepted connection on its way to a connection thread.
struct Accepted {
    sock: TcpStream,
    peer: SocketAddr,
    slot: Slot,
}

/// What every connection thread shares.
struct ConnCtx {
    pool: SyncSender<Job>,
    limits: Limits,
    api: Api,
    tls: Option<Arc<rustls::ServerConfig>>,
    idle: Arc<Idle>,
}

/// Connection threads without a connection, waiting up to `IDLE_THREAD` for the next one, so a
/// client without keep-alive does not cost a thread start per request.
#[derive(Default)]
struct Idle {
    state: Mutex<IdleState>,
    wake: Condvar,
}

#[derive(Default)]
struct IdleState {
    /// Threads waiting and not yet given a connection.
    waiting: usize,
    handed: VecDeque<Accepted>,
}

/// How long a connection thread waits for another connection before it ends.
const IDLE_THREAD: Duration = Duration::from_secs(30);

impl Idle {
    /// Gives `work` to a waiting thread; gives it back when none waits (start one).
    fn hand_over(&self, work: Accepted) -> Option<Accepted> {
        let mut st = crate::sync::lock(&self.state);
        if st.waiting == 0 {
            return Some(work);
        }
        st.waiting -= 1;
        st.handed.push_back(work);
        self.wake.notify_one();
        None
    }

    /// The next connection for this thread, or `None` after `IDLE_THREAD` without one.
    fn next(&self) -> Option<Accepted> {
        let mut st = crate::sync::lock(&self.state);
        st.waiting += 1;
        let until = Instant::now() + IDLE_THREAD;
        loop {
            // A connection handed over counted this thread (or another waiting one) as taken.
            if let Some(work) = st.handed.pop_front() {
                return Some(work);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.waiting -= 1;
                return None;
            }
            st = self.wake.wait_timeout(st, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// A connection thread: serves its connection, then waits for the next one a while.
fn conn_thread(first: Accepted, ctx: &ConnCtx) {
    let mut work = Some(first);
    while let Some(Accepted { sock, peer, slot }) = work.take() {
        let _ = sock.set_nodelay(true);
        let _ = sock.set_write_timeout(Some(ctx.limits.write_timeout));
        match Transport::new(sock, ctx.tls.as_ref()) {
            Ok(io) => serve_conn(Conn { io, buf: Vec::new(), fresh: true }, peer, ctx),
            Err(e) => eprintln!("clawmetry: http: TLS: {e}"),
        }
        drop(slot);
        work = ctx.idle.next();
    }
}

/// Open connections, overall and per peer address.
#[derive(Default)]
struct Conns {
    per_peer: Mutex<HashMap<IpAddr, usize>>,
    total: AtomicUsize,
}

/// One admitted connection; dropping it frees its place.
struct Slot {
    conns: Arc<Conns>,
    ip: IpAddr,
}

impl Conns {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Option<Slot> {
        let mut per_peer = crate::sync::lock(&self.per_peer);
        let n = per_peer.entry(ip).or_insert(0);
        if *n >= limits.max_conns_per_peer || self.total.load(Ordering::SeqCst) >= limits.max_conns {
            if *n == 0 {
                per_peer.remove(&ip);
            }
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        limits::OPEN_CONNS.fetch_add(1, Ordering::Relaxed);
        Some(Slot { conns: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_peer = crate::sync::lock(&self.conns.per_peer);
        if let Some(n) = per_peer.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_peer.remove(&self.ip);
            }
        }
        self.conns.total.fetch_sub(1, Ordering::SeqCst);
        limits::OPEN_CONNS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers a connection over the limits with a 503 on a short-lived thread (at most
/// `MAX_REFUSING` at once; past that the connection is just closed).
fn refuse(sock: TcpStream) {
    static REFUSING: AtomicUsize = AtomicUsize::new(0);
    if REFUSING.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSING {
        REFUSING.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let spawned = std::thread::Builder::new().name("http-refuse".into()).stack_size(64 * 1024).spawn(move || {
        let mut sock = sock;
        let mut r = Resp::error(503, "too many connections from this address or in all; retry shortly");
        r.headers.push(("Retry-After", "1".into()));
        let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
        // Read what the client sent first: closing a socket with unread data resets the
        // connection and the client might never see the answer.
        let mut sink = [0u8; 4096];
        let _ = sock.read(&mut sink);
        let _ = write_resp(&mut sock, r, false, false);
        let _ = sock.shutdown(Shutdown::Write);
        let _ = sock.read(&mut sink);
        REFUSING.fetch_sub(1, Ordering::SeqCst);
    });
    if spawned.is_err() {
        REFUSING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection: its transport and the bytes read from it but not yet used.
struct Conn<S> {
    io: S,
    buf: Vec<u8>,
    /// No request read yet.
    fresh: bool,
}

/// What requests are read from: a connection's transport, or bytes in memory (`read_all`).
trait Source: Read + Write {
    /// Reads fail with `TimedOut` once `deadline` has passed.
    fn set_deadline(&mut self, deadline: Instant);
    fn is_tls(&self) -> bool;
}

impl Source for Transport {
    fn set_deadline(&mut self, deadline: Instant) {
        Transport::set_deadline(self, Some(deadline));
    }
    fn is_tls(&self) -> bool {
        Transport::is_tls(self)
    }
}

/// Why a request could not be read: answer this and close, or just close.
enum Fail {
    Answer(Resp),
    Close,
}

fn fail(status: u16, msg: &str) -> Fail {
    Fail::Answer(Resp::error(status, msg))
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    http10: bool,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
    fn keep_alive(&self) -> bool {
        if self.http10 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }
}

fn serve_conn(mut conn: Conn<Transport>, peer: SocketAddr, ctx: &ConnCtx) {
    let (pool, limits) = (&ctx.pool, &ctx.limits);
    loop {
        let (req, keep_alive, head_only, budget) =
            match conn.read_request(peer, limits, Some(&*ctx.api.gate), ctx.api.body_limit) {
                Ok(Some(x)) => x,
                Ok(None) => {
                    // Idle past the keep-alive timeout, or closed by the client.
                    conn.io.close();
                    return;
                }
                Err(Fail::Close) => return,
                Err(Fail::Answer(resp)) => {
                    // The rest of the request is not read, so the connection cannot go on.
                    let _ = write_resp(&mut conn.io, resp, false, false);
                    linger_close(&mut conn.io);
                    return;
                }
            };
        let (tx, rx) = sync_channel(1);
        limits::IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        let reply = match pool.try_send(Job { req, reply: tx }) {
            Ok(()) => rx.recv().unwrap_or_else(|_| Reply::Resp(Resp::error(500, "the request handler failed"))),
            Err(e) => {
                limits::IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                if matches!(e, TrySendError::Disconnected(_)) {
                    return;
                }
                limits::REJECTED.fetch_add(1, Ordering::Relaxed);
                Reply::Resp(limits::overloaded())
            }
        };
        // The body went with the request to the handler and is gone: its share of the budget is
        // free before the answer is written (a client that reads the answer and sends the next
        // body at once finds it free).
        drop(budget);
        match reply {
            Reply::Resp(resp) => {
                if write_resp(&mut conn.io, resp, head_only, keep_alive).is_err() || !keep_alive {
                    conn.io.close();
                    return;
                }
            }
            Reply::Stream(write) => {
                conn.io.set_deadline(None);
                write(&mut conn.io);
                conn.io.close();
                return;
            }
        }
    }
}

/// Closes after an error answer without resetting the connection over unread request bytes
/// (which could make the client lose the answer): stop writing, then read briefly.
fn linger_close(io: &mut Transport) {
    io.shutdown(Shutdown::Write);
    let _ = io.tcp().set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 16 * 1024];
    let t0 = Instant::now();
    let mut total = 0usize;
    while t0.elapsed() < Duration::from_millis(500) && total < (1 << 20) {
        match io.tcp().read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

impl<S: Source> Conn<S> {
    /// Reads more bytes into `buf` (at most `max` more), waiting until `deadline` at the latest.
    /// `Ok(0)` = the peer closed.
    /// (The source enforces the deadline: a read past it fails with `TimedOut`.)
    fn fill(&mut self, max: usize, deadline: Instant) -> io::Result<usize> {
        self.io.set_deadline(deadline);
        let mut chunk = [0u8; 16 * 1024];
        let want = max.clamp(1, chunk.len());
        loop {
            match self.io.read(&mut chunk[..want]) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next request (with its share of the body budget, held until it is answered), or
    /// `None` when the client closed or stayed idle past the keep-alive timeout.
    fn read_request(
        &mut self,
        peer: SocketAddr,
        limits: &Limits,
        gate: Option<&Gate>,
        body_limit: fn(&str) -> usize,
    ) -> Result<Option<(Req, bool, bool, Budget)>, Fail> {
        let Some((head, head_len)) = self.read_head(limits)? else { return Ok(None) };
        self.fresh = false;
        self.buf.drain(..head_len);
        let mut req = Req::new(&head.method, &head.target, head.headers.clone(), Vec::new(), Some(peer));
        req.secure = self.io.is_tls();
        let mut budget = Budget { held: 0, limit: limits.body_budget, peer: peer.ip() };
        let gate = || gate.and_then(|g| g(&req));
        req.body = self.read_body(&head, body_limit(&req.path), limits, &mut budget, &gate)?;
        Ok(Some((req, head.keep_alive(), head.method == "HEAD", budget)))
    }

    fn read_head(&mut self, limits: &Limits) -> Result<Option<(Head, usize)>, Fail> {
        // Waiting for a request to begin: the keep-alive timeout. Once it has begun, the whole
        // head must arrive within the head timeout, however it trickles.
        // A new connection (and a TLS one's handshake) gets only the head timeout for its first
        // request: a connection that never sends a byte holds its slot 10 s, not a minute.
        let idle = if self.fresh { limits.head_timeout } else { limits.idle_timeout };
        let idle_until = Instant::now() + idle;
        let mut head_until: Option<Instant> = None;
        let mut scanned = 0;
        loop {
            // Empty lines before a request line are allowed (RFC 9112 2.2).
            let blank = self.buf.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            if blank > 0 {
                self.buf.drain(..blank);
                scanned = 0;
            }
            if !self.buf.is_empty() {
                if let Some(end) = head_end(&self.buf, scanned) {
                    return parse_head(&self.buf[..end]).map(|h| Some((h, end)));
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(fail(431, &format!("request head over {MAX_HEAD} bytes")));
                }
                scanned = self.buf.len();
                head_until.get_or_insert_with(|| Instant::now() + limits.head_timeout);
            }
            let deadline = head_until.unwrap_or(idle_until);
            match self.fill(MAX_HEAD + 1 - self.buf.len(), deadline) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut && head_until.is_some() => {
                    limits::TIMED_OUT.fetch_add(1, Ordering::Relaxed);
                    return Err(fail(408, "request head not received in time"));
                }
                Err(_) => return Ok(None),
            }
        }
    }

    fn read_body(
        &mut self,
        head: &Head,
        limit: usize,
        limits: &Limits,
        budget: &mut Budget,
        gate: &dyn Fn() -> Option<Resp>,
    ) -> Result<Vec<u8>, Fail> {
        // Every Transfer-Encoding header, as one list: only `chunked` alone is understood.
        let codings: Vec<&str> = head
            .headers
            .iter()
            .filter(|(k, _)| k == "transfer-encoding")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .collect();
        let mut lengths = head.headers.iter().filter(|(k, _)| k == "content-length").map(|(_, v)| v.trim());
        let length = match lengths.next() {
            None => None,
            Some(v) => {
                let n = parse_length(v).ok_or_else(|| fail(400, &format!("bad Content-Length {v:?}")))?;
                if lengths.any(|w| parse_length(w) != Some(n)) {
                    return Err(fail(400, "conflicting Content-Length headers"));
                }
                Some(n)
            }
        };
        let chunked = match codings[..] {
            [] => false,
            _ if length.is_some() => return Err(fail(400, "both Content-Length and Transfer-Encoding")),
            // HTTP/1.0 has no chunked framing (RFC 9112 6.1): the body's end would be guessed.
            _ if head.http10 => return Err(fail(400, "Transfer-Encoding in an HTTP/1.0 request")),
            [c] if c.eq_ignore_ascii_case("chunked") => true,
            _ if !codings.last().is_some_and(|c| c.eq_ignore_ascii_case("chunked")) => {
                return Err(fail(400, "Transfer-Encoding without chunked last"));
            }
            _ => return Err(fail(501, &format!("Transfer-Encoding {:?} is not supported", codings.join(", ")))),
        };
        if let Some(n) = length {
            if n > limit as u64 {
                return Err(fail(413, &format!("request body over {limit} bytes")));
            }
            if n == 0 {
                return Ok(Vec::new());
            }
        } else if !chunked {
            return Ok(Vec::new());
        }
        if let Some(resp) = gate() {
            return Err(Fail::Answer(resp));
        }
        if let Some(n) = length {
            budget.take(n as usize)?;
        }
        match head.header("expect") {
            None => {}
            // If the interim answer cannot be written, the body read below fails and says so.
            Some(v) if v.trim().eq_ignore_ascii_case("100-continue") && !head.http10 => {
                let _ = self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").and_then(|_| self.io.flush());
            }
            Some(v) if v.trim().eq_ignore_ascii_case("100-continue") => {}
            Some(v) => return Err(fail(417, &format!("Expect {v:?} is not supported"))),
        }
        let deadline = Instant::now() + limits.body_deadline;
        let slow = |e: io::Error| {
            if e.kind() == io::ErrorKind::TimedOut {
                limits::TIMED_OUT.fetch_add(1, Ordering::Relaxed);
                fail(408, "request body not received in time")
            } else {
                Fail::Close
            }
        };
        match length {
            Some(n) => {
                let n = n as usize;
                while self.buf.len() < n {
                    if self.fill(n - self.buf.len(), deadline).map_err(slow)? == 0 {
                        return Err(Fail::Close);
                    }
                }
                Ok(self.buf.drain(..n).collect())
            }
            None => self.read_chunked(limit, deadline, budget).map_err(|e| match e {
                ChunkError::Io(e) => slow(e),
                ChunkError::Closed => Fail::Close,
                ChunkError::Bad(msg) => fail(400, msg),
                ChunkError::TooLarge => fail(413, &format!("request body over {limit} bytes")),
                ChunkError::TrailerTooLarge => fail(431, &format!("chunked trailer over {MAX_HEAD} bytes")),
                ChunkError::Budget(f) => f,
            }),
        }
    }

    /// A `chunked` body of at most `limit` bytes; the buffer is consumed up to its end.
    fn read_chunked(&mut self, limit: usize, deadline: Instant, budget: &mut Budget) -> Result<Vec<u8>, ChunkError> {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let line = self.line_at(pos, deadline)?;
            let text =
                std::str::from_utf8(&self.buf[pos..pos + line]).map_err(|_| ChunkError::Bad("bad chunk size"))?;
            // Hex digits only (no sign, no spaces inside), then optional white space before `;`.
            let size_text = text.split(';').next().unwrap_or("").trim_end_matches([' ', '\t']);
            let size = Some(size_text)
                .filter(|t| !t.is_empty() && t.len() <= 7 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|t| usize::from_str_radix(t, 16).ok())
                .ok_or(ChunkError::Bad("bad chunk size"))?;
            pos += line + self.eol_len(pos + line);
            if size == 0 {
                // Trailer fields (ignored) up to an empty line; as much as a head may hold.
                let start = pos;
                loop {
                    let line = self.line_at(pos, deadline)?;
                    pos += line + self.eol_len(pos + line);
                    if line == 0 {
                        self.buf.drain(..pos);
                        return Ok(body);
                    }
                    if pos - start > MAX_HEAD {
                        return Err(ChunkError::TrailerTooLarge);
                    }
                }
            }
            // At most 7 hex digits: no overflow below, even where usize has 32 bits.
            if body.len() + size > limit {
                return Err(ChunkError::TooLarge);
            }
            budget.take(size).map_err(ChunkError::Budget)?;
            while self.buf.len() < pos + size + 2 {
                if self.fill(pos + size + 2 - self.buf.len(), deadline).map_err(ChunkError::Io)? == 0 {
                    return Err(ChunkError::Closed);
                }
            }
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size;
            match &self.buf[pos..pos + 2] {
                b"\r\n" => pos += 2,
                [b'\n', _] => pos += 1,
                _ => return Err(ChunkError::Bad("chunk not followed by CRLF")),
            }
            // Keep the buffer small: what is in `body` is no longer needed.
            self.buf.drain(..pos);
            pos = 0;
        }
    }

    /// The length of the line starting at `pos` (without its end of line), reading as needed.
    fn line_at(&mut self, pos: usize, deadline: Instant) -> Result<usize, ChunkError> {
        loop {
            if let Some(i) = self.buf[pos..].iter().position(|&b| b == b'\n') {
                let len = if i > 0 && self.buf[pos + i - 1] == b'\r' { i - 1 } else { i };
                return Ok(len);
            }
            if self.buf.len() - pos > 4096 {
                return Err(ChunkError::Bad("chunk line too long"));
            }
            if self.fill(4096, deadline).map_err(ChunkError::Io)? == 0 {
                return Err(ChunkError::Closed);
            }
        }
    }

    fn eol_len(&self, at: usize) -> usize {
        if self.buf.get(at) == Some(&b'\r') {
            2
        } else {
            1
        }
    }
}

enum ChunkError {
    Io(io::Error),
    Closed,
    Bad(&'static str),
    TooLarge,
    TrailerTooLarge,
    Budget(Fail),
}

/// Bytes of request bodies held in memory by all connections together.
static BODY_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of request bodies held per peer address: one address may hold at most a quarter of the
/// budget, so that a single client cannot take it from everybody else.
static PEER_BODY_BYTES: Mutex<Option<std::collections::HashMap<std::net::IpAddr, usize>>> = Mutex::new(None);

/// One request's share of `Limits::body_budget`; given back when dropped.
struct Budget {
    held: usize,
    limit: usize,
    peer: std::net::IpAddr,
}

impl Budget {
    /// Takes `n` more bytes, or answers 503 when this peer would hold more than its share, or
    /// all connections together more than the budget.
    fn take(&mut self, n: usize) -> Result<(), Fail> {
        let busy = |why: &str| {
            let mut r = Resp::error(503, &format!("server busy: {why}; retry shortly"));
            r.headers.push(("Retry-After", "1".into()));
            Err(Fail::Answer(r))
        };
        {
            let mut peers = crate::sync::lock(&PEER_BODY_BYTES);
            let held = peers.get_or_insert_with(Default::default).entry(self.peer).or_insert(0);
            if held.saturating_add(n) > self.limit / 4 {
                return busy("this address is sending too many request bodies at once");
            }
            *held += n;
        }
        let before = BODY_BYTES.fetch_add(n, Ordering::SeqCst);
        if before.saturating_add(n) > self.limit {
            BODY_BYTES.fetch_sub(n, Ordering::SeqCst);
            self.give_back_peer(n);
            return busy("too many request bodies being received");
        }
        self.held += n;
        Ok(())
    }

    fn give_back_peer(&self, n: usize) {
        let mut peers = crate::sync::lock(&PEER_BODY_BYTES);
        if let Some(map) = peers.as_mut() {
            if let Some(held) = map.get_mut(&self.peer) {
                *held = held.saturating_sub(n);
                if *held == 0 {
                    map.remove(&self.peer);
                }
            }
        }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        if self.held > 0 {
            BODY_BYTES.fetch_sub(self.held, Ordering::SeqCst);
            self.give_back_peer(self.held);
        }
    }
}

/// Digits only (no sign, no spaces inside), at most 19 of them.
fn parse_length(v: &str) -> Option<u64> {
    (!v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok()).flatten()
}

/// The end of the head (just past its empty line) if it is in `buf`; `from` = bytes already
/// searched.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut i = start;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_head(raw: &[u8]) -> Result<Head, Fail> {
    let mut lines = raw.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    if first.len() > MAX_TARGET + 32 {
        return Err(fail(414, &format!("request target over {MAX_TARGET} bytes")));
    }
    let first = std::str::from_utf8(first).map_err(|_| fail(400, "request line is not ASCII"))?;
    let parts: Vec<&str> = first.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(fail(400, "malformed request line"));
    };
    if !is_token(method) {
        return Err(fail(400, "malformed method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(fail(505, &format!("{v} is not supported; use HTTP/1.1"))),
        _ => return Err(fail(400, "malformed request line")),
    };
    if target.len() > MAX_TARGET {
        return Err(fail(414, &format!("request target over {MAX_TARGET} bytes")));
    }
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(fail(400, "request target with characters that need percent-encoding"));
    }
    // Absolute form (sent to proxies) is accepted by taking its path.
    let target = match target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")) {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None if target.starts_with('/') => target,
        None if target == "*" && method == "OPTIONS" => target,
        None => return Err(fail(400, "request target must be a path")),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(fail(431, &format!("more than {MAX_HEADERS} header lines")));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(fail(400, "folded header lines are not accepted"));
        }
        let colon = line.iter().position(|&b| b == b':').ok_or_else(|| fail(400, "header line without a colon"))?;
        let name = std::str::from_utf8(&line[..colon]).unwrap_or("");
        if !is_token(name) {
            return Err(fail(400, "malformed header name"));
        }
        let value = &line[colon + 1..];
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(fail(400, "control character in a header value"));
        }
        let value = String::from_utf8_lossy(value);
        headers.push((name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
    }
    // Methods are case-sensitive (RFC 9110 9.1): `get` is not GET, and gets a 405.
    Ok(Head { method: method.to_string(), target: target.to_string(), http10, headers })
}

/// Bytes in memory as a connection: reads them, then end of stream; writes go nowhere.
struct Mem<'a>(&'a [u8]);

impl Read for Mem<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0.read(out)
    }
}

impl Write for Mem<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Mem<'_> {
    fn set_deadline(&mut self, _: Instant) {}
    fn is_tls(&self) -> bool {
        false
    }
}

/// Reads every request in `data` the way a connection thread would, without a network: each
/// one parsed, or the status it was refused with (0 = the stream ended). For the fuzz target
/// and tests.
pub fn read_all(data: &[u8], body_limit: fn(&str) -> usize) -> Vec<Result<Req, u16>> {
    let mut conn = Conn { io: Mem(data), buf: Vec::new(), fresh: true };
    let peer = SocketAddr::from(([127, 0, 0, 1], 1));
    let mut out = Vec::new();
    loop {
        match conn.read_request(peer, &Limits::default(), None, body_limit) {
            Ok(Some((req, keep_alive, _, _))) => {
                out.push(Ok(req));
                if !keep_alive {
                    return out;
                }
            }
            Ok(None) | Err(Fail::Close) => {
                out.push(Err(0));
                return out;
            }
            Err(Fail::Answer(r)) => {
                out.push(Err(r.status));
                return out;
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Writes a response: head and body in one write when the body is small.
pub fn write_resp(out: &mut dyn Write, resp: Resp, head_only: bool, keep_alive: bool) -> io::Result<()> {
    use std::fmt::Write as _;
    let mut head = String::with_capacity(256);
    let _ = write!(head, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        // A value with a line break would start a header of its own: never sent.
        if !v.contains(['\r', '\n']) {
            let _ = write!(head, "{k}: {v}\r\n");
        }
    }
    let _ = write!(head, "Content-Type: {}\r\nX-Content-Type-Options: nosniff\r\n", resp.content_type);
    let no_body = resp.status == 204 || resp.status == 304 || resp.status < 200;
    if !no_body {
        let _ = write!(head, "Content-Length: {}\r\n", resp.body.len());
    }
    head.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
    if head_only || no_body {
        out.write_all(head.as_bytes())?;
    } else if resp.body.len() <= 64 * 1024 {
        let mut all = head.into_bytes();
        all.extend_from_slice(&resp.body);
        out.write_all(&all)?;
    } else {
        out.write_all(head.as_bytes())?;
        out.write_all(&resp.body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Head, u16> {
        parse_head(s.as_bytes()).map_err(|f| match f {
            Fail::Answer(r) => r.status,
            Fail::Close => 0,
        })
    }

    #[test]
    fn a_panicking_handler_costs_one_500_not_the_pool() {
        use std::io::{Read as _, Write as _};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handler: Arc<Handler> = Arc::new(|req: Req| {
            if req.path == "/boom" {
                panic!("a bug in a handler");
            }
            Reply::Resp(Resp::json(&serde_json::json!({"ok": true})))
        });
        let gate: Arc<Gate> = Arc::new(|_: &Req| None);
        // One handler thread: had the panic ended it, the last request would never be answered.
        start(listener, Limits::default(), 1, Api { handler, gate, body_limit: |_| 1 << 20 }, None).unwrap();
        let get = |path: &str| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out
        };
        let before = limits::HANDLER_PANICS.load(Ordering::Relaxed);
        for _ in 0..3 {
            let r = get("/boom");
            assert!(r.starts_with("HTTP/1.1 500") && r.contains("\"error\""), "{r}");
        }
        assert!(get("/ok").starts_with("HTTP/1.1 200"));
        assert!(limits::HANDLER_PANICS.load(Ordering::Relaxed) >= before + 3);
    }

    #[test]
    fn request_heads_are_parsed() {
        let h = head("GET /api/x?a=1 HTTP/1.1\r\nHost: h\r\nAccept-Encoding:  gzip \r\nX-Y:\r\n\r\n").ok().unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/api/x?a=1");
        assert!(!h.http10 && h.keep_alive());
        assert_eq!(h.header("accept-encoding"), Some("gzip"));
        assert_eq!(h.header("x-y"), Some(""));
        let h = head("GET http://host:8900/a/b HTTP/1.0\n\n").ok().unwrap();
        assert_eq!(h.target, "/a/b");
        assert!(h.http10 && !h.keep_alive());
        let h = head("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n").ok().unwrap();
        assert!(!h.keep_alive());
    }

    #[test]
    fn malformed_heads_get_their_status() {
        assert_eq!(head("GET / HTTP/2.0\r\n\r\n").err(), Some(505));
        assert_eq!(head("GET /  HTTP/1.1\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET / HTTP/1.1 extra\r\n\r\n").err(), Some(400));
        assert_eq!(head("G(T / HTTP/1.1\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET relative HTTP/1.1\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET /\u{e9} HTTP/1.1\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET / HTTP/1.1\r\nNoColon\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n").err(), Some(400));
        assert_eq!(head("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n").err(), Some(400));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET));
        assert_eq!(head(&long).err(), Some(414));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(head(&many).err(), Some(431));
    }

    fn statuses(data: &[u8]) -> Vec<u16> {
        read_all(data, |_| 1 << 20).into_iter().map(|r| r.map(|_| 200).unwrap_or_else(|s| s)).collect()
    }

    #[test]
    fn requests_are_read_off_a_stream() {
        let data = b"\r\nPOST /v1/logs?x=%41 HTTP/1.1\nContent-Length: 5\n\nhelloGET /b HTTP/1.1\r\n\
                     Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n\
                     GET /c HTTP/1.0\r\n\r\nGET /never HTTP/1.1\r\n\r\n";
        let reqs = read_all(data, |_| 1 << 20);
        assert_eq!(reqs.len(), 3, "HTTP/1.0 without keep-alive ends the connection");
        let r: Vec<&Req> = reqs.iter().map(|r| r.as_ref().ok().unwrap()).collect();
        assert_eq!(
            (r[0].method.as_str(), r[0].path.as_str(), r[0].body.as_slice()),
            ("POST", "/v1/logs", &b"hello"[..])
        );
        assert_eq!(r[0].query.get("x").map(String::as_str), Some("A"));
        assert_eq!((r[1].path.as_str(), r[1].body.as_slice()), ("/b", &b"abcde"[..]));
        assert_eq!(r[2].path, "/c");
        assert_eq!(statuses(b"GET / HTTP/1.1\r\n\r\n"), [200, 0]);
    }

    #[test]
    fn bad_framing_is_refused() {
        let cases: [(&[u8], u16); 11] = [
            (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413),
            (b"POST /v1/traces HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", 413),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n", 400),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: magic\r\n\r\nx", 417),
        ];
        for (data, want) in cases {
            assert_eq!(statuses(data), [want], "{}", String::from_utf8_lossy(data));
        }
        // A body cut short, and a head that never ends, just end the stream.
        assert_eq!(statuses(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), [0]);
        assert_eq!(statuses(b"GET / HTTP/1.1\r\nHost: x"), [0]);
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(statuses(&big), [431]);
        let mut chunks = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..17 {
            chunks.extend_from_slice(b"10000\r\n");
            chunks.resize(chunks.len() + 0x10000, b'a');
            chunks.extend_from_slice(b"\r\n");
        }
        assert_eq!(statuses(&chunks), [413]);
    }

    #[test]
    fn head_end_is_found_across_reads() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nBODY", 0), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nBODY", 0), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
        let full = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        assert_eq!(head_end(full, 22), Some(full.len()));
        assert_eq!(head_end(full, 23), Some(full.len()));
    }

    #[test]
    fn lengths_are_digits_only() {
        assert_eq!(parse_length("42"), Some(42));
        assert_eq!(parse_length("100000000000000000"), Some(100_000_000_000_000_000));
        for bad in ["", "+1", "-1", "1 2", "0x10", "99999999999999999999"] {
            assert_eq!(parse_length(bad), None, "{bad}");
        }
    }

    #[test]
    fn responses_are_framed_and_header_injection_is_dropped() {
        let mut r = Resp::error(404, "nope");
        r.headers.push(("X-Bad", "a\r\nSet-Cookie: x=1".into()));
        let mut out = Vec::new();
        write_resp(&mut out, r, false, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(!text.contains("Set-Cookie"), "{text}");
        assert!(text.contains("Content-Length: 16\r\n") && text.ends_with("\r\n\r\n{\"error\":\"nope\"}"), "{text}");
        let mut out = Vec::new();
        let mut r = Resp::json(&serde_json::json!({}));
        r.status = 304;
        write_resp(&mut out, r, false, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length") && text.ends_with("Connection: close\r\n\r\n"), "{text}");
    }
}

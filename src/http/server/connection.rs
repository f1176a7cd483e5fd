//! One connection: reads requests off it (head, then body: `Content-Length` or chunked) under
//! the limits, hands each to the handler pool, writes the reply; keep-alive and pipelining.

use super::accept::ConnCtx;
use super::limits::{self, Limits};
use super::parse::{head_end, parse_head, parse_length, Head};
use super::tls::Transport;
use super::write::write_resp;
use super::{Gate, Job, Reply, MAX_HEAD};
use crate::http::{Req, Resp};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A connection: its transport and the bytes read from it but not yet used.
pub(super) struct Conn<S> {
    pub(super) io: S,
    pub(super) buf: Vec<u8>,
    /// No request read yet.
    pub(super) fresh: bool,
}

/// What requests are read from: a connection's transport, or bytes in memory (`read_all`).
pub(super) trait Source: Read + Write {
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
pub(super) enum Fail {
    Answer(Resp),
    Close,
}

pub(super) fn fail(status: u16, msg: &str) -> Fail {
    Fail::Answer(Resp::error(status, msg))
}

pub(super) fn serve_conn(mut conn: Conn<Transport>, peer: SocketAddr, ctx: &ConnCtx) {
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
pub(super) fn linger_close(io: &mut Transport) {
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

pub(super) enum ChunkError {
    Io(io::Error),
    Closed,
    Bad(&'static str),
    TooLarge,
    TrailerTooLarge,
    Budget(Fail),
}

/// Bytes of request bodies held in memory by all connections together.
pub(super) static BODY_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of request bodies held per peer address: one address may hold at most a quarter of the
/// budget, so that a single client cannot take it from everybody else.
pub(super) static PEER_BODY_BYTES: Mutex<Option<foldhash::HashMap<std::net::IpAddr, usize>>> = Mutex::new(None);

/// One request's share of `Limits::body_budget`; given back when dropped.
pub(super) struct Budget {
    pub(super) held: usize,
    pub(super) limit: usize,
    pub(super) peer: std::net::IpAddr,
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

/// Bytes in memory as a connection: reads them, then end of stream; writes go nowhere.
pub(super) struct Mem<'a>(&'a [u8]);

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

//! The `http-accept` thread and the connection threads: who gets a thread, who is refused (caps
//! overall and per peer address), and idle connection threads kept to take the next one.

use super::connection::{serve_conn, Conn};
use super::limits::{self, Limits};
use super::tls::Transport;
use super::write::write_resp;
use super::{Api, Job, CONN_STACK, MAX_REFUSING};
use crate::http::Resp;
use foldhash::HashMap;
use std::collections::VecDeque;
use std::io::Read;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Accepts for as long as the process runs. An accept error never ends the loop: running out of
/// file descriptors (EMFILE, ENFILE) or memory backs off for a moment and tries again.
pub(super) fn accept_loop(
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
pub(super) struct Accepted {
    pub(super) sock: TcpStream,
    pub(super) peer: SocketAddr,
    pub(super) slot: Slot,
}

/// What every connection thread shares.
pub(super) struct ConnCtx {
    pub(super) pool: SyncSender<Job>,
    pub(super) limits: Limits,
    pub(super) api: Api,
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
    pub(super) idle: Arc<Idle>,
}

/// Connection threads without a connection, waiting up to `IDLE_THREAD` for the next one, so a
/// client without keep-alive does not cost a thread start per request.
#[derive(Default)]
pub(super) struct Idle {
    pub(super) state: Mutex<IdleState>,
    pub(super) wake: Condvar,
}

#[derive(Default)]
pub(super) struct IdleState {
    /// Threads waiting and not yet given a connection.
    pub(super) waiting: usize,
    pub(super) handed: VecDeque<Accepted>,
}

/// How long a connection thread waits for another connection before it ends.
pub(super) const IDLE_THREAD: Duration = Duration::from_secs(30);

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
pub(super) fn conn_thread(first: Accepted, ctx: &ConnCtx) {
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
pub(super) struct Conns {
    pub(super) per_peer: Mutex<HashMap<IpAddr, usize>>,
    pub(super) total: AtomicUsize,
}

/// One admitted connection; dropping it frees its place.
pub(super) struct Slot {
    pub(super) conns: Arc<Conns>,
    pub(super) ip: IpAddr,
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
pub(super) fn refuse(sock: TcpStream) {
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

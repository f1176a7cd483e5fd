//! HTTPS for the dashboard (`--tls-cert` / `--tls-key`): the rustls server configuration and the
//! transport a connection thread reads and writes (plain TCP or TLS over it).
//!
//! rustls and its ring provider are already in the binary for the alert channels, so serving
//! TLS adds no crate.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server configuration from a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1
/// or SEC1). Errors name the file and say what is wrong.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let cert_pem = read(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no CERTIFICATE block", cert.display()));
    }
    let key_pem = read(key)?;
    let key_der =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| format!("{}: no PEM private key ({e})", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("{} / {}: {e}", cert.display(), key.display()))?;
    Ok(Arc::new(config))
}

/// A socket whose reads end at a deadline: each read waits only for what is left of it, so a
/// peer that trickles bytes cannot stretch the wait, even through TLS, whose reader may read the
/// socket many times for one record (or for the handshake).
pub struct Sock {
    tcp: TcpStream,
    deadline: Option<Instant>,
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(d) = self.deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.tcp.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        }
        match self.tcp.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            r => r,
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A connection's byte stream.
pub enum Transport {
    Plain(Sock),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, Sock>>),
}

impl Transport {
    /// Wraps an accepted socket; with a configuration the TLS handshake happens on first use.
    pub fn new(tcp: TcpStream, tls: Option<&Arc<rustls::ServerConfig>>) -> io::Result<Transport> {
        let sock = Sock { tcp, deadline: None };
        Ok(match tls {
            None => Transport::Plain(sock),
            Some(config) => {
                let conn = rustls::ServerConnection::new(config.clone()).map_err(io::Error::other)?;
                Transport::Tls(Box::new(rustls::StreamOwned::new(conn, sock)))
            }
        })
    }

    /// The socket underneath, for timeouts and shutdown.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => &s.tcp,
            Transport::Tls(s) => &s.get_ref().tcp,
        }
    }

    /// Reads from now on fail with `TimedOut` once `deadline` has passed (`None`: reads wait
    /// as long as it takes).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        let sock = match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_mut(),
        };
        sock.deadline = deadline;
        if deadline.is_none() {
            let _ = sock.tcp.set_read_timeout(None);
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Ends the connection: a TLS close_notify first, then the socket in both directions.
    pub fn close(&mut self) {
        self.shutdown(std::net::Shutdown::Both);
    }

    /// A TLS close_notify first, then shuts the socket down `how`.
    pub fn shutdown(&mut self, how: std::net::Shutdown) {
        if let Transport::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.tcp().shutdown(how);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

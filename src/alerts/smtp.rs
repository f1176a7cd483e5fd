//! E-mail over SMTP: STARTTLS (587), implicit TLS (465) or plain SMTP to a local relay; a
//! password is never sent unencrypted except to a loopback server.

use super::channels::*;
use super::sender::*;
use crate::codec::base64;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

pub(super) enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(b),
            Conn::Tls(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(b),
            Conn::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

pub(super) fn tls_wrap(tcp: TcpStream, host: &str) -> Result<Conn, SendError> {
    let fail = |m: String| SendError { msg: m, retry: false };
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
        .map_err(|e| fail(format!("TLS: bad server name {host:?}: {e}")))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| fail(format!("TLS: {e}")))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Handshake now, so that a certificate problem is reported as such.
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| SendError { msg: format!("TLS handshake with {host}: {e}"), retry: true })?;
    }
    Ok(Conn::Tls(Box::new(s)))
}

pub(super) struct Smtp {
    conn: Conn,
    buf: Vec<u8>,
}

impl Smtp {
    fn line(&mut self) -> Result<String, SendError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err(SendError { msg: "SMTP: reply line too long".into(), retry: false });
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .conn
                .read(&mut chunk)
                .map_err(|e| SendError { msg: format!("SMTP: reading the reply: {e}"), retry: true })?;
            if n == 0 {
                return Err(SendError { msg: "SMTP: the server closed the connection".into(), retry: true });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One reply: its code and its lines (multi-line replies are `250-...` up to `250 ...`).
    fn reply(&mut self) -> Result<(u16, Vec<String>), SendError> {
        let mut lines = Vec::new();
        loop {
            let l = self.line()?;
            let code: u16 = l.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| SendError {
                msg: format!("SMTP: not a reply line: {:?}", l.chars().take(80).collect::<String>()),
                retry: false,
            })?;
            let more = l.as_bytes().get(3) == Some(&b'-');
            lines.push(l.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok((code, lines));
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.conn
            .write_all(data)
            .and_then(|_| self.conn.flush())
            .map_err(|e| SendError { msg: format!("SMTP: writing: {e}"), retry: true })
    }

    /// Sends a command and expects one of `ok`; `shown` replaces the command in errors.
    fn cmd(&mut self, line: &str, ok: &[u16], shown: Option<&str>) -> Result<Vec<String>, SendError> {
        self.send(format!("{line}\r\n").as_bytes())?;
        let (code, lines) = self.reply()?;
        if ok.contains(&code) {
            Ok(lines)
        } else {
            let verb = shown.unwrap_or_else(|| line.split(':').next().unwrap_or(line));
            Err(SendError {
                msg: format!("SMTP: {verb} refused: {code} {}", lines.join(" ")),
                // 4xx is temporary by definition; 5xx is permanent.
                retry: (400..500).contains(&code),
            })
        }
    }
}

pub(super) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Tue, 24 Nov 2026 21:06:10 +0000`.
pub fn rfc2822(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = ms.div_euclid(86_400_000);
    let (y, m, d) = crate::timefmt::civil_from_days(days);
    let r = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        r / 3600,
        r / 60 % 60,
        r % 60
    )
}

/// The message as sent after DATA (headers, body, dot-stuffed, CRLF line ends, final dot).
pub fn email_message(e: &Email, subject: &str, body: &str, at_ms: i64, host: &str) -> String {
    let subject =
        if subject.is_ascii() { subject.to_string() } else { format!("=?UTF-8?B?{}?=", base64(subject.as_bytes())) };
    let mut m = String::new();
    m.push_str(&format!("Date: {}\r\n", rfc2822(at_ms)));
    m.push_str(&format!("From: {}\r\n", e.from));
    m.push_str(&format!("To: {}\r\n", e.to.join(", ")));
    m.push_str(&format!("Subject: {subject}\r\n"));
    m.push_str(&format!("Message-ID: <{at_ms}.{}@{host}>\r\n", std::process::id()));
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
    m.push_str(&format!("X-Mailer: clawmetry/{}\r\n", env!("CARGO_PKG_VERSION")));
    if body.is_ascii() {
        m.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        for line in body.lines() {
            if line.starts_with('.') {
                m.push('.');
            }
            m.push_str(line);
            m.push_str("\r\n");
        }
    } else {
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let b = base64(body.replace('\n', "\r\n").as_bytes());
        for chunk in b.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            m.push_str("\r\n");
        }
    }
    m.push_str(".\r\n");
    m
}

pub(super) fn send_email(
    e: &Email,
    subject: &str,
    body: &str,
    at_ms: i64,
    timeout: Duration,
    host: &str,
) -> Result<(), SendError> {
    if e.password.is_some() && e.security == Security::None && !is_loopback(&e.host) {
        return Err(SendError {
            msg: "refusing to send the SMTP password unencrypted: set security to starttls or tls".into(),
            retry: false,
        });
    }
    let addrs: Vec<_> = (e.host.trim_start_matches('[').trim_end_matches(']'), e.port)
        .to_socket_addrs()
        .map_err(|err| SendError { msg: format!("SMTP: cannot resolve {}: {err}", e.host), retry: true })?
        .collect();
    let mut last = format!("SMTP: {} has no address", e.host);
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(err) => last = format!("SMTP: cannot connect to {}:{}: {err}", e.host, e.port),
        }
    }
    let tcp = tcp.ok_or(SendError { msg: last, retry: true })?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let conn = if e.security == Security::Tls { tls_wrap(tcp, &e.host)? } else { Conn::Plain(tcp) };
    let mut s = Smtp { conn, buf: Vec::new() };
    let (code, lines) = s.reply()?;
    if code != 220 {
        return Err(SendError {
            msg: format!("SMTP: greeting {code} {}", lines.join(" ")),
            retry: (400..500).contains(&code),
        });
    }
    let helo_name: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').collect();
    let helo_name = if helo_name.is_empty() { "localhost".to_string() } else { helo_name };
    let mut ext = s.cmd(&format!("EHLO {helo_name}"), &[250], None)?;
    if e.security == Security::StartTls {
        if !ext.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
            return Err(SendError {
                msg: format!(
                    "SMTP: {} does not offer STARTTLS; use security \"tls\" (port 465) or, for a local relay, \"none\"",
                    e.host
                ),
                retry: false,
            });
        }
        s.cmd("STARTTLS", &[220], None)?;
        if !s.buf.is_empty() {
            // Anything sent before the handshake could be an injection: never carry it over.
            return Err(SendError { msg: "SMTP: the server sent data before the TLS handshake".into(), retry: false });
        }
        let Conn::Plain(tcp) = s.conn else { unreachable!("STARTTLS starts from a plain connection") };
        s = Smtp { conn: tls_wrap(tcp, &e.host)?, buf: Vec::new() };
        ext = s.cmd(&format!("EHLO {helo_name}"), &[250], None)?;
    }
    if let Some(user) = &e.username {
        let pw = e.password.as_deref().unwrap_or("");
        let auth = ext.iter().find(|l| l.to_ascii_uppercase().starts_with("AUTH")).map(|l| l.to_ascii_uppercase());
        match auth {
            Some(a) if a.split_whitespace().any(|m| m == "PLAIN") => {
                let token = base64(format!("\0{user}\0{pw}").as_bytes());
                s.cmd(&format!("AUTH PLAIN {token}"), &[235], Some("AUTH PLAIN"))?;
            }
            Some(a) if a.split_whitespace().any(|m| m == "LOGIN") => {
                s.cmd("AUTH LOGIN", &[334], None)?;
                s.cmd(&base64(user.as_bytes()), &[334], Some("AUTH LOGIN user name"))?;
                s.cmd(&base64(pw.as_bytes()), &[235], Some("AUTH LOGIN password"))?;
            }
            _ => {
                return Err(SendError {
                    msg: format!("SMTP: {} offers no AUTH PLAIN or LOGIN, but a user name is set", e.host),
                    retry: false,
                })
            }
        }
    }
    s.cmd(&format!("MAIL FROM:<{}>", e.from), &[250], None)?;
    for to in &e.to {
        s.cmd(&format!("RCPT TO:<{to}>"), &[250, 251], None)?;
    }
    s.cmd("DATA", &[354], None)?;
    s.send(email_message(e, subject, body, at_ms, &helo_name).as_bytes())?;
    let (code, lines) = s.reply()?;
    if code != 250 {
        return Err(SendError {
            msg: format!("SMTP: the message was refused: {code} {}", lines.join(" ")),
            retry: (400..500).contains(&code),
        });
    }
    let _ = s.cmd("QUIT", &[221], None);
    Ok(())
}

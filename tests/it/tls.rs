//! HTTPS (`--tls-cert` / `--tls-key`, SECURITY.md "Transport"): the real binary serves the API
//! over TLS to a rustls client that trusts only the test CA, sets the login cookie
//! `Secure`, refuses plain HTTP on the TLS port, and says clearly what is wrong with bad files.

use crate::common::{fixtures, install_fixture, TempDir};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "tls-test-token-0123456789";

struct TlsServer {
    child: Child,
    port: u16,
    _data: TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clawmetry(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawmetry"));
    cmd.args(["--port", "0", "--host", "127.0.0.1", "--no-gateway"])
        .args(args)
        .env("HOME", std::env::temp_dir().join("clawmetry-test-no-home"))
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("OPENCLAW_HOME")
        .env_remove("CLAWMETRY_TOKEN");
    cmd
}

fn tls_files() -> (String, String) {
    let dir = fixtures().join("tls");
    (dir.join("cert.pem").to_str().unwrap().to_string(), dir.join("key.pem").to_str().unwrap().to_string())
}

fn start_tls(home: &std::path::Path) -> TlsServer {
    start_tls_env(home, &[])
}

fn start_tls_env(home: &std::path::Path, env: &[(&str, &str)]) -> TlsServer {
    let data = TempDir::new("tls-data");
    let (cert, key) = tls_files();
    let mut child = clawmetry(&[
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
        "--token",
        TOKEN,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ])
    .envs(env.iter().copied())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start clawmetry");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("clawmetry printed nothing").unwrap();
    assert!(first.contains("listening on https://127.0.0.1:"), "{first}");
    let port = first.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    std::thread::spawn(move || for _ in lines {});
    TlsServer { child, port, _data: data }
}

/// One HTTPS exchange with a client that trusts only the test CA. Returns the status,
/// the head and the body.
fn https(port: u16, request: &str) -> Result<(u16, String, String), String> {
    let conn = client();
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        // Some servers end without close_notify; the answer is complete either way here.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("no head in {text:?}"))?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, head.to_string(), body.to_string()))
}

/// A TLS client that trusts only the test CA, for 127.0.0.1.
fn client() -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(fixtures().join("tls/ca.pem")).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap()).unwrap()
}

fn wait_ready(port: u16) {
    let t0 = Instant::now();
    loop {
        if let Ok((200, _, body)) = get(port, "/api/health", false) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if v["index"]["ready"] == true {
                return;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no ready answer over HTTPS: {:?}",
            get(port, "/api/health", false)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(port: u16, path: &str, auth: bool) -> Result<(u16, String, String), String> {
    let bearer = if auth { format!("Authorization: Bearer {TOKEN}\r\n") } else { String::new() };
    https(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{bearer}Connection: close\r\n\r\n"))
}

#[test]
fn the_api_is_served_over_https_with_secure_cookies() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start_tls(&home);
    let port = server.port;
    wait_ready(port);
    // The token is still needed, and works over TLS.
    assert_eq!(get(port, "/api/overview", false).unwrap().0, 401);
    let (status, _, body) = get(port, "/api/overview", true).unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["usage"]["total"]["calls"].as_u64().unwrap() > 0, "{v}");
    // The static UI too.
    let (status, _, body) = get(port, "/", false).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("<html"), "{body}");
    // The login cookie is Secure (never sent back over plain HTTP).
    let body = format!("{{\"token\":\"{TOKEN}\"}}");
    let (status, head, _) = https(
        port,
        &format!(
            "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap();
    assert_eq!(status, 200, "{head}");
    let cookie = head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no HTTP answer (the handshake fails), and the server goes on.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("HTTP/1.1 200"), "plain HTTP was served on the TLS port");
    assert_eq!(get(port, "/api/health", false).unwrap().0, 200);
}

#[test]
fn a_trickled_tls_record_does_not_stretch_the_deadline() {
    // Head timeout 1 s. The request goes out as one TLS record sent a byte every 200 ms (about
    // 15 s in all): the server must give up after ~1 s, not wait for the whole record.
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start_tls_env(&home, &[("CLAWMETRY_READ_TIMEOUT_MS", "1000")]);
    wait_ready(server.port);
    let mut tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut conn = client();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    conn.writer().write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut record = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut record).unwrap();
    }
    let mut writer = tcp.try_clone().unwrap();
    let t0 = Instant::now();
    let trickle = std::thread::spawn(move || {
        for b in record {
            if writer.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    // Read until the server ends the connection (close_notify or EOF) or answers.
    let mut buf = [0u8; 4096];
    let mut plain = String::new();
    loop {
        let n: usize = tcp.read(&mut buf).unwrap_or_default();
        if n == 0 {
            break;
        }
        conn.read_tls(&mut &buf[..n]).unwrap();
        let state = conn.process_new_packets();
        let _ = conn.reader().read_to_string(&mut plain);
        if state.map(|s| s.peer_has_closed()).unwrap_or(true) || !plain.is_empty() {
            break;
        }
    }
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(4), "the server waited {took:?} for a trickled record");
    assert!(!plain.contains("200 OK"), "the trickled request was served: {plain}");
    let _ = tcp.shutdown(std::net::Shutdown::Both);
    trickle.join().unwrap();
}

#[test]
fn bad_certificate_files_are_a_clear_error() {
    let (cert, key) = tls_files();
    let garbage = TempDir::new("tls-garbage");
    let junk = garbage.path().join("junk.pem");
    std::fs::write(&junk, "not a pem file\n").unwrap();
    let junk = junk.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--tls-cert", &cert], "--tls-cert and --tls-key go together"),
        (&["--tls-cert", junk, "--tls-key", &key], "no CERTIFICATE block"),
        (&["--tls-cert", &cert, "--tls-key", junk], "no PEM private key"),
        (&["--tls-cert", "/nonexistent/cert.pem", "--tls-key", &key], "cannot read /nonexistent/cert.pem"),
    ];
    for (args, want) in cases {
        let out = clawmetry(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

use super::connection::*;
use super::parse::*;
use super::write::*;
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
    assert_eq!((r[0].method.as_str(), r[0].path.as_str(), r[0].body.as_slice()), ("POST", "/v1/logs", &b"hello"[..]));
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

//! Writing a response: status line, headers, body (gzip when the client takes it).

use crate::http::Resp;
use std::io::{self, Write};

pub(super) fn reason(status: u16) -> &'static str {
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

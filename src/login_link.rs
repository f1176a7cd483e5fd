//! Login links: the first five minutes on a Pi without digging for the token.
//!
//! At start clawmetry prints the addresses a browser on the LAN can open and a link
//! `http://<address>:<port>/login/<code>`: a random code, valid [`TTL_MS`] and once. Opening it
//! sets the login cookie (`api/login_link.rs`) and sends the browser on to `/`, so the code leaves
//! the address bar. `clawmetry login-link` makes a new code for the running instance: both
//! processes share `<data-dir>/login-codes.json` (codes kept as an HMAC of the code, never the
//! code itself) and the running instance writes where it listens to `<data-dir>/listen.json`.
//! A file, not a signal: the CLI needs no permission to signal the server's process (it may run
//! under systemd as another user with the same data dir readable), and the link it prints must
//! name the server's port and addresses, which only the server knows.
//!
//! The long-lived token is never printed.

use serde_json::{json, Value};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// How long a code is valid.
pub const TTL_MS: i64 = 15 * 60 * 1000;
/// Codes kept at most (the oldest go first).
const MAX_CODES: usize = 32;

fn codes_file(data_dir: &Path) -> PathBuf {
    data_dir.join("login-codes.json")
}

fn listen_file(data_dir: &Path) -> PathBuf {
    data_dir.join("listen.json")
}

/// What is kept of a code: an HMAC of it (a leaked file gives no working link).
fn digest(code: &str) -> String {
    crate::codec::hex(&crate::codec::hmac_sha256(b"clawmetry login code", code.as_bytes()))
}

fn read_codes(data_dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(codes_file(data_dir))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["codes"].as_array().cloned())
        .unwrap_or_default()
}

fn write_codes(data_dir: &Path, codes: &[Value]) -> Result<(), String> {
    crate::codec::write_atomic(&codes_file(data_dir), json!({"codes": codes}).to_string().as_bytes())
}

/// A new code valid from `now_ms` for [`TTL_MS`], kept in the data dir; returns it.
pub fn issue(data_dir: &Path, now_ms: i64) -> Result<String, String> {
    let code = crate::codec::random_id::<16>()?;
    let mut codes = read_codes(data_dir);
    codes.retain(|c| c["expiresMs"].as_i64().is_some_and(|e| e > now_ms));
    codes.push(json!({"hash": digest(&code), "expiresMs": now_ms + TTL_MS}));
    let over = codes.len().saturating_sub(MAX_CODES);
    codes.drain(..over);
    write_codes(data_dir, &codes)?;
    Ok(code)
}

/// Why a code was refused.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// Valid once, but more than [`TTL_MS`] ago.
    Expired,
    /// Used already, or never issued.
    Unknown,
}

/// Takes a code: Ok once, while it is valid; it is then gone.
pub fn redeem(data_dir: &Path, code: &str, now_ms: i64) -> Result<(), Refused> {
    if code.is_empty() || code.len() > 128 {
        return Err(Refused::Unknown);
    }
    let want = digest(code);
    let mut codes = read_codes(data_dir);
    let Some(i) = codes.iter().position(|c| crate::codec::secret_matches(c["hash"].as_str().unwrap_or(""), &want))
    else {
        return Err(Refused::Unknown);
    };
    let expired = codes[i]["expiresMs"].as_i64().is_none_or(|e| e <= now_ms);
    codes.remove(i);
    codes.retain(|c| c["expiresMs"].as_i64().is_some_and(|e| e > now_ms));
    // A code that cannot be crossed off is not accepted (it could be used again).
    write_codes(data_dir, &codes).map_err(|_| Refused::Unknown)?;
    if expired {
        Err(Refused::Expired)
    } else {
        Ok(())
    }
}

/// Where the running instance listens, for `clawmetry login-link`.
pub fn write_listen(data_dir: &Path, scheme: &str, host: &str, port: u16) -> Result<(), String> {
    let v = json!({"scheme": scheme, "host": host, "port": port, "pid": std::process::id()});
    crate::codec::write_atomic(&listen_file(data_dir), v.to_string().as_bytes())
}

/// (scheme, bound host, port) of the running instance, or why there is none.
pub fn read_listen(data_dir: &Path) -> Result<(String, String, u16), String> {
    let path = listen_file(data_dir);
    let text = std::fs::read_to_string(&path)
        .map_err(|_| format!("no running clawmetry found ({} is missing); start it first", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let pid = v["pid"].as_u64().unwrap_or(0);
    if pid == 0 || !Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!("the clawmetry that wrote {} (pid {pid}) is not running; start it first", path.display()));
    }
    let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok()).ok_or("listen.json: no port")?;
    Ok((v["scheme"].as_str().unwrap_or("http").into(), v["host"].as_str().unwrap_or("0.0.0.0").into(), port))
}

/// The addresses of this machine's network interfaces that another machine could reach: up,
/// not loopback, not IPv6 link-local; IPv4 first.
pub fn lan_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list that is read here and freed with freeifaddrs; every
    // pointer is checked before it is read, and sockaddrs are read by their family's size.
    unsafe {
        if libc::getifaddrs(&mut ifap) != 0 {
            return out;
        }
        let mut p = ifap;
        while !p.is_null() {
            let ifa = &*p;
            p = ifa.ifa_next;
            let up = ifa.ifa_flags & libc::IFF_UP as u32 != 0;
            let lo = ifa.ifa_flags & libc::IFF_LOOPBACK as u32 != 0;
            if ifa.ifa_addr.is_null() || !up || lo {
                continue;
            }
            match (*ifa.ifa_addr).sa_family as i32 {
                libc::AF_INET => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    out.push(IpAddr::from(u32::from_be(sa.sin_addr.s_addr).to_be_bytes()));
                }
                libc::AF_INET6 => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    let ip = std::net::Ipv6Addr::from(sa.sin6_addr.s6_addr);
                    if (ip.segments()[0] & 0xffc0) != 0xfe80 {
                        out.push(IpAddr::V6(ip));
                    }
                }
                _ => {}
            }
        }
        libc::freeifaddrs(ifap);
    }
    out.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    out.dedup();
    out
}

/// The base URLs a browser can open: the bound address itself when it is one; for a wildcard
/// bind (0.0.0.0, ::) every LAN address and the host name (`.local` for mDNS), and
/// `localhost` when there is nothing else.
pub fn base_urls(scheme: &str, host: &str, port: u16) -> Vec<String> {
    let url = |h: &str| {
        let h = if h.contains(':') && !h.starts_with('[') { format!("[{h}]") } else { h.to_string() };
        format!("{scheme}://{h}:{port}")
    };
    let wildcard = matches!(host, "0.0.0.0" | "::" | "[::]" | "");
    if !wildcard {
        return vec![url(host)];
    }
    let mut out: Vec<String> = lan_addresses()
        .into_iter()
        .filter(|ip| host != "0.0.0.0" || ip.is_ipv4())
        .map(|ip| url(&ip.to_string()))
        .collect();
    if let Some(h) = crate::system::host_name() {
        out.push(url(&format!("{h}.local")));
    }
    if out.is_empty() {
        out.push(url("localhost"));
    }
    out
}

/// A QR code of `text` for a terminal: two modules per character cell (upper and lower half
/// blocks), dark on light with a quiet zone, so a phone camera reads it off any terminal theme.
pub fn qr_text(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        .map_err(|e| format!("QR code: {e}"))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_and_not_after_fifteen_minutes() {
        let dir = std::env::temp_dir().join(format!("cm-login-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = 1_800_000_000_000;
        let a = issue(&dir, now).unwrap();
        let b = issue(&dir, now).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        // Kept as a digest only.
        let file = std::fs::read_to_string(dir.join("login-codes.json")).unwrap();
        assert!(!file.contains(&a) && !file.contains(&b), "{file}");
        assert_eq!(redeem(&dir, &a, now + 1000), Ok(()));
        assert_eq!(redeem(&dir, &a, now + 2000), Err(Refused::Unknown), "used once");
        assert_eq!(redeem(&dir, &b, now + TTL_MS), Err(Refused::Expired));
        assert_eq!(redeem(&dir, &b, now + 1), Err(Refused::Unknown), "an expired code is gone");
        let c = issue(&dir, now).unwrap();
        assert_eq!(redeem(&dir, &c, now + TTL_MS - 1), Ok(()), "valid to the last millisecond");
        assert_eq!(redeem(&dir, "", now), Err(Refused::Unknown));
        assert_eq!(redeem(&dir, &"x".repeat(500), now), Err(Refused::Unknown));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn urls_for_a_wildcard_bind_and_a_fixed_one() {
        assert_eq!(base_urls("http", "192.168.1.5", 8900), vec!["http://192.168.1.5:8900"]);
        assert_eq!(base_urls("https", "::1", 8900), vec!["https://[::1]:8900"]);
        let all = base_urls("http", "0.0.0.0", 8900);
        assert!(!all.is_empty());
        assert!(
            all.iter().all(|u| u.starts_with("http://") && u.ends_with(":8900") && !u.contains("127.0.0.1")),
            "{all:?}"
        );
    }

    #[test]
    fn the_qr_code_decodes_to_the_link() {
        let link = "http://192.168.1.23:8900/login/0123456789abcdef0123456789abcdef";
        let text = qr_text(link).unwrap();
        // Back to modules: each character is two rows (upper, lower half); dark = a space here
        // (light blocks on dark), so "dark module" is a blank half.
        let rows: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        let w = rows[0].len();
        let h = rows.len() * 2;
        let dark = |x: usize, y: usize| {
            let c = rows[y / 2][x];
            let (upper, lower) = match c {
                '█' => (false, false),
                '▀' => (false, true),
                '▄' => (true, false),
                ' ' => (true, true),
                other => panic!("unexpected {other:?}"),
            };
            if y % 2 == 0 {
                upper
            } else {
                lower
            }
        };
        // Scaled up 4x: the decoder looks for finder patterns in pixels.
        let scale = 4;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * scale, h * scale, |x, y| {
            if dark(x / scale, y / scale) {
                0
            } else {
                255
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, link);
    }
}

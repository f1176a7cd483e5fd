//! System health collectors: disk space (statvfs), memory, load, CPU use, uptime, temperatures
//! (Linux thermal zones, which include the Raspberry Pi's `cpu-thermal`), Raspberry Pi
//! throttling flags, TCP port checks and, when `nvidia-smi` is installed, GPUs.
//!
//! Everything is read from `/proc` and `/sys` with plain file reads; the only program ever
//! started is `nvidia-smi`, and only when it is on `PATH`. Parsers take `&str` and are unit
//! tested on fixture text; the file locations are parameters ([`Roots`]) so that tests can point
//! them at a fake tree. This module keeps no state and starts no thread: the monitor calls it.

use serde::Serialize;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where `/proc` and `/sys` are (tests use a fake tree).
#[derive(Debug, Clone)]
pub struct Roots {
    pub proc: PathBuf,
    pub sys: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots { proc: PathBuf::from("/proc"), sys: PathBuf::from("/sys") }
    }
}

// ---- disk ------------------------------------------------------------------------------------

/// Space on the file system holding a path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub total_bytes: u64,
    /// Free for unprivileged users (what `df` shows as available).
    pub avail_bytes: u64,
    pub used_bytes: u64,
    /// Used as `df` computes it: used / (used + available), in percent.
    pub used_percent: f64,
}

/// The leading fields of `struct statvfs` that every Linux C library lays out the same way;
/// the tail differs between glibc and musl, so it is over-allocated (`_spare`) and never read.
/// Counts are 64-bit: musl always uses 64-bit `fsblkcnt_t`, 64-bit glibc too, and on 32-bit
/// glibc `statvfs64` is called instead (see `statvfs_raw`).
#[cfg(all(target_os = "linux", any(target_pointer_width = "64", target_arch = "arm")))]
#[repr(C)]
struct StatVfs {
    f_bsize: std::ffi::c_ulong,
    f_frsize: std::ffi::c_ulong,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_favail: u64,
    f_fsid: std::ffi::c_ulong,
    /// 32-bit targets have an `int` of padding after `f_fsid` (glibc `__f_unused`, musl an
    /// unnamed bit field), so `f_flag` and `f_namemax` sit one word later.
    #[cfg(target_pointer_width = "32")]
    _fsid_pad: std::ffi::c_int,
    f_flag: std::ffi::c_ulong,
    f_namemax: std::ffi::c_ulong,
    /// Larger than any libc's remaining fields (at most 6 ints): the call may write them.
    _spare: [u64; 8],
}

#[cfg(all(target_os = "linux", any(target_pointer_width = "64", target_arch = "arm")))]
extern "C" {
    #[cfg_attr(all(target_env = "gnu", target_pointer_width = "32"), link_name = "statvfs64")]
    fn statvfs(path: *const std::ffi::c_char, buf: *mut StatVfs) -> std::ffi::c_int;
}

/// The raw statvfs fields used here: (fragment size, blocks, free, available, name max).
#[cfg(all(target_os = "linux", any(target_pointer_width = "64", target_arch = "arm")))]
fn statvfs_raw(path: &Path) -> std::io::Result<(u64, u64, u64, u64, u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: all-zero bytes are a valid StatVfs (integers only).
    let mut buf: StatVfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string and `buf` is at least as large as the C struct.
    let rc = unsafe { statvfs(c.as_ptr(), &mut buf) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let _ = (buf.f_files, buf.f_ffree, buf.f_favail, buf.f_fsid, buf.f_flag);
    Ok((buf.f_frsize as u64, buf.f_blocks, buf.f_bfree, buf.f_bavail, buf.f_namemax as u64, buf.f_bsize as u64))
}

#[cfg(not(all(target_os = "linux", any(target_pointer_width = "64", target_arch = "arm"))))]
fn statvfs_raw(_path: &Path) -> std::io::Result<(u64, u64, u64, u64, u64, u64)> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "disk space is read on Linux only"))
}

/// Space on the file system holding `path` (the nearest existing ancestor when `path` does
/// not exist yet, e.g. a data dir about to be created).
pub fn disk(path: &Path) -> std::io::Result<Disk> {
    let mut p = path;
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    let (frsize, blocks, bfree, bavail, _, _) = statvfs_raw(p)?;
    Ok(disk_from(frsize, blocks, bfree, bavail))
}

/// `df` arithmetic: reserved blocks count neither as used nor as available.
pub fn disk_from(frsize: u64, blocks: u64, bfree: u64, bavail: u64) -> Disk {
    let total = blocks.saturating_mul(frsize);
    let used = blocks.saturating_sub(bfree).saturating_mul(frsize);
    let avail = bavail.saturating_mul(frsize);
    let denom = used + avail;
    let used_percent = if denom == 0 { 0.0 } else { (used as f64 * 1000.0 / denom as f64).round() / 10.0 };
    Disk { total_bytes: total, avail_bytes: avail, used_bytes: used, used_percent }
}

// ---- memory, load, uptime, CPU ---------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub used_bytes: u64,
    pub used_percent: f64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

/// `/proc/meminfo`. `MemAvailable` is missing before Linux 3.14: free + buffers + cached then.
pub fn parse_meminfo(text: &str) -> Option<Memory> {
    let mut get = foldhash::HashMap::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let kb: u64 = v.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        get.insert(k.trim(), kb * 1024);
    }
    let total = *get.get("MemTotal")?;
    let avail = get.get("MemAvailable").copied().unwrap_or_else(|| {
        get.get("MemFree").copied().unwrap_or(0)
            + get.get("Buffers").copied().unwrap_or(0)
            + get.get("Cached").copied().unwrap_or(0)
    });
    let used = total.saturating_sub(avail);
    let swap_total = get.get("SwapTotal").copied().unwrap_or(0);
    let swap_free = get.get("SwapFree").copied().unwrap_or(0);
    Some(Memory {
        total_bytes: total,
        available_bytes: avail,
        used_bytes: used,
        used_percent: if total == 0 { 0.0 } else { (used as f64 * 1000.0 / total as f64).round() / 10.0 },
        swap_total_bytes: swap_total,
        swap_used_bytes: swap_total.saturating_sub(swap_free),
    })
}

/// `/proc/loadavg`: the 1, 5 and 15 minute load averages.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// `/proc/uptime`: seconds since boot.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The aggregate `cpu` line of `/proc/stat`: (busy, total) jiffies.
pub fn parse_cpu_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
    if v.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU use in percent between two `/proc/stat` samples.
pub fn cpu_percent(prev: (u64, u64), now: (u64, u64)) -> Option<f64> {
    let busy = now.0.checked_sub(prev.0)?;
    let total = now.1.checked_sub(prev.1)?;
    (total > 0).then(|| (busy as f64 * 1000.0 / total as f64).round() / 10.0)
}

/// `VmRSS` of `/proc/self/status`, in bytes.
pub fn parse_vmrss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

// ---- temperatures and the Raspberry Pi ---------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Thermal {
    pub zone: String,
    pub kind: String,
    pub celsius: f64,
}

/// Every `/sys/class/thermal/thermal_zone*` with a readable temperature, sorted by zone.
pub fn thermal_zones(roots: &Roots) -> Vec<Thermal> {
    let dir = roots.sys.join("class/thermal");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&dir) else { return out };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("thermal_zone") {
            continue;
        }
        let p = e.path();
        let Some(mc) = std::fs::read_to_string(p.join("temp")).ok().and_then(|t| t.trim().parse::<i64>().ok()) else {
            continue;
        };
        let kind = std::fs::read_to_string(p.join("type")).map(|t| t.trim().to_string()).unwrap_or_default();
        out.push(Thermal { zone: name, kind, celsius: mc as f64 / 1000.0 });
    }
    out.sort_by_key(|a| zone_number(&a.zone));
    out
}

fn zone_number(z: &str) -> u32 {
    z.trim_start_matches("thermal_zone").parse().unwrap_or(u32::MAX)
}

/// The CPU temperature: the zone whose type names the CPU or SoC (Raspberry Pi `cpu-thermal`,
/// Intel `x86_pkg_temp`, AMD/ARM `soc`/`cpu`), else the hottest zone.
pub fn cpu_temperature(zones: &[Thermal]) -> Option<f64> {
    let cpu = |k: &str| {
        let k = k.to_ascii_lowercase();
        k.contains("cpu") || k.contains("x86_pkg") || k.contains("soc") || k.contains("coretemp")
    };
    zones
        .iter()
        .filter(|z| cpu(&z.kind))
        .map(|z| z.celsius)
        .reduce(f64::max)
        .or_else(|| zones.iter().map(|z| z.celsius).reduce(f64::max))
}

/// The board model from the device tree (`Raspberry Pi 4 Model B Rev 1.4`), when there is one.
pub fn board_model(roots: &Roots) -> Option<String> {
    let t = std::fs::read(roots.proc.join("device-tree/model")).ok()?;
    let s = String::from_utf8_lossy(&t).trim_end_matches('\0').trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The Raspberry Pi firmware's throttling flags (`vcgencmd get_throttled`, also exposed by the
/// kernel in sysfs), decoded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttled {
    pub raw: String,
    pub under_voltage_now: bool,
    pub throttled_now: bool,
    pub freq_capped_now: bool,
    pub soft_temp_limit_now: bool,
    pub under_voltage_since_boot: bool,
    pub throttled_since_boot: bool,
}

pub fn parse_throttled(text: &str) -> Option<Throttled> {
    let t = text.trim().trim_start_matches("throttled=");
    let v = u32::from_str_radix(t.trim_start_matches("0x"), 16).ok()?;
    Some(Throttled {
        raw: format!("0x{v:x}"),
        under_voltage_now: v & 0x1 != 0,
        freq_capped_now: v & 0x2 != 0,
        throttled_now: v & 0x4 != 0,
        soft_temp_limit_now: v & 0x8 != 0,
        under_voltage_since_boot: v & 0x10000 != 0,
        throttled_since_boot: v & 0x40000 != 0,
    })
}

pub fn pi_throttled(roots: &Roots) -> Option<Throttled> {
    let t = std::fs::read_to_string(roots.sys.join("devices/platform/soc/soc:firmware/get_throttled")).ok()?;
    parse_throttled(&t)
}

// ---- ports -----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortCheck {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub open: bool,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

/// Connects to `host:port` (every address it resolves to, until one answers) within `timeout`.
pub fn check_port(name: &str, host: &str, port: u16, timeout: Duration) -> PortCheck {
    let t0 = Instant::now();
    let mut out =
        PortCheck { name: name.to_string(), host: host.to_string(), port, open: false, latency_ms: None, error: None };
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            out.error = Some(format!("cannot resolve {host}: {e}"));
            return out;
        }
    };
    let mut last = String::from("no address");
    for a in addrs {
        let left = timeout.saturating_sub(t0.elapsed());
        if left.is_zero() {
            last = "timed out".into();
            break;
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(_) => {
                out.open = true;
                out.latency_ms = Some((t0.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
                return out;
            }
            Err(e) => last = e.to_string(),
        }
    }
    out.error = Some(last);
    out
}

/// `(host, port)` of an `http(s)://host[:port]/…` URL; the scheme's port when none is given.
pub fn url_host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        let port = tail.strip_prefix(':').map(|p| p.parse().ok()).unwrap_or(Some(default))?;
        return Some((h.to_string(), port));
    }
    match authority.split_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_string(), default)),
        None => None,
    }
}

/// A host on this machine or the LAN: loopback, private or link-local addresses, `localhost`,
/// `*.local` (mDNS), `*.lan`. Names are not resolved.
pub fn is_local_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") || h.ends_with(".local") || h.ends_with(".lan") {
        return true;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback() || a.is_private() || a.is_link_local(),
        Ok(std::net::IpAddr::V6(a)) => a.is_loopback() || (a.segments()[0] & 0xfe00) == 0xfc00,
        Err(_) => false,
    }
}

// ---- GPU -------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gpu {
    pub index: u32,
    pub name: String,
    pub utilization_percent: Option<f64>,
    pub memory_used_mib: Option<f64>,
    pub memory_total_mib: Option<f64>,
    pub temperature_c: Option<f64>,
    pub power_watts: Option<f64>,
}

/// The query `nvidia_smi` runs; `parse_nvidia_smi` reads its output.
pub const NVIDIA_QUERY: &str = "index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw";

/// `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` output, one GPU a line. Fields a
/// card does not support read `[N/A]` or `[Not Supported]`.
pub fn parse_nvidia_smi(text: &str) -> Vec<Gpu> {
    let num = |s: &str| s.trim().parse::<f64>().ok();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            if f.len() < 7 {
                return None;
            }
            Some(Gpu {
                index: f[0].parse().ok()?,
                name: f[1].to_string(),
                utilization_percent: num(f[2]),
                memory_used_mib: num(f[3]),
                memory_total_mib: num(f[4]),
                temperature_c: num(f[5]),
                power_watts: num(f[6]),
            })
        })
        .collect()
}

/// Finds an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

/// Runs `nvidia-smi` (when installed) with a deadline. `Ok(None)`: no NVIDIA tool here.
pub fn nvidia_smi(timeout: Duration) -> Result<Option<Vec<Gpu>>, String> {
    let Some(exe) = which("nvidia-smi") else { return Ok(None) };
    let mut child = std::process::Command::new(&exe)
        .arg(format!("--query-gpu={NVIDIA_QUERY}"))
        .arg("--format=csv,noheader,nounits")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut so) = child.stdout.take() {
                    use std::io::Read;
                    let _ = so.read_to_string(&mut out);
                }
                if !status.success() {
                    return Err(format!("nvidia-smi exited with {status}"));
                }
                return Ok(Some(parse_nvidia_smi(&out)));
            }
            Ok(None) if t0.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("nvidia-smi did not answer within {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

// ---- processes -------------------------------------------------------------------------------

/// A running OpenClaw gateway found in the process table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayProcess {
    pub pid: u32,
    pub uptime_seconds: Option<f64>,
    pub command: String,
    /// From the `package.json` of the openclaw package the process runs, when found.
    pub version: Option<String>,
}

/// Whether a command line is an OpenClaw (or a Clawdbot/Moltbot) gateway.
pub fn is_gateway_cmdline(args: &[String]) -> bool {
    let is_bin = |a: &str| {
        let base = a.rsplit('/').next().unwrap_or(a);
        matches!(base, "openclaw" | "clawdbot" | "moltbot" | "openclaw-gateway")
            || a.contains("/openclaw/")
            || a.contains("/clawdbot/")
            || a.contains("/moltbot/")
    };
    args.iter().take(3).any(|a| is_bin(a)) && args.iter().any(|a| a == "gateway" || a.ends_with("openclaw-gateway"))
}

/// Seconds since boot at which a process started: field 22 of `/proc/<pid>/stat`, in clock ticks.
pub fn parse_proc_start_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Looks for the gateway in the process table.
pub fn find_gateway(roots: &Roots, boot_uptime: Option<f64>) -> Option<GatewayProcess> {
    // USER_HZ is 100 on every Linux architecture clawmetry is built for.
    const TICKS: f64 = 100.0;
    let rd = std::fs::read_dir(&roots.proc).ok()?;
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<String> =
            raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if !is_gateway_cmdline(&args) {
            continue;
        }
        let started = std::fs::read_to_string(e.path().join("stat")).ok().and_then(|s| parse_proc_start_ticks(&s));
        let uptime = match (boot_uptime, started) {
            (Some(up), Some(t)) => Some(((up - t as f64 / TICKS) * 10.0).round() / 10.0),
            _ => None,
        };
        let version = args.iter().find_map(|a| package_version_near(Path::new(a)));
        return Some(GatewayProcess { pid, uptime_seconds: uptime, command: args.join(" "), version });
    }
    None
}

/// The `version` of the nearest `package.json` named openclaw above a script path.
fn package_version_near(script: &Path) -> Option<String> {
    if !script.is_absolute() {
        return None;
    }
    let script = std::fs::canonicalize(script).unwrap_or_else(|_| script.to_path_buf());
    for dir in script.ancestors().skip(1).take(4) {
        let Ok(t) = std::fs::read_to_string(dir.join("package.json")) else { continue };
        let v: serde_json::Value = serde_json::from_str(&t).ok()?;
        let name = v.get("name").and_then(|n| n.as_str()).unwrap_or("");
        if matches!(name, "openclaw" | "clawdbot" | "moltbot") {
            return v.get("version").and_then(|n| n.as_str()).map(str::to_string);
        }
    }
    None
}

/// This machine's host name (`/proc/sys/kernel/hostname`), if it has one.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_of_the_root_agrees_with_itself_and_with_df() {
        let (frsize, blocks, bfree, bavail, namemax, bsize) = statvfs_raw(Path::new("/")).unwrap();
        // A wrong struct layout shows up as garbage in these.
        assert!(frsize.is_power_of_two() && (512..=1 << 20).contains(&frsize), "f_frsize {frsize}");
        assert!(bsize.is_power_of_two(), "f_bsize {bsize}");
        assert!(blocks > 0 && bfree <= blocks && bavail <= bfree, "{blocks} {bfree} {bavail}");
        assert!((14..=4096).contains(&namemax), "f_namemax {namemax}");
        let d = disk(Path::new("/")).unwrap();
        assert_eq!(d.total_bytes, blocks * frsize);
        // `df -P -k /` (POSIX format) must see the same file system size.
        if let Ok(out) = std::process::Command::new("df").args(["-P", "-k", "/"]).output() {
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(kb) =
                text.lines().nth(1).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse::<u64>().ok())
            {
                assert_eq!(kb, d.total_bytes / 1024, "df says {kb} KiB");
            }
        }
        assert!(disk(Path::new("/nonexistent/deeper/still")).is_ok(), "falls back to an existing ancestor");
    }

    #[test]
    fn df_arithmetic() {
        // 100 blocks of 4 KiB, 30 free of which 20 available to users (10 reserved).
        let d = disk_from(4096, 100, 30, 20);
        assert_eq!(d.total_bytes, 409_600);
        assert_eq!(d.used_bytes, 70 * 4096);
        assert_eq!(d.avail_bytes, 20 * 4096);
        assert_eq!(d.used_percent, 77.8);
        assert_eq!(disk_from(4096, 0, 0, 0).used_percent, 0.0);
    }

    #[test]
    fn proc_parsers() {
        let m = parse_meminfo(
            "MemTotal:        1000 kB\nMemFree:          100 kB\nMemAvailable:     250 kB\nSwapTotal: 400 kB\nSwapFree: 100 kB\n",
        )
        .unwrap();
        assert_eq!(m.total_bytes, 1_024_000);
        assert_eq!(m.used_bytes, 750 * 1024);
        assert_eq!(m.used_percent, 75.0);
        assert_eq!(m.swap_used_bytes, 300 * 1024);
        // Old kernels: no MemAvailable.
        let old = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 50 kB\n").unwrap();
        assert_eq!(old.available_bytes, 200 * 1024);
        assert!(parse_meminfo("garbage").is_none());
        assert_eq!(parse_loadavg("7.46 5.80 3.79 8/171 25357\n"), Some([7.46, 5.80, 3.79]));
        assert_eq!(parse_loadavg("x"), None);
        assert_eq!(parse_uptime("3044.83 2436.24\n"), Some(3044.83));
        let a = parse_cpu_stat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        let b = parse_cpu_stat("cpu  200 0 200 800 100 0 0 0 0 0\n").unwrap();
        assert_eq!(a, (200, 1000));
        assert_eq!(cpu_percent(a, b), Some(66.7));
        assert_eq!(cpu_percent(b, a), None);
        assert_eq!(parse_vmrss("Name: x\nVmRSS:\t  4600 kB\n"), Some(4600 * 1024));
    }

    #[test]
    fn thermal_zones_from_a_fake_sysfs_pi() {
        let tmp = std::env::temp_dir().join(format!("clawmetry-sys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let zone = |n: u32, kind: &str, temp: &str| {
            let d = tmp.join(format!("sys/class/thermal/thermal_zone{n}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("type"), kind).unwrap();
            std::fs::write(d.join("temp"), temp).unwrap();
        };
        zone(0, "cpu-thermal\n", "48312\n");
        zone(10, "gpu-thermal\n", "61000\n");
        zone(2, "broken\n", "not a number\n");
        std::fs::create_dir_all(tmp.join("sys/class/thermal/cooling_device0")).unwrap();
        std::fs::create_dir_all(tmp.join("sys/devices/platform/soc/soc:firmware")).unwrap();
        std::fs::write(tmp.join("sys/devices/platform/soc/soc:firmware/get_throttled"), "50005\n").unwrap();
        std::fs::create_dir_all(tmp.join("proc/device-tree")).unwrap();
        std::fs::write(tmp.join("proc/device-tree/model"), b"Raspberry Pi 4 Model B Rev 1.4\0").unwrap();
        let roots = Roots { proc: tmp.join("proc"), sys: tmp.join("sys") };
        let z = thermal_zones(&roots);
        assert_eq!(z.len(), 2);
        assert_eq!((z[0].zone.as_str(), z[0].kind.as_str(), z[0].celsius), ("thermal_zone0", "cpu-thermal", 48.312));
        assert_eq!(z[1].zone, "thermal_zone10");
        // The CPU zone wins over a hotter GPU zone.
        assert_eq!(cpu_temperature(&z), Some(48.312));
        assert_eq!(cpu_temperature(&z[1..]), Some(61.0));
        assert_eq!(cpu_temperature(&[]), None);
        assert_eq!(board_model(&roots).as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
        let t = pi_throttled(&roots).unwrap();
        assert!(t.under_voltage_now && t.throttled_now && t.under_voltage_since_boot && !t.freq_capped_now);
        assert_eq!(parse_throttled("throttled=0x0").unwrap().raw, "0x0");
        assert!(thermal_zones(&Roots { proc: tmp.join("none"), sys: tmp.join("none") }).is_empty());
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn ports_and_urls() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let open = check_port("x", "127.0.0.1", port, Duration::from_secs(1));
        assert!(open.open && open.latency_ms.is_some(), "{open:?}");
        drop(l);
        // Another test may bind the freed port at once (tests run in parallel): try a few ports.
        let closed = (0..5)
            .map(|_| {
                let p = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
                check_port("x", "127.0.0.1", p, Duration::from_secs(1))
            })
            .find(|c| !c.open)
            .unwrap();
        assert!(closed.error.is_some(), "{closed:?}");
        assert_eq!(url_host_port("http://127.0.0.1:18555/v1"), Some(("127.0.0.1".into(), 18555)));
        assert_eq!(url_host_port("https://api.example.com/v1"), Some(("api.example.com".into(), 443)));
        assert_eq!(url_host_port("http://u:p@[::1]:8080/x"), Some(("::1".into(), 8080)));
        assert_eq!(url_host_port("ftp://x"), None);
        for local in ["127.0.0.1", "localhost", "192.168.1.20", "10.0.0.5", "pi.local", "[::1]", "fd00::1"] {
            assert!(is_local_host(local), "{local}");
        }
        for remote in ["api.anthropic.com", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_local_host(remote), "{remote}");
        }
        assert_eq!(url_host_port("http://host:notaport/"), None);
    }

    #[test]
    fn nvidia_smi_output() {
        let g = parse_nvidia_smi(
            "0, NVIDIA GeForce RTX 3090, 37, 1024, 24576, 55, 123.45\n1, Tesla T4, [N/A], 0, 15360, 40, [Not Supported]\nbad line\n",
        );
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "NVIDIA GeForce RTX 3090");
        assert_eq!(g[0].utilization_percent, Some(37.0));
        assert_eq!(g[0].power_watts, Some(123.45));
        assert_eq!(g[1].utilization_percent, None);
        assert_eq!(g[1].power_watts, None);
    }

    #[test]
    fn gateway_process_detection() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(is_gateway_cmdline(&s(&["node", "/usr/lib/node_modules/openclaw/dist/index.js", "gateway", "run"])));
        assert!(is_gateway_cmdline(&s(&["openclaw-gateway"])));
        assert!(is_gateway_cmdline(&s(&["/home/pi/.npm/bin/openclaw", "gateway"])));
        assert!(!is_gateway_cmdline(&s(&["openclaw", "status"])));
        assert!(!is_gateway_cmdline(&s(&["vim", "gateway"])));
        assert_eq!(
            parse_proc_start_ticks("1334 (node (x) y) S 1 1334 1334 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 11 0 449395 1 2"),
            Some(449395)
        );
    }
}

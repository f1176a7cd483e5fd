//! The user's own day: the time zone whose midnights start the days, weeks and months of every
//! period clawmetry shows or limits (today's cost, the month-end forecast, daily and monthly
//! budgets, `step=day` buckets, history rollups, CSV dates).
//!
//! Storage stays in UTC epoch milliseconds (history.db, the ledger, the index's hourly cells);
//! only the boundaries of periods come from here. The zone is `--tz NAME`, else `TZ` (an IANA
//! name, `:Name`, a path or a POSIX rule), else `/etc/localtime`, else UTC, read from the TZif
//! files of `$TZDIR` or `/usr/share/zoneinfo` (a static musl binary has no libc time zone code):
//! the `tz-rs` crate parses TZif and finds a time's offset; day arithmetic is ours.
//!
//! It is a process-wide constant: `app.rs` resolves it once with [`init`] before any thread
//! starts, and [`zone`] is UTC until then (so unit tests are zone-free unless they build a
//! [`Zone`] of their own). Not for: formatting times for people (the UI does that in the zone
//! the API names, `/api/health` `tz`).

use crate::timefmt::{civil_from_days, days_from_civil};
use std::sync::OnceLock;

const DAY: i64 = 86_400_000;

/// A time zone: its name and its rules (None: UTC, no lookup).
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    rules: Option<tz::TimeZone>,
}

/// How the zone was chosen, and why not the one asked for (shown on `/api/health`).
#[derive(Debug, Clone)]
pub struct Chosen {
    pub zone: Zone,
    /// `--tz`, `TZ`, `/etc/localtime` or `default`.
    pub source: &'static str,
    /// Set when the machine's zone could not be read and UTC is used instead.
    pub problem: Option<String>,
}

static ZONE: OnceLock<Chosen> = OnceLock::new();

/// Sets the process's zone; the first call wins (app.rs calls it once, before any thread).
pub fn init(c: Chosen) {
    let _ = ZONE.set(c);
}

/// The process's zone (UTC until [`init`]).
pub fn zone() -> &'static Zone {
    &chosen().zone
}

pub fn chosen() -> &'static Chosen {
    ZONE.get_or_init(|| Chosen { zone: Zone::utc(), source: "default", problem: None })
}

fn tz_dir() -> String {
    std::env::var("TZDIR").ok().filter(|d| !d.is_empty()).unwrap_or_else(|| "/usr/share/zoneinfo".into())
}

type ReadError = Box<dyn std::error::Error + Send + Sync>;

fn read_file(path: &str) -> Result<Vec<u8>, ReadError> {
    Ok(std::fs::read(path)?)
}

/// Reads a zone by name: `UTC`, an IANA name under `$TZDIR` (`/usr/share/zoneinfo`), `:Name`,
/// an absolute path to a TZif file, or a POSIX rule (`CET-1CEST,M3.5.0,M10.5.0/3`).
pub fn load(name: &str) -> Result<Zone, String> {
    let name = name.trim();
    let bare = name.strip_prefix(':').unwrap_or(name);
    if is_utc(bare) {
        return Ok(Zone::utc());
    }
    if bare.is_empty() || bare.split('/').any(|p| p == "..") {
        return Err(format!("{name:?} is not a time zone name"));
    }
    let dir = tz_dir();
    let rules = tz::TimeZoneSettings::new(&[dir.as_str()], read_file)
        .parse_posix_tz(name)
        .map_err(|e| format!("{name:?}: not a zone in {dir} nor a POSIX TZ rule ({e})"))?;
    Ok(Zone { name: bare.to_string(), rules: Some(rules) })
}

/// The zone to use: `flag` (`--tz`; an error if it cannot be read), else `tz_env` (`TZ`), else
/// `/etc/localtime`, else UTC. A machine zone that cannot be read falls back to UTC and says so.
pub fn resolve(flag: Option<&str>, tz_env: Option<&str>) -> Result<Chosen, String> {
    resolve_at(flag, tz_env, std::path::Path::new("/etc/localtime"))
}

/// [`resolve`] with the machine's zone file at `path`.
fn resolve_at(flag: Option<&str>, tz_env: Option<&str>, path: &std::path::Path) -> Result<Chosen, String> {
    if let Some(f) = flag {
        let zone = load(f).map_err(|e| format!("--tz {e}; use an IANA name such as Europe/Berlin, or UTC"))?;
        return Ok(Chosen { zone, source: "--tz", problem: None });
    }
    if let Some(t) = tz_env.filter(|t| !t.trim().is_empty()) {
        return Ok(match load(t) {
            Ok(zone) => Chosen { zone, source: "TZ", problem: None },
            Err(e) => Chosen { zone: Zone::utc(), source: "TZ", problem: Some(format!("TZ={e}; using UTC")) },
        });
    }
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(Chosen { zone: Zone::utc(), source: "default", problem: None });
    }
    let name = localtime_name(path);
    // The file is read even when named UTC (a broken one is reported); UTC's days need no rules.
    let read = std::fs::read(path).map_err(|e| e.to_string()).and_then(|b| from_tzif(&name, &b));
    Ok(match read.map(|z| if is_utc(&name) { Zone::utc() } else { z }) {
        Ok(zone) => Chosen { zone, source: "/etc/localtime", problem: None },
        Err(e) => Chosen {
            zone: Zone::utc(),
            source: "/etc/localtime",
            problem: Some(format!("{} cannot be read as a time zone ({e}); using UTC (set --tz)", path.display())),
        },
    })
}

/// The names of UTC itself (no file is read for them; days are plain epoch days).
fn is_utc(name: &str) -> bool {
    matches!(name, "UTC" | "Etc/UTC" | "UTC0" | "Z" | "Zulu" | "Etc/Zulu" | "Universal" | "Etc/Universal")
}

/// A zone from TZif bytes.
pub fn from_tzif(name: &str, bytes: &[u8]) -> Result<Zone, String> {
    let rules = tz::TimeZone::from_tz_data(bytes).map_err(|e| e.to_string())?;
    Ok(Zone { name: name.to_string(), rules: Some(rules) })
}

/// The IANA name of `/etc/localtime` (`path`): its symlink's target below `zoneinfo/`, else
/// Debian's `/etc/timezone`, else "localtime".
fn localtime_name(path: &std::path::Path) -> String {
    let link = std::fs::read_link(path).ok().and_then(|t| {
        let t = t.to_string_lossy().into_owned();
        t.rfind("zoneinfo/").map(|i| t[i + 9..].to_string())
    });
    let named = || std::fs::read_to_string("/etc/timezone").ok().map(|s| s.trim().to_string());
    link.or_else(named).filter(|n| !n.is_empty()).unwrap_or_else(|| "localtime".into())
}

impl Zone {
    pub fn utc() -> Zone {
        Zone { name: "UTC".into(), rules: None }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Offset from UTC at `ms`, in seconds (east positive).
    pub fn offset_s(&self, ms: i64) -> i64 {
        self.rules
            .as_ref()
            .and_then(|r| r.find_local_time_type(ms.div_euclid(1000)).ok())
            .map_or(0, |t| t.ut_offset() as i64)
    }

    /// The abbreviation in force at `ms` ("PST", "CEST"; "UTC").
    pub fn abbreviation(&self, ms: i64) -> String {
        self.rules
            .as_ref()
            .and_then(|r| r.find_local_time_type(ms.div_euclid(1000)).ok())
            .map_or_else(|| "UTC".into(), |t| t.time_zone_designation().to_string())
    }

    /// The local wall-clock time of `ms`, as ms since 1970-01-01 00:00 local.
    fn wall(&self, ms: i64) -> i64 {
        ms + self.offset_s(ms) * 1000
    }

    /// The local day number of `ms` (days since 1970-01-01 in the zone's calendar).
    pub fn day_number(&self, ms: i64) -> i64 {
        self.wall(ms).div_euclid(DAY)
    }

    /// The first instant (UTC ms) of local day number `n`: its midnight, or when midnight is
    /// skipped by a DST change, the first instant after the gap; when midnight happens twice,
    /// the first.
    pub fn day_start_of(&self, n: i64) -> i64 {
        let local = n * DAY;
        if self.rules.is_none() {
            return local;
        }
        let candidates = [local - self.offset_s(local - DAY) * 1000, local - self.offset_s(local + DAY) * 1000];
        let valid = candidates.iter().copied().filter(|&t| self.wall(t) == local).min();
        if let Some(t) = valid {
            return t;
        }
        // Midnight falls in a gap: the day starts at the change, the first instant whose wall
        // time is past midnight (found to the second between the two candidates).
        let (mut lo, mut hi) = (candidates[0].min(candidates[1]), candidates[0].max(candidates[1]));
        while hi - lo > 1000 {
            let mid = lo + (hi - lo) / 2000 * 1000;
            if self.wall(mid) >= local {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// Start of the local day holding `ms`.
    pub fn day_start(&self, ms: i64) -> i64 {
        self.day_start_of(self.day_number(ms))
    }

    /// Start of the local day `n` days after (before, if negative) the one holding `ms`.
    pub fn add_days(&self, ms: i64, n: i64) -> i64 {
        self.day_start_of(self.day_number(ms) + n)
    }

    /// Monday 00:00 local of the week holding `ms` (1970-01-01 was a Thursday).
    pub fn week_start(&self, ms: i64) -> i64 {
        let d = self.day_number(ms);
        self.day_start_of(d - (d + 3).rem_euclid(7))
    }

    /// Start of the local month holding `ms`.
    pub fn month_start(&self, ms: i64) -> i64 {
        let (y, m, _) = self.ymd(ms);
        self.day_start_of(days_from_civil(y, m, 1))
    }

    /// Start of the local month after the one holding `ms`.
    pub fn next_month_start(&self, ms: i64) -> i64 {
        let (y, m, _) = self.ymd(ms);
        let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        self.day_start_of(days_from_civil(y, m, 1))
    }

    /// Local (year, month, day) of `ms`.
    pub fn ymd(&self, ms: i64) -> (i64, i64, i64) {
        civil_from_days(self.day_number(ms))
    }

    /// `2026-12-06`: the local date of `ms`.
    pub fn date(&self, ms: i64) -> String {
        let (y, m, d) = self.ymd(ms);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `2026-12-06T00:00:00-08:00`: local time with its offset (for CSV files).
    pub fn iso(&self, ms: i64) -> String {
        let off = self.offset_s(ms);
        let w = (ms + off * 1000).div_euclid(1000);
        let (y, m, d) = civil_from_days(w.div_euclid(86_400));
        let s = w.rem_euclid(86_400);
        let (sign, a) = if off < 0 { ('-', -off) } else { ('+', off) };
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60,
            a / 3600,
            a / 60 % 60
        )
    }

    /// The starts of the local days from the one holding `from` up to `to` (exclusive), every
    /// `days` days; None past `max` buckets.
    pub fn day_buckets(&self, from: i64, to: i64, days: i64, max: usize) -> Option<Vec<i64>> {
        let first = self.day_number(from);
        let mut out = Vec::new();
        let mut n = first;
        loop {
            let t = self.day_start_of(n);
            if t >= to && !out.is_empty() {
                return Some(out);
            }
            if out.len() >= max {
                return None;
            }
            out.push(t);
            n += days.max(1);
        }
    }

    /// `{name, offsetSeconds, abbreviation}` at `ms`, as the API shows it.
    pub fn to_json(&self, ms: i64) -> serde_json::Value {
        serde_json::json!({"name": self.name, "offsetSeconds": self.offset_s(ms), "abbreviation": self.abbreviation(ms)})
    }
}

/// The index of the bucket holding `t` among sorted bucket starts (None before the first).
pub fn bucket_of(starts: &[i64], t: i64) -> Option<usize> {
    starts.partition_point(|&s| s <= t).checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso_ms;

    fn t(s: &str) -> i64 {
        parse_iso_ms(s).unwrap()
    }
    fn zone(name: &str) -> Zone {
        load(name).unwrap_or_else(|e| panic!("{e} (is tzdata installed?)"))
    }
    const H: i64 = 3_600_000;

    #[test]
    fn utc_days_and_months() {
        let z = Zone::utc();
        let now = t("2026-12-06T20:00:00Z");
        assert_eq!(z.day_start(now), t("2026-12-06T00:00:00Z"));
        assert_eq!(z.add_days(now, 1) - z.day_start(now), 24 * H);
        assert_eq!(z.month_start(now), t("2026-12-01T00:00:00Z"));
        assert_eq!(z.next_month_start(now), t("2027-01-01T00:00:00Z"));
        assert_eq!(z.week_start(now), t("2026-11-30T00:00:00Z")); // a Sunday: the Monday before
        assert_eq!(z.date(now), "2026-12-06");
        assert_eq!(z.iso(now), "2026-12-06T20:00:00+00:00");
        assert_eq!(load("UTC").unwrap().offset_s(now), 0);
    }

    #[test]
    fn west_of_utc_los_angeles() {
        let z = zone("America/Los_Angeles");
        // 2026-12-06 20:00 UTC is 12:00 PST (UTC−8) on Dec 6.
        let a = t("2026-12-06T20:00:00Z");
        assert_eq!(z.offset_s(a), -8 * 3600);
        assert_eq!(z.date(a), "2026-12-06");
        assert_eq!(z.day_start(a), t("2026-12-06T08:00:00Z"));
        // 2026-12-07 02:00 UTC is 18:00 on Dec 6: still the same local day.
        let b = t("2026-12-07T02:00:00Z");
        assert_eq!(z.date(b), "2026-12-06");
        assert_eq!(z.day_start(b), t("2026-12-06T08:00:00Z"));
        // Local midnight is 08:00 UTC: 07:59:59.999 is Dec 6, 08:00 Dec 7.
        assert_eq!(z.date(t("2026-12-07T07:59:59.999Z")), "2026-12-06");
        assert_eq!(z.date(t("2026-12-07T08:00:00Z")), "2026-12-07");
        // The month: December 1st 00:00 PST; the first day of the month in UTC is still
        // November in California until 08:00 UTC.
        assert_eq!(z.month_start(a), t("2026-12-01T08:00:00Z"));
        assert_eq!(z.month_start(t("2026-12-01T07:00:00Z")), t("2026-11-01T07:00:00Z")); // PDT (−7) then
        assert_eq!(z.next_month_start(a), t("2027-01-01T08:00:00Z"));
        assert_eq!(z.iso(a), "2026-12-06T12:00:00-08:00");
        assert_eq!(z.abbreviation(a), "PST");
        // US DST began 2027-03-14 at 02:00 PST (10:00 UTC): that day has 23 hours.
        let d = t("2027-03-14T12:00:00Z");
        assert_eq!(z.day_start(d), t("2027-03-14T08:00:00Z"));
        assert_eq!(z.add_days(d, 1), t("2027-03-15T07:00:00Z"));
    }

    #[test]
    fn dst_days_berlin() {
        let z = zone("Europe/Berlin");
        // 2027-03-28: clocks go 02:00 CET → 03:00 CEST (01:00 UTC). Midnight is 23:00 UTC the
        // day before; the next midnight 22:00 UTC: 23 hours.
        let spring = t("2027-03-28T12:00:00Z");
        assert_eq!(z.day_start(spring), t("2027-03-27T23:00:00Z"));
        assert_eq!(z.add_days(spring, 1), t("2027-03-28T22:00:00Z"));
        assert_eq!(z.add_days(spring, 1) - z.day_start(spring), 23 * H);
        // 2026-10-25: 03:00 CEST → 02:00 CET (01:00 UTC): 25 hours.
        let autumn = t("2026-10-25T12:00:00Z");
        assert_eq!(z.day_start(autumn), t("2026-10-24T22:00:00Z"));
        assert_eq!(z.add_days(autumn, 1), t("2026-10-25T23:00:00Z"));
        assert_eq!(z.add_days(autumn, 1) - z.day_start(autumn), 25 * H);
        // The hour that happens twice is one local day's.
        assert_eq!(z.date(t("2026-10-25T00:30:00Z")), "2026-10-25");
        assert_eq!(z.date(t("2026-10-25T01:30:00Z")), "2026-10-25");
        // Buckets over the change, up to Oct 27 00:00 CET (exclusive): Oct 24, 25 and 26, of
        // 24, 25 and 24 hours.
        let b = z.day_buckets(t("2026-10-24T10:00:00Z"), t("2026-10-26T23:00:00Z"), 1, 100).unwrap();
        let lens: Vec<i64> = b.windows(2).map(|w| (w[1] - w[0]) / H).collect();
        assert_eq!(lens, vec![24, 25]);
        assert_eq!(z.add_days(b[2], 1) - b[2], 24 * H);
        assert_eq!(b[0], t("2026-10-23T22:00:00Z"));
        assert_eq!(b.len(), 3);
        assert_eq!(bucket_of(&b, t("2026-10-25T23:30:00Z")), Some(2));
        assert_eq!(bucket_of(&b, t("2026-10-25T22:59:59Z")), Some(1));
        assert_eq!(bucket_of(&b, t("2026-10-23T21:00:00Z")), None);
    }

    #[test]
    fn midnight_in_a_gap_and_posix_rules() {
        // A rule whose change is at midnight (as Santiago's or Havana's): 2027-03-14 00:00 does
        // not exist, the day starts at 01:00 local = 05:00 UTC (UTC−5 → UTC−4).
        let z = zone("XST5XDT,M3.2.0/0,M11.1.0/1");
        let d = t("2027-03-14T12:00:00Z");
        assert_eq!(z.day_start(d), t("2027-03-14T04:00:00Z") + H);
        assert_eq!(z.date(t("2027-03-14T04:59:59Z")), "2027-03-13");
        assert_eq!(z.add_days(d, 1), t("2027-03-15T04:00:00Z"));
        assert_eq!(z.add_days(d, 0), z.day_start(d));
    }

    #[test]
    fn names_and_fallbacks() {
        assert!(load("Nowhere/Atlantis").is_err());
        assert!(load("../../etc/passwd").is_err());
        assert!(load("").is_err());
        let e = resolve(Some("Mars/Olympus"), None).unwrap_err();
        assert!(e.contains("--tz") && e.contains("Mars/Olympus"), "{e}");
        let c = resolve(Some("Europe/Berlin"), Some("America/Los_Angeles")).unwrap();
        assert_eq!((c.zone.name(), c.source), ("Europe/Berlin", "--tz"));
        let c = resolve(None, Some(":America/Los_Angeles")).unwrap();
        assert_eq!((c.zone.name(), c.source, c.problem.is_none()), ("America/Los_Angeles", "TZ", true));
        let c = resolve(None, Some("Not/AZone")).unwrap();
        assert_eq!(c.zone.name(), "UTC");
        assert!(c.problem.unwrap().contains("using UTC"));
        assert!(from_tzif("x", b"not a tzif file").is_err());
        // A machine zone file that is not TZif: UTC, and the reason to show.
        let dir = std::env::temp_dir().join(format!("clawmetry-tz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("localtime");
        std::fs::write(&bad, b"garbage").unwrap();
        let c = resolve_at(None, None, &bad).unwrap();
        assert_eq!((c.zone.name(), c.source), ("UTC", "/etc/localtime"));
        assert!(c.problem.as_deref().unwrap().contains("cannot be read as a time zone"), "{:?}", c.problem);
        // A symlink into a zoneinfo tree is named after its target.
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("{}/America/Los_Angeles", tz_dir()), &link).unwrap();
        let c = resolve_at(None, Some(""), &link).unwrap();
        assert_eq!((c.zone.name(), c.problem.is_none()), ("America/Los_Angeles", true));
        assert_eq!(c.zone.offset_s(t("2026-12-06T20:00:00Z")), -8 * 3600);
        // No file at all: UTC, nothing wrong.
        let c = resolve_at(None, None, &dir.join("none")).unwrap();
        assert_eq!((c.zone.name(), c.source, c.problem.is_none()), ("UTC", "default", true));
        let _ = std::fs::remove_dir_all(&dir);
        let z = from_tzif("x", &std::fs::read(format!("{}/Europe/Berlin", tz_dir())).unwrap()).unwrap();
        assert_eq!(z.offset_s(t("2026-07-01T00:00:00Z")), 7200);
    }
}

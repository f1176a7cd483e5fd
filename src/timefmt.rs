//! Time arithmetic without a date crate: ISO-8601 parsing and formatting, civil dates. All
//! times are epoch milliseconds, UTC; the user's days and months are `tz.rs`'s.

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (also with a space instead of `T`).
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut n = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + (c - b'0') as i64;
        }
        Some(n)
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            if digits < 3 {
                ms = ms * 10 + (b[i] - b'0') as i64;
            }
            digits += 1;
            i += 1;
        }
        for _ in digits..3 {
            ms *= 10;
        }
    }
    let offset_min = match b.get(i) {
        None | Some(b'Z') | Some(b'z') => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = if b.get(i + 3) == Some(&b':') { num(i + 4..i + 6)? } else { num(i + 3..i + 5).unwrap_or(0) };
            let m = oh * 60 + om;
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-11-24T21:06:10.641Z`.
pub fn iso(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let r = ms.rem_euclid(86_400_000);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", r / 3_600_000, r / 60_000 % 60, r / 1000 % 60, r % 1000)
}

/// The latest time a user may give: the last millisecond of year 9999. With every time a
/// request carries inside [0, USER_TIME_MAX], no sum or difference of two of them (or of one
/// and a step) can overflow an i64.
pub const USER_TIME_MAX: i64 = 253_402_300_799_999;

/// Reads a time given by a user: epoch ms, `YYYY-MM-DD` (that day's start in the user's zone,
/// `tz.rs`), or a full ISO time, from 1970 to the end of year 9999 (anything else is None: the
/// caller answers 400).
pub fn parse_user_time(s: &str) -> Option<i64> {
    let t = if let Ok(n) = s.parse::<i64>() {
        Some(n)
    } else if s.len() == 10 {
        parse_iso_ms(&format!("{s}T00:00:00Z")).map(|utc| crate::tz::zone().day_start_of(utc.div_euclid(86_400_000)))
    } else {
        parse_iso_ms(s)
    };
    t.filter(|t| (0..=USER_TIME_MAX).contains(t))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip_and_offsets() {
        let t = parse_iso_ms("2026-11-24T21:06:10.641Z").unwrap();
        assert_eq!(t, 1_795_554_370_641);
        assert_eq!(iso(t), "2026-11-24T21:06:10.641Z");
        assert_eq!(parse_iso_ms("2026-11-24T22:06:10.641+01:00"), Some(t));
        assert_eq!(parse_iso_ms("2026-11-24T21:06:10Z"), Some(t - 641));
        assert_eq!(parse_iso_ms("2026-11-24T21:06:10.641123Z"), Some(t));
        assert_eq!(parse_iso_ms("yesterday"), None);
        assert_eq!(parse_iso_ms("2026-13-24T21:06:10Z"), None);
    }

    #[test]
    fn boundaries() {
        let t = parse_iso_ms("2026-11-24T21:06:10.641Z").unwrap();
        assert_eq!(civil_from_days(parse_iso_ms("2024-02-29T23:59:59Z").unwrap() / 86_400_000), (2024, 2, 29));
        // A date is its day's start in the process's zone (UTC in unit tests).
        assert_eq!(parse_user_time("2026-11-24"), Some(t - 21 * 3_600_000 - 6 * 60_000 - 10_641));
        assert_eq!(days_from_civil(2026, 11, 24), 20_781);
    }
}

//! Spend and prompt-cache arithmetic: burn rates, comparison windows, the month-end projection,
//! the day a budget limit is crossed, and the cache's hit rate, savings and write overhead.
//!
//! Pure functions over plain figures (cost per epoch hour, token counts, prices): no state, no
//! locks, no I/O, so every formula is unit-tested with hand-computed numbers. `api/insight.rs`
//! feeds them from the index. Days, weeks and months are those of a [`Zone`] (the user's, `tz.rs`):
//! they start at local midnight, a DST day has 23 or 25 hours; a week starts on Monday. Hours
//! stay epoch hours.
//!
//! The methods, in words (the API returns them as text too):
//! - **Burn rate** over the last N hours: the spend in the N whole UTC hours before the current
//!   one, divided by N (the current, unfinished hour is left out so that a rate is never
//!   diluted by the minutes not yet lived).
//! - **Daily mean** over N days: the spend in the N whole local days before today, divided by N.
//! - **Month-end projection**: this month so far (up to now) + the 7-day daily mean × the days
//!   left in the month: the part of today still to come (of today's own length, 23, 24 or 25
//!   hours) + the whole local days after today.
//! - **Budget crossing** "at the current rate": the rate is the scope's 7-day daily mean; a limit
//!   of the period is crossed at `now + (limit − spent) / rate` when that falls before the
//!   period ends, else not in this period.
//! - **Prompt cache**: hit rate = cache read / (input + cache read + cache write) tokens; saved
//!   = cache read × (input price − cache-read price); write overhead = cache write ×
//!   (cache-write price − input price). A model without a known price has no savings and no
//!   overhead (None, not 0); a sum over several models adds the known ones and says how many
//!   cache-read tokens had no price.

use crate::model::Usage;
use crate::pricing::Price;
use crate::tz::Zone;
use std::collections::BTreeMap;

pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;

pub const PROJECTION_METHOD: &str =
    "this month so far + the last 7 whole days' daily mean × the days left in the month";
pub const RATE_METHOD: &str = "the last 7 whole local days' daily mean";
pub const BURN_METHOD: &str = "spend in the last N whole hours ÷ N (the current hour left out)";

/// Cost (USD) per epoch hour.
#[derive(Debug, Default, Clone)]
pub struct Spend(pub BTreeMap<u32, f64>);

impl Spend {
    pub fn add(&mut self, hour: u32, cost: f64) {
        *self.0.entry(hour).or_default() += cost;
    }
    /// Spend in `[from, to)` (ms): the hours that start in it (both rounded up to an hour,
    /// which changes nothing but in zones whose midnight is not on the hour, as India's).
    pub fn between(&self, from: i64, to: i64) -> f64 {
        let (h0, h1) = (first_hour(from), first_hour(to));
        if h0 >= h1 {
            return 0.0;
        }
        // A fold from +0.0: `sum()` of no floats is −0.0, which the API would print as such.
        self.0.range(h0..h1).fold(0.0, |a, (_, c)| a + c)
    }
    /// Spend from `from` up to and including the current hour of `now`.
    fn so_far(&self, from: i64, now: i64) -> f64 {
        self.between(from, hour_start(now) + HOUR)
    }
}

/// The first epoch hour that starts at or after `ms` (a period's first cell).
pub fn first_hour(ms: i64) -> u32 {
    (ms.max(0).saturating_add(HOUR - 1) / HOUR).min(u32::MAX as i64) as u32
}

pub fn hour_start(ms: i64) -> i64 {
    ms.div_euclid(HOUR) * HOUR
}

/// USD per hour over the last `hours` whole hours before the current one.
pub fn burn(sp: &Spend, now: i64, hours: i64) -> f64 {
    let end = hour_start(now);
    sp.between(end - hours * HOUR, end) / hours as f64
}

/// USD per day over the last `days` whole local days before today.
pub fn daily_mean(z: &Zone, sp: &Spend, now: i64, days: i64) -> f64 {
    sp.between(z.add_days(now, -days), z.day_start(now)) / days as f64
}

/// One period so far against the whole period before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start_ms: i64,
    pub current: f64,
    pub previous_start_ms: i64,
    pub previous: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Windows {
    pub day: Window,
    pub week: Window,
    pub month: Window,
    pub mean7: f64,
    pub mean30: f64,
    pub mean90: f64,
}

pub fn windows(z: &Zone, sp: &Spend, now: i64) -> Windows {
    let w = |start: i64, prev: i64| Window {
        start_ms: start,
        current: sp.so_far(start, now),
        previous_start_ms: prev,
        previous: sp.between(prev, start),
    };
    let day = z.day_start(now);
    let week = z.week_start(now);
    let month = z.month_start(now);
    Windows {
        day: w(day, z.add_days(now, -1)),
        week: w(week, z.add_days(week, -7)),
        month: w(month, z.month_start(month - 1)),
        mean7: daily_mean(z, sp, now, 7),
        mean30: daily_mean(z, sp, now, 30),
        mean90: daily_mean(z, sp, now, 90),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    pub month_so_far: f64,
    pub daily_rate: f64,
    pub days_left: f64,
    pub projected: f64,
    pub month_end_ms: i64,
}

/// See [`PROJECTION_METHOD`].
pub fn projection(z: &Zone, sp: &Spend, now: i64) -> Projection {
    let month_so_far = sp.so_far(z.month_start(now), now);
    let daily_rate = daily_mean(z, sp, now, 7);
    let end = z.next_month_start(now);
    let days_left = days_left(z, now, end);
    Projection {
        month_so_far,
        daily_rate,
        days_left,
        projected: month_so_far + daily_rate * days_left,
        month_end_ms: end,
    }
}

/// Local days from `now` to `end` (a day start): what is left of today, as a share of today's
/// own length, plus the whole days after it.
pub fn days_left(z: &Zone, now: i64, end: i64) -> f64 {
    let (today, tomorrow) = (z.day_start(now), z.add_days(now, 1));
    if end <= now {
        return 0.0;
    }
    if end <= tomorrow {
        return (end - now) as f64 / (tomorrow - today) as f64;
    }
    let whole = z.day_number(end) - z.day_number(tomorrow);
    (tomorrow - now) as f64 / (tomorrow - today) as f64 + whole as f64
}

/// Where a limit stands at the current rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crossing {
    /// Spend is at or over the limit already.
    Over,
    /// Crossed at this time (ms), before the period ends.
    At(i64),
    /// Not crossed before the period ends at this rate.
    Holds,
}

/// When `spent` reaches `limit` growing at `rate_per_day` from `now`, if before `period_end`.
pub fn crossing(spent: f64, limit: f64, rate_per_day: f64, now: i64, period_end: i64) -> Crossing {
    if spent >= limit {
        return Crossing::Over;
    }
    if rate_per_day <= 0.0 || !rate_per_day.is_finite() {
        return Crossing::Holds;
    }
    let at = now as f64 + (limit - spent) / rate_per_day * DAY as f64;
    if at < period_end as f64 {
        Crossing::At(at.ceil() as i64)
    } else {
        Crossing::Holds
    }
}

/// Prompt-cache figures of some usage: tokens, and money where the price is known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheFigures {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// None when no part had a known price.
    pub saved: Option<f64>,
    pub write_overhead: Option<f64>,
    /// Cache-read tokens of models without a known price (not in `saved`).
    pub unpriced_cache_read: u64,
}

impl CacheFigures {
    /// The figures of `u`, used with one model at `price` (None: price unknown).
    pub fn of(u: &Usage, price: Option<Price>) -> CacheFigures {
        let (saved, write_overhead) = match price {
            Some(p) => (
                Some(u.cache_read as f64 * (p.input - p.cache_read) / 1e6),
                Some(u.cache_write as f64 * (p.cache_write - p.input) / 1e6),
            ),
            None => (None, None),
        };
        CacheFigures {
            input: u.input,
            cache_read: u.cache_read,
            cache_write: u.cache_write,
            saved,
            write_overhead,
            unpriced_cache_read: if price.is_none() { u.cache_read } else { 0 },
        }
    }
    pub fn add(&mut self, o: &CacheFigures) {
        let plus = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        self.input = self.input.saturating_add(o.input);
        self.cache_read = self.cache_read.saturating_add(o.cache_read);
        self.cache_write = self.cache_write.saturating_add(o.cache_write);
        self.saved = plus(self.saved, o.saved);
        self.write_overhead = plus(self.write_overhead, o.write_overhead);
        self.unpriced_cache_read = self.unpriced_cache_read.saturating_add(o.unpriced_cache_read);
    }
    /// Cache read over all prompt tokens; None with no prompt tokens.
    pub fn hit_rate(&self) -> Option<f64> {
        let all = self.input as f64 + self.cache_read as f64 + self.cache_write as f64;
        (all > 0.0).then(|| self.cache_read as f64 / all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso_ms;

    fn t(s: &str) -> i64 {
        parse_iso_ms(s).unwrap()
    }
    fn at(sp: &mut Spend, iso: &str, cost: f64) {
        sp.add((t(iso) / HOUR) as u32, cost);
    }
    fn utc() -> Zone {
        Zone::utc()
    }
    fn zone(name: &str) -> Zone {
        crate::tz::load(name).unwrap_or_else(|e| panic!("{e} (is tzdata installed?)"))
    }
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn burn_leaves_the_current_hour_out() {
        let mut sp = Spend::default();
        at(&mut sp, "2026-11-25T06:10:00Z", 2.0); // the last whole hour
        at(&mut sp, "2026-11-25T07:01:00Z", 100.0); // the current hour: not counted
        at(&mut sp, "2026-11-24T08:30:00Z", 22.0); // 23 h before 07:00, inside 24 h
        at(&mut sp, "2026-11-24T06:59:00Z", 1000.0); // 24 h + 1 min before: outside 24 h
        let now = t("2026-11-25T07:06:40Z");
        assert!(close(burn(&sp, now, 1), 2.0));
        assert!(close(burn(&sp, now, 24), 24.0 / 24.0));
        assert!(close(burn(&sp, now, 168), 1024.0 / 168.0));
        let none = burn(&Spend::default(), now, 24);
        assert!(none == 0.0 && none.is_sign_positive(), "{none}");
    }

    #[test]
    fn windows_today_week_month_and_means() {
        let mut sp = Spend::default();
        // Wednesday 2026-11-25 is "today"; the week started Monday 2026-11-23.
        at(&mut sp, "2026-11-25T01:00:00Z", 1.0);
        at(&mut sp, "2026-11-24T12:00:00Z", 2.0);
        at(&mut sp, "2026-11-22T12:00:00Z", 4.0); // Sunday: last week
        at(&mut sp, "2026-11-10T12:00:00Z", 8.0); // this month, earlier weeks
        at(&mut sp, "2026-10-31T23:00:00Z", 16.0); // last month
        at(&mut sp, "2026-08-01T00:00:00Z", 32.0); // 116 days before: in no mean
        let now = t("2026-11-25T07:06:40Z");
        let w = windows(&utc(), &sp, now);
        assert_eq!((w.day.current, w.day.previous), (1.0, 2.0));
        assert_eq!(w.week.start_ms, t("2026-11-23T00:00:00Z"));
        assert_eq!((w.week.current, w.week.previous), (3.0, 4.0));
        assert_eq!(w.month.previous_start_ms, t("2026-10-01T00:00:00Z"));
        assert_eq!((w.month.current, w.month.previous), (15.0, 16.0));
        assert!(close(w.mean7, 6.0 / 7.0));
        assert!(close(w.mean30, 30.0 / 30.0));
        assert!(close(w.mean90, 30.0 / 90.0));
    }

    #[test]
    fn projection_by_hand() {
        let mut sp = Spend::default();
        at(&mut sp, "2026-11-24T21:06:00Z", 0.7);
        at(&mut sp, "2026-11-20T10:00:00Z", 0.7);
        at(&mut sp, "2026-11-02T10:00:00Z", 5.0); // this month, before the 7 days
        let now = t("2026-11-25T07:06:40Z");
        let p = projection(&utc(), &sp, now);
        assert!(close(p.month_so_far, 6.4));
        assert!(close(p.daily_rate, 0.2));
        // 2026-12-01T00:00Z − now = 5 days 16 h 53 min 20 s.
        let left = 5.0 + (16.0 * 3600.0 + 53.0 * 60.0 + 20.0) / 86400.0;
        assert!(close(p.days_left, left));
        assert!(close(p.projected, 6.4 + 0.2 * left));
    }

    #[test]
    fn projection_empty_month_first_day_and_no_last_month() {
        // Nothing at all: 0.
        let now = t("2026-11-25T07:06:40Z");
        let p = projection(&utc(), &Spend::default(), now);
        assert_eq!((p.month_so_far, p.projected), (0.0, 0.0));
        // An empty month so far, spend in the last days of the month before: the rate carries.
        let mut sp = Spend::default();
        at(&mut sp, "2026-11-28T10:00:00Z", 7.0);
        let now = t("2026-12-01T00:00:00Z"); // the first instant of December
        let p = projection(&utc(), &sp, now);
        assert_eq!(p.month_so_far, 0.0);
        assert!(close(p.daily_rate, 1.0));
        assert!(close(p.days_left, 31.0));
        assert!(close(p.projected, 31.0));
        // The first day of a month with spend today and none last month: today counts, the
        // rate is 0 (no whole day behind), so the projection is what was spent.
        let mut sp = Spend::default();
        at(&mut sp, "2026-12-01T03:00:00Z", 2.5);
        let now = t("2026-12-01T12:00:00Z");
        let p = projection(&utc(), &sp, now);
        assert_eq!((p.month_so_far, p.daily_rate, p.projected), (2.5, 0.0, 2.5));
        assert!(close(p.days_left, 30.5));
        let w = windows(&utc(), &sp, now);
        assert_eq!((w.month.current, w.month.previous, w.day.previous), (2.5, 0.0, 0.0));
        // February of a leap year: 29 days.
        assert!(close(projection(&utc(), &Spend::default(), t("2028-02-01T00:00:00Z")).days_left, 29.0));
    }

    #[test]
    fn budget_crossing() {
        let now = t("2026-11-25T06:00:00Z");
        let day_end = t("2026-11-26T00:00:00Z");
        let month_end = t("2026-12-01T00:00:00Z");
        assert_eq!(crossing(10.0, 10.0, 1.0, now, day_end), Crossing::Over);
        // $6 of $10 at $2/day: 2 more days, on 2026-11-27 06:00.
        assert_eq!(crossing(6.0, 10.0, 2.0, now, month_end), Crossing::At(t("2026-11-27T06:00:00Z")));
        // A daily limit at $24/day with $3 left: 3 h, at 09:00 today.
        assert_eq!(crossing(7.0, 10.0, 24.0, now, day_end), Crossing::At(t("2026-11-25T09:00:00Z")));
        // Past the end of the period, or no rate: holds.
        assert_eq!(crossing(0.0, 100.0, 2.0, now, month_end), Crossing::Holds);
        assert_eq!(crossing(1.0, 2.0, 0.0, now, month_end), Crossing::Holds);
    }

    #[test]
    fn cache_hit_rate_savings_and_overhead() {
        let p = Price { input: 3.0, output: 15.0, cache_read: 0.3, cache_write: 3.75 };
        let u = Usage { input: 100_000, cache_read: 300_000, cache_write: 100_000, output: 7, ..Default::default() };
        let c = CacheFigures::of(&u, Some(p));
        assert_eq!(c.hit_rate(), Some(0.6)); // 300k / 500k
        assert!(close(c.saved.unwrap(), 0.81)); // 300k × (3 − 0.3) / 1M
        assert!(close(c.write_overhead.unwrap(), 0.075)); // 100k × (3.75 − 3) / 1M
                                                          // A model without a price: tokens and hit rate, no money (None, not 0).
        let unknown = CacheFigures::of(&Usage { input: 50_000, cache_read: 50_000, ..Default::default() }, None);
        assert_eq!((unknown.saved, unknown.write_overhead, unknown.hit_rate()), (None, None, Some(0.5)));
        assert_eq!(unknown.unpriced_cache_read, 50_000);
        let mut sum = CacheFigures::default();
        sum.add(&unknown);
        assert_eq!(sum.saved, None);
        sum.add(&c);
        assert!(close(sum.saved.unwrap(), 0.81));
        assert_eq!(sum.unpriced_cache_read, 50_000);
        assert_eq!(sum.hit_rate(), Some(350_000.0 / 600_000.0));
        // No prompt tokens: no hit rate.
        assert_eq!(CacheFigures::default().hit_rate(), None);
    }

    #[test]
    fn week_starts_monday() {
        let z = utc();
        assert_eq!(z.week_start(t("2026-11-29T23:59:59Z")), t("2026-11-23T00:00:00Z")); // Sunday
        assert_eq!(z.week_start(t("2026-11-30T00:00:00Z")), t("2026-11-30T00:00:00Z")); // Monday
        assert_eq!(z.week_start(0), t("1969-12-29T00:00:00Z"));
        // In California, Monday 2026-11-30 01:00 UTC is still Sunday evening: last week's.
        let la = zone("America/Los_Angeles");
        assert_eq!(la.week_start(t("2026-11-30T01:00:00Z")), t("2026-11-23T08:00:00Z"));
    }

    #[test]
    fn windows_west_of_utc() {
        // Los Angeles, UTC−8 in December. "Now" is 2026-12-07 02:00 UTC = Dec 6 18:00 local:
        // today is Dec 6 (from 08:00 UTC), yesterday Dec 5 (from Dec 5 08:00 UTC).
        let z = zone("America/Los_Angeles");
        let mut sp = Spend::default();
        at(&mut sp, "2026-12-07T01:00:00Z", 1.0); // Dec 6 17:00 local: today
        at(&mut sp, "2026-12-06T08:00:00Z", 2.0); // Dec 6 00:00 local: today
        at(&mut sp, "2026-12-06T07:00:00Z", 4.0); // Dec 5 23:00 local: yesterday
        at(&mut sp, "2026-12-05T08:00:00Z", 8.0); // Dec 5 00:00 local: yesterday
        at(&mut sp, "2026-12-05T07:00:00Z", 16.0); // Dec 4 23:00 local: the day before
        at(&mut sp, "2026-12-01T07:59:00Z", 32.0); // Nov 30 23:59 local: last month
        let now = t("2026-12-07T02:00:00Z");
        let w = windows(&z, &sp, now);
        assert_eq!(w.day.start_ms, t("2026-12-06T08:00:00Z"));
        assert_eq!((w.day.current, w.day.previous), (3.0, 12.0));
        assert_eq!(w.day.previous_start_ms, t("2026-12-05T08:00:00Z"));
        // The month started Dec 1 00:00 PST = 08:00 UTC; November started 07:00 UTC (PDT).
        assert_eq!(w.month.start_ms, t("2026-12-01T08:00:00Z"));
        assert_eq!(w.month.previous_start_ms, t("2026-11-01T07:00:00Z"));
        assert_eq!((w.month.current, w.month.previous), (31.0, 32.0));
        // The week started Monday Nov 30 00:00 PST.
        assert_eq!(w.week.start_ms, t("2026-11-30T08:00:00Z"));
        assert_eq!(w.week.current, 63.0);
        // 7 whole local days before today: Nov 29 08:00 UTC to Dec 6 08:00 UTC.
        assert!(close(w.mean7, (4.0 + 8.0 + 16.0 + 32.0) / 7.0));
        // In UTC the same spend splits otherwise: today (Dec 7 UTC) holds 1.0 only.
        let u = windows(&utc(), &sp, now);
        assert_eq!((u.day.current, u.day.previous), (1.0, 6.0));
    }

    #[test]
    fn projection_across_dst_days() {
        // Berlin, 2026-10-25 (25 hours: 22:00 UTC Oct 24 to 23:00 UTC Oct 25), now 12:00 UTC
        // = 13:00 CET. Left: 11 of today's 25 hours + the 6 whole days Oct 26..31.
        let z = zone("Europe/Berlin");
        let now = t("2026-10-25T12:00:00Z");
        let p = projection(&z, &Spend::default(), now);
        assert!(close(p.days_left, 11.0 / 25.0 + 6.0), "{}", p.days_left);
        assert_eq!(p.month_end_ms, t("2026-10-31T23:00:00Z"));
        // The first instant of March 2027 in Berlin (23:00 UTC Feb 28): 31 days left, one of
        // them 23 hours long (Mar 28) — still 31 days, not 30.96.
        let p = projection(&z, &Spend::default(), t("2027-02-28T23:00:00Z"));
        assert!(close(p.days_left, 31.0), "{}", p.days_left);
        // The 7-day mean ends at local midnight: spend at 23:30 UTC Oct 24 (00:30 CEST Oct 25)
        // is today's, not in the mean; 21:30 UTC (23:30 CEST Oct 24) is in it.
        let mut sp = Spend::default();
        at(&mut sp, "2026-10-24T23:30:00Z", 70.0);
        at(&mut sp, "2026-10-24T21:30:00Z", 7.0);
        let p = projection(&z, &sp, now);
        assert!(close(p.daily_rate, 1.0));
        assert!(close(p.month_so_far, 77.0));
        assert!(close(p.projected, 77.0 + 11.0 / 25.0 + 6.0));
    }
}

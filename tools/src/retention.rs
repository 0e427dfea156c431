// SPDX-License-Identifier: GPL-2.0
//! The retention rules of `novactl prune`: restic's `forget` policy, as a
//! pure function over (epoch, creation time) pairs and a "now".
//!
//! The snapshots are ordered newest first: by creation time, and for the
//! same second by epoch (epochs only grow, so the higher one was taken
//! later). Walking that order, a snapshot is kept if any rule keeps it:
//!
//! - `last` N: it is one of the N newest;
//! - `hourly`/`daily`/`weekly`/`monthly`/`yearly` N: it is the newest
//!   snapshot of its hour (day, ISO week, month, year; UTC), and that
//!   period is one of the N newest periods that have snapshots. Each rule
//!   remembers the period of the last snapshot it kept and keeps the next
//!   one whose period differs, until it has kept N. Periods without
//!   snapshots do not count: `daily 7` over snapshots taken on three days
//!   of the last month keeps one per day of those three days, then goes on
//!   to older days until it has seven.
//!
//! - `within` D: it was taken no earlier than D (years, months, days,
//!   hours; calendar arithmetic in UTC) before the newest snapshot, as
//!   restic's `--keep-within` (measured from the newest snapshot, not
//!   from "now", so a pause in taking snapshots does not let everything
//!   go).
//!
//! A snapshot whose time lies after "now" (the clock was set back since it
//! was taken) cannot be placed: it is always kept, with the reason
//! [`Reason::Future`], and takes no place of any rule. A policy in which
//! every count is 0 keeps everything ([`Reason::NoPolicy`], as restic does);
//! `novactl prune` refuses such a policy before calling this.

/// A span of calendar time (`--keep-within 1y2m3d4h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Span {
    pub fn is_zero(&self) -> bool {
        *self == Span::default()
    }

    /// Parses `NyNmNdNh` (each part optional, in any order, at least one;
    /// `w` for 7 days is accepted too), e.g. `2d12h`, `1y6m`.
    pub fn parse(text: &str) -> Option<Span> {
        let mut span = Span::default();
        let mut num = String::new();
        let mut any = false;
        for c in text.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let n: u32 = num.parse().ok()?;
            num.clear();
            let slot = match c {
                'y' => &mut span.years,
                'm' => &mut span.months,
                'w' => {
                    span.days = span.days.checked_add(n.checked_mul(7)?)?;
                    any = true;
                    continue;
                }
                'd' => &mut span.days,
                'h' => &mut span.hours,
                _ => return None,
            };
            *slot = slot.checked_add(n)?;
            any = true;
        }
        (num.is_empty() && any).then_some(span)
    }

    /// `t` less this span (months and years by the calendar, the day of
    /// the month clamped to the month's length).
    pub fn before(&self, t: i64) -> i64 {
        let (y, m, d) = civil_from_days(day(t));
        let months =
            y * 12 + i64::from(m) - 1 - i64::from(self.years) * 12 - i64::from(self.months);
        let (ny, nm) = (months.div_euclid(12), months.rem_euclid(12) as u32 + 1);
        let len =
            days_from_civil(ny + i64::from(nm == 12), nm % 12 + 1, 1) - days_from_civil(ny, nm, 1);
        let nd = d.min(len as u32);
        let secs = t.rem_euclid(86_400);
        (days_from_civil(ny, nm, nd) - i64::from(self.days)) * 86_400 + secs
            - i64::from(self.hours) * 3600
    }
}

/// How many snapshots (or periods) each rule keeps; 0: the rule is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    /// Keep everything this close to the newest snapshot (zero: off).
    pub within: Span,
}

impl Policy {
    /// No rule keeps anything.
    pub fn is_empty(&self) -> bool {
        self.last == 0
            && self.hourly == 0
            && self.daily == 0
            && self.weekly == 0
            && self.monthly == 0
            && self.yearly == 0
            && self.within.is_zero()
    }
}

/// Why a snapshot is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    /// Taken within the span of `--keep-within` before the newest.
    Within,
    /// Its time is after "now".
    Future,
    /// The policy has no rule.
    NoPolicy,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Last => "last",
            Reason::Hourly => "hourly",
            Reason::Daily => "daily",
            Reason::Weekly => "weekly",
            Reason::Monthly => "monthly",
            Reason::Yearly => "yearly",
            Reason::Within => "within",
            Reason::Future => "future",
            Reason::NoPolicy => "no-policy",
        }
    }
}

/// One snapshot: its epoch and creation time (seconds since 1970, UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snap {
    pub epoch: u64,
    pub time: i64,
}

/// What the policy decides for one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub snap: Snap,
    /// Every rule that keeps it; empty: it is removed.
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The days since 1970-01-01 of a time.
fn day(t: i64) -> i64 {
    t.div_euclid(86_400)
}

pub use crate::format::snapshot::civil_from_days;

/// The day number of a date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The period of a time for a rule, as a number that differs between
/// periods and does not grow going back in time.
fn period(rule: Reason, t: i64) -> i64 {
    match rule {
        Reason::Hourly => t.div_euclid(3600),
        Reason::Daily => day(t),
        // ISO weeks run Monday to Sunday: the day number of the Monday
        // (1970-01-01 was a Thursday).
        Reason::Weekly => day(t) - (day(t) + 3).rem_euclid(7),
        Reason::Monthly => {
            let (y, m, _) = civil_from_days(day(t));
            y * 12 + i64::from(m)
        }
        Reason::Yearly => civil_from_days(day(t)).0,
        _ => 0,
    }
}

/// Applies `policy` to `snaps` at time `now`: one decision per snapshot,
/// newest first (see the module documentation).
pub fn plan(snaps: &[Snap], now: i64, policy: &Policy) -> Vec<Decision> {
    let mut order = snaps.to_vec();
    order.sort_by_key(|s| std::cmp::Reverse((s.time, s.epoch)));
    if policy.is_empty() {
        return order
            .into_iter()
            .map(|snap| Decision {
                snap,
                reasons: vec![Reason::NoPolicy],
            })
            .collect();
    }
    // The newest snapshot that can be placed (not after "now").
    let newest = order.iter().map(|s| s.time).filter(|&t| t <= now).max();
    let within_from = match newest {
        Some(t) if !policy.within.is_zero() => Some(policy.within.before(t)),
        _ => None,
    };
    let mut last = policy.last;
    // (rule, places left, period of the last snapshot it kept)
    let mut rules = [
        (Reason::Hourly, policy.hourly, None),
        (Reason::Daily, policy.daily, None),
        (Reason::Weekly, policy.weekly, None),
        (Reason::Monthly, policy.monthly, None),
        (Reason::Yearly, policy.yearly, None),
    ];
    order
        .into_iter()
        .map(|snap| {
            let mut reasons = Vec::new();
            if snap.time > now {
                reasons.push(Reason::Future);
                return Decision { snap, reasons };
            }
            if last > 0 {
                last -= 1;
                reasons.push(Reason::Last);
            }
            if within_from.is_some_and(|from| snap.time >= from) {
                reasons.push(Reason::Within);
            }
            for (rule, left, seen) in rules.iter_mut() {
                if *left == 0 {
                    continue;
                }
                let p = period(*rule, snap.time);
                if *seen != Some(p) {
                    *seen = Some(p);
                    *left -= 1;
                    reasons.push(*rule);
                }
            }
            Decision { snap, reasons }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed clock: 2026-11-26 12:00:00 UTC, a Thursday.
    const NOW: i64 = 1_795_694_400;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    /// Snapshots numbered 1.. in the order of the times given.
    fn snaps(times: &[i64]) -> Vec<Snap> {
        times
            .iter()
            .enumerate()
            .map(|(i, &time)| Snap {
                epoch: i as u64 + 1,
                time,
            })
            .collect()
    }

    /// The kept epochs, ascending.
    fn kept(s: &[Snap], p: Policy) -> Vec<u64> {
        kept_at(s, NOW, p)
    }

    fn kept_at(s: &[Snap], now: i64, p: Policy) -> Vec<u64> {
        let mut k: Vec<u64> = plan(s, now, &p)
            .iter()
            .filter(|d| d.keep())
            .map(|d| d.snap.epoch)
            .collect();
        k.sort();
        k
    }

    /// One snapshot every `step` seconds for `n` steps, the last at NOW.
    fn every(step: i64, n: i64) -> Vec<Snap> {
        snaps(&(0..n).map(|i| NOW - (n - 1 - i) * step).collect::<Vec<_>>())
    }

    #[test]
    fn clock() {
        assert_eq!(at(2026, 11, 26, 12, 0), NOW);
        assert_eq!(civil_from_days(day(NOW)), (2026, 11, 26));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        for d in [-800_000, -1, 0, 59, 60, 11_016, 20_000, 800_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        // 2026-11-26 is a Thursday: its ISO week began Monday the 23rd.
        assert_eq!(period(Reason::Weekly, NOW), days_from_civil(2026, 11, 23));
        assert_eq!(
            period(Reason::Weekly, at(2026, 11, 29, 23, 59)),
            days_from_civil(2026, 11, 23)
        );
        assert_eq!(
            period(Reason::Weekly, at(2026, 11, 30, 0, 0)),
            days_from_civil(2026, 11, 30)
        );
    }

    #[test]
    fn within_spans() {
        assert_eq!(
            Span::parse("2d12h"),
            Some(Span {
                days: 2,
                hours: 12,
                ..Span::default()
            })
        );
        assert_eq!(
            Span::parse("1y6m"),
            Some(Span {
                years: 1,
                months: 6,
                ..Span::default()
            })
        );
        assert_eq!(
            Span::parse("3w"),
            Some(Span {
                days: 21,
                ..Span::default()
            })
        );
        for bad in ["", "5", "d", "2x", "1d2", "99999999999d"] {
            assert_eq!(Span::parse(bad), None, "{bad}");
        }
        // Calendar months: March 31 less one month is February 28.
        let m = Span {
            months: 1,
            ..Span::default()
        };
        assert_eq!(m.before(at(2026, 3, 31, 10, 0)), at(2026, 2, 28, 10, 0));
        let y = Span {
            years: 1,
            ..Span::default()
        };
        assert_eq!(y.before(at(2024, 2, 29, 0, 0)), at(2023, 2, 28, 0, 0));
        let dh = Span {
            days: 1,
            hours: 2,
            ..Span::default()
        };
        assert_eq!(dh.before(NOW), NOW - 26 * 3600);
        let jan = Span {
            months: 2,
            ..Span::default()
        };
        assert_eq!(jan.before(at(2026, 1, 15, 0, 0)), at(2025, 11, 15, 0, 0));
    }

    #[test]
    fn keep_within_counts_from_the_newest() {
        // Hourly for three days, the newest two days before now.
        let s = snaps(
            &(0..72)
                .map(|i| NOW - 2 * 86_400 - (71 - i) * 3600)
                .collect::<Vec<_>>(),
        );
        let p = Policy {
            within: Span {
                hours: 5,
                ..Span::default()
            },
            ..Policy::default()
        };
        // The newest and the five hours before it: 6 snapshots.
        assert_eq!(kept(&s, p), (67..=72).collect::<Vec<u64>>());
        let d = plan(&s, NOW, &p);
        assert_eq!(d[0].reasons, [Reason::Within]);
        assert!(!p.is_empty());
        // With another rule, each keeps its own.
        let p = Policy {
            last: 1,
            within: Span {
                hours: 1,
                ..Span::default()
            },
            ..Policy::default()
        };
        assert_eq!(kept(&s, p), vec![71, 72]);
    }

    #[test]
    fn empty_list() {
        for p in [
            Policy::default(),
            Policy {
                last: 3,
                daily: 2,
                ..Policy::default()
            },
        ] {
            assert!(plan(&[], NOW, &p).is_empty());
        }
    }

    #[test]
    fn empty_policy_keeps_everything() {
        let s = every(3600, 5);
        let d = plan(&s, NOW, &Policy::default());
        assert_eq!(d.len(), 5);
        assert!(d.iter().all(|d| d.reasons == [Reason::NoPolicy]));
        assert!(Policy::default().is_empty());
        assert!(!Policy {
            yearly: 1,
            ..Policy::default()
        }
        .is_empty());
    }

    #[test]
    fn keep_last() {
        let s = every(60, 10);
        let p = |n| Policy {
            last: n,
            ..Policy::default()
        };
        assert_eq!(kept(&s, p(1)), [10]);
        assert_eq!(kept(&s, p(3)), [8, 9, 10]);
        assert_eq!(kept(&s, p(10)), (1..=10).collect::<Vec<_>>());
        assert_eq!(kept(&s, p(100)), (1..=10).collect::<Vec<_>>());
        // Newest first, each with its reason.
        let d = plan(&s, NOW, &p(2));
        assert_eq!(d[0].snap.epoch, 10);
        assert_eq!(d[0].reasons, [Reason::Last]);
        assert_eq!(d[1].reasons, [Reason::Last]);
        assert!(d[2..].iter().all(|d| !d.keep()));
    }

    #[test]
    fn keep_last_zero() {
        let s = every(3600, 6);
        // Alone: an empty policy, which keeps everything.
        assert_eq!(
            kept(&s, Policy::default()),
            (1..=6).collect::<Vec<_>>(),
            "keep-last 0 alone"
        );
        // With another rule: only that rule counts.
        let p = Policy {
            last: 0,
            hourly: 2,
            ..Policy::default()
        };
        assert_eq!(kept(&s, p), [5, 6]);
        assert!(plan(&s, NOW, &p)
            .iter()
            .all(|d| !d.reasons.contains(&Reason::Last)));
    }

    #[test]
    fn keep_hourly() {
        // Three snapshots in each of the hours 9, 10 and 11 (at :05, :25
        // and :45) and one at 12:00.
        let mut t = Vec::new();
        for h in 9..12 {
            for mi in [5, 25, 45] {
                t.push(at(2026, 11, 26, h, mi));
            }
        }
        t.push(NOW);
        let s = snaps(&t);
        let p = |n| Policy {
            hourly: n,
            ..Policy::default()
        };
        assert_eq!(kept(&s, p(1)), [10]);
        // The newest of each hour: 12:00, 11:45, 10:45, 9:45.
        assert_eq!(kept(&s, p(2)), [9, 10]);
        assert_eq!(kept(&s, p(4)), [3, 6, 9, 10]);
        assert_eq!(kept(&s, p(24)), [3, 6, 9, 10]);
    }

    #[test]
    fn hours_without_snapshots_do_not_count() {
        // Snapshots at 12:00 today, and 3 and 2 days ago at 08:00.
        let s = snaps(&[
            at(2026, 11, 23, 8, 0),
            at(2026, 11, 24, 8, 0),
            at(2026, 11, 24, 8, 30),
            NOW,
        ]);
        let p = Policy {
            hourly: 3,
            ..Policy::default()
        };
        // The last 3 hours that have snapshots, however old.
        assert_eq!(kept(&s, p), [1, 3, 4]);
    }

    #[test]
    fn keep_daily() {
        // Hourly snapshots over three days: 2026-11-24 00:00 to 11-26 12:00.
        let s = every(3600, 61);
        let p = |n| Policy {
            daily: n,
            ..Policy::default()
        };
        // The newest of each day: 11-26 12:00 (61), 11-25 23:00 (48),
        // 11-24 23:00 (24).
        assert_eq!(kept(&s, p(1)), [61]);
        assert_eq!(kept(&s, p(2)), [48, 61]);
        assert_eq!(kept(&s, p(7)), [24, 48, 61]);
        // Day boundaries are UTC midnight: 23:59:59 and 00:00:00 differ.
        let s = snaps(&[at(2026, 11, 25, 23, 59) + 59, at(2026, 11, 26, 0, 0)]);
        assert_eq!(kept(&s, p(2)), [1, 2]);
        assert_eq!(kept(&s, p(1)), [2]);
    }

    #[test]
    fn keep_weekly() {
        // Daily snapshots at noon from Monday 2026-11-09 to Thursday 11-26.
        let s = every(86_400, 18);
        let p = |n| Policy {
            weekly: n,
            ..Policy::default()
        };
        // Newest of each ISO week: Thu 11-26 (18), Sun 11-22 (14), Sun 11-15 (7).
        assert_eq!(kept(&s, p(1)), [18]);
        assert_eq!(kept(&s, p(3)), [7, 14, 18]);
        assert_eq!(kept(&s, p(10)), [7, 14, 18]);
        // A week across a new year: Mon 2024-12-30 and Sun 2025-01-05 are
        // one ISO week (2025-W01), Mon 2025-01-06 the next.
        let s = snaps(&[
            at(2024, 12, 29, 12, 0),
            at(2024, 12, 30, 12, 0),
            at(2025, 1, 5, 12, 0),
            at(2025, 1, 6, 12, 0),
        ]);
        assert_eq!(kept(&s, p(3)), [1, 3, 4]);
    }

    #[test]
    fn keep_monthly_and_yearly() {
        // The 1st and the 15th of each month, 2024-01 to 2026-11.
        let mut t = Vec::new();
        for y in 2024..=2026 {
            for m in 1..=12 {
                if y == 2026 && m > 11 {
                    break;
                }
                t.push(at(y, m, 1, 6, 0));
                t.push(at(y, m, 15, 6, 0));
            }
        }
        let s = snaps(&t);
        let n = s.len() as u64;
        assert_eq!(n, 70);
        let monthly = |k| Policy {
            monthly: k,
            ..Policy::default()
        };
        // The 15th of the newest three months.
        assert_eq!(kept(&s, monthly(3)), [n - 4, n - 2, n]);
        let yearly = |k| Policy {
            yearly: k,
            ..Policy::default()
        };
        // 2026-11-15, 2025-12-15, 2024-12-15.
        assert_eq!(kept(&s, yearly(5)), [24, 48, n]);
        assert_eq!(kept(&s, yearly(1)), [n]);
    }

    #[test]
    fn combinations_keep_the_union() {
        // Every 15 minutes for 3 days up to NOW.
        let s = every(900, 3 * 96 + 1);
        let n = s.len() as u64;
        let p = Policy {
            last: 3,
            hourly: 5,
            daily: 2,
            ..Policy::default()
        };
        let k = kept(&s, p);
        // last: n-2..=n. hourly: NOW (12:00) and 11:45, 10:45, 9:45,
        // 8:45, i.e. n, n-1, n-5, n-9, n-13. daily: n and 11-25 23:45 (n-49).
        assert_eq!(k, [n - 49, n - 13, n - 9, n - 5, n - 2, n - 1, n]);
        let d = plan(&s, NOW, &p);
        assert_eq!(
            d[0].reasons,
            [Reason::Last, Reason::Hourly, Reason::Daily],
            "the newest is kept by every rule"
        );
        assert_eq!(d[1].reasons, [Reason::Last, Reason::Hourly]);
        assert_eq!(d[2].reasons, [Reason::Last]);
        // Every decision is there once, newest first.
        assert_eq!(d.len(), s.len());
        assert!(d.windows(2).all(|w| w[0].snap.time > w[1].snap.time));
        // A rule that keeps more never keeps fewer.
        let more = kept(&s, Policy { daily: 3, ..p });
        assert!(k.iter().all(|e| more.contains(e)));
        assert_eq!(more.len(), k.len() + 1);
    }

    #[test]
    fn ties_go_to_the_higher_epoch() {
        // Three snapshots in the same second, and one a minute earlier.
        let s = vec![
            Snap {
                epoch: 4,
                time: NOW - 60,
            },
            Snap {
                epoch: 7,
                time: NOW,
            },
            Snap {
                epoch: 9,
                time: NOW,
            },
            Snap {
                epoch: 8,
                time: NOW,
            },
        ];
        let d = plan(&s, NOW, &Policy::default());
        let order: Vec<u64> = d.iter().map(|d| d.snap.epoch).collect();
        assert_eq!(order, [9, 8, 7, 4]);
        let last = |n| Policy {
            last: n,
            ..Policy::default()
        };
        assert_eq!(kept(&s, last(1)), [9]);
        assert_eq!(kept(&s, last(2)), [8, 9]);
        let hourly = Policy {
            hourly: 1,
            ..Policy::default()
        };
        assert_eq!(kept(&s, hourly), [9]);
        // The input order does not matter.
        let mut r = s.clone();
        r.reverse();
        assert_eq!(plan(&r, NOW, &last(2)), plan(&s, NOW, &last(2)));
    }

    #[test]
    fn future_timestamps_are_kept_and_take_no_place() {
        // Epoch 5 was taken while the clock was a day ahead.
        let s = vec![
            Snap {
                epoch: 3,
                time: NOW - 7200,
            },
            Snap {
                epoch: 4,
                time: NOW - 3600,
            },
            Snap {
                epoch: 5,
                time: NOW + 86_400,
            },
            Snap {
                epoch: 6,
                time: NOW - 60,
            },
        ];
        let p = Policy {
            last: 1,
            ..Policy::default()
        };
        assert_eq!(kept(&s, p), [5, 6]);
        let d = plan(&s, NOW, &p);
        assert_eq!(d[0].snap.epoch, 5);
        assert_eq!(d[0].reasons, [Reason::Future]);
        assert_eq!(d[1].reasons, [Reason::Last]);
        let daily = Policy {
            daily: 1,
            ..Policy::default()
        };
        assert_eq!(kept(&s, daily), [5, 6]);
        // Exactly now is not the future; once the clock passes it, the
        // rules place it.
        assert_eq!(kept_at(&s, NOW + 86_400, p), [5]);
        assert_eq!(kept_at(&s, NOW - 60, p), [5, 6]);
        assert_eq!(kept_at(&s, NOW - 61, p), [4, 5, 6]);
    }

    #[test]
    fn documented_examples() {
        // Tools.md: Monday and Thursday of the last three weeks, today
        // (NOW) a Thursday.
        let mut t = Vec::new();
        for week in (0..3).rev() {
            t.push(at(2026, 11, 23, 9, 0) - week * 7 * 86_400);
            t.push(at(2026, 11, 26, 9, 0) - week * 7 * 86_400);
        }
        let s = snaps(&t);
        let weekly = Policy {
            weekly: 2,
            ..Policy::default()
        };
        assert_eq!(kept(&s, weekly), [4, 6], "this and last Thursday");
        let daily = Policy {
            daily: 3,
            ..Policy::default()
        };
        assert_eq!(
            kept(&s, daily),
            [4, 5, 6],
            "Thursday, Monday, last Thursday"
        );
        // --keep-last 2 --keep-monthly 1: three today, two last month.
        let s = snaps(&[
            at(2026, 10, 5, 9, 0),
            at(2026, 10, 20, 9, 0),
            at(2026, 11, 26, 8, 0),
            at(2026, 11, 26, 9, 0),
            at(2026, 11, 26, 10, 0),
        ]);
        let p = Policy {
            last: 2,
            monthly: 1,
            ..Policy::default()
        };
        assert_eq!(kept(&s, p), [4, 5]);
        assert_eq!(
            plan(&s, NOW, &p)[0].reasons,
            [Reason::Last, Reason::Monthly]
        );
        // Hourly for a year: at most 24 + 7 + 4 + 12 kept.
        let s = every(3600, 366 * 24);
        let p = Policy {
            hourly: 24,
            daily: 7,
            weekly: 4,
            monthly: 12,
            ..Policy::default()
        };
        let k = kept(&s, p);
        assert!(k.len() <= 47 && k.len() >= 24 + 12, "{}", k.len());
        // The newest 24 hours are all there.
        let n = s.len() as u64;
        assert!((n - 23..=n).all(|e| k.contains(&e)));
    }

    #[test]
    fn reasons_have_names() {
        assert_eq!(Reason::Last.name(), "last");
        assert_eq!(Reason::Weekly.name(), "weekly");
        assert_eq!(Reason::Future.name(), "future");
    }
}

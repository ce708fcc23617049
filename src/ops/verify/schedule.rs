//! Check 5: the schedule files covering the window parse, sit in the
//! files of their days, join up and cover the window.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{fmt_sample, problem, Problem};
use crate::publish::{ObjectInfo, Target};
use crate::schedule::{store, Item};
use crate::station::{layout, Station};
use crate::time::SampleIndex;

/// Checks the schedule files covering `[from, until)`; returns how many
/// items were checked.
pub(super) fn check_schedule(
    station: &Station,
    target: &dyn Target,
    listing: &BTreeMap<String, ObjectInfo>,
    (from, until): (SampleIndex, SampleIndex),
    problems: &mut Vec<Problem>,
) -> u64 {
    let epoch = station.epoch;
    let day = |s: SampleIndex| store::day_of(epoch, s).ok();
    // An item is shorter than 2 h, so the one playing at `from` started on
    // its day or the day before.
    let first_day = day(from).and_then(|d| d.pred_opt());
    let last_day = day(until);
    let prefix = format!("{}/", layout::SCHEDULE_DIR);
    let mut items: Vec<(String, Item)> = Vec::new();
    for key in listing
        .keys()
        .filter(|k| k.starts_with(&prefix) && k.ends_with(".json"))
    {
        let Some(file_day) = layout::schedule_day_of(key) else {
            problems.push(problem(
                key,
                "not named schedule/<YYYY-MM-DD>.json; the next run cannot read it back",
            ));
            continue;
        };
        if first_day.is_some_and(|f| file_day < f) || last_day.is_some_and(|l| file_day > l) {
            continue;
        }
        let bytes = match target.get(key) {
            Ok(Some(b)) => b,
            Ok(None) => {
                problems.push(problem(key, "listed, but gone when read"));
                continue;
            }
            Err(e) => {
                problems.push(problem(key, format!("cannot be read: {e}")));
                continue;
            }
        };
        let parsed = match store::parse_day(key, &bytes) {
            Ok(p) => p,
            Err(e) => {
                problems.push(problem(key, e.to_string()));
                continue;
            }
        };
        check_day_file(station, key, file_day, &bytes, &parsed, problems);
        items.extend(parsed.into_iter().map(|it| (key.clone(), it)));
    }
    items.sort_by_key(|(_, it)| it.start_sample);
    let show = |s: SampleIndex| fmt_sample(station, s);
    for w in items.windows(2) {
        let ((ka, a), (kb, b)) = (&w[0], &w[1]);
        let hand_over = a.next_start();
        if b.start() > hand_over {
            problems.push(problem(
                kb,
                format!(
                    "gap: \"{}\" starts at {} but \"{}\" ({ka}) hands over at {}",
                    b.title,
                    show(b.start()),
                    a.title,
                    show(hand_over)
                ),
            ));
        } else if b.start() < hand_over {
            problems.push(problem(
                kb,
                format!(
                    "overlap: \"{}\" starts at {}, before \"{}\" ({ka}) hands over at {}",
                    b.title,
                    show(b.start()),
                    a.title,
                    show(hand_over)
                ),
            ));
        }
    }
    match (items.first(), items.last()) {
        (Some((kf, f)), Some((kl, l))) => {
            if f.start() > from {
                problems.push(problem(
                    kf,
                    format!(
                        "the schedule starts at {}, after the window start {}",
                        show(f.start()),
                        show(from)
                    ),
                ));
            }
            if l.next_start() < until {
                problems.push(problem(
                    kl,
                    format!(
                        "the schedule is final only until {} but audio is published until {}: \
                         the schedule at the target is behind its audio",
                        show(l.next_start()),
                        show(until)
                    ),
                ));
            }
        }
        _ if until > from => problems.push(problem(
            format!("{prefix}*.json"),
            format!(
                "no schedule covers {} to {}: the page cannot show what plays and the next run \
                 cannot continue the station",
                show(from),
                show(until)
            ),
        )),
        _ => {}
    }
    items.len() as u64
}

/// Checks one day file beyond what parsing does: every item starts on the
/// file's day, and its `start`/`end`/`end_sample` agree with its samples.
pub(super) fn check_day_file(
    station: &Station,
    key: &str,
    file_day: NaiveDate,
    bytes: &[u8],
    items: &[Item],
    problems: &mut Vec<Problem>,
) {
    let epoch = station.epoch;
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if value.get("day").and_then(|d| d.as_str()) != Some(&file_day.format("%Y-%m-%d").to_string()) {
        problems.push(problem(key, "its \"day\" field does not match its name"));
    }
    let raw = value.get("items").and_then(|v| v.as_array());
    for (i, it) in items.iter().enumerate() {
        if store::day_of(epoch, it.start()).ok() != Some(file_day) {
            problems.push(problem(
                key,
                format!(
                    "item {i} (\"{}\") starts at {}, not on {file_day}",
                    it.title,
                    fmt_sample(station, it.start())
                ),
            ));
        }
        let Some(r) = raw.and_then(|a| a.get(i)) else {
            continue;
        };
        let text = |f: &str| r.get(f).and_then(|v| v.as_str()).map(str::to_string);
        let want_start = fmt_sample(station, it.start());
        let want_end = fmt_sample(station, it.end());
        if text("start").as_deref() != Some(want_start.as_str())
            || text("end").as_deref() != Some(want_end.as_str())
            || r.get("end_sample").and_then(|v| v.as_u64()) != Some(it.end().0)
        {
            problems.push(problem(
                key,
                format!(
                    "item {i} (\"{}\"): start/end/end_sample do not match start_sample {} and \
                     length {} (expected {want_start} to {want_end})",
                    it.title, it.start_sample, it.length
                ),
            ));
        }
    }
}

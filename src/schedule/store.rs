//! Schedule files: `schedule/<YYYY-MM-DD>.json`, one per UTC day, holding the
//! items that start on that day. They are read by the listening page (now
//! playing) and by the next run (the schedule is state kept in the target).
//!
//! Format (version 1): `{"version": 1, "day": "2026-11-24", "items": [...]}`;
//! each item has `start`/`end` (RFC 3339 UTC, millisecond precision, for
//! people and pages), `start_sample`/`end_sample` (the exact programme
//! clock), `title`, `artist`, and the render fields of [`Item`].

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Schedule};
use crate::error::{Error, Result};
use crate::station::layout;
use crate::time::{Epoch, SampleIndex};

/// Current schedule file format version.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DayFile {
    version: u32,
    day: String,
    items: Vec<DayItem>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DayItem {
    start: String,
    end: String,
    end_sample: u64,
    #[serde(flatten)]
    item: Item,
}

/// The UTC day on which `sample` falls.
pub fn day_of(epoch: Epoch, sample: SampleIndex) -> Result<NaiveDate> {
    Ok(epoch.instant_of(sample)?.date_naive())
}

/// Serialises the items of one UTC day.
pub fn day_json(epoch: Epoch, day: NaiveDate, items: &[&Item]) -> Result<Vec<u8>> {
    let fmt = |s: SampleIndex| -> Result<String> {
        Ok(epoch
            .instant_of(s)?
            .to_rfc3339_opts(SecondsFormat::Millis, true))
    };
    let file = DayFile {
        version: VERSION,
        day: day.format("%Y-%m-%d").to_string(),
        items: items
            .iter()
            .map(|it| {
                Ok(DayItem {
                    start: fmt(it.start())?,
                    end: fmt(it.end())?,
                    end_sample: it.end().0,
                    item: (*it).clone(),
                })
            })
            .collect::<Result<_>>()?,
    };
    let mut bytes = serde_json::to_vec_pretty(&file)
        .map_err(|e| Error::Schedule(format!("cannot serialise day {day}: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Groups the schedule's items by UTC day of their start.
pub fn by_day(schedule: &Schedule, epoch: Epoch) -> Result<BTreeMap<NaiveDate, Vec<&Item>>> {
    let mut days: BTreeMap<NaiveDate, Vec<&Item>> = BTreeMap::new();
    for it in &schedule.items {
        days.entry(day_of(epoch, it.start())?).or_default().push(it);
    }
    Ok(days)
}

/// Parses one day file; errors name the file.
pub fn parse_day(name: &str, bytes: &[u8]) -> Result<Vec<Item>> {
    let file: DayFile = serde_json::from_slice(bytes)
        .map_err(|e| Error::Schedule(format!("{name}: not a valid schedule file ({e})")))?;
    if file.version != VERSION {
        return Err(Error::Schedule(format!(
            "{name}: version {} is not supported (this lofiever writes version {VERSION})",
            file.version
        )));
    }
    Ok(file.items.into_iter().map(|d| d.item).collect())
}

/// Reads every `schedule/*.json` under `dir` into one validated schedule
/// (empty if there is none).
pub fn load_dir(dir: &Path) -> Result<Schedule> {
    let sched_dir = dir.join(layout::SCHEDULE_DIR);
    let mut names = Vec::new();
    match std::fs::read_dir(&sched_dir) {
        Ok(entries) => {
            for e in entries {
                let e = e.map_err(|e| Error::io(&sched_dir, e))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".json") && !name.starts_with('.') {
                    names.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&sched_dir, e)),
    }
    names.sort();
    let mut items = Vec::new();
    for name in names {
        let path = sched_dir.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        items.extend(parse_day(&path.display().to_string(), &bytes)?);
    }
    let schedule = Schedule { items };
    schedule.validate()?;
    Ok(schedule)
}

/// Writes the day files of every day from `from_day` on into `dir`
/// (atomically). Earlier days are final and left alone.
pub fn write_dir(
    dir: &Path,
    schedule: &Schedule,
    epoch: Epoch,
    from_day: Option<NaiveDate>,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (day, items) in by_day(schedule, epoch)? {
        if from_day.is_some_and(|f| day < f) {
            continue;
        }
        let name = layout::schedule_day(day);
        let bytes = day_json(epoch, day, &items)?;
        let path = dir.join(&name);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            crate::fsutil::write_atomic(&path, &bytes)?;
        }
        written.push(name);
    }
    Ok(written)
}

/// Formats an instant the way schedule files and messages do.
pub fn fmt_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Programme sample `s` as [`fmt_instant`] writes it, for reports: an
/// instant out of range is written as its error instead.
pub fn fmt_sample(epoch: Epoch, s: SampleIndex) -> String {
    epoch
        .instant_of(s)
        .map(fmt_instant)
        .unwrap_or_else(|e| e.to_string())
}

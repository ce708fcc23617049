//! The scheduler's operator commands: `lofiever schedule --report` (the
//! quality metrics of any window beside a seeded shuffle), `lofiever
//! schedule --explain <time>` and `lofiever explain --at <time>` (why a
//! track plays at a moment). They only read the schedule (from the publish
//! target, as the nightly run does) and the catalog; they plan nothing.

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::Args;
use lofiever::job;
use lofiever::schedule::{explain, report, store};
use lofiever::time::SampleIndex;
use lofiever::Station;

use super::progress::Bars;
use super::{load_station, AheadArgs, Global};

/// `lofiever schedule`'s arguments.
#[derive(Debug, Args)]
pub(super) struct ScheduleArgs {
    #[command(flatten)]
    pub(super) ahead: AheadArgs,
    /// Print the schedule's quality report instead of planning: rule
    /// violations, key-compatible transitions, tempo jumps, energy against
    /// the day-part curve — beside a seeded random shuffle of the same
    /// catalog over the same window.
    #[arg(long, conflicts_with = "explain")]
    report: bool,
    /// Start of the report window: RFC 3339 (`2026-03-02T00:00:00Z`), a UTC
    /// day (`2026-03-02`) or `now` (default: now, or the schedule's start if
    /// that is later).
    #[arg(long, value_name = "TIME", requires = "report")]
    from: Option<String>,
    /// End of the report window, as --from (default: the end of the
    /// schedule, at most 7 days after the start).
    #[arg(long, value_name = "TIME", requires = "report")]
    until: Option<String>,
    /// With --report, also draw the window's planned energy and tempo
    /// against the day-part targets, as one self-contained HTML page.
    #[arg(long, value_name = "FILE", requires = "report")]
    html: Option<std::path::PathBuf>,
    /// Explain why the track scheduled at TIME plays there instead of
    /// planning (same as `lofiever explain --at TIME`).
    #[arg(long, value_name = "TIME")]
    explain: Option<String>,
}

/// `lofiever explain`'s arguments.
#[derive(Debug, Args)]
pub(super) struct ExplainArgs {
    /// The moment: RFC 3339 (`2026-03-02T21:15:00Z`, any offset) or `now`.
    #[arg(long, value_name = "TIME", default_value = "now")]
    at: String,
}

/// Runs `schedule --report` or `schedule --explain`; returns `false` when
/// neither was asked for (the caller then extends the schedule).
pub(super) fn inspect(global: &Global, args: &ScheduleArgs, bars: &Bars) -> anyhow::Result<bool> {
    if let Some(at) = &args.explain {
        print_explanation(global, at, bars)?;
        return Ok(true);
    }
    if !args.report {
        return Ok(false);
    }
    let station = load_station(global)?;
    let (tracks, schedule) = catalog_and_schedule(&station, bars)?;
    let (Some(first), Some(horizon)) = (schedule.start(), schedule.horizon()) else {
        bail!("the schedule is empty: run `lofiever schedule` first");
    };
    let now = super::now()?;
    let from = match &args.from {
        Some(t) => parse_time(&station, "--from", t, now)?,
        None => station.epoch.sample_at(now)?.max(first),
    };
    let until = match &args.until {
        Some(t) => parse_time(&station, "--until", t, now)?,
        None => horizon.min(SampleIndex(from.0.saturating_add(7 * 86_400 * 48_000))),
    };
    if until <= from || from >= horizon || until <= first {
        bail!(
            "nothing to report from {} to {}: the schedule covers {} to {}; give --from/--until \
             inside it (--until after --from)",
            fmt(&station, from)?,
            fmt(&station, until)?,
            fmt(&station, first)?,
            fmt(&station, horizon)?
        );
    }
    let r = report::report(&station, &schedule, &tracks, from, until)?;
    print!("{r}");
    if let Some(path) = &args.html {
        lofiever::fsutil::write_atomic(path, r.html(&station).as_bytes())?;
        println!("HTML report: {}", path.display());
    }
    Ok(true)
}

/// Runs `lofiever explain --at <time>`.
pub(super) fn run_explain(global: &Global, args: &ExplainArgs, bars: &Bars) -> anyhow::Result<()> {
    print_explanation(global, &args.at, bars)
}

fn print_explanation(global: &Global, at: &str, bars: &Bars) -> anyhow::Result<()> {
    let station = load_station(global)?;
    let at = parse_time(&station, "--at", at, super::now()?)?;
    let (tracks, schedule) = catalog_and_schedule(&station, bars)?;
    let e = explain::explain(&station, &schedule, &tracks, at)?;
    print!("{e}");
    Ok(())
}

/// The analysed catalog and the schedule as the nightly run sees them
/// (read back from the publish target).
fn catalog_and_schedule(
    station: &Station,
    bars: &Bars,
) -> anyhow::Result<(Vec<lofiever::schedule::Track>, lofiever::schedule::Schedule)> {
    let target = lofiever::publish::open(station)?;
    let (_, tracks) = job::analyze_and_tracks(station, bars)?;
    let schedule = job::load_schedule(target.as_ref())
        .with_context(|| format!("reading the schedule from {}", target.describe()))?;
    Ok((tracks, schedule))
}

/// A moment on the programme clock, in any form [`super::ops::parse_time`]
/// takes (`now`, `now+2h`, RFC 3339, a UTC date-time or day).
fn parse_time(
    station: &Station,
    flag: &str,
    text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<SampleIndex> {
    let instant = super::ops::time_arg(flag, text, now)?;
    station
        .epoch
        .sample_at(instant)
        .with_context(|| format!("{flag} {:?} is before the station epoch", text.trim()))
}

fn fmt(station: &Station, s: SampleIndex) -> anyhow::Result<String> {
    Ok(store::fmt_instant(station.epoch.instant_of(s)?))
}

//! `lofiever status` and `lofiever verify`: argument parsing (durations,
//! instants), the human and JSON renderings of their reports, and their exit
//! codes. The checks themselves are in the library (`lofiever::ops`).

use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use clap::Args;
use lofiever::ops::{status, verify};
use lofiever::schedule::store::fmt_instant;
use lofiever::station::channel;
use lofiever::Station;
use serde::Serialize;

/// Exit code of `status` when the runway is below `--min-runway`.
pub const EXIT_SHORT_RUNWAY: u8 = 2;

/// Problems printed by `verify` before "… and N more".
const MAX_PRINTED: usize = 100;

/// Options of `lofiever status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the report as JSON (the fields are listed in the README,
    /// "Operations").
    #[arg(long)]
    json: bool,
    /// Exit with code 2 and a one-line reason when the runway at the target
    /// (hours of audio ready from now on, without a hole) is below this,
    /// e.g. 24h, 90m, 2d, 1h30m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    min_runway: Option<u64>,
    /// Report as of this instant instead of the clock: RFC 3339
    /// (2026-11-24T18:00:00Z), a UTC date-time (2026-11-24T18:00), or
    /// now±DURATION (now+12h).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<TimeArg>,
    /// Report only this channel (`main` or a file name of
    /// pipeline/channels/); default: every channel, one after another.
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
}

/// Options of `lofiever verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Start of the window: RFC 3339 (2026-11-24T18:00:00Z), a UTC
    /// date-time (2026-11-24T18:00), a date (midnight UTC), `now` or
    /// now±DURATION (now+2h). `now` is what listeners hear now: the clock
    /// minus player.target_latency_ms.
    #[arg(long, value_name = "TIME", default_value = "now", value_parser = parse_time)]
    from: TimeArg,
    /// End of the window (same forms as --from). Default: the rendered
    /// horizon, the end of the last segment at the target.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<TimeArg>,
    /// Segments decoded per rendition (first, last and evenly spaced ones
    /// between); every segment is checked structurally whatever this is.
    #[arg(long, value_name = "N", default_value_t = 20)]
    decode: usize,
    /// Check the local output folder instead of the publish target.
    #[arg(long)]
    output: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Check only this channel (`main` or a file name of
    /// pipeline/channels/); default: every channel, one after another.
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
}

/// An instant given on the command line: fixed, or relative to "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// `now`, `now+2h`, `now-30m`: seconds from now.
    Now(i64),
    /// An absolute instant.
    At(DateTime<Utc>),
}

impl TimeArg {
    fn resolve(self, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        match self {
            TimeArg::At(t) => Ok(t),
            TimeArg::Now(secs) => now
                .checked_add_signed(Duration::seconds(secs))
                .context("the time is out of range"),
        }
    }
}

/// Parses `24h`, `90m`, `2d`, `45s`, `1h30m` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("{text:?} is not a duration: use a number with a unit, e.g. 24h, 90m, 2d or 1h30m")
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long"))?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Parses an instant: RFC 3339, `YYYY-MM-DDTHH:MM[:SS]` (UTC), a date
/// (midnight UTC), `now` or `now±DURATION`.
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(TimeArg::Now(0));
        }
        let (sign, d) = match (rest.strip_prefix('+'), rest.strip_prefix('-')) {
            (Some(d), _) => (1, d),
            (_, Some(d)) => (-1, d),
            _ => {
                return Err(format!(
                    "{text:?}: write now+DURATION or now-DURATION, e.g. now+2h"
                ))
            }
        };
        let secs = i64::try_from(parse_duration(d)?).map_err(|_| format!("{text:?} is too far"))?;
        return Ok(TimeArg::Now(sign * secs));
    }
    if let Ok(x) = DateTime::parse_from_rfc3339(t) {
        return Ok(TimeArg::At(x.with_timezone(&Utc)));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(x) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(TimeArg::At(x.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(x) = d.and_hms_opt(0, 0, 0) {
            return Ok(TimeArg::At(x.and_utc()));
        }
    }
    Err(format!(
        "{text:?} is not a time: use RFC 3339 (2026-11-24T18:00:00Z), a UTC date-time \
         (2026-11-24T18:00), a date, now, or now+2h"
    ))
}

/// The instant a `flag TIME` argument names ([`parse_time`]), with `now`
/// the run's own clock.
pub fn time_arg(flag: &str, text: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    parse_time(text)
        .map_err(|e| anyhow::anyhow!("{flag} {e}"))?
        .resolve(now)
}

/// Seconds for people: `47.9 h`, `12 min`, `40 s`.
pub fn human_secs(secs: u64) -> String {
    if secs >= 3600 {
        format!("{:.1} h", secs as f64 / 3600.0)
    } else if secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// The `--json` document of `status`: the report plus the verdict.
#[derive(Serialize)]
struct StatusJson<'a> {
    #[serde(flatten)]
    report: &'a status::Report,
    /// `--min-runway` in seconds, if given.
    min_runway_seconds: Option<u64>,
    /// False when the runway is below `--min-runway` or the target could
    /// not be listed.
    ok: bool,
}

/// Runs `lofiever status`.
pub fn status(main: &Station, args: &StatusArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    per_channel(
        main,
        args.channel.as_deref(),
        args.json,
        quiet,
        "status",
        &|s| status_code(s, args, quiet),
    )
}

/// One station's `status`: its exit code.
fn status_code(station: &Station, args: &StatusArgs, quiet: bool) -> anyhow::Result<u8> {
    // The clock of every command (`LOFIEVER_NOW` pins it for tests).
    let clock = super::now()?;
    let now = match args.at {
        Some(t) => t.resolve(clock)?,
        None => clock,
    };
    let report = status::run(station, now)?;
    let deciding = report.target.as_ref().unwrap_or(&report.output);
    let short = args
        .min_runway
        .filter(|min| deciding.error.is_none() && report.runway_seconds < *min);
    let ok = deciding.error.is_none() && short.is_none();
    if args.json {
        let doc = StatusJson {
            report: &report,
            min_runway_seconds: args.min_runway,
            ok,
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !quiet {
        print!("{}", status_text(&report));
    }
    if let Some(e) = &deciding.error {
        if report.target.is_some() {
            // The target's errors name the command and the target.
            eprintln!("error: {e}");
        } else {
            eprintln!("error: cannot list {}: {e}", deciding.location);
        }
        return Ok(1);
    }
    if let Some(min) = short {
        eprintln!(
            "status: runway {} at {} is below --min-runway {}: audio runs out at {}; run \
             `lofiever render --days 2`",
            human_secs(report.runway_seconds),
            deciding.location,
            human_secs(min),
            deciding
                .runway_until
                .as_deref()
                .unwrap_or("the live point (nothing rendered)")
        );
        return Ok(EXIT_SHORT_RUNWAY);
    }
    Ok(0)
}

/// The human rendering of a status report.
pub fn status_text(r: &status::Report) -> String {
    let mut s = format!(
        "lofiever status: {} at {} (listeners hear {}, segment {})\n",
        r.station, r.now, r.listeners_at, r.live_segment
    );
    match &r.target {
        Some(t) => {
            s += &place_text(&format!("target {}", t.location), t);
            s += &place_text(&format!("output folder {}", r.output.location), &r.output);
        }
        None => {
            s += &place_text(
                &format!(
                    "output folder {} (also the publish target)",
                    r.output.location
                ),
                &r.output,
            )
        }
    }
    let c = &r.catalog;
    s += &format!(
        "catalog: {} tracks analysed, {} failed{}\n",
        c.tracks,
        c.failed,
        if c.failed > 0 {
            " (see analyze-errors.csv in the catalog folder)"
        } else {
            ""
        }
    );
    if c.tracks == 0 && c.error.is_none() {
        s += "  (no features.csv yet: the next render analyses the catalog)\n";
    }
    if let Some(e) = &c.error {
        s += &format!("  cannot read: {e}\n");
    }
    s
}

fn place_text(title: &str, p: &status::Place) -> String {
    let mut s = format!("{title}\n");
    if let Some(e) = &p.error {
        s += &format!("  cannot list it: {e}\n");
        return s;
    }
    s += &format!(
        "  runway    {}{}\n",
        human_secs(p.runway_seconds),
        p.runway_until
            .as_ref()
            .map_or(" (the live segment is missing)".into(), |u| format!(
                ", until {u}"
            ))
    );
    for r in &p.renditions {
        let span = match (r.first_segment, r.last_segment) {
            (Some(a), Some(b)) => format!(" ({a} … {b})"),
            _ => String::new(),
        };
        let horizon = r
            .horizon
            .as_ref()
            .map_or(String::new(), |h| format!(", rendered until {h}"));
        let gaps = match r.gaps.len() {
            0 => "no gaps".to_string(),
            n => {
                let g = &r.gaps[0];
                let missing = r.gaps.iter().map(|g| g.segments).sum::<u64>();
                format!(
                    "{n} gap{} ({missing} segment{} missing), first: {} … {} ({} to {})",
                    if n == 1 { "" } else { "s" },
                    if missing == 1 { "" } else { "s" },
                    g.first,
                    g.last,
                    g.from,
                    g.until
                )
            }
        };
        s += &format!(
            "  {:<9} {} segments{span}{horizon}, runway {}, {gaps}\n",
            r.id,
            r.segments,
            human_secs(r.runway_seconds)
        );
        if !r.undersized.is_empty() {
            s += &format!(
                "            {} too small to be whole (counted as missing): {}{}\n",
                r.undersized.len(),
                r.undersized[..r.undersized.len().min(3)].join(", "),
                if r.undersized.len() > 3 { ", …" } else { "" }
            );
        }
    }
    let missing_init: Vec<&str> = p
        .renditions
        .iter()
        .filter(|r| !r.init)
        .map(|r| r.id.as_str())
        .collect();
    s += &format!(
        "  init      {}\n  MPD       {}\n",
        if missing_init.is_empty() {
            "all present".to_string()
        } else {
            format!("MISSING for {}", missing_init.join(", "))
        },
        if p.mpd { "present" } else { "MISSING" }
    );
    let sc = &p.schedule;
    let mut line = format!("  schedule  {} day files", sc.files);
    if let Some(e) = &sc.error {
        line += &format!("; cannot read: {e}");
    }
    if let Some(n) = &sc.now_playing {
        line += &format!(
            "; now playing \"{}\" by {} (until {})",
            n.title, n.artist, n.end
        );
    }
    if let Some(l) = &sc.last {
        line += &format!(
            "; last planned \"{}\" by {}, ends {}",
            l.title, l.artist, l.end
        );
    }
    s += &line;
    s.push('\n');
    s
}

/// Runs `lofiever verify` for the main station and each channel (or the
/// one `--channel` names).
pub fn verify(main: &Station, args: &VerifyArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    per_channel(
        main,
        args.channel.as_deref(),
        args.json,
        quiet,
        "verify",
        &|s| verify_code(s, args, quiet),
    )
}

/// One station's `verify`: its exit code.
fn verify_code(station: &Station, args: &VerifyArgs, quiet: bool) -> anyhow::Result<u8> {
    let clock = super::now()?;
    let latency = Duration::milliseconds(i64::try_from(station.target_latency_ms)?);
    // `now` in a window means what listeners hear now.
    let heard = clock - latency;
    let from = args.from.resolve(heard)?;
    let until = args.until.map(|u| u.resolve(heard)).transpose()?;
    if let Some(u) = until {
        if u <= from {
            bail!(
                "--until {} is not after --from {}",
                fmt_instant(u),
                fmt_instant(from)
            );
        }
    }
    if from < station.epoch.instant() {
        bail!(
            "--from {} is before the station epoch {}",
            fmt_instant(from),
            fmt_instant(station.epoch.instant())
        );
    }
    let options = verify::Options {
        from,
        until,
        decode_per_rendition: args.decode,
        concurrency: station.publish.concurrency.max(1),
    };
    let report = if args.output {
        let dir = lofiever::publish::DirTarget::new(&station.output_dir);
        verify::run(station, &dir, &options)?
    } else {
        let target = lofiever::publish::open(station).map_err(|e| e.in_command("verify"))?;
        let named = lofiever::publish::ForCommand::new(target.as_ref(), "verify");
        verify::run(station, &named, &options)?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    let renditions = station.renditions.len() as u64;
    if report.problems.is_empty() {
        if !args.json && !quiet {
            println!(
                "verify: OK — {} segments checked ({} renditions × {}, {} to {}), {} decoded, \
                 {:.2} h covered, {} schedule items, MPD and init segments match the \
                 configuration ({})",
                report.checked,
                renditions,
                report.segments,
                report.from,
                report.until,
                report.decoded,
                report.hours(station),
                report.schedule_items,
                report.target
            );
        }
        return Ok(0);
    }
    if !args.json {
        println!(
            "verify: {} problem{} at {} ({} to {}):",
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" },
            report.target,
            report.from,
            report.until
        );
        for p in report.problems.iter().take(MAX_PRINTED) {
            println!("  {p}");
        }
        if report.problems.len() > MAX_PRINTED {
            println!(
                "  … and {} more (use --json for all)",
                report.problems.len() - MAX_PRINTED
            );
        }
    }
    eprintln!(
        "verify: FAILED with {} problem{} ({} segments checked, {} decoded)",
        report.problems.len(),
        if report.problems.len() == 1 { "" } else { "s" },
        report.checked,
        report.decoded
    );
    Ok(1)
}

/// Runs `check` on the main station and on each channel of
/// `pipeline/channels/` (or only the one named `only`), each report under a
/// header naming the channel, then one line per channel; the exit code is
/// the worst (1 over 2 over 0). Without channels it is `check` on the main
/// station alone, exactly as before channels existed.
fn per_channel(
    main: &Station,
    only: Option<&str>,
    json: bool,
    quiet: bool,
    what: &str,
    check: &dyn Fn(&Station) -> anyhow::Result<u8>,
) -> anyhow::Result<ExitCode> {
    let mut main = main.clone();
    let channels = channel::load_all(&mut main, super::now()?)?;
    let main = &main;
    if channels.is_empty() && only.is_none() {
        return Ok(ExitCode::from(check(main)?));
    }
    let members = lofiever::job::channels::members(main, &channels, only)?;
    if json && members.len() > 1 {
        let names: Vec<&str> = members.iter().map(|m| m.name).collect();
        bail!(
            "--json reports one station: add --channel NAME (one of {})",
            names.join(", ")
        );
    }
    let mut worst = 0u8;
    let mut lines = Vec::with_capacity(members.len());
    for m in &members {
        if !json && !quiet && members.len() > 1 {
            println!("== channel {} ({}) ==", m.name, target_of(m.station));
        }
        let code = check(m.station)?;
        let rank = |c: u8| match c {
            0 => 0,
            EXIT_SHORT_RUNWAY => 1,
            _ => 2,
        };
        if rank(code) > rank(worst) {
            worst = code;
        }
        let outcome = match code {
            0 => "OK".to_string(),
            EXIT_SHORT_RUNWAY => "runway below --min-runway (exit 2)".to_string(),
            c => format!("FAILED (exit {c})"),
        };
        lines.push(format!("{what}: channel {}: {outcome}", m.name));
    }
    if !json {
        for l in &lines {
            eprintln!("{l}");
        }
    }
    Ok(ExitCode::from(worst))
}

/// The station's target, for a header.
fn target_of(station: &Station) -> String {
    match &station.target {
        lofiever::station::TargetSpec::Dir(p) => p.display().to_string(),
        lofiever::station::TargetSpec::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("1h30m"), Ok(5_400));
        assert_eq!(parse_duration("45s"), Ok(45));
        for bad in ["", "24", "h", "1.5h", "24 h", "2w", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("now"), Ok(TimeArg::Now(0)));
        assert_eq!(parse_time("now+2h"), Ok(TimeArg::Now(7200)));
        assert_eq!(parse_time("now-30m"), Ok(TimeArg::Now(-1800)));
        let t = DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z")
            .expect("literal")
            .with_timezone(&Utc);
        for s in [
            "2026-11-24T18:00:00Z",
            "2026-11-24T19:00:00+01:00",
            "2026-11-24T18:00",
            "2026-11-24 18:00:00",
        ] {
            assert_eq!(parse_time(s), Ok(TimeArg::At(t)), "{s}");
        }
        assert!(matches!(parse_time("2026-11-24"), Ok(TimeArg::At(_))));
        for bad in ["tomorrow", "now+", "now*2h", "2026-13-01"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_for_people() {
        assert_eq!(human_secs(0), "0 s");
        assert_eq!(human_secs(600), "10 min");
        assert_eq!(human_secs(172_440), "47.9 h");
    }
}

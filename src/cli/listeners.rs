//! `lofiever listeners LOG...`: listener figures from the host's access
//! logs (see the library's `listeners` module), printed, as JSON or as an
//! HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use lofiever::listeners::{self, Input, ReadOptions};
use lofiever::Station;

/// `lofiever listeners`' arguments.
#[derive(Debug, Args)]
pub(super) struct ListenersArgs {
    /// Access logs: files (gzipped or not) or `-` for standard input. Each
    /// file's format is recognised by itself: common/combined (nginx,
    /// Apache, Caddy), Amazon S3 server access logs, CloudFront standard
    /// logs (W3C, #Fields: header) and JSON lines (Cloudflare, Fastly,
    /// Caddy).
    #[arg(value_name = "LOG", required = true)]
    logs: Vec<PathBuf>,
    /// Count from this time: RFC 3339, a UTC date-time or day, or now-2h
    /// (default: the start of the logs).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Count until this time, as --from (default: the end of the logs).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Save each track's figures to catalog/listeners.csv, which the planner
    /// reads when schedule.listener_weighting is on (replaces the file: give
    /// the logs of the weeks to count).
    #[arg(long)]
    save: bool,
}

/// Runs `lofiever listeners`.
pub(super) fn run(
    station: &Station,
    args: &ListenersArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let now = super::now()?;
    let ms = |flag: &str, t: &Option<String>| -> anyhow::Result<Option<i64>> {
        t.as_deref()
            .map(|t| super::ops::time_arg(flag, t, now).map(|t| t.timestamp_millis()))
            .transpose()
    };
    let opts = ReadOptions {
        from_ms: ms("--from", &args.from)?,
        to_ms: ms("--to", &args.to)?,
        ..ReadOptions::default()
    };
    if let (Some(f), Some(t)) = (opts.from_ms, opts.to_ms) {
        if t <= f {
            bail!("--to must be after --from");
        }
    }
    let stdin_count = args.logs.iter().filter(|p| p.as_os_str() == "-").count();
    if stdin_count > 1 {
        bail!("`-` (standard input) can be given once");
    }
    let inputs: Vec<Input> = args.logs.iter().map(|p| Input::from_arg(p)).collect();
    // The schedule as the nightly run reads it: from the publish target.
    let schedule = lofiever::publish::open(station)
        .map_err(|e| e.to_string())
        .and_then(|target| {
            lofiever::job::load_schedule(target.as_ref())
                .map_err(|e| format!("cannot read the schedule from {}: {e}", target.describe()))
        });
    let report = listeners::report(
        station,
        &inputs,
        &opts,
        schedule.as_ref().map_err(Clone::clone),
    );
    if report.files.is_empty() {
        for u in &report.unreadable {
            eprintln!("error: {u}");
        }
        bail!("no log could be read");
    }
    for u in &report.unreadable {
        eprintln!("warning: skipped {u}");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot write the report as JSON")?
        );
    } else if !quiet {
        print!("{report}");
    }
    if let Some(path) = &args.html {
        let page = listeners::html::page(&report, &station.name, &station.schedule.day_parts);
        lofiever::fsutil::write_atomic(path, page.as_bytes())?;
        if !quiet && !args.json {
            println!("HTML report: {}", path.display());
        }
    }
    if args.save {
        let Some(tracks) = &report.tracks else {
            bail!(
                "--save: no per-track figures to save ({})",
                report.tracks_note.as_deref().unwrap_or("no schedule")
            );
        };
        let path = station.catalog_dir.join(listeners::weighting::STATS_FILE);
        listeners::weighting::save(&path, tracks)?;
        if !quiet && !args.json {
            println!(
                "saved the figures of {} tracks to {}{}",
                tracks.tracks.len(),
                path.display(),
                if station.schedule.listener_weighting {
                    ""
                } else {
                    " (schedule.listener_weighting is off: the planner does not read them)"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

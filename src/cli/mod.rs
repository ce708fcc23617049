//! The command line: clap definitions, station loading, summaries. All real
//! work is in the library; this module only wires it to a terminal.

mod progress;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use lofiever::job::{self, Window};
use lofiever::time::SampleCount;
use lofiever::Station;

use progress::Bars;

/// lofiever — a 24/7 lo-fi radio that needs no running server.
///
/// It turns a folder of music into a pre-rendered live stream (MPEG-DASH,
/// Opus) that any static web host or CDN can serve. Every listener hears the
/// same moment at the same wall-clock time. Run `lofiever demo` to hear it.
#[derive(Debug, Parser)]
#[command(name = "lofiever", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// The station configuration. Default: pipeline/station.toml in the
    /// current folder if it exists, else the built-in demo configuration
    /// (with the current folder as the station root).
    #[arg(long, global = true, value_name = "FILE")]
    station: Option<PathBuf>,
    /// Worker threads for analysis and rendering (default: all cores). The
    /// output is byte-identical whatever the count.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// No progress bars or summaries; errors and warnings only.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure every track in the catalog (length, loudness, cue points).
    ///
    /// Only new or changed files are decoded; the results are cached in
    /// catalog/features.csv. Files that cannot be used are listed in
    /// catalog/analyze-errors.csv with the reason and are never scheduled.
    Analyze {
        /// Exit with an error if any file could not be analysed.
        #[arg(long)]
        strict: bool,
    },
    /// Plan what plays when, for the coming days.
    ///
    /// Extends the existing schedule (read back from the publish target)
    /// without ever changing what is already planned, and writes the
    /// schedule files (schedule/<day>.json) into the output folder.
    Schedule(AheadArgs),
    /// Do everything the station needs: analyze, schedule, render, publish.
    ///
    /// This is the nightly job. It renders only the segments that are
    /// missing, so re-running it is cheap and safe, and a killed run is
    /// simply finished by the next one.
    Render {
        #[command(flatten)]
        ahead: AheadArgs,
        /// Render segments again even if they already exist.
        #[arg(long)]
        force: bool,
    },
    /// Copy the output folder to the publish target (publish.target or
    /// LOFIEVER_TARGET): audio first, then schedule, then MPD and page.
    Publish,
    /// Make a demo station: synthesise a small lo-fi catalog, render the next
    /// hour, and serve it on http://127.0.0.1:8080.
    Demo {
        /// How much programme to render, in hours.
        #[arg(
            long,
            default_value_t = 1,
            value_name = "HOURS",
            conflicts_with = "minutes"
        )]
        hours: u64,
        /// How much programme to render, in minutes (instead of --hours).
        #[arg(long, value_name = "MINUTES")]
        minutes: Option<u64>,
        /// Only build the demo; do not start the preview server.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve the output folder locally to listen to the station.
    Preview(ServeArgs),
}

#[derive(Debug, Args)]
struct AheadArgs {
    /// Days of programme to have ready ahead of now.
    #[arg(long, value_name = "N", conflicts_with = "hours")]
    days: Option<u64>,
    /// Hours of programme to have ready ahead of now (default: 48 hours).
    #[arg(long, value_name = "N", conflicts_with = "minutes")]
    hours: Option<u64>,
    /// Minutes of programme to have ready ahead of now (for quick checks).
    #[arg(long, value_name = "N", conflicts_with = "days")]
    minutes: Option<u64>,
}

impl AheadArgs {
    fn ahead(&self) -> anyhow::Result<SampleCount> {
        let minutes = match (self.days, self.hours, self.minutes) {
            (Some(d), _, _) => d.checked_mul(24 * 60).context("--days is too large")?,
            (None, Some(h), _) => h.checked_mul(60).context("--hours is too large")?,
            (None, None, Some(m)) => m,
            (None, None, None) => 48 * 60,
        };
        if minutes == 0 || minutes > 366 * 24 * 60 {
            bail!("the time ahead must be between 1 minute and 366 days");
        }
        Ok(SampleCount::from_secs(minutes * 60)?)
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on (use 0.0.0.0 to let other devices listen).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
}

/// Parses the command line, runs it, and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match execute(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

fn load_station(global: &Global) -> anyhow::Result<Station> {
    let now = Utc::now();
    let station = match &global.station {
        Some(path) => Station::load(path, now)?,
        None => {
            let default = Path::new("pipeline/station.toml");
            if default.is_file() {
                Station::load(default, now)?
            } else {
                Station::embedded(&std::env::current_dir()?, now)?
            }
        }
    };
    Ok(station)
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(n) = cli.global.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot set up worker threads")?;
    }
    let bars = Bars::new(cli.global.quiet);
    let quiet = cli.global.quiet;
    let say = |s: String| {
        if !quiet {
            println!("{s}");
        }
    };
    match cli.command {
        Command::Analyze { strict } => {
            let station = load_station(&cli.global)?;
            let report = lofiever::analyze::run(&station.catalog_dir, &bars)?;
            for p in &report.catalog_problems {
                eprintln!("warning: {p}");
            }
            for f in &report.failures {
                eprintln!("warning: {}: {} (skipped)", f.path, f.reason);
            }
            say(format!(
                "analyze: {} tracks usable ({} analysed now, {} from cache), {} failed",
                report.tracks.len(),
                report.analysed,
                report.cached,
                report.failures.len()
            ));
            if strict && !report.failures.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Schedule(ahead) => {
            let station = load_station(&cli.global)?;
            let ahead = ahead.ahead()?;
            let target = lofiever::publish::open(&station)?;
            let (_, tracks) = job::analyze_and_tracks(&station, &bars)?;
            let mut schedule = job::load_schedule(target.as_ref())?;
            let before = schedule.items.len();
            let added = job::extend_schedule(&station, &mut schedule, &tracks, Utc::now(), ahead)?;
            let first_new = schedule.items.get(before).map(|it| it.start());
            lofiever::schedule::store::write_dir(
                &station.output_dir,
                &schedule,
                station.epoch,
                first_new
                    .map(|s| lofiever::schedule::store::day_of(station.epoch, s))
                    .transpose()?,
            )?;
            let until = match schedule.horizon() {
                Some(h) => lofiever::schedule::store::fmt_instant(station.epoch.instant_of(h)?),
                None => "-".into(),
            };
            say(format!(
                "schedule: {added} items added ({} in all), planned until {until}",
                schedule.items.len()
            ));
        }
        Command::Render { ahead, force } => {
            let station = load_station(&cli.global)?;
            let window = Window {
                now: Utc::now(),
                ahead: ahead.ahead()?,
                force,
            };
            let summary = job::run(&station, &window, &bars)?;
            print_job_summary(&station, &summary, &say)?;
        }
        Command::Publish => {
            let station = load_station(&cli.global)?;
            if lofiever::publish::target_is_output(&station) {
                say(format!(
                    "publish: the target is the output folder {} itself; nothing to copy",
                    station.output_dir.display()
                ));
            } else {
                let target = lofiever::publish::open(&station)?;
                let s = lofiever::publish::run(&station.output_dir, target.as_ref(), &bars)?;
                say(format!(
                    "publish: {} objects written to {}, {} already there",
                    s.uploaded,
                    target.describe(),
                    s.skipped
                ));
            }
        }
        Command::Demo {
            hours,
            minutes,
            no_serve,
            serve,
        } => {
            let station = load_station(&cli.global)?;
            let specs = lofiever::demo::synth::demo_catalog(station.seed);
            let dir = station.catalog_dir.join(lofiever::demo::DEMO_DIR);
            lofiever::demo::write_catalog(&dir, &specs, &bars)?;
            let minutes = minutes.unwrap_or(hours.saturating_mul(60));
            if minutes == 0 || minutes > 7 * 24 * 60 {
                bail!("the demo renders between 1 minute and 7 days");
            }
            let window = Window {
                now: Utc::now(),
                ahead: SampleCount::from_secs(minutes * 60)?,
                force: false,
            };
            let summary = job::run(&station, &window, &bars)?;
            print_job_summary(&station, &summary, &say)?;
            if !no_serve {
                serve_output(&station, &serve)?;
            }
        }
        Command::Preview(serve) => {
            let station = load_station(&cli.global)?;
            if !station.output_dir.join("stream.mpd").is_file() {
                bail!(
                    "{} has no stream.mpd yet; run `lofiever render` (or `lofiever demo`) first",
                    station.output_dir.display()
                );
            }
            serve_output(&station, &serve)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_job_summary(
    station: &Station,
    s: &job::JobSummary,
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    if let Some(a) = &s.analysis {
        for p in &a.catalog_problems {
            eprintln!("warning: {p}");
        }
        for f in &a.failures {
            eprintln!("warning: {}: {} (skipped)", f.path, f.reason);
        }
        say(format!(
            "analyze: {} tracks usable ({} analysed, {} cached), {} failed",
            a.tracks.len(),
            a.analysed,
            a.cached,
            a.failures.len()
        ));
    }
    say(format!("schedule: {} items added", s.items_added));
    say(format!(
        "render: {} segments rendered, {} already there",
        s.render.written, s.render.skipped
    ));
    if let Some(p) = &s.publish {
        say(format!(
            "publish: {} objects written, {} already there",
            p.uploaded, p.skipped
        ));
    }
    if let Some(until) = s.rendered_until {
        let t = station.epoch.instant_of(until)?;
        let ahead = (t - Utc::now()).num_seconds();
        let ahead = if ahead.abs() < 3600 {
            format!("{} min", ahead / 60)
        } else {
            format!("{:.1} h", ahead as f64 / 3600.0)
        };
        say(format!(
            "runway: rendered until {} ({ahead} ahead of now)",
            lofiever::schedule::store::fmt_instant(t)
        ));
    }
    Ok(())
}

fn serve_output(station: &Station, serve: &ServeArgs) -> anyhow::Result<()> {
    let addr = format!("{}:{}", serve.bind, serve.port);
    let vendor = lofiever::preview::local_dashjs(&station.root);
    let server = lofiever::preview::Preview::bind(&addr, &station.output_dir, vendor.as_deref())?;
    let shown = server.addr().map_or(addr.clone(), |a| a.to_string());
    println!("Listening page: http://{shown}/  (Ctrl-C to stop)");
    if vendor.is_none() {
        println!(
            "note: no local dash.js found (run `bash ci/setup.sh`); the page loads it from {}",
            station.dashjs_url
        );
    }
    server.serve();
    Ok(())
}

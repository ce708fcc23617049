//! The command line: clap definitions, station loading, summaries. All real
//! work is in the library; this module only wires it to a terminal.

mod listeners;
mod ops;
mod progress;
mod schedule;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use lofiever::job::{self, Window};
use lofiever::station::layout;
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
    ///
    /// With --report it plans nothing and prints the quality metrics of a
    /// window beside a seeded shuffle; with --explain TIME, why the track at
    /// TIME plays there.
    Schedule(schedule::ScheduleArgs),
    /// Say why the track scheduled at a moment plays there: its mood, the
    /// day-part target, the hour's plan and the cost terms of the
    /// alternatives considered. Plans nothing.
    Explain(schedule::ExplainArgs),
    /// Do everything the station needs: analyze, schedule, render, publish.
    ///
    /// This is the nightly job. It renders only the segments that are
    /// missing, so re-running it is cheap and safe, and a killed run is
    /// simply finished by the next one.
    ///
    /// Sharded (many machines): `lofiever plan`, then `render --shard I/N`
    /// for I = 1..N anywhere and at once, then `render --finish`.
    Render {
        #[command(flatten)]
        ahead: AheadArgs,
        /// Render segments again even if they already exist.
        #[arg(long, conflicts_with_all = ["shard", "finish"])]
        force: bool,
        /// Stop when a scheduled recording is nowhere in the catalog, instead
        /// of planning the time not yet published again (with a warning
        /// naming the track).
        #[arg(long)]
        strict: bool,
        /// Render and publish only shard I of N of the plan at the target
        /// (made by `lofiever plan`): a contiguous share of its missing
        /// segments, the same whoever asks. Shards of one plan may run at
        /// once on any machines; a shard never plans.
        #[arg(long, value_name = "I/N", conflicts_with_all = ["finish", "days", "hours", "minutes"])]
        shard: Option<String>,
        /// After every shard: check the plan's audio is all at the target,
        /// then publish schedule, MPD and page, and close the plan.
        #[arg(long, conflicts_with_all = ["days", "hours", "minutes"])]
        finish: bool,
        /// With --shard or --finish: stop (changing nothing) unless the
        /// target's plan is this one (the id `lofiever plan` printed).
        #[arg(long, value_name = "ID", env = "LOFIEVER_PLAN")]
        plan: Option<String>,
        /// Only this channel (`main` or a file name of pipeline/channels/);
        /// default: the main station and every channel, one after another.
        /// (`plan`, `--shard` and `--finish` always cover every channel.)
        #[arg(long, value_name = "NAME", conflicts_with_all = ["shard", "finish"])]
        channel: Option<String>,
    },
    /// Plan a sharded render: analyse, extend the schedule and publish the
    /// plan journal the shards read (`render --shard I/N`, then `render
    /// --finish`). Publishes no schedule, MPD or page.
    Plan {
        #[command(flatten)]
        ahead: AheadArgs,
        /// Print only the plan id (for scripts: pass it to the shards as
        /// --plan).
        #[arg(long)]
        print_id: bool,
    },
    /// Take a track out of the programme (a rights takedown, a bad master).
    ///
    /// Records the recording (by content hash) in catalog/takedowns.csv from
    /// TIME on; the next `lofiever render` takes it out of the schedule from
    /// there, plans the stretch again and replaces the segments after the
    /// cut (audio first). Nothing before the cut changes, and the track is
    /// never scheduled again while it is listed.
    Remove {
        /// The track: its path relative to the catalog folder, or its
        /// content hash (features.csv).
        track: String,
        /// From when: RFC 3339, a UTC date-time, or now+1h. Default: now +
        /// the players' latency + one segment + 5 minutes, the earliest
        /// moment no listener can hold yet.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
    },
    /// Copy the output folder to the publish target (publish.target or
    /// LOFIEVER_TARGET): audio first, then schedule, then MPD and page.
    ///
    /// Objects already at the target with the same size and checksum are
    /// skipped, so a re-run uploads nothing; segments older than
    /// publish.keep_minutes are then deleted from the target. S3 credentials
    /// come from the standard AWS environment/profile chain only.
    Publish {
        /// Print what would be uploaded and deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// First create the bucket if it is missing, apply a CORS rule for
        /// publish.cors_origins, and print the public-read bucket policy to
        /// apply (s3:// targets only).
        #[arg(long)]
        setup_bucket: bool,
    },
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
    ///
    /// With --at, the page plays the station as it sounds at that time
    /// (tonight at midnight, tomorrow morning), from what is rendered.
    Preview {
        #[command(flatten)]
        serve: ServeArgs,
        /// Listen as if the clock read TIME: RFC 3339 (2026-11-24T23:59:30Z),
        /// a UTC date-time (2026-11-24T23:59:30), a date, or now+2h. The
        /// preview server's clock runs from there; the programme at TIME must
        /// be rendered.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Show how much programme is ready ahead of now (the runway), gaps,
    /// the schedule and the catalog, for the output folder and the target.
    ///
    /// The runway is the audio ready from now on without a hole, counted
    /// from the segment listeners hear now; the target's is the one that
    /// counts. Reads one listing per place, no segment. Exit codes: 0 fine,
    /// 1 error (e.g. the target cannot be listed), 2 runway below
    /// --min-runway (with a one-line reason on stderr), for CI and cron.
    Status(ops::StatusArgs),
    /// Check the published stream as a player would, and list every problem.
    ///
    /// MPD matches the configuration; init segments; every segment of the
    /// window is there for every rendition, whole, with tfdt = N·D and
    /// exactly D/960 Opus packets; a sample of segments decodes (libopus,
    /// in-process) to exactly D samples; the schedule covers the window
    /// with no gap or overlap. Reads every segment of the window. Exit
    /// codes: 0 sound (one OK line), 1 problems (each naming the object).
    Verify(ops::VerifyArgs),
    /// Who listens: listener figures from the host's or CDN's access logs.
    ///
    /// Reads common/combined logs (nginx, Apache, Caddy), Amazon S3 server
    /// access logs, CloudFront standard logs and JSON lines (Cloudflare,
    /// Fastly), gzipped or not, and reports listeners at once, session
    /// lengths, renditions, players, countries (when the logs have them)
    /// and, against the schedule, the tracks listeners leave during more
    /// than usual. Client addresses are hashed with a key made for the run
    /// and never printed or stored.
    Listeners(listeners::ListenersArgs),
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

/// Crates whose debug and trace logs can show credentials (the AWS SDK logs
/// the resolved identity, access key id included, and signed requests):
/// capped at `info` whatever `RUST_LOG` says, so no log line ever carries
/// them. lofiever's own debug lines say what is retried and why.
const CAPPED_LOG_TARGETS: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sdk_s3",
    "aws_sigv4",
    "aws_smithy_http_client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
];

/// Crates whose log lines only repeat, unattributed, what lofiever says
/// about the same file in its own line (symphonia logs "probe reach EOF at
/// 64 bytes" for every file it cannot read): dropped, so each bad file
/// gives one line, with its name.
const DROPPED_LOG_TARGETS: &[&str] = &["symphonia"];

/// Log targets whose warnings only lead up to an error lofiever reports
/// in its own line: with no credentials anywhere, the AWS SDK warns about
/// each place it looked (instance metadata, in about 900 characters; a
/// config file named by `AWS_CONFIG_FILE` that is not there) before
/// lofiever says, in one line naming the command and the target, that none
/// were found, which named config file cannot be read, and where to put
/// credentials. Errors only (these come after the caps above, and win).
const ERRORS_ONLY_LOG_TARGETS: &[&str] = &["aws_config", "aws_runtime::env_config::source"];

fn init_logging() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    for target in DROPPED_LOG_TARGETS {
        if let Ok(d) = format!("{target}=off").parse() {
            filter = filter.add_directive(d);
        }
    }
    for target in CAPPED_LOG_TARGETS {
        if let Ok(d) = format!("{target}=info").parse() {
            filter = filter.add_directive(d);
        }
    }
    for target in ERRORS_ONLY_LOG_TARGETS {
        if let Ok(d) = format!("{target}=error").parse() {
            filter = filter.add_directive(d);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

/// The environment variable that pins "now" (hidden; for tests).
const NOW_ENV: &str = "LOFIEVER_NOW";

/// The wall-clock instant a command is anchored to: the real clock, unless
/// `LOFIEVER_NOW` (RFC 3339, e.g. `2026-03-01T12:00:00Z`) pins it. Hidden
/// and meant for tests that must repeat a run's exact window (the crash
/// test re-runs a killed render many times). Locks always use the real
/// clock.
fn now() -> anyhow::Result<chrono::DateTime<Utc>> {
    match std::env::var(NOW_ENV) {
        Ok(v) if !v.trim().is_empty() => Ok(chrono::DateTime::parse_from_rfc3339(v.trim())
            .with_context(|| format!("{NOW_ENV}={v:?} is not an RFC 3339 instant"))?
            .with_timezone(&Utc)),
        _ => Ok(Utc::now()),
    }
}

fn load_station(global: &Global) -> anyhow::Result<Station> {
    let now = now()?;
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
        Command::Schedule(args) => {
            if schedule::inspect(&cli.global, &args, &bars)? {
                return Ok(ExitCode::SUCCESS);
            }
            let station = load_station(&cli.global)?;
            let plan = job::plan(&station, now()?, args.ahead.ahead()?, &bars)?;
            let until = match plan.horizon {
                Some(h) => lofiever::schedule::store::fmt_instant(station.epoch.instant_of(h)?),
                None => "-".into(),
            };
            say(format!(
                "schedule: {} items added ({} in all), planned until {until}",
                plan.items_added, plan.items
            ));
        }
        Command::Explain(args) => schedule::run_explain(&cli.global, &args, &bars)?,
        Command::Plan { ahead, print_id } => {
            let mut station = load_station(&cli.global)?;
            let window = Window {
                now: now()?,
                ahead: ahead.ahead()?,
                force: false,
            };
            let channels = lofiever::station::channel::load_all(&mut station, window.now)?;
            if !channels.is_empty() {
                let n = job::channels::plan_all(&station, &channels, &window, &bars)?;
                if print_id {
                    println!("{}", n.id);
                } else {
                    for (name, p) in &n.plans {
                        say(format!(
                            "plan: channel {name}: {} items added; {} segments in {} chunks to \
                             render",
                            p.items_added,
                            p.journal.segments(),
                            p.journal.chunks.len()
                        ));
                    }
                    say(format!(
                        "plan {} ({} channels). Next: `lofiever render --shard I/N --plan {}` \
                         for I = 1..N, then `lofiever render --finish`",
                        n.id,
                        n.plans.len(),
                        n.id
                    ));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let p = job::shard::plan(&station, &window, &bars)?;
            if print_id {
                println!("{}", p.journal.id);
            } else {
                if p.orphans_deleted > 0 {
                    say(format!(
                        "plan: deleted {} segments of a lost plan (no schedule at the target)",
                        p.orphans_deleted
                    ));
                }
                say(format!(
                    "plan {}: {} items added; {} segments in {} chunks to render. Next: \
                     `lofiever render --shard I/N --plan {}` for I = 1..N, then `lofiever \
                     render --finish`",
                    p.journal.id,
                    p.items_added,
                    p.journal.segments(),
                    p.journal.chunks.len(),
                    p.journal.id
                ));
            }
        }
        Command::Render {
            shard: Some(shard),
            plan,
            ..
        } => {
            let shard = job::shard::Shard::parse(&shard).map_err(anyhow::Error::msg)?;
            let mut station = load_station(&cli.global)?;
            let channels = lofiever::station::channel::load_all(&mut station, now()?)?;
            if !channels.is_empty() {
                let (id, runs) = job::channels::render_shard_all(
                    &station,
                    &channels,
                    shard,
                    plan.as_deref(),
                    &bars,
                )?;
                for (name, s) in &runs {
                    say(format!(
                        "shard {shard} of plan {id}: channel {name}: {} chunks, {} segments \
                         rendered, {} already at the target; {} objects published",
                        s.chunks, s.render.written, s.already, s.upload.uploaded
                    ));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let s = job::shard::render_shard(&station, shard, plan.as_deref(), &bars)?;
            say(format!(
                "shard {shard} of plan {}: {} chunks, {} segments rendered, {} already at the \
                 target; {} objects published",
                s.plan, s.chunks, s.render.written, s.already, s.upload.uploaded
            ));
        }
        Command::Render {
            finish: true, plan, ..
        } => {
            let mut station = load_station(&cli.global)?;
            let channels = lofiever::station::channel::load_all(&mut station, now()?)?;
            if !channels.is_empty() {
                let (id, done) =
                    job::channels::finish_all(&station, &channels, plan.as_deref(), &bars)?;
                for (name, s) in &done {
                    say(format!("finish: channel {name}: plan {} complete", s.plan));
                }
                say(format!(
                    "finish: plan {id} complete; {} written",
                    layout::CHANNELS_INDEX
                ));
                return Ok(ExitCode::SUCCESS);
            }
            let s = job::shard::finish(&station, plan.as_deref(), &bars)?;
            say(format!("finish: plan {} complete", s.plan));
            if let Some(u) = &s.publish.upload {
                say(publish_line(u, &target_description(&station)));
            }
            print_retention(
                &station,
                &s.publish.retention,
                &target_description(&station),
                false,
                &say,
            )?;
            if let Some(until) = s.rendered_until {
                say(format!(
                    "runway: rendered until {}",
                    lofiever::schedule::store::fmt_instant(station.epoch.instant_of(until)?)
                ));
            }
        }
        Command::Render {
            ahead,
            force,
            strict,
            channel,
            ..
        } => {
            let mut station = load_station(&cli.global)?;
            let window = Window {
                now: now()?,
                ahead: ahead.ahead()?,
                force,
            };
            let options = job::RunOptions { strict };
            let channels = lofiever::station::channel::load_all(&mut station, window.now)?;
            if channels.is_empty() && channel.is_none() {
                let summary = job::run_with(&station, &window, options, &bars)?;
                print_job_summary(&station, &summary, &say)?;
            } else {
                let n = job::channels::run_all(
                    &station,
                    &channels,
                    channel.as_deref(),
                    &window,
                    options,
                    &bars,
                )?;
                print_analysis(&n.analysis, &say);
                let members = job::channels::members(&station, &channels, None)?;
                for (name, summary) in &n.runs {
                    if let Some(m) = members.iter().find(|m| m.name == name) {
                        say(format!(
                            "channel {name} ({}):",
                            target_description(m.station)
                        ));
                        print_job_summary(m.station, summary, &say)?;
                    }
                }
                if !channels.is_empty() {
                    say(format!(
                        "channels: {} written at {} ({} channels)",
                        layout::CHANNELS_INDEX,
                        target_description(&station),
                        channels.len() + 1
                    ));
                }
            }
        }
        Command::Remove { track, from } => {
            let station = load_station(&cli.global)?;
            let now = now()?;
            let from = from.map(|t| ops::time_arg("--from", &t, now)).transpose()?;
            let d = job::remove(&station, &track, from, now, &bars)?;
            say(format!(
                "remove: {:?} (content {}) is taken out from {}; run `lofiever render` to \
                 publish the change",
                d.path,
                d.hash,
                lofiever::schedule::store::fmt_instant(d.from)
            ));
        }
        Command::Publish {
            dry_run,
            setup_bucket,
        } => {
            let station = load_station(&cli.global)?;
            if setup_bucket {
                setup_bucket_and_report(&station, dry_run)?;
            }
            // A dry run writes nothing, so it needs no lock.
            let _lock = if dry_run {
                None
            } else {
                Some(lofiever::publish::lock::StationLock::acquire(
                    &station, "publish",
                )?)
            };
            let target = lofiever::publish::open(&station)?;
            let p = lofiever::publish::run_station(
                &station,
                target.as_ref(),
                None,
                now()?,
                dry_run,
                &bars,
            )?;
            let dest = target.describe();
            match &p.upload {
                None => say(format!(
                    "publish: the target is the output folder {} itself; nothing to copy",
                    station.output_dir.display()
                )),
                Some(s) if dry_run => {
                    // A dry run's report is its output, even with --quiet.
                    println!(
                        "publish (dry run): would write {} objects ({}) to {dest}, {} already there",
                        s.uploaded,
                        human_bytes(s.bytes),
                        s.skipped
                    );
                    for line in lofiever::publish::describe_changes(&s.changes) {
                        println!("{line}");
                    }
                }
                Some(s) => say(publish_line(s, &dest)),
            }
            print_retention(&station, &p.retention, &dest, dry_run, &say)?;
            let out = station.output_dir.display().to_string();
            print_retention(&station, &p.local_retention, &out, dry_run, &say)?;
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
                now: now()?,
                ahead: SampleCount::from_secs(minutes * 60)?,
                force: false,
            };
            let summary = job::run(&station, &window, &bars)?;
            print_job_summary(&station, &summary, &say)?;
            if !no_serve {
                serve_output(&station, &serve, None)?;
            }
        }
        Command::Status(args) => {
            return ops::status(&load_station(&cli.global)?, &args, quiet);
        }
        Command::Verify(args) => {
            return ops::verify(&load_station(&cli.global)?, &args, quiet);
        }
        Command::Listeners(args) => {
            return listeners::run(&load_station(&cli.global)?, &args, quiet);
        }
        Command::Preview { serve, at } => {
            let station = load_station(&cli.global)?;
            if !station.output_dir.join(layout::MPD).is_file() {
                bail!(
                    "{} has no stream.mpd yet; run `lofiever render` (or `lofiever demo`) first",
                    station.output_dir.display()
                );
            }
            let at = at.map(|t| preview_time(&station, &t)).transpose()?;
            serve_output(&station, &serve, at)?;
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
        print_analysis(a, say);
    }
    say(format!("schedule: {} items added", s.items_added));
    say(format!(
        "render: {} segments rendered, {} already there",
        s.render.written, s.render.skipped
    ));
    if let Some(p) = &s.publish {
        say(publish_line(p, &target_description(station)));
    }
    print_retention(
        station,
        &s.retention,
        &target_description(station),
        false,
        say,
    )?;
    let out = station.output_dir.display().to_string();
    print_retention(station, &s.local_retention, &out, false, say)?;
    if let Some(until) = s.rendered_until {
        let t = station.epoch.instant_of(until)?;
        let ahead = (t - now()?).num_seconds();
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

/// The analysis warnings and summary line of a render.
fn print_analysis(a: &lofiever::analyze::Report, say: &dyn Fn(String)) {
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

/// The summary line of an upload.
fn publish_line(s: &lofiever::publish::Summary, dest: &str) -> String {
    let mut line = format!(
        "publish: {} objects written to {dest} ({}), {} already there",
        s.uploaded,
        human_bytes(s.bytes),
        s.skipped
    );
    if s.retries > 0 {
        line.push_str(&format!(", {} requests retried", s.retries));
    }
    if s.too_old > 0 {
        line.push_str(&format!(
            ", {} local objects older than the keep window left out",
            s.too_old
        ));
    }
    line
}

/// One line about a retention pass, if it deleted anything.
fn print_retention(
    station: &Station,
    r: &lofiever::publish::retention::Summary,
    place: &str,
    dry_run: bool,
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    let Some(from) = r.keep_from else {
        return Ok(());
    };
    if r.deleted == 0 && r.playlists == 0 {
        return Ok(());
    }
    let cut = station
        .epoch
        .instant_of(station.grid.segment_start(from)?)?;
    let mut line = format!(
        "retention{}: {} {} segments that ended before {} from {place}",
        if dry_run { " (dry run)" } else { "" },
        if dry_run { "would delete" } else { "deleted" },
        r.deleted,
        lofiever::schedule::store::fmt_instant(cut),
    );
    if let Some((first, last)) = &r.range {
        line.push_str(&format!(" ({first} … {last})"));
    }
    if r.playlists > 0 {
        line.push_str(&format!(
            ", and {} HLS playlists of the days that began before then",
            r.playlists
        ));
    }
    if dry_run {
        println!("{line}");
    } else {
        say(line);
    }
    Ok(())
}

/// `--setup-bucket`: creates the bucket if missing and sets CORS (or, with
/// `--dry-run`, says it would), then prints the public-read policy left for
/// the operator to apply.
fn setup_bucket_and_report(station: &Station, dry_run: bool) -> anyhow::Result<()> {
    let lofiever::station::TargetSpec::S3 { bucket, prefix } = &station.target else {
        bail!(
            "--setup-bucket applies to s3:// targets only; publish.target is the directory {}",
            target_description(station)
        );
    };
    let dest = target_description(station);
    let origins = station.publish.cors_origins.join(", ");
    let policy = if dry_run {
        println!(
            "setup-bucket (dry run): would create {dest} if missing and set CORS to allow \
             GET/HEAD from {origins}"
        );
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        lofiever::publish::public_read_policy(bucket, &prefix)
    } else {
        let setup = lofiever::publish::setup_bucket(station)?;
        println!(
            "setup-bucket: {} {dest}; CORS allows GET/HEAD from {origins}",
            if setup.created { "created" } else { "found" },
        );
        setup.public_read_policy
    };
    println!(
        "setup-bucket: for listeners to read the stream, apply this bucket policy (e.g. `aws \
         s3api put-bucket-policy --bucket {bucket} --policy file://policy.json`), or serve the \
         bucket through a CDN with its own read access:"
    );
    println!("{policy}");
    Ok(())
}

/// The target as people know it: a folder path or `s3://bucket/prefix`.
fn target_description(station: &Station) -> String {
    match &station.target {
        lofiever::station::TargetSpec::Dir(p) => p.display().to_string(),
        lofiever::station::TargetSpec::S3 { bucket, prefix } if prefix.is_empty() => {
            format!("s3://{bucket}")
        }
        lofiever::station::TargetSpec::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
    }
}

/// Bytes for people: 1.2 MB, 340 kB, 12 B.
fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 10_000_000 => format!("{} MB", n / 1_000_000),
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{} kB", n / 1_000),
        n => format!("{n} B"),
    }
}

/// The instant of `preview --at`, checked to have rendered audio in the
/// output folder where listeners would hear it (`TIME − latency`).
fn preview_time(station: &Station, text: &str) -> anyhow::Result<chrono::DateTime<Utc>> {
    let at = ops::time_arg("--at", text, now()?)?;
    let latency = chrono::Duration::milliseconds(
        i64::try_from(station.target_latency_ms).context("latency out of range")?,
    );
    let heard = station
        .epoch
        .sample_at(at - latency)
        .with_context(|| format!("--at {text:?} is before the station epoch"))?;
    let segment = station.grid.segment_of(heard);
    let rendition = station
        .renditions
        .first()
        .context("the station has no renditions")?
        .id();
    let file = station
        .output_dir
        .join(layout::segment(&rendition, segment));
    if !file.is_file() {
        bail!(
            "nothing is rendered for --at {text:?} ({} is missing); render a window that covers it first, e.g. `lofiever render --days 2`",
            file.display()
        );
    }
    Ok(at)
}

fn serve_output(
    station: &Station,
    serve: &ServeArgs,
    at: Option<chrono::DateTime<Utc>>,
) -> anyhow::Result<()> {
    let addr = format!("{}:{}", serve.bind, serve.port);
    let vendor = lofiever::preview::local_dashjs(&station.root);
    let mut server =
        lofiever::preview::Preview::bind(&addr, &station.output_dir, vendor.as_deref())?;
    if let Some(at) = at {
        server = server.at(at);
        println!(
            "Playing the station as at {} (the preview's clock runs from there)",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    // `?player=shaka` on the page: serve Shaka from the local copy too.
    if let Some(shaka) = lofiever::preview::local_shaka(&station.root) {
        server = server.with_vendor("shaka", &shaka);
    }
    if let Some(hlsjs) = lofiever::preview::local_hlsjs(&station.root) {
        server = server.with_vendor("hlsjs", &hlsjs);
    }
    let shown = server.addr().map_or(addr.clone(), |a| a.to_string());
    // The URL line comes last, and writing it may fail: whoever reads our
    // output (a script, `| head -1`, a test) may stop reading once it has the
    // URL, and a closed stdout must not take the server down with it.
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if vendor.is_none() {
        let _ = writeln!(
            out,
            "note: no local dash.js found (run `bash ci/setup.sh`); the page loads it from {}",
            station.dashjs_url
        );
    }
    let _ = writeln!(out, "Listening page: http://{shown}/  (Ctrl-C to stop)");
    let _ = out.flush();
    drop(out);
    server.serve();
    Ok(())
}

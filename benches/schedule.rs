//! Scheduling speed: plan 30 days for a 5 000-track catalog from an empty
//! schedule (mood model, rules and beam search included) with the shipped
//! configuration. Target: under 5 s. Also prints the quality figures of the
//! planned month beside a seeded shuffle.
//!
//! Run: `cargo bench --bench schedule` (`TRACKS=5000 DAYS=30` by default).
//! Exits non-zero if planning takes 5 s or more.

use std::time::Instant;

use chrono::{DateTime, Utc};
use lofiever::schedule::{report, synthetic, Schedule, Track};
use lofiever::time::SampleIndex;
use lofiever::Station;

fn main() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, days) = (var("TRACKS", 5000) as usize, var("DAYS", 30));
    let station = Station::from_toml("", "bench", std::path::Path::new("."), Utc::now())
        .expect("the default configuration is valid");
    let features = synthetic::features(n, 1);
    let tracks: Vec<Track> = features.iter().map(|f| Track::new(f, None)).collect();
    let start_at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
        .expect("literal")
        .with_timezone(&Utc);
    let start = station.epoch.sample_at(start_at).expect("after the epoch");
    let until = SampleIndex(start.0 + days * 86_400 * 48_000);

    let t0 = Instant::now();
    let mut schedule = Schedule::default();
    let ext = schedule
        .plan(&tracks, &station, start, until)
        .expect("plan");
    let planning = t0.elapsed();
    println!(
        "schedule: {days} days for {n} tracks: {} items in {:.2} s ({:.0} µs per item)",
        ext.added,
        planning.as_secs_f64(),
        planning.as_secs_f64() * 1e6 / ext.added.max(1) as f64
    );
    for notice in &ext.notices {
        println!("notice: {notice}");
    }
    let t1 = Instant::now();
    let r = report::report(&station, &schedule, &tracks, start, until).expect("report");
    println!("report in {:.2} s:\n{r}", t1.elapsed().as_secs_f64());
    if planning.as_secs_f64() >= 5.0 {
        eprintln!(
            "FAIL: planning took {:.2} s (target < 5 s)",
            planning.as_secs_f64()
        );
        std::process::exit(1);
    }
}

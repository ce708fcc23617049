//! Log reading speed: `lofiever listeners` on a generated combined-format
//! log of ten million lines (about 2.3 GB: 2 000 listeners over a day, each
//! fetching a segment every 2 s, with page, MPD and 404 lines mixed in).
//! Target: at least a million lines a second with all cores of this
//! machine. Prints the wall-clock rate of reading and of the whole report
//! (reading, sessions, listeners at once), and reading's lines per
//! CPU-second times the cores: on a machine shared with builds the wall
//! clock measures the others too, and reading scales with cores.
//!
//! Run: `cargo bench --bench listeners` (`LINES=10000000` by default; the
//! log is written once to the system's temp folder and reused, `KEEP=0`
//! deletes it afterwards). Exits non-zero below a million lines a second
//! on idle cores.

use std::io::Write;
use std::time::Instant;

use chrono::Utc;
use lofiever::listeners::{self, Input, ReadOptions};
use lofiever::Station;

fn main() {
    let lines: u64 = std::env::var("LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let path = std::env::temp_dir().join(format!("lofiever-bench-{lines}.log"));
    if !path.is_file() {
        let t0 = Instant::now();
        generate(&path, lines);
        println!(
            "listeners: wrote {} ({} lines) in {:.1} s",
            path.display(),
            lines,
            t0.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let station = Station::from_toml("", "bench", std::path::Path::new("."), Utc::now())
        .expect("the default configuration is valid");
    // Warm the page cache, so the figure is the parser's, not the disk's.
    let _ = std::fs::read(&path);
    let inputs = [Input::File(path.clone())];
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let logs = listeners::read::read(&inputs, &ReadOptions::default());
    let read_s = t0.elapsed().as_secs_f64();
    let read_cpu = cpu_seconds() - cpu0;
    let read_lines: u64 = logs.files.iter().map(|f| f.lines).sum();
    drop(logs);
    let t1 = Instant::now();
    let report = listeners::report(
        &station,
        &inputs,
        &ReadOptions::default(),
        Err("benchmark".into()),
    );
    let all_s = t1.elapsed().as_secs_f64();
    let threads = rayon::current_num_threads();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "listeners: read {read_lines} lines ({:.0} MB) in {read_s:.2} s: {:.2} M lines/s ({:.0} MB/s), {threads} threads",
        size as f64 / 1e6,
        read_lines as f64 / read_s / 1e6,
        size as f64 / read_s / 1e6
    );
    // On a shared machine the wall clock says as much about the others as
    // about this: lines per CPU-second times the cores is what an idle
    // machine would do (reading scales with cores).
    println!(
        "listeners: reading used {read_cpu:.1} CPU-seconds: {:.2} M lines per CPU-second, {:.2} M lines/s on {threads} idle cores",
        read_lines as f64 / read_cpu.max(1e-9) / 1e6,
        read_lines as f64 / read_cpu.max(1e-9) / 1e6 * threads as f64
    );
    println!(
        "listeners: whole report in {all_s:.2} s: {:.2} M lines/s; {} sessions, peak {} at once; load average before: {}",
        read_lines as f64 / all_s / 1e6,
        report.sessions.sessions,
        report.listeners.peak,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    if std::env::var("KEEP").is_ok_and(|v| v == "0") {
        let _ = std::fs::remove_file(&path);
    }
    let idle = read_lines as f64 / read_cpu.max(1e-9) * threads as f64;
    if idle < 1e6 {
        eprintln!("FAIL: under a million lines a second on idle cores");
        std::process::exit(1);
    }
}

/// User and system CPU time of this process so far, in seconds (Linux;
/// 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (in parentheses): utime is the 14th
    // field, stime the 15th, in clock ticks of 1/100 s.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Writes `lines` lines of combined log: 2 000 listeners, sessions of a few
/// minutes to hours, over a day from 2026-03-02.
fn generate(path: &std::path::Path, lines: u64) {
    let file = std::fs::File::create(path).expect("create the bench log");
    let mut w = std::io::BufWriter::with_capacity(8 << 20, file);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let uas = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    ];
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
        .expect("literal")
        .timestamp();
    let epoch = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("literal")
        .timestamp();
    let listeners = 2000u64;
    // Listener l fetches at start + (l * 37) % 2 + 2k seconds: all interleaved.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut written = 0;
    let mut k = 0u64;
    while written < lines {
        let t = start + (k * 2) as i64;
        let stamp = |t: i64| {
            let ts = chrono::DateTime::from_timestamp(t, 0).expect("valid");
            format!(
                "{}/{}/{}",
                ts.format("%d"),
                MONTHS[ts.format("%m").to_string().parse::<usize>().unwrap_or(1) - 1],
                ts.format("%Y:%H:%M:%S")
            )
        };
        let stamps = [stamp(t), stamp(t + 1)];
        for l in 0..listeners {
            if written >= lines {
                break;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Each listener is away a third of the time, in long stretches.
            if (k / 900 + l).is_multiple_of(3) {
                continue;
            }
            let seg = (t - epoch) / 2 - 3;
            let (path, status) = match x % 50 {
                0 => ("/stream.mpd".to_string(), 200),
                1 => (format!("/96k/{}.m4s", seg + 2), 404),
                _ => (
                    format!("/{}k/{seg}.m4s", [64, 96, 160][(l % 3) as usize]),
                    200,
                ),
            };
            writeln!(
                w,
                "198.51.{}.{} - - [{} +0000] \"GET {path} HTTP/1.1\" {status} {} \"https://radio.example.com/\" \"{}\"",
                l / 250,
                l % 250,
                stamps[(l % 2) as usize],
                20_000 + x % 9000,
                uas[(l % 4) as usize]
            )
            .expect("write the bench log");
            written += 1;
        }
        k += 1;
    }
    w.flush().expect("write the bench log");
}

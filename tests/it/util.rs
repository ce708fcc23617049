//! Test helpers: a temporary station with a small synthetic catalog, the
//! binary under test, and the external tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use chrono::Utc;
use lofiever::demo::synth::{self, TrackSpec};
use lofiever::job::{self, JobSummary, Window};
use lofiever::progress::Silent;
use lofiever::time::SampleCount;
use lofiever::Station;

/// A station config for tests: two renditions, short crossfade, 20 s chunks
/// so a few minutes of programme span several chunk seams.
pub const TEST_STATION_TOML: &str = r#"
[station]
name = "Test FM <&>"
epoch = "2025-01-01T00:00:00Z"
seed = 7

[stream]
segment_ms = 2000
chunk_segments = 10
bitrates_kbps = [64, 96]
opus_complexity = 5

[audio]
crossfade_ms = 3000

[player]
dashjs_url = "vendor/dashjs/dash.all.min.js"
target_latency_ms = 6000
"#;

/// A temporary station root with `pipeline/station.toml` and a catalog.
pub struct TempStation {
    /// Keeps the folder alive.
    pub dir: tempfile::TempDir,
}

impl TempStation {
    /// A station with `toml` as its config and no catalog yet.
    pub fn new(toml: &str) -> TempStation {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("pipeline")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("catalog")).expect("mkdir");
        std::fs::write(dir.path().join("pipeline/station.toml"), toml).expect("write config");
        TempStation { dir }
    }

    /// The station's schedule as published at its target.
    pub fn schedule(&self) -> lofiever::schedule::Schedule {
        let station = self.station();
        lofiever::job::load_schedule(lofiever::publish::open(&station).expect("target").as_ref())
            .expect("schedule")
    }

    /// The station root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.root().join("pipeline/station.toml")
    }

    /// The validated station.
    pub fn station(&self) -> Station {
        Station::load(&self.config(), Utc::now()).expect("test station config is valid")
    }

    /// Writes `specs` as WAV files (and a catalog.csv) into catalog/test/.
    pub fn add_tracks(&self, specs: &[TrackSpec]) -> Vec<PathBuf> {
        lofiever::demo::write_catalog(&self.root().join("catalog/test"), specs, &Silent)
            .expect("write test catalog")
    }

    /// Runs the binary with `args` in the station root.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_lofiever"))
            .args(args)
            .current_dir(self.root())
            .env_remove("LOFIEVER_TARGET")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run lofiever")
    }

    /// [`TempStation::run`] with the clock pinned at `now` (`LOFIEVER_NOW`).
    pub fn run_at(&self, now: chrono::DateTime<chrono::Utc>, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_lofiever"))
            .args(args)
            .current_dir(self.root())
            .env_remove("LOFIEVER_TARGET")
            .env(
                "LOFIEVER_NOW",
                now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .env("RUST_LOG", "warn")
            .output()
            .expect("run lofiever")
    }
}

/// Every file under `dir` (relative path with `/`), dot-names included.
pub fn files(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, p);
            }
        }
    }
    out
}

/// Every file under `dir` with its bytes (see [`files`]).
pub fn file_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files(dir)
        .into_iter()
        .map(|(k, p)| {
            let bytes = std::fs::read(&p).expect("read");
            (k, bytes)
        })
        .collect()
}

/// Short versions of the demo catalog's first tracks (with its 44.1 kHz one),
/// about 30-40 s each.
pub fn short_specs(n: usize) -> Vec<TrackSpec> {
    let all = synth::demo_catalog(7);
    let mut picked: Vec<TrackSpec> = all
        .iter()
        .filter(|s| s.sample_rate != 48_000)
        .take(1)
        .cloned()
        .collect();
    picked.extend(
        all.iter()
            .filter(|s| s.sample_rate == 48_000)
            .take(n.saturating_sub(picked.len()))
            .cloned(),
    );
    for s in &mut picked {
        // 12 bars at 70-95 BPM is 30-41 s.
        s.bars = 12;
    }
    picked
}

/// A station rendered once and shared by the stream tests: 4 short tracks,
/// 4 minutes ahead of now.
pub struct Rendered {
    /// The station folder.
    pub station: TempStation,
    /// What the job did.
    pub summary: JobSummary,
    /// The wall-clock "now" the render was anchored to.
    pub now: chrono::DateTime<Utc>,
}

/// The shared rendered station.
pub fn rendered() -> &'static Rendered {
    static CELL: OnceLock<Rendered> = OnceLock::new();
    CELL.get_or_init(|| {
        let station = TempStation::new(TEST_STATION_TOML);
        station.add_tracks(&short_specs(4));
        let s = station.station();
        let now = Utc::now();
        let window = Window {
            now,
            ahead: SampleCount::from_secs(4 * 60).expect("small"),
            force: false,
        };
        let summary = job::run(&s, &window, &Silent).expect("render the test station");
        Rendered {
            station,
            summary,
            now,
        }
    })
}

/// Path of an external tool, or a failure telling how to install it.
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not installed; run `bash ci/setup.sh` first");
}

/// Decodes an MP4 (init + segments concatenated) with ffmpeg to interleaved
/// stereo f32 at 48 kHz.
pub fn ffmpeg_decode(mp4: &Path) -> Vec<f32> {
    let out = Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(mp4)
        .args(["-f", "f32le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Validates an MPD file against the official MPEG-DASH schema
/// (`tests/data/dash/DASH-MPD.xsd`) with xmllint, offline; `Err` carries
/// xmllint's report.
pub fn xmllint_mpd(mpd: &Path) -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dash");
    let out = Command::new(tool("xmllint"))
        .env("XML_CATALOG_FILES", dir.join("catalog.xml"))
        .args(["--nonet", "--noout", "--schema"])
        .arg(dir.join("DASH-MPD.xsd"))
        .arg(mpd)
        .output()
        .map_err(|e| format!("cannot run xmllint: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A finished command's stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finished command's stdout, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Converts `src` to `dst` with extra output options.
pub fn convert(src: &Path, dst: &Path, opts: &[&str]) {
    let mut args = vec!["-i", src.to_str().expect("utf-8 path")];
    args.extend_from_slice(opts);
    args.push(dst.to_str().expect("utf-8 path"));
    ffmpeg(&args);
}

/// Decodes Opus packets with libopus (one continuous decoder, as a player
/// decodes consecutive segments) to interleaved stereo at 48 kHz.
pub fn libopus_decode<P: AsRef<[u8]>>(packets: &[P]) -> Vec<f32> {
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).expect("decoder");
    let mut out = Vec::with_capacity(packets.len() * 1920);
    let mut buf = vec![0f32; 5760 * 2];
    for p in packets {
        let n = dec
            .decode_float(p.as_ref(), &mut buf, false)
            .expect("decode");
        out.extend_from_slice(&buf[..n * 2]);
    }
    out
}

/// Runs ffmpeg with `args`, failing the test with its message.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", stderr(&out));
}

//! Analyzer speed, as ratios measured in one run on this machine:
//!
//! - (a) seconds of audio analysed per wall-second, all cores (the demo
//!   catalog as FLAC, MP3 and WAV);
//! - (b) full analysis against decode-only (symphonia + fold + resample to
//!   48 kHz, the floor every analysis pays) of the same files with the same
//!   parallelism: target ≤ 2;
//! - (c) scaling: all cores against one thread;
//! - (d) a re-run over 1,000 cached rows (nothing decoded): target well
//!   under a second;
//! - (e) decode plus the EBU R128 meter alone against decode-only: the
//!   share of (b) that BS.1770 itself fixes (K-weighting every sample, true
//!   peak), whatever else the analysis measures.
//!
//! Run: `cargo bench --bench analyze` (needs ffmpeg for the FLAC/MP3 copies).

use std::path::{Path, PathBuf};
use std::time::Instant;

use lofiever::analyze;
use lofiever::audio::Decoder48;
use lofiever::progress::Silent;
use rayon::prelude::*;

mod support {
    include!("support/fake_cache.rs");
}

/// Decodes `path` block by block, handing each block to `each`; the frames
/// decoded.
fn decode_each(path: &Path, mut each: impl FnMut(&[f32])) -> u64 {
    let mut dec = Decoder48::open(path).expect("open");
    let mut block = Vec::with_capacity(1 << 16);
    let mut frames = 0;
    loop {
        block.clear();
        if !dec.next_block(&mut block).expect("decode") {
            return frames;
        }
        each(&block);
        frames += (block.len() / 2) as u64;
    }
}

fn decode_only(path: &Path) -> u64 {
    decode_each(path, |_| {})
}

/// Decode plus the EBU R128 meter alone (K-weighting, gating blocks, true
/// peak): the part of the analysis that BS.1770 fixes, whatever else is
/// measured.
fn decode_and_loudness(path: &Path) -> u64 {
    let mut meter = analyze::loudness::LoudnessMeter::new();
    let frames = decode_each(path, |block| meter.push(block));
    std::hint::black_box(meter.figures());
    frames
}

fn analyse(path: &Path) -> u64 {
    analyze::features::analyse_file(path)
        .expect("analyse")
        .duration_samples
}

/// Wall seconds and audio seconds of `work` over `files` on `threads`.
fn timed(files: &[PathBuf], threads: usize, work: fn(&Path) -> u64) -> (f64, f64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let t = Instant::now();
    let frames: u64 = pool.install(|| files.par_iter().map(|f| work(f)).sum());
    (t.elapsed().as_secs_f64(), frames as f64 / 48_000.0)
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().expect("temp dir");
    let specs = lofiever::demo::synth::demo_catalog(1);
    let wavs = lofiever::demo::write_catalog(&dir.path().join("wav"), &specs, &Silent)
        .expect("demo catalog");
    let mut sets = vec![("WAV", wavs.clone())];
    for (label, ext, opts) in [
        ("FLAC", "flac", vec![]),
        ("MP3", "mp3", vec!["-b:a", "192k"]),
    ] {
        let out = dir.path().join(ext);
        std::fs::create_dir_all(&out).expect("mkdir");
        let files: Vec<PathBuf> = wavs
            .par_iter()
            .map(|w| {
                let dst = out.join(w.with_extension(ext).file_name().expect("name"));
                let status = std::process::Command::new("ffmpeg")
                    .args(["-v", "error", "-y", "-i"])
                    .arg(w)
                    .args(&opts)
                    .arg(&dst)
                    .status()
                    .expect("ffmpeg is needed for this benchmark (run ci/setup.sh)");
                assert!(status.success(), "ffmpeg failed on {}", w.display());
                dst
            })
            .collect();
        sets.push((label, files));
    }

    println!(
        "analyzer benchmark: {} demo tracks, {cores} cores",
        specs.len()
    );
    for (label, files) in &sets {
        // Warm the page cache and the FFT planners once.
        let _ = timed(&files[..1], 1, analyse);
        let (dec_s, audio_s) = timed(files, cores, decode_only);
        let (full_s, _) = timed(files, cores, analyse);
        let (one_s, _) = timed(files, 1, analyse);
        let (loud_s, _) = timed(files, cores, decode_and_loudness);
        println!(
            "{label:>4}: {audio_s:.0} s of audio | (a) full analysis {:.0} s audio/s on {cores} cores \
             | (b) full / decode-only = {:.2} (decode-only {:.0} s audio/s) | (c) {cores} threads vs 1: {:.2}x \
             | (e) decode + R128 meter alone / decode-only = {:.2}",
            audio_s / full_s,
            full_s / dec_s,
            audio_s / dec_s,
            one_s / full_s,
            loud_s / dec_s
        );
    }

    let cached = dir.path().join("cached");
    let n = support::fake_cached_catalog(&cached, 1000);
    let t = Instant::now();
    let report = analyze::run(&cached, &Silent).expect("re-run");
    let rerun = t.elapsed().as_secs_f64();
    assert_eq!(report.analysed, 0, "nothing decoded");
    assert_eq!(report.cached, n);
    println!(
        "(d) re-run over {n} cached rows: {:.0} ms, {} decoded",
        rerun * 1000.0,
        report.analysed
    );
}

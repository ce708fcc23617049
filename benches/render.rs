//! Render speed, as ratios measured in one run on this machine:
//!
//! - (a) programme seconds rendered per wall-second (one rendition, all cores);
//! - (b) the whole render against bare libopus encoding of the same PCM with
//!   the same settings and the same parallel chunks (the floor): target ≤ 1.15;
//! - (b') the same against encoding plus decoding every packet: the codec
//!   work of a render that checks each chunk's decoded true peak (chunks
//!   near the ceiling, which in loudness-normalised music is nearly all of
//!   them), so what the render adds beyond the codec is shown apart from
//!   what the check costs;
//! - (c) an ffmpeg pipeline producing the same kind of output from the same
//!   tracks (decode, loudness gain, acrossfade, libopus, DASH muxer): target
//!   lofiever ≥ 2× faster;
//! - (d) scaling: all cores against one thread.
//!
//! Run: `cargo bench --bench render` (MINUTES=20 and REPEAT=3 by default:
//! each figure is the best of REPEAT runs taken in turns). The window starts
//! at a fixed instant, [`NOW`] (override with `NOW=<RFC 3339>`), so every run
//! renders the same audio and figures from different runs compare.

use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Utc};
use lofiever::job::{self, Window};
use lofiever::progress::Silent;
use lofiever::render::{self, CatalogAudio};
use lofiever::time::{ChunkIndex, SampleCount};
use rayon::prelude::*;

/// Where the benchmarked window starts unless `NOW` is set: a fixed
/// afternoon, so the schedule (and so the audio) is the same on every run.
const NOW: &str = "2026-06-01T15:00:00Z";

const TOML: &str = r#"
[station]
name = "bench"
epoch = "2026-01-01T00:00:00Z"
[stream]
bitrates_kbps = [96]
opus_complexity = 10
chunk_segments = 30
"#;

fn main() {
    let minutes: u64 = std::env::var("MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(20);
    let now_text = std::env::var("NOW").unwrap_or_else(|_| NOW.to_string());
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&now_text)
        .expect("NOW is an RFC 3339 time, e.g. 2026-06-01T15:00:00Z")
        .with_timezone(&Utc);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("pipeline")).expect("mkdir");
    std::fs::write(dir.path().join("pipeline/station.toml"), TOML).expect("config");
    let station =
        lofiever::Station::load(&dir.path().join("pipeline/station.toml"), now).expect("station");
    let specs = lofiever::demo::synth::demo_catalog(1);
    lofiever::demo::write_catalog(&station.catalog_dir.join("demo"), &specs, &Silent)
        .expect("catalog");

    // Analyse and schedule (not timed).
    let (_, tracks) = job::analyze_and_tracks(&station, &Silent).expect("analyze");
    let ahead = SampleCount::from_secs(minutes * 60).expect("small");
    let mut schedule = lofiever::schedule::Schedule::default();
    job::extend_schedule(&station, &mut schedule, &tracks, now, ahead).expect("schedule");
    let window = Window {
        now,
        ahead,
        force: true,
    };
    // Exactly the programme ahead of now: a fresh station's run also renders
    // the seek-back window behind it, which is not what this measures.
    let wanted = job::wanted_segments(&station, &window).expect("window");
    let now_segment = station
        .grid
        .segment_of(station.epoch.sample_at(now).expect("after the epoch"));
    // Whole chunks only: the render encodes whole chunks, so a window that
    // ends mid-chunk would charge the render for audio it encodes but does
    // not count, and the floor below compares the same PCM.
    let first_chunk = station.grid.chunk_of(now_segment);
    let end_chunk = station.grid.chunk_of(wanted.end);
    assert!(
        end_chunk.0 > first_chunk.0,
        "MINUTES too small for one chunk"
    );
    let wanted = station
        .grid
        .chunk_segment_range(first_chunk)
        .expect("chunk")
        .start
        ..station
            .grid
            .chunk_segment_range(end_chunk)
            .expect("chunk")
            .start;
    let catalog = station.catalog_dir.clone();
    let make =
        move || -> Box<dyn render::mix::TrackAudio> { Box::new(CatalogAudio::new(&catalog)) };

    // Each timing is the best of REPEAT runs, taken in turns, so a burst
    // of load from other processes skews no single measure.
    let repeat: usize = std::env::var("REPEAT")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(3)
        .max(1);

    // (a) the whole render, all cores.
    let out = dir.path().join("out");
    let render_once = || {
        let t = Instant::now();
        let summary = render::run(
            &station,
            &schedule,
            &make,
            &out,
            wanted.clone(),
            true,
            &Silent,
        )
        .expect("render");
        (t.elapsed().as_secs_f64(), summary)
    };
    let (mut t_render, summary) = render_once();
    let rendered = summary.window.clone().expect("rendered");
    let seg_s = station.grid.segment_duration().0 as f64 / 48_000.0;
    let programme_s = (rendered.end.0 - rendered.start.0) as f64 * seg_s;

    // (b) the floor: the same chunks' PCM (priming included), encoded by
    // bare libopus in parallel; PCM prepared outside the timing.
    let lookahead = render::encoder_lookahead(&station).expect("encoder");
    let first = station.grid.chunk_of(rendered.start).0;
    let last = station
        .grid
        .chunk_of(lofiever::time::SegmentNumber(rendered.end.0 - 1))
        .0;
    let t = Instant::now();
    let pcms: Vec<Vec<f32>> = (first..=last)
        .into_par_iter()
        .map(|k| {
            let r = station.grid.chunk_range(ChunkIndex(k)).expect("range");
            let mut audio = CatalogAudio::new(&station.catalog_dir);
            let mut pcm = Vec::new();
            render::programme_for_encoding(
                &station, &schedule, &mut audio, r.start.0, r.end.0, lookahead, &mut pcm,
            )
            .expect("pcm");
            pcm
        })
        .collect();
    let t_prep = t.elapsed().as_secs_f64();
    let floor_once = || {
        let t = Instant::now();
        let bytes: usize = pcms
            .par_iter()
            .map(|pcm| {
                let mut enc = render::encode::OpusEncoder::new(96_000, 10).expect("encoder");
                pcm.chunks_exact(1920)
                    .map(|f| enc.encode_frame(f).expect("encode").len())
                    .sum::<usize>()
            })
            .sum();
        (t.elapsed().as_secs_f64(), bytes)
    };
    let (mut t_floor, bytes) = floor_once();
    // (b') the floor of a render that keeps the decoded true peak under the
    // ceiling: the same encoding, plus libopus decoding every packet, as the
    // render's check does for every chunk near the ceiling (all of them
    // here). What the render adds beyond the codec work it must do.
    let codec_once = || {
        let t = Instant::now();
        let samples: usize = pcms
            .par_iter()
            .map(|pcm| {
                let mut enc = render::encode::OpusEncoder::new(96_000, 10).expect("encoder");
                let packets: Vec<Vec<u8>> = pcm
                    .chunks_exact(1920)
                    .map(|f| enc.encode_frame(f).expect("encode"))
                    .collect();
                let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).expect("decoder");
                let mut out = vec![0f32; 5760 * 2];
                packets
                    .iter()
                    .map(|p| dec.decode_float(p, &mut out, false).expect("decode"))
                    .sum::<usize>()
            })
            .sum();
        (t.elapsed().as_secs_f64(), samples)
    };
    let (mut t_codec, decoded_samples) = codec_once();
    let floor_programme_s =
        (last - first + 1) as f64 * station.grid.chunk_duration().0 as f64 / 48_000.0;
    assert_eq!(
        floor_programme_s, programme_s,
        "the floor encodes the render's chunks"
    );

    // (d) one thread.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let out1 = dir.path().join("out1");
    let one_once = || {
        let t = Instant::now();
        pool.install(|| {
            render::run(
                &station,
                &schedule,
                &make,
                &out1,
                wanted.clone(),
                true,
                &Silent,
            )
        })
        .expect("render");
        t.elapsed().as_secs_f64()
    };
    let mut t_one = one_once();

    // (c) ffmpeg: the scheduled items, trimmed to their cues, gained,
    // crossfaded, encoded with libopus and muxed to DASH.
    let items = schedule.overlapping(
        station.grid.segment_start(rendered.start).expect("start"),
        station.grid.segment_start(rendered.end).expect("end"),
    );
    let mut args: Vec<String> = vec!["-v".into(), "error".into(), "-y".into()];
    let mut filters = Vec::new();
    for (i, it) in items.iter().enumerate() {
        args.push("-i".into());
        args.push(station.catalog_dir.join(&it.track).display().to_string());
        filters.push(format!(
            "[{i}:a]aresample=48000,atrim=start_sample={}:end_sample={},volume={}dB[t{i}]",
            it.cue_in,
            it.cue_in + it.length,
            it.gain_db
        ));
    }
    let mut last_label = "t0".to_string();
    for (i, it) in items.iter().enumerate().skip(1) {
        let d = items[i - 1].fade_out.min(it.fade_in.max(1)) as f64 / 48_000.0;
        filters.push(format!(
            "[{last_label}][t{i}]acrossfade=d={d}:c1=qsin:c2=qsin[x{i}]"
        ));
        last_label = format!("x{i}");
    }
    let ff_dir = dir.path().join("ffmpeg");
    std::fs::create_dir_all(&ff_dir).expect("mkdir");
    args.extend([
        "-filter_complex".into(),
        filters.join(";"),
        "-map".into(),
        format!("[{last_label}]"),
        "-c:a".into(),
        "libopus".into(),
        "-b:a".into(),
        "96k".into(),
        "-compression_level".into(),
        "10".into(),
        "-frame_duration".into(),
        "20".into(),
        "-f".into(),
        "dash".into(),
        "-seg_duration".into(),
        "2".into(),
        "-use_template".into(),
        "1".into(),
        "-use_timeline".into(),
        "0".into(),
        ff_dir.join("stream.mpd").display().to_string(),
    ]);
    let ff_programme_s: f64 = items.iter().map(|it| it.length as f64).sum::<f64>() / 48_000.0
        - items
            .iter()
            .skip(1)
            .map(|it| it.fade_in as f64 / 48_000.0)
            .sum::<f64>();
    let ffmpeg_once = || {
        let t = Instant::now();
        let status = Command::new("ffmpeg")
            .args(&args)
            .status()
            .expect("run ffmpeg");
        assert!(status.success(), "ffmpeg pipeline failed");
        t.elapsed().as_secs_f64()
    };
    let mut t_ffmpeg = ffmpeg_once();
    for _ in 1..repeat {
        t_render = t_render.min(render_once().0);
        t_floor = t_floor.min(floor_once().0);
        t_codec = t_codec.min(codec_once().0);
        t_ffmpeg = t_ffmpeg.min(ffmpeg_once());
        t_one = t_one.min(one_once());
    }

    let threads = rayon::current_num_threads();
    let ours = programme_s / t_render;
    let theirs = ff_programme_s / t_ffmpeg;
    println!(
        "render benchmark ({minutes} min of programme from {now_text}, 96 kb/s, complexity 10, {threads} threads, best of {repeat})"
    );
    println!("  (a) lofiever render:          {programme_s:7.0} s of programme in {t_render:6.2} s = {ours:6.1} x real time");
    println!("  (b) bare libopus (floor):     {:7.0} s in {t_floor:6.2} s ({bytes} bytes); render / floor = {:.3}",
        floor_programme_s, t_render / t_floor);
    println!("  (b') encode + decode (floor of a checked render): {:7.0} s decoded in {t_codec:6.2} s; render / this floor = {:.3}",
        decoded_samples as f64 / 48_000.0, t_render / t_codec);
    println!("      decode + mix + limit alone (fresh decoders per chunk): {t_prep:6.2} s");
    println!("  (c) ffmpeg pipeline:          {ff_programme_s:7.0} s of programme in {t_ffmpeg:6.2} s = {theirs:6.1} x real time; lofiever / ffmpeg = {:.2}x",
        ours / theirs);
    println!(
        "  (d) one thread:               {t_one:6.2} s; speed-up on {threads} threads = {:.2}x",
        t_one / t_render
    );
}

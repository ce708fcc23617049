//! The analyzer's acceptance checks: accuracy on the synthetic ground truth
//! (tempo, key, exact duration, fade-out), loudness and true peak against
//! ffmpeg's `ebur128` filter (demo catalog and real music from Debian's
//! `asc-music` package when installed), every container and codec a station
//! owns, every kind of bad file, paths that escape the catalog, and the
//! incremental cache. Figures are printed (`--nocapture`) as well as
//! asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

use lofiever::analyze::{self, features::analyse_file, Features};
use lofiever::demo::synth::{self, TrackSpec};
use lofiever::progress::Silent;
use rayon::prelude::*;

use crate::util::{convert, ffmpeg, tool};

/// Tolerances of the loudness acceptance (vs ffmpeg's ebur128 filter).
const LUFS_TOLERANCE: f64 = 0.2;
const TRUE_PEAK_TOLERANCE_DB: f64 = 0.3;

/// Writes `spec` as a 16-bit WAV at `path`.
fn write_spec(spec: &TrackSpec, path: &Path) {
    let samples = synth::render(spec);
    let file = std::fs::File::create(path).expect("create wav");
    synth::write_wav(spec, &samples, std::io::BufWriter::new(file)).expect("write wav");
}

/// Frames at 48 kHz that `frames` source frames at `rate` resample to:
/// `round(frames · 48000 / rate)` (src/audio).
fn at_48k(frames: u64, rate: u32) -> u64 {
    (frames * 48_000 + u64::from(rate) / 2) / u64::from(rate)
}

/// A short ground-truth track (about 20 s) for format tests.
fn short_spec(sample_rate: u32) -> TrackSpec {
    let mut s = synth::ground_truth_catalog(8, 11)[2].clone();
    s.bars = (20.0 * s.bpm / 240.0).round() as u32;
    s.sample_rate = sample_rate;
    s
}

#[test]
fn ground_truth_tempo_key_duration_and_fade() {
    let specs = synth::ground_truth_catalog(48, 2026);
    let keys: std::collections::BTreeSet<_> = specs.iter().map(|s| s.key).collect();
    assert_eq!(keys.len(), 24, "the catalog covers all 24 keys");
    let dir = tempfile::tempdir().expect("temp dir");
    let results: Vec<(TrackSpec, Features)> = specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| {
            let path = dir.path().join(format!("{i:02}.wav"));
            write_spec(spec, &path);
            let f = analyse_file(&path).expect("ground-truth tracks analyse");
            std::fs::remove_file(&path).expect("remove");
            (spec.clone(), f)
        })
        .collect();
    let n = results.len() as f64;
    let (mut tempo_ok, mut key_ok, mut camelot_ok, mut duration_ok) = (0u32, 0u32, 0u32, 0u32);
    let mut worst_tempo: f64 = 0.0;
    let mut worst_fade: f64 = 0.0;
    for (spec, f) in &results {
        let err = (f.tempo_bpm - spec.bpm).abs() / spec.bpm;
        worst_tempo = worst_tempo.max(err);
        tempo_ok += u32::from(err <= 0.02);
        key_ok += u32::from(f.key == spec.key.name());
        camelot_ok += u32::from(f.camelot == spec.key.camelot().to_string());
        let expected = at_48k(spec.total_frames(), spec.sample_rate);
        duration_ok += u32::from(f.duration_samples == expected);
        if f.key != spec.key.name() || err > 0.02 || f.duration_samples != expected {
            println!(
                "miss: {} -> {:.2} BPM, {}, {} frames (want {expected})",
                spec.title, f.tempo_bpm, f.key, f.duration_samples
            );
        }
        let fade_frames = u64::from(spec.fade_ms) * u64::from(spec.sample_rate) / 1000;
        let true_fade = (spec.lead_frames() + spec.music_frames() - fade_frames) as f64
            / f64::from(spec.sample_rate);
        worst_fade = worst_fade.max((f.fade_out_start as f64 / 48_000.0 - true_fade).abs());
        assert!(f.cue_in <= f.fade_out_start && f.fade_out_start <= f.cue_out);
        let lead = at_48k(spec.lead_frames(), spec.sample_rate);
        let music_end = at_48k(spec.lead_frames() + spec.music_frames(), spec.sample_rate);
        assert!(f.cue_in >= lead.saturating_sub(48) && f.cue_in < lead + 48_000);
        assert!(f.cue_out <= music_end + 48 && f.cue_out + 48_000 > music_end);
        assert!(f.tempo_confidence > 0.3 && f.key_confidence > 0.3, "{f:?}");
        assert!(
            f.centroid_hz > 100.0 && f.rolloff_hz > f.centroid_hz,
            "{f:?}"
        );
        assert!(f.flatness > 0.0 && f.flatness < 0.5, "{f:?}");
        assert!(f.onset_rate > 1.0 && f.onset_rate < 10.0, "{f:?}");
        assert!(f.energy_db < 0.0 && f.energy_spread_db >= 0.0, "{f:?}");
        assert!(
            f.loudness_range_lu >= 0.0 && f.loudness_range_lu < 20.0,
            "{f:?}"
        );
    }
    println!(
        "ground truth ({} tracks, 65-100 BPM, all 24 keys): tempo within 2 %: {:.1} % \
         (worst error {:.2} %), key exact: {:.1} %, Camelot exact: {:.1} %, \
         duration exact to the sample: {:.1} %, fade-out start worst error {:.2} s",
        results.len(),
        100.0 * f64::from(tempo_ok) / n,
        100.0 * worst_tempo,
        100.0 * f64::from(key_ok) / n,
        100.0 * f64::from(camelot_ok) / n,
        100.0 * f64::from(duration_ok) / n,
        worst_fade
    );
    assert!(f64::from(tempo_ok) >= 0.95 * n, "tempo accuracy below 95 %");
    assert!(f64::from(key_ok) >= 0.90 * n, "key accuracy below 90 %");
    assert_eq!(duration_ok as usize, results.len(), "every duration exact");
    assert!(worst_fade <= 1.5, "fade-out start within 1.5 s");
}

/// ffmpeg's loudness of `path` as lofiever hears it: decoded, clipped to
/// full scale (symphonia's MP3 decoder clamps its output to ±1; so does
/// this reference, via 16-bit), folded to stereo and resampled to 48 kHz,
/// then `ebur128=peak=true`. Returns (integrated LUFS, true peak dBTP).
fn ffmpeg_loudness(path: &Path, clip: bool) -> (f64, f64) {
    let chain = format!(
        "{}aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo,ebur128=peak=true",
        if clip { "aformat=sample_fmts=s16," } else { "" }
    );
    let out = Command::new(tool("ffmpeg"))
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", &chain, "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    // The summary is at the end: "I:  -19.6 LUFS" … "Peak:  -3.1 dBFS".
    let summary = text.rsplit("Summary:").next().unwrap_or("");
    let value = |label: &str| -> f64 {
        summary
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in ffmpeg's summary:\n{text}"))
    };
    (value("I:"), value("Peak:"))
}

fn check_loudness(label: &str, files: &[PathBuf], clip: bool) {
    let rows: Vec<(String, f64, f64, f64, f64)> = files
        .par_iter()
        .map(|p| {
            let f = analyse_file(p).expect("analyse");
            let (i, tp) = ffmpeg_loudness(p, clip);
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                f.loudness_lufs,
                i,
                f.true_peak_dbtp,
                tp,
            )
        })
        .collect();
    let mut worst = (0.0f64, 0.0f64);
    for (name, ours_i, ff_i, ours_tp, ff_tp) in &rows {
        println!(
            "{label}: {name}: {ours_i:.2} LUFS (ffmpeg {ff_i:.1}), true peak {ours_tp:.2} dBTP (ffmpeg {ff_tp:.1})"
        );
        worst.0 = worst.0.max((ours_i - ff_i).abs());
        worst.1 = worst.1.max((ours_tp - ff_tp).abs());
    }
    println!(
        "{label}: {} files, worst |ΔI| {:.2} LU, worst |ΔTP| {:.2} dB (ffmpeg prints one decimal)",
        rows.len(),
        worst.0,
        worst.1
    );
    assert!(
        worst.0 <= LUFS_TOLERANCE,
        "{label}: integrated loudness off by {:.2} LU",
        worst.0
    );
    assert!(
        worst.1 <= TRUE_PEAK_TOLERANCE_DB,
        "{label}: true peak off by {:.2} dB",
        worst.1
    );
}

#[test]
fn loudness_matches_ffmpeg_on_the_demo_catalog() {
    let dir = tempfile::tempdir().expect("temp dir");
    let specs = synth::demo_catalog(1);
    let files = lofiever::demo::write_catalog(dir.path(), &specs, &Silent).expect("demo catalog");
    check_loudness("demo catalog", &files, false);
}

/// Real music: the three MP3s of Debian's `asc-music` (install it with
/// `apt-get install asc-music`; `ci/setup.sh` does).
#[test]
fn loudness_matches_ffmpeg_on_real_music() {
    let dir = Path::new("/usr/share/games/asc/music");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install real music with `apt-get install asc-music`",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "mp3"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no MP3s in {}", dir.display());
    check_loudness("asc-music (real MP3s)", &files, true);
}

#[test]
fn every_format_decodes_to_the_same_music() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = short_spec(44_100);
    let wav = dir.path().join("source.wav");
    write_spec(&spec, &wav);
    let reference = analyse_file(&wav).expect("source analyses");
    let frames_44k = spec.total_frames();
    // (file, ffmpeg options, exact length at 48 kHz if lossless)
    let cases: Vec<(&str, Vec<&str>, Option<u64>)> = vec![
        ("flac16.flac", vec![], Some(at_48k(frames_44k, 44_100))),
        (
            "flac24_96k.flac",
            vec!["-ar", "96000", "-sample_fmt", "s32"],
            None,
        ),
        ("mono_8k.wav", vec!["-ar", "8000", "-ac", "1"], None),
        (
            "hi_192k.wav",
            vec!["-ar", "192000", "-c:a", "pcm_s24le"],
            None,
        ),
        (
            "float.wav",
            vec!["-c:a", "pcm_f32le"],
            Some(at_48k(frames_44k, 44_100)),
        ),
        ("aiff.aiff", vec![], Some(at_48k(frames_44k, 44_100))),
        ("mp3.mp3", vec!["-b:a", "192k"], None),
        ("vorbis.ogg", vec!["-c:a", "libvorbis"], None),
        ("opus.opus", vec!["-c:a", "libopus", "-b:a", "128k"], None),
        ("aac.m4a", vec!["-c:a", "aac", "-b:a", "192k"], None),
        (
            "alac.m4a",
            vec!["-c:a", "alac"],
            Some(at_48k(frames_44k, 44_100)),
        ),
        (
            "surround51.flac",
            vec![
                "-af",
                "pan=5.1|FL=c0|FR=c1|FC=0.5*c0+0.5*c1|LFE=0*c0|BL=c0|BR=c1",
            ],
            Some(at_48k(frames_44k, 44_100)),
        ),
        (
            "surround51.opus",
            vec![
                "-af",
                "pan=5.1|FL=c0|FR=c1|FC=0.5*c0+0.5*c1|LFE=0*c0|BL=c0|BR=c1",
                "-c:a",
                "libopus",
            ],
            None,
        ),
    ];
    let seconds = |frames: u64| frames as f64 / 48_000.0;
    for (name, opts, exact) in &cases {
        let path = dir.path().join(name);
        convert(&wav, &path, opts);
        let f = analyse_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dur_err = seconds(f.duration_samples) - seconds(reference.duration_samples);
        println!(
            "{name:<18} codec {:<10} {} ch {:>6} Hz: length {:+.4} s, {:.2} LUFS ({:+.2}), {:.2} BPM, {} ({})",
            f.codec,
            f.source_channels,
            f.source_rate,
            dur_err,
            f.loudness_lufs,
            f.loudness_lufs - reference.loudness_lufs,
            f.tempo_bpm,
            f.key,
            f.camelot
        );
        if let Some(exact) = exact {
            assert_eq!(f.duration_samples, *exact, "{name}: exact length");
        } else {
            // Lossy codecs end on a whole packet (or, for AAC in MP4, on
            // the edit list's millisecond).
            assert!(dur_err.abs() < 0.06, "{name}: length off by {dur_err} s");
        }
        assert_eq!(f.key, reference.key, "{name}: key");
        assert!(
            (f.tempo_bpm - reference.tempo_bpm).abs() / reference.tempo_bpm < 0.01,
            "{name}: tempo {} vs {}",
            f.tempo_bpm,
            reference.tempo_bpm
        );
        // Surround folds add the centre and surrounds; 8 kHz loses the top.
        let level_tolerance = if name.starts_with("surround") {
            4.0
        } else {
            1.0
        };
        assert!(
            (f.loudness_lufs - reference.loudness_lufs).abs() < level_tolerance,
            "{name}: loudness {} vs {}",
            f.loudness_lufs,
            reference.loudness_lufs
        );
    }
}

/// The lag (in frames, `b` behind `a` when positive) at which the left
/// channels of `a` and `b` (interleaved stereo) correlate best, over half a
/// second from 1 s in, searching ±`range` frames.
fn best_lag(a: &[f32], b: &[f32], range: i64) -> i64 {
    let (from, len) = (48_000i64, 24_000i64);
    (-range..=range)
        .map(|lag| {
            let dot: f64 = (from..from + len)
                .map(|t| f64::from(a[(2 * t) as usize]) * f64::from(b[(2 * (t + lag)) as usize]))
                .sum();
            (lag, dot)
        })
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(0, |(lag, _)| lag)
}

#[test]
fn aac_in_mp4_drops_its_priming_as_players_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = short_spec(48_000);
    let wav = dir.path().join("source.wav");
    write_spec(&spec, &wav);
    let m4a = dir.path().join("aac.m4a");
    convert(&wav, &m4a, &["-c:a", "aac", "-b:a", "192k"]);
    // ffmpeg applies the edit list: its decode is what players play.
    // ffmpeg drops the priming the edit list states (it keeps the end
    // padding of the last packet).
    let theirs = crate::util::ffmpeg_decode(&m4a);
    let decode = |path: &Path| {
        lofiever::audio::Decoder48::open(path)
            .and_then(|mut d| d.decode_all(60 * 48_000))
            .expect("decode")
    };
    let ours = decode(&m4a);
    let source = decode(&wav);
    let frames = |pcm: &[f32]| pcm.len() as i64 / 2;
    println!(
        "AAC in M4A: {} frames decoded, source {}, ffmpeg {}",
        frames(&ours),
        frames(&source),
        frames(&theirs)
    );
    // The music starts at the same frame as the source and as ffmpeg's
    // decode (the priming is 1024 frames)...
    let lag = best_lag(&source, &ours, 2_000);
    assert!(lag.abs() <= 1, "our decode is {lag} frames off the source");
    let lag = best_lag(&theirs, &ours, 2_000);
    assert!(lag.abs() <= 1, "our decode is {lag} frames off ffmpeg's");
    // ...and ends with it, to the edit list's millisecond (ffmpeg's MP4
    // muxer writes the length in ms).
    assert!(
        (frames(&ours) - frames(&source)).abs() <= 48,
        "length {} vs the source's {}",
        frames(&ours),
        frames(&source)
    );
}

#[test]
fn aac_rows_measured_before_the_edit_list_fix_are_measured_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cat = dir.path().join("catalog");
    std::fs::create_dir_all(&cat).expect("mkdir");
    let wav = dir.path().join("source.wav");
    write_spec(&short_spec(48_000), &wav);
    convert(&wav, &cat.join("a.m4a"), &["-c:a", "aac"]);
    convert(&wav, &cat.join("b.flac"), &[]);
    let first = analyze::run(&cat, &Silent).expect("run");
    assert_eq!((first.analysed, first.tracks.len()), (2, 2));
    // Rows as an older lofiever wrote them: decoder revision 0 (the
    // analyzer's revision is today's).
    let csv = cat.join("features.csv");
    let text = std::fs::read_to_string(&csv).expect("features.csv");
    let header = text.lines().next().expect("header");
    assert!(
        header.ends_with(",decoder_revision,analyzer_revision"),
        "{header}"
    );
    let now = format!(",1,{}", analyze::ANALYZER_REVISION);
    let old: String = text
        .lines()
        .map(|l| match l.strip_suffix(now.as_str()) {
            Some(row) => format!("{row},0,{}\n", analyze::ANALYZER_REVISION),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&csv, old).expect("write");
    let again = analyze::run(&cat, &Silent).expect("run");
    assert_eq!(again.analysed, 1, "only the AAC file is measured again");
    assert_eq!(again.cached, 1, "the FLAC row is still good");
    let aac = again
        .tracks
        .iter()
        .find(|t| t.codec == "aac")
        .expect("aac row");
    assert_eq!(aac.decoder_revision, lofiever::audio::DECODER_REVISION);
}

/// A row measured by an earlier analyzer (revision 0: before key detection
/// changed) is measured again, whatever its codec; today's rows are kept.
#[test]
fn rows_from_an_earlier_analyzer_are_measured_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cat = dir.path().join("catalog");
    std::fs::create_dir_all(&cat).expect("mkdir");
    let wav = dir.path().join("source.wav");
    write_spec(&short_spec(48_000), &wav);
    convert(&wav, &cat.join("a.flac"), &[]);
    convert(&wav, &cat.join("b.ogg"), &["-c:a", "libvorbis"]);
    let first = analyze::run(&cat, &Silent).expect("run");
    assert_eq!((first.analysed, first.tracks.len()), (2, 2));
    let csv = cat.join("features.csv");
    let text = std::fs::read_to_string(&csv).expect("features.csv");
    let now = format!(",{}", analyze::ANALYZER_REVISION);
    // The FLAC row as an older lofiever wrote it.
    let old: String = text
        .lines()
        .map(|l| match l.strip_suffix(now.as_str()) {
            Some(row) if l.starts_with("a.flac,") => format!("{row},0\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_ne!(old, text, "no row of a.flac in {text}");
    std::fs::write(&csv, old).expect("write");
    let again = analyze::run(&cat, &Silent).expect("run");
    assert_eq!((again.analysed, again.cached), (1, 1), "{again:?}");
    assert!(again
        .tracks
        .iter()
        .all(|t| t.analyzer_revision == analyze::ANALYZER_REVISION));
}

#[test]
fn tags_are_read_from_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("source.wav");
    write_spec(&short_spec(48_000), &wav);
    for ext in ["mp3", "flac", "ogg", "opus", "m4a"] {
        let path = dir.path().join(format!("tagged.{ext}"));
        convert(
            &wav,
            &path,
            &[
                "-metadata",
                "artist=Tape Fox",
                "-metadata",
                "title=Rain Loop",
                "-metadata",
                "album=Night Shift",
            ],
        );
        let f = analyse_file(&path).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(
            (
                f.tag_artist.as_str(),
                f.tag_title.as_str(),
                f.tag_album.as_str()
            ),
            ("Tape Fox", "Rain Loop", "Night Shift"),
            "{ext}"
        );
    }
}

/// A catalog with every kind of bad file, and one good track.
#[test]
fn bad_files_are_reported_and_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cat = dir.path();
    let good = cat.join("good.wav");
    write_spec(&short_spec(48_000), &good);
    // Zero bytes.
    std::fs::write(cat.join("empty.mp3"), b"").expect("write");
    // Truncated: a FLAC and a WAV cut to 40 % of their bytes.
    for (name, opts) in [("truncated.flac", vec![]), ("truncated.wav", vec![])] {
        let full = dir.path().join(format!("full-{name}"));
        convert(&good, &full, &opts);
        let bytes = std::fs::read(&full).expect("read");
        std::fs::write(cat.join(name), &bytes[..bytes.len() * 2 / 5]).expect("write");
        std::fs::remove_file(&full).expect("rm");
    }
    // Random bytes with audio extensions.
    let mut state = 0x1234_5678_9abc_def0u64;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for ext in ["mp3", "flac", "wav", "ogg", "m4a"] {
        std::fs::write(cat.join(format!("random.{ext}")), &noise).expect("write");
    }
    // Unsupported codecs: AC-3 in MP4, G.726 in WAV.
    let ac3 = cat.join("ac3.m4a");
    convert(&good, &ac3, &["-c:a", "ac3"]);
    convert(
        &good,
        &cat.join("g726.wav"),
        &["-ar", "8000", "-ac", "1", "-c:a", "adpcm_g726"],
    );
    // A one-second clip.
    convert(&good, &cat.join("clip.flac"), &["-t", "1"]);
    // A three-hour mix: a quiet 8 kHz mono tone, cheap to make and store.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=220:r=8000:d=10800",
        "-af",
        "volume=0.05",
        "-ac",
        "1",
        cat.join("three_hours.flac").to_str().expect("utf-8"),
    ]);
    // Silence, and near-silence below the −60 dBFS threshold.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=stereo",
        "-t",
        "30",
        cat.join("silence.wav").to_str().expect("utf-8"),
    ]);
    // A WAV whose header claims 4 GB of audio but that holds 1 s.
    let liar = cat.join("liar.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:r=44100",
        "-t",
        "1",
        "-ac",
        "2",
        liar.to_str().expect("utf-8"),
    ]);
    let mut bytes = std::fs::read(&liar).expect("read wav");
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    bytes[data + 4..data + 8].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
    bytes[4..8].copy_from_slice(&0xFFFF_FFF8u32.to_le_bytes());
    std::fs::write(&liar, &bytes).expect("write wav");

    let report = analyze::run(cat, &Silent).expect("the run goes on");
    let reason = |path: &str| -> String {
        report
            .failures
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.reason.clone())
            .unwrap_or_else(|| panic!("{path} has no failure row: {:#?}", report.failures))
    };
    for f in &report.failures {
        println!("{}: {}", f.path, f.reason);
    }
    assert!(reason("empty.mp3").contains("empty"));
    assert!(reason("truncated.flac").contains("truncated"));
    assert!(reason("truncated.wav").contains("truncated"));
    for ext in ["mp3", "flac", "wav", "ogg", "m4a"] {
        let r = reason(&format!("random.{ext}"));
        assert!(!r.is_empty());
    }
    assert!(reason("ac3.m4a").contains("unsupported"));
    assert!(reason("g726.wav").contains("unsupported"));
    assert!(reason("clip.flac").contains("too short"));
    let long = reason("three_hours.flac");
    assert!(
        long.contains("too long") && long.contains("180 min"),
        "{long}"
    );
    assert!(reason("silence.wav").contains("silence"));
    let liar = reason("liar.wav");
    assert!(
        liar.starts_with("broken: its header declares") && !liar.contains("too long"),
        "{liar}"
    );
    assert_eq!(report.tracks.len(), 1, "only the good track is usable");
    assert_eq!(report.tracks[0].path, "good.wav");

    // Both reports are on disk; the failure rows come back from the cache
    // on the next run without decoding anything again.
    let errors = std::fs::read_to_string(cat.join(analyze::ERRORS_FILE)).expect("errors csv");
    assert!(errors.starts_with("path,hash,size,reason"));
    assert_eq!(errors.lines().count(), report.failures.len() + 1);
    let again = analyze::run(cat, &Silent).expect("second run");
    assert_eq!(again.analysed, 0, "nothing is decoded twice");
    assert_eq!(again.failures.len(), report.failures.len());
}

/// No input panics: every format cut at many points, and noise behind
/// real headers.
#[test]
fn damaged_files_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spec = short_spec(44_100);
    spec.bars = 4;
    let wav = dir.path().join("source.wav");
    write_spec(&spec, &wav);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes = 0;
    for (ext, opts) in [
        ("wav", vec![]),
        ("flac", vec![]),
        ("mp3", vec![]),
        ("ogg", vec!["-c:a", "libvorbis"]),
        ("opus", vec!["-c:a", "libopus"]),
        ("m4a", vec!["-c:a", "aac"]),
        ("aiff", vec![]),
    ] {
        let path = dir.path().join(format!("whole.{ext}"));
        convert(&wav, &path, &opts);
        let bytes = std::fs::read(&path).expect("read");
        let bad = dir.path().join(format!("bad.{ext}"));
        for cut in [1, 4, 12, 44, 100, 1000, bytes.len() / 3, bytes.len() - 1] {
            std::fs::write(&bad, &bytes[..cut.min(bytes.len())]).expect("write");
            let _ = analyse_file(&bad);
            outcomes += 1;
        }
        // Flip bytes after the first kilobyte.
        for _ in 0..4 {
            let mut damaged = bytes.clone();
            for _ in 0..50 {
                let at = 1024 + (next() as usize) % (damaged.len() - 1024);
                damaged[at] = next() as u8;
            }
            std::fs::write(&bad, &damaged).expect("write");
            let _ = analyse_file(&bad);
            outcomes += 1;
        }
    }
    println!("{outcomes} damaged files analysed without a panic");
}

#[test]
fn paths_that_escape_the_catalog_are_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let cat = root.path().join("catalog");
    std::fs::create_dir_all(cat.join("sub")).expect("mkdir");
    let outside = root.path().join("outside.wav");
    write_spec(&short_spec(48_000), &outside);
    std::fs::copy(&outside, cat.join("sub/inside.wav")).expect("copy");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, cat.join("link_out.wav")).expect("symlink");
        std::os::unix::fs::symlink(root.path(), cat.join("dir_out")).expect("symlink");
        std::os::unix::fs::symlink(cat.join("sub/inside.wav"), cat.join("link_in.wav"))
            .expect("symlink");
    }
    std::fs::write(
        cat.join("catalog.csv"),
        format!(
            "path,artist,title\n../outside.wav,A,B\n{},A,B\nsub/../../outside.wav,A,B\nsub/inside.wav,Good,Track\n",
            outside.display()
        ),
    )
    .expect("csv");
    let report = analyze::run(&cat, &Silent).expect("run");
    let problems: Vec<String> = report
        .catalog_problems
        .iter()
        .map(|e| e.to_string())
        .collect();
    for p in &problems {
        println!("{p}");
    }
    let count = |needle: &str| problems.iter().filter(|p| p.contains(needle)).count();
    assert_eq!(count("leaves the catalog"), 3, "{problems:#?}");
    #[cfg(unix)]
    assert_eq!(count("symbolic link leads out"), 2, "{problems:#?}");
    let paths: Vec<&str> = report.tracks.iter().map(|t| t.path.as_str()).collect();
    assert!(paths.contains(&"sub/inside.wav"), "{paths:?}");
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("outside") && !p.contains("out")),
        "nothing outside is analysed: {paths:?}"
    );
}

#[test]
fn the_cache_is_incremental() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cat = dir.path();
    let a = cat.join("a.wav");
    let b = cat.join("b.wav");
    write_spec(&short_spec(48_000), &a);
    let mut other = short_spec(48_000);
    other.seed += 1;
    write_spec(&other, &b);
    let first = analyze::run(cat, &Silent).expect("run");
    assert_eq!(
        (first.analysed, first.cached, first.tracks.len()),
        (2, 0, 2)
    );
    let second = analyze::run(cat, &Silent).expect("run");
    assert_eq!((second.analysed, second.cached), (0, 2));
    assert_eq!(second.tracks, first.tracks, "the cache round-trips exactly");
    // A rename is recognised by its content hash.
    std::fs::rename(&b, cat.join("renamed.wav")).expect("rename");
    let third = analyze::run(cat, &Silent).expect("run");
    assert_eq!((third.analysed, third.cached), (0, 2));
    // Changed content is analysed again; removed files drop out.
    let mut changed = short_spec(48_000);
    changed.seed += 7;
    write_spec(&changed, &a);
    std::fs::remove_file(cat.join("renamed.wav")).expect("rm");
    let fourth = analyze::run(cat, &Silent).expect("run");
    assert_eq!((fourth.analysed, fourth.tracks.len()), (1, 1));
    let csv = std::fs::read_to_string(cat.join(analyze::FEATURES_FILE)).expect("csv");
    assert_eq!(csv.lines().count(), 2);
    for column in [
        "tempo_bpm",
        "tempo_confidence",
        "key",
        "key_confidence",
        "camelot",
        "loudness_range_lu",
        "energy_db",
        "energy_spread_db",
        "centroid_hz",
        "rolloff_hz",
        "flatness",
        "onset_rate",
        "fade_out_start",
    ] {
        assert!(
            csv.lines()
                .next()
                .is_some_and(|h| h.split(',').any(|c| c == column)),
            "{column}"
        );
    }
}

/// 1,000 cached rows: a re-run decodes nothing (the files are not even
/// audio, so decoding any would fail). Its speed is in `benches/analyze.rs`.
#[test]
fn a_thousand_cached_rows_decode_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rows = lofiever_analyze_bench_support::fake_cached_catalog(dir.path(), 1000);
    let report = analyze::run(dir.path(), &Silent).expect("run");
    assert_eq!(report.analysed, 0);
    assert_eq!(report.cached, rows);
    assert!(report.failures.is_empty());
    assert_eq!(report.tracks.len(), rows);
}

/// Shared with the benchmark: a catalog of `n` tiny non-audio files whose
/// rows are already in `features.csv`.
mod lofiever_analyze_bench_support {
    include!("../../benches/support/fake_cache.rs");
}

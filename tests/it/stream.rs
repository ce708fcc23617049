//! The rendered stream, checked with ffprobe/ffmpeg as an independent
//! decoder: codec parameters, tfdt = N·D, exactly D samples per segment, and
//! 30 consecutive segments decoding to exactly 30·D samples that match the
//! programme we meant to produce.

use std::process::Command;

use lofiever::package::fmp4::read_segment;
use lofiever::render::{self, CatalogAudio};
use lofiever::station::layout;
use lofiever::time::SegmentNumber;

use crate::util::{ffmpeg_decode, libopus_decode, rendered, tool};

fn segment_file(rendition: &str, n: u64) -> std::path::PathBuf {
    let r = rendered();
    r.station
        .root()
        .join("out")
        .join(layout::segment(rendition, SegmentNumber(n)))
}

fn now_segment() -> u64 {
    let s = rendered().station.station();
    // The render's own "now": a long test run may outlive its 4 minutes.
    let now = s.epoch.sample_at(rendered().now).expect("after epoch");
    s.grid.segment_of(now).0
}

/// Concatenates init + segments `[first, first+count)` into a temp MP4.
fn concat(rendition: &str, first: u64, count: u64) -> tempfile::NamedTempFile {
    let r = rendered();
    let mut bytes = std::fs::read(r.station.root().join("out").join(layout::init(rendition)))
        .expect("init segment exists");
    for n in first..first + count {
        bytes.extend(
            std::fs::read(segment_file(rendition, n))
                .unwrap_or_else(|e| panic!("segment {n}: {e}")),
        );
    }
    let f = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(f.path(), &bytes).expect("write");
    f
}

#[test]
fn ffprobe_reads_opus_48k_stereo() {
    let n = now_segment();
    for rendition in ["64k", "96k"] {
        let f = concat(rendition, n, 1);
        let out = Command::new(tool("ffprobe"))
            .args([
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=codec_name,sample_rate,channels",
                "-of",
                "default=nw=1",
            ])
            .arg(f.path())
            .output()
            .expect("run ffprobe");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("codec_name=opus"), "{text}");
        assert!(text.contains("sample_rate=48000"), "{text}");
        assert!(text.contains("channels=2"), "{text}");
    }
}

#[test]
fn segments_around_now_have_tfdt_n_times_d_and_exactly_d_samples() {
    let d = 96_000u64;
    let now = now_segment();
    for n in now - 2..=now + 2 {
        let bytes = std::fs::read(segment_file("96k", n)).expect("segment around now exists");
        let facts = read_segment(&bytes).expect("our own parser reads it");
        assert_eq!(facts.base_media_decode_time, n * d, "tfdt of segment {n}");
        assert_eq!(facts.duration(), d, "duration of segment {n}");
        assert_eq!(facts.sample_count(), 100);

        // Independently: ffprobe's packet timestamps (960 apart from N·D),
        // and ffmpeg's decoded sample count.
        let f = concat("96k", n, 1);
        let out = Command::new(tool("ffprobe"))
            .args([
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "packet=pts",
                "-of",
                "csv=p=0",
            ])
            .arg(f.path())
            .output()
            .expect("run ffprobe");
        let pts: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().parse().expect("numeric pts"))
            .collect();
        assert_eq!(pts.len(), 100, "packets in segment {n}");
        assert_eq!(pts[0], n * d, "first pts of segment {n} (ffprobe)");
        assert!(
            pts.windows(2).all(|w| w[1] - w[0] == 960),
            "packets 960 apart in segment {n}"
        );
        assert_eq!(
            ffmpeg_decode(f.path()).len() as u64,
            2 * d,
            "decoded samples of segment {n}"
        );
    }
}

#[test]
fn thirty_segments_decode_to_exactly_30_d_samples_matching_the_programme() {
    let r = rendered();
    let station = r.station.station();
    let window = r
        .summary
        .render
        .window
        .clone()
        .expect("something was rendered");
    assert!(
        window.end.0 - window.start.0 >= 30,
        "window {window:?} too short"
    );
    // Start on a chunk seam (chunks are 10 segments here) inside the window,
    // so the 30 segments cross several seams.
    let first = (window.start.0 / 10 + 1) * 10;
    assert!(first + 30 <= window.end.0);
    let f = concat("96k", first, 30);
    let decoded = ffmpeg_decode(f.path());
    assert_eq!(decoded.len(), 30 * 96_000 * 2, "decoded sample count");

    // Compare with the programme rendered straight through, no chunks.
    let schedule = r.station.schedule();
    let mut audio = CatalogAudio::new(&station.catalog_dir);
    let start = station
        .grid
        .segment_start(SegmentNumber(first))
        .expect("in range");
    let mut reference = Vec::new();
    render::programme(
        &station,
        &schedule,
        &mut audio,
        start.0 as i64,
        30 * 96_000,
        &mut reference,
    )
    .expect("programme");
    let snr = |a: &[f32], b: &[f32]| {
        let sig: f64 = b.iter().map(|&v| f64::from(v).powi(2)).sum();
        let err: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        10.0 * (sig / err.max(1e-20)).log10()
    };
    // Opus at 96 kb/s (complexity 5) against the unencoded programme
    // measured 19.9 dB over the 60 s and 12.5 dB in the worst second. A lost
    // segment (2 s of 60 silent) caps the whole run at 10·log10(30) = 14.8
    // dB whatever the codec does, and takes its seconds to 0 dB; a shift by
    // the encoder delay gives -4 dB (below). The thresholds sit between:
    // 16 dB for the run, 9 dB for every second (3.5 dB under the worst
    // measured second). A single lost packet is not for these to catch: the
    // exact sample count above is.
    const WHOLE_DB: f64 = 16.0;
    const WORST_SECOND_DB: f64 = 9.0;
    let worst_second = |decoded: &[f32]| {
        decoded
            .chunks(96_000)
            .zip(reference.chunks(96_000))
            .filter(|(_, r)| r.iter().any(|v| v.abs() > 0.01))
            .map(|(a, b)| snr(a, b))
            .fold(f64::INFINITY, f64::min)
    };
    let whole = snr(&decoded, &reference);
    assert!(
        whole > WHOLE_DB,
        "decoded audio does not match the programme: SNR {whole:.1} dB"
    );
    // Each second must match too: a gap or a misaligned seam would show here.
    let worst = worst_second(&decoded);
    assert!(
        worst > WORST_SECOND_DB,
        "a one-second stretch is off: worst SNR {worst:.1} dB (whole {whole:.1})"
    );
    // And both would catch a lost segment.
    let mut lost = decoded.clone();
    lost[10 * 96_000 * 2..11 * 96_000 * 2].fill(0.0);
    assert!(snr(&lost, &reference) < WHOLE_DB && worst_second(&lost) < WORST_SECOND_DB);
    // Shifting by the encoder delay must make it worse: the timing is exact.
    let shifted = snr(&decoded[624..], &reference[..reference.len() - 624]);
    eprintln!("programme match: whole {whole:.1} dB, worst second {worst:.1} dB, shifted by 624 samples {shifted:.1} dB");
    assert!(
        shifted < whole - 3.0,
        "alignment not sharp: {shifted:.1} vs {whole:.1} dB"
    );
}

#[test]
fn rerendering_gives_byte_identical_segments() {
    let r = rendered();
    let station = r.station.station();
    let window = r.summary.render.window.clone().expect("rendered");
    let schedule = r.station.schedule();
    let mut audio = CatalogAudio::new(&station.catalog_dir);
    let lookahead = render::encoder_lookahead(&station).expect("encoder");
    // A chunk in the middle of the window, rendered again from scratch.
    let k = station.grid.chunk_of(SegmentNumber(window.start.0 + 15));
    let again = render::render_chunk(
        &station,
        &schedule,
        &mut audio,
        k,
        lookahead,
        &mut Vec::new(),
    )
    .expect("render");
    let segs = station.grid.chunk_segment_range(k).expect("range");
    for (ri, rendition) in ["64k", "96k"].iter().enumerate() {
        for (i, n) in (segs.start.0..segs.end.0).enumerate() {
            if n < window.start.0 || n >= window.end.0 {
                continue;
            }
            let on_disk = std::fs::read(segment_file(rendition, n)).expect("segment");
            assert!(
                on_disk == again[ri][i],
                "{rendition} segment {n} differs on re-render"
            );
        }
    }
}

#[test]
fn the_mpd_and_page_files_are_there_and_escaped() {
    let r = rendered();
    let out = r.station.root().join("out");
    let mpd = std::fs::read_to_string(out.join("stream.mpd")).expect("mpd");
    assert!(
        mpd.contains("<Title>Test FM &lt;&amp;&gt;</Title>"),
        "{mpd}"
    );
    assert!(!mpd.contains("minimumUpdatePeriod"));
    assert!(mpd.contains(r#"availabilityStartTime="2025-01-01T00:00:00Z""#));
    assert!(mpd.contains(r#"<Representation id="64k" bandwidth="64000"/>"#));
    let station: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("station.json")).expect("station.json"))
            .expect("json");
    assert_eq!(station["name"], "Test FM <&>");
    for f in ["index.html", "player.js", "style.css"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let day = r.now.date_naive();
    let sched: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(layout::schedule_day(day))).expect("today's schedule"),
    )
    .expect("json");
    assert!(sched["items"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn a_fresh_station_can_be_sought_back_as_far_as_the_mpd_promises() {
    // A player may seek back `timeShiftBufferDepth` from the live edge; on a
    // station's very first run every one of those segments must exist.
    let r = rendered();
    let s = r.station.station();
    let mpd = std::fs::read_to_string(r.station.root().join("out/stream.mpd")).expect("mpd");
    let depth: u64 = mpd
        .split("timeShiftBufferDepth=\"PT")
        .nth(1)
        .and_then(|rest| rest.split('S').next())
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("no timeShiftBufferDepth in whole seconds in {mpd}"));
    assert!(depth >= 60, "a seek-back worth testing: {depth} s");
    let now = s.epoch.sample_at(r.now).expect("after epoch");
    let oldest = s
        .grid
        .segment_of(lofiever::time::SampleIndex(now.0 - depth * 48_000));
    for rendition in ["64k", "96k"] {
        let missing: Vec<u64> = (oldest.0..=now_segment())
            .filter(|&n| !segment_file(rendition, n).is_file())
            .collect();
        assert!(
            missing.is_empty(),
            "{rendition}: {} of the segments in the last {depth} s are missing, first {:?}",
            missing.len(),
            missing.first()
        );
    }
    // Every one of them plays. ffmpeg decodes the whole window of each
    // rendition to exactly count·D samples (a segment that did not decode,
    // or decoded short, would change the count); and each segment alone,
    // read with our fMP4 reader and decoded with libopus, gives its D
    // samples from tfdt N·D.
    let d = s.grid.segment_duration().0;
    let count = now_segment() + 1 - oldest.0;
    for rendition in ["64k", "96k"] {
        let f = concat(rendition, oldest.0, count);
        let decoded = ffmpeg_decode(f.path());
        assert_eq!(
            decoded.len() as u64,
            count * d * 2,
            "{rendition}: the {count} segments of the seek-back window decode to the wrong length"
        );
        assert!(decoded.iter().all(|x| x.is_finite()), "{rendition}");
        for n in oldest.0..oldest.0 + count {
            let bytes = std::fs::read(segment_file(rendition, n)).expect("segment");
            let seg = read_segment(&bytes).unwrap_or_else(|e| panic!("{rendition}/{n}: {e}"));
            assert_eq!(seg.base_media_decode_time, n * d, "{rendition}/{n}: tfdt");
            let pcm = libopus_decode(&seg.packets);
            assert_eq!(pcm.len() as u64, d * 2, "{rendition}/{n}: decoded samples");
        }
    }
    eprintln!("seek-back: {count} segments of each rendition decoded, {depth} s deep");
}

#[test]
fn every_segment_says_what_is_playing_in_id3_emsg_events() {
    use lofiever::package::fmp4::{read_id3_text, NOW_PLAYING_SCHEME};
    use mp4_atom::EmsgTimestamp;
    let r = rendered();
    let schedule = r.station.schedule();
    let w = r.summary.render.window.clone().expect("rendered");
    let mut starts_seen = 0;
    for n in w.start.0..w.end.0 {
        let from = n * 96_000;
        let to = from + 96_000;
        let bytes = std::fs::read(segment_file("64k", n)).expect("segment");
        let facts = read_segment(&bytes).expect("parses");
        // What each event says: (when, id, title, artist).
        let said: Vec<(u64, u32, String, String)> = facts
            .events
            .iter()
            .map(|e| {
                assert_eq!(e.scheme_id_uri, NOW_PLAYING_SCHEME);
                assert_eq!(e.timescale, 48_000);
                let EmsgTimestamp::Absolute(at) = e.presentation_time else {
                    panic!("segment {n}: a version-0 emsg");
                };
                let frames = read_id3_text(&e.message_data).expect("an ID3v2.4 tag");
                let text = |id: &str| {
                    frames
                        .iter()
                        .find(|(f, _)| f == id)
                        .map(|(_, t)| t.clone())
                        .unwrap_or_default()
                };
                (at, e.id, text("TIT2"), text("TPE1"))
            })
            .collect();
        // The schedule's view: the item playing at the first sample, then
        // every item that starts within the segment.
        let mut want = Vec::new();
        let playing = schedule
            .playing_at(lofiever::time::SampleIndex(from))
            .expect("the window is scheduled");
        want.push((from, playing));
        for it in schedule
            .items
            .iter()
            .filter(|it| it.start_sample > from && it.start_sample < to)
        {
            want.push((it.start_sample, it));
            starts_seen += 1;
        }
        let want: Vec<(u64, u32, String, String)> = want
            .into_iter()
            .map(|(at, it)| {
                (
                    at,
                    (it.start_sample / 48_000) as u32,
                    it.title.clone(),
                    it.artist.clone(),
                )
            })
            .collect();
        assert_eq!(said, want, "segment {n}");
        // The 96k rendition carries the same events.
        let other_bytes = std::fs::read(segment_file("96k", n)).expect("segment");
        let other = read_segment(&other_bytes).expect("parses");
        assert_eq!(other.events, facts.events, "segment {n}: renditions differ");
    }
    assert!(
        starts_seen >= 3,
        "only {starts_seen} item starts in the window"
    );
}

//! HLS over the same segments: a day rendered to its end gets one media
//! playlist per rendition and a multivariant playlist, which a maintained
//! parser (m3u8-parser) reads without a warning, ffmpeg (an independent HLS
//! client) plays to the exact sample count and the same audio as the
//! segments themselves, and a later run never rewrites.

use chrono::{DateTime, Utc};
use lofiever::job::{self, Window};
use lofiever::progress::Silent;
use lofiever::time::SampleCount;

use crate::util::{ffmpeg_decode, short_specs, tool, TempStation, TEST_STATION_TOML};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("date")
        .with_timezone(&Utc)
}

/// Decodes an HLS playlist with ffmpeg's HLS demuxer.
fn ffmpeg_hls(playlist: &std::path::Path) -> Vec<f32> {
    let out = std::process::Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-protocol_whitelist", "file", "-i"])
        .arg(playlist)
        .args(["-f", "f32le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg cannot play {}: {}",
        playlist.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn a_day_rendered_to_its_end_gets_playlists_that_ffmpeg_plays_and_no_run_rewrites() {
    let station = TempStation::new(TEST_STATION_TOML);
    station.add_tracks(&short_specs(6));
    let s = station.station();
    // A first run four minutes before midnight, three minutes ahead: the
    // day ends inside the render, the next one does not.
    let window = Window {
        now: at("2025-03-01T23:56:00Z"),
        ahead: SampleCount::from_secs(5 * 60).expect("small"),
        force: false,
    };
    job::run(&s, &window, &Silent).expect("render across midnight");
    let out = station.root().join("out");
    let day = out.join("hls/2025-03-01.m3u8");
    assert!(day.is_file(), "no multivariant playlist for the day");
    assert!(
        !out.join("hls/2025-03-02.m3u8").exists(),
        "a day not rendered to its end has a playlist"
    );
    let multivariant = std::fs::read_to_string(&day).expect("read");
    assert!(
        multivariant.contains("../64k/2025-03-01.m3u8"),
        "{multivariant}"
    );
    assert!(multivariant.contains("CODECS=\"Opus\""), "{multivariant}");

    // The media playlist runs from the first segment rendered to the last
    // one that starts before midnight, and says when it starts.
    let media = std::fs::read_to_string(out.join("96k/2025-03-01.m3u8")).expect("media");
    let seq: u64 = media
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("media sequence");
    let segments: Vec<u64> = media
        .lines()
        .filter_map(|l| l.strip_suffix(".m4s"))
        .map(|n| n.parse().expect("segment number"))
        .collect();
    let midnight = s.epoch.sample_at(at("2025-03-02T00:00:00Z")).expect("t").0;
    let d = s.grid.segment_duration().0;
    assert_eq!(segments.first(), Some(&seq));
    assert_eq!(
        *segments.last().expect("segments"),
        midnight.div_ceil(d) - 1
    );
    assert!(segments.windows(2).all(|w| w[1] == w[0] + 1), "a gap");
    assert!(media.trim_end().ends_with("#EXT-X-ENDLIST"), "not VOD");
    let first_start = s
        .epoch
        .instant_of(lofiever::time::SampleIndex(seq * d))
        .expect("t");
    let pdt = format!(
        "#EXT-X-PROGRAM-DATE-TIME:{}",
        first_start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    assert!(media.contains(&pdt), "{pdt} missing");
    for n in &segments {
        assert!(
            out.join(format!("96k/{n}.m4s")).is_file(),
            "{n}.m4s listed but missing"
        );
    }

    // A maintained parser (m3u8-parser, from the browser test set-up) reads
    // both playlists without a warning and finds what we wrote.
    let check = std::process::Command::new("node")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/m3u8-check.mjs"))
        .arg(&day)
        .arg(out.join("96k/2025-03-01.m3u8"))
        .output()
        .expect("run node (install Node.js and run `bash ci/setup.sh`)");
    assert!(
        check.status.success(),
        "m3u8-check: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let parsed: serde_json::Value =
        serde_json::from_slice(&check.stdout).expect("m3u8-check prints JSON");
    for file in parsed.as_array().expect("one entry per file") {
        assert_eq!(file["warnings"], serde_json::json!([]), "{file:#}");
    }
    assert_eq!(
        parsed[0]["playlists"].as_array().map(Vec::len),
        Some(2),
        "{parsed:#}"
    );
    assert_eq!(parsed[1]["media_sequence"], seq, "{parsed:#}");
    assert_eq!(parsed[1]["segments"], segments.len(), "{parsed:#}");
    assert_eq!(parsed[1]["end_list"], true);
    assert_eq!(parsed[1]["playlist_type"], "VOD");
    assert_eq!(parsed[1]["first_segment"]["map"], "init.mp4");
    assert_eq!(parsed[1]["first_segment"]["duration"], 2.0);

    // ffmpeg plays the day through the playlist to the sample, and hears
    // the same audio as the segments themselves.
    let via_hls = ffmpeg_hls(&out.join("96k/2025-03-01.m3u8"));
    assert_eq!(
        via_hls.len() as u64,
        segments.len() as u64 * d * 2,
        "sample count through HLS"
    );
    let mut mp4 = std::fs::read(out.join("96k/init.mp4")).expect("init");
    for n in &segments {
        mp4.extend(std::fs::read(out.join(format!("96k/{n}.m4s"))).expect("segment"));
    }
    let concat = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(concat.path(), mp4).expect("write");
    let direct = ffmpeg_decode(concat.path());
    assert_eq!(via_hls.len(), direct.len());
    let worst = via_hls
        .iter()
        .zip(&direct)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-4, "HLS and direct decodes differ by {worst}");

    // A later run renders more and never rewrites the day's playlists.
    let before: Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> = [
        "hls/2025-03-01.m3u8",
        "64k/2025-03-01.m3u8",
        "96k/2025-03-01.m3u8",
    ]
    .iter()
    .map(|k| {
        let p = out.join(k);
        let m = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .expect("mtime");
        (p.clone(), std::fs::read(&p).expect("read"), m)
    })
    .collect();
    let later = Window {
        now: at("2025-03-01T23:58:00Z"),
        ..window
    };
    job::run(&s, &later, &Silent).expect("a later run");
    for (p, bytes, mtime) in before {
        assert_eq!(
            std::fs::read(&p).expect("read"),
            bytes,
            "{} changed",
            p.display()
        );
        let m = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(m, mtime, "{} was rewritten", p.display());
    }

    // Once the day's first segment is older than the keep window (a day
    // and ten minutes by default), retention deletes the day's playlists
    // with its segments, and no later run writes them again: a playlist
    // never lists a segment that is gone.
    let gone = [
        "hls/2025-03-01.m3u8",
        "64k/2025-03-01.m3u8",
        "96k/2025-03-01.m3u8",
    ];
    for now in ["2025-03-03T00:03:00Z", "2025-03-03T00:05:00Z"] {
        let run = Window {
            now: at(now),
            ..window
        };
        job::run(&s, &run, &Silent).expect("a run two days on");
        for k in gone {
            assert!(
                !out.join(k).exists(),
                "{k} outlived its day's first segment (run at {now})"
            );
        }
        let mut listed = 0;
        for folder in ["64k", "96k"] {
            for entry in std::fs::read_dir(out.join(folder)).expect("rendition folder") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "m3u8") {
                    let text = std::fs::read_to_string(&path).expect("playlist");
                    for seg in text.lines().filter(|l| l.ends_with(".m4s")) {
                        listed += 1;
                        assert!(
                            out.join(folder).join(seg).is_file(),
                            "{} lists {seg}, which is gone (run at {now})",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(
            (1..1000).contains(&listed),
            "the later day's playlists list {listed} segments"
        );
    }
}

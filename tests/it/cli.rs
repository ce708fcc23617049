//! The command line as an operator meets it: clear errors for bad config and
//! bad audio, and a run that goes on past a corrupt file.

use crate::util::{short_specs, stderr, TempStation, TEST_STATION_TOML};

#[test]
fn invalid_config_names_the_field_the_value_and_what_is_allowed() {
    let cases = [
        (
            "[stream]\nsegment_ms = 2010\n",
            "stream.segment_ms",
            "multiple of 20",
        ),
        (
            "[station]\nepoch = \"2999-01-01T00:00:00Z\"\n",
            "station.epoch",
            "future",
        ),
        (
            "[stream]\nbitrates_kbps = [96, 1000]\n",
            "stream.bitrates_kbps",
            "6 to 510",
        ),
        (
            "[stream]\nsegmentms = 2000\n",
            "station.toml",
            "unknown field `segmentms`",
        ),
    ];
    for (toml, key, allowed) in cases {
        let st = TempStation::new(toml);
        let out = st.run(&["analyze"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{toml}: should fail");
        assert!(
            err.contains(key) && err.contains(allowed),
            "{toml}: unclear error: {err}"
        );
        assert!(
            err.lines().count() <= 3,
            "{toml}: error should be short: {err}"
        );
    }
}

#[test]
fn a_missing_catalog_is_a_clear_error() {
    let st = TempStation::new(TEST_STATION_TOML);
    std::fs::remove_dir_all(st.root().join("catalog")).expect("rm");
    let out = st.run(&["analyze"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("catalog folder not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn corrupt_and_unusable_files_are_reported_and_the_run_goes_on() {
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(2));
    let cat = st.root().join("catalog");
    std::fs::write(cat.join("empty.wav"), b"").expect("write");
    std::fs::write(
        cat.join("noise.mp3"),
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .expect("write");
    // A valid WAV that is only half a second long.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(cat.join("short.wav"), spec).expect("wav");
    for i in 0..48_000 {
        w.write_sample(((i % 100) * 100) as i16).expect("sample");
    }
    w.finalize().expect("finalize");

    let out = st.run(&["render", "--minutes", "2"]);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "render should go on past bad files: {err}"
    );
    assert!(err.contains("empty.wav: the file is empty"), "{err}");
    assert!(
        err.contains("noise.mp3: not a readable audio file"),
        "{err}"
    );
    assert!(err.contains("short.wav: too short"), "{err}");
    let report = std::fs::read_to_string(cat.join("analyze-errors.csv")).expect("error report");
    assert_eq!(report.lines().count(), 4, "header + 3 failures: {report}");
    assert!(st.root().join("out/stream.mpd").is_file());

    // A second run decodes nothing: everything, failures included, is cached.
    let out = st.run(&["analyze"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 analysed now, 5 from cache"), "{text}");
    // --strict turns reported failures into a failing exit code.
    assert!(!st.run(&["analyze", "--strict"]).status.success());
}

#[test]
fn a_scheduled_track_that_vanished_is_named() {
    let st = TempStation::new(TEST_STATION_TOML);
    let paths = st.add_tracks(&short_specs(2));
    assert!(st.run(&["schedule", "--minutes", "3"]).status.success());
    for p in &paths {
        std::fs::remove_file(p).expect("rm");
    }
    // Keep one other track so the catalog is not empty.
    st.add_tracks(&short_specs(3)[2..]);
    // --strict stops, naming the track.
    let out = st.run(&["render", "--minutes", "3", "--strict"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("is no longer in the catalog") && err.contains("track \"test/0"),
        "{err}"
    );
    // Without it, the time is planned again, with one warning per track.
    let out = st.run(&["render", "--minutes", "3"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("render: track \"test/0") && err.contains("planned again"),
        "{err}"
    );
}

#[test]
fn every_subcommand_has_operator_help() {
    let st = TempStation::new("");
    for cmd in [
        "analyze", "schedule", "render", "publish", "demo", "preview",
    ] {
        let out = st.run(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.len() > 200, "{cmd} --help is too thin: {text}");
    }
}

#[test]
fn the_demo_survives_a_corrupt_file_and_ends_with_a_served_page() {
    use std::io::{BufRead, BufReader, Read, Write};

    // One rendition at low complexity keeps this quick; the demo's own
    // catalog (12 synthesised tracks) is used as is.
    let st = TempStation::new(
        "[stream]\nbitrates_kbps = [64]\nopus_complexity = 0\n[player]\ndashjs_url = \"vendor/dashjs/dash.all.min.js\"\n",
    );
    std::fs::write(
        st.root().join("catalog/broken.flac"),
        b"fLaC this is not really flac",
    )
    .expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lofiever"))
        .args(["demo", "--minutes", "2", "--port", "0"])
        .current_dir(st.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start demo");
    let stdout = child.stdout.take().expect("piped");
    let mut url = None;
    let mut seen = Vec::new();
    // `lines` stays open until the demo is stopped, as a terminal would.
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("Listening page: http://") {
            url = rest.split('/').next().map(str::to_string);
            break;
        }
    }
    let Some(addr) = url else {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        panic!("demo did not end with a served page; stdout: {seen:?} stderr: {err}");
    };
    let mut conn = std::net::TcpStream::connect(&addr).expect("connect to the preview server");
    write!(conn, "GET /index.html HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut body = String::new();
    conn.read_to_string(&mut body).expect("read");
    let _ = child.kill();
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    let _ = child.wait();
    drop(lines);
    assert!(
        body.starts_with("HTTP/1.") && body.contains(" 200 "),
        "{body}"
    );
    assert!(body.contains("<html"), "{body}");
    assert!(
        err.contains("broken.flac") && err.contains("skipped"),
        "corrupt file not reported: {err}"
    );
    let analysed = seen
        .iter()
        .any(|l| l.contains("12 tracks usable") && l.contains("1 failed"));
    assert!(analysed, "{seen:?}");
    assert_eq!(
        std::fs::read_dir(st.root().join("catalog/demo"))
            .expect("demo catalog")
            .count(),
        13
    );
}

#[test]
fn a_rerun_renders_nothing_and_repairs_a_truncated_segment() {
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(3));
    let started = std::time::Instant::now();
    let first = st.run(&["render", "--minutes", "3"]);
    assert!(first.status.success(), "{}", stderr(&first));
    // Segments rendered by a run; a second or two passing may add one new
    // segment at the end of the window, nothing more.
    let rendered = |out: &std::process::Output| -> u64 {
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("render: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no render summary in {text}"))
    };
    // New segments at the window's end: one per 2 s since the first run
    // started, plus slack.
    let allowance = |since: std::time::Instant| since.elapsed().as_secs() / 2 + 2;
    let again = st.run(&["render", "--minutes", "3"]);
    assert!(
        rendered(&again) <= allowance(started),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let dir = st.root().join("out/96k");
    let mut segs: Vec<_> = std::fs::read_dir(&dir)
        .expect("rendered")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "m4s"))
        .collect();
    segs.sort();
    let victim = &segs[segs.len() / 2];
    let good = std::fs::read(victim).expect("read");
    std::fs::write(victim, &good[..good.len() / 2]).expect("truncate");
    let repair = st.run(&["render", "--minutes", "3"]);
    let n = rendered(&repair);
    assert!(
        n >= 1 && n <= allowance(started) + 1,
        "{}",
        String::from_utf8_lossy(&repair.stdout)
    );
    assert_eq!(
        std::fs::read(victim).expect("read"),
        good,
        "repaired segment is byte-identical"
    );
}

#[test]
fn preview_at_a_time_with_nothing_rendered_says_what_to_render() {
    let r = crate::util::rendered();
    for (at, want) in [
        ("now+30d", "nothing is rendered for --at"),
        ("2024-06-01", "before the station epoch"),
        ("tomorrow", "is not a time"),
    ] {
        let out = r.station.run(&["preview", "--port", "0", "--at", at]);
        assert!(!out.status.success(), "preview --at {at} started a server");
        let err = stderr(&out);
        assert!(err.contains(want), "--at {at}: {err}");
    }
}

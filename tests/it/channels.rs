//! Channels (`pipeline/channels/<name>.toml`): one `lofiever render` runs
//! the main station and every channel from one catalog, each at its own
//! prefix of the target, with `channels.json` at the root; no two channels
//! play one recording at the same moment; `status` and `verify` report per
//! channel; bad channel files change nothing.

use std::path::{Path, PathBuf};

use lofiever::demo::synth::TrackSpec;
use lofiever::schedule::Schedule;
use lofiever::station::channel;

use crate::util::{file_bytes, short_specs, stderr, stdout, TempStation, TEST_STATION_TOML};

/// The main station of these tests plus two channels (see
/// [`write_channels`]).
fn network(tracks: usize) -> TempStation {
    let st = TempStation::new(TEST_STATION_TOML);
    let specs = short_specs(tracks);
    let paths = st.add_tracks(&specs);
    write_channels(&st, &specs, &paths);
    st
}

/// Two channels beside the main station of `st`, whose catalog is `specs`
/// written at `paths`: `study` plays a playlist of the first five tracks,
/// `sleep` (prefix `zz-sleep`, another epoch and day-part plan) the tracks
/// tagged with the key of one of the last four.
pub fn write_channels(st: &TempStation, specs: &[TrackSpec], paths: &[PathBuf]) {
    let dir = st.root().join("pipeline").join(channel::CHANNELS_DIR);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let playlist: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| {
            p.strip_prefix(st.root().join("catalog"))
                .expect("in the catalog")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    std::fs::write(
        dir.join("study.txt"),
        format!("# five tracks\n{}\n", playlist.join("\n")),
    )
    .expect("write playlist");
    std::fs::write(
        dir.join("study.toml"),
        "[station]\nname = \"Study FM\"\n[filter]\nplaylist = \"pipeline/channels/study.txt\"\n",
    )
    .expect("write");
    let keys: Vec<String> = specs[specs.len() - 4..]
        .iter()
        .map(|s| format!("{:?}", s.key.name().to_lowercase()))
        .collect();
    let tags = format!("[{}]", keys.join(", "));
    std::fs::write(
        dir.join("sleep.toml"),
        format!(
            "[station]\nname = \"Sleep FM\"\nepoch = \"2025-06-01T00:00:07Z\"\n\
             [channel]\nprefix = \"zz-sleep\"\n[filter]\ntags = {tags}\n\
             [[schedule.day_parts]]\nat = \"00:00\"\nname = \"all night\"\nenergy = 0.1\ntempo = 0.1\n"
        ),
    )
    .expect("write");
}

/// The schedule a channel's target holds, as absolute intervals per hash.
fn plays(out: &Path, prefix: &str, epoch_unix: i64) -> Vec<(String, i64, i64)> {
    let target = lofiever::publish::DirTarget::new(&out.join(prefix));
    let s: Schedule = lofiever::job::load_schedule(&target).expect("schedule");
    assert!(!s.items.is_empty(), "{prefix}: an empty schedule");
    let base = epoch_unix * 48_000;
    s.items
        .iter()
        .map(|it| {
            let start = base + it.start_sample as i64;
            (it.hash.clone(), start, start + it.length as i64)
        })
        .collect()
}

#[test]
fn one_render_runs_every_channel_with_no_recording_on_two_at_once() {
    let st = network(10);
    let o = st.run(&["render", "--minutes", "3"]);
    assert!(o.status.success(), "render: {}", stderr(&o));
    let said = stdout(&o);
    for name in ["main", "study", "sleep"] {
        assert!(said.contains(&format!("channel {name} (")), "{said}");
    }
    assert_eq!(said.matches("analyze:").count(), 1, "analysed once: {said}");

    let out = st.root().join("out");
    for prefix in ["", "study/", "zz-sleep/"] {
        for file in ["stream.mpd", "index.html", "station.json", "64k/init.mp4"] {
            assert!(out.join(prefix).join(file).is_file(), "{prefix}{file}");
        }
    }
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("channels.json")).expect("index"))
            .expect("JSON");
    let rows: Vec<(String, String, String, String)> = index["channels"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().expect("a string").to_string();
            (s("name"), s("title"), s("page"), s("mpd"))
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("main", "Test FM <&>", "index.html", "stream.mpd"),
            (
                "sleep",
                "Sleep FM",
                "zz-sleep/index.html",
                "zz-sleep/stream.mpd"
            ),
            ("study", "Study FM", "study/index.html", "study/stream.mpd"),
        ]
        .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()))
    );
    // Each page finds the index (the page lists the channels from it).
    for (prefix, title, index) in [
        ("", "Test FM <&>", "channels.json"),
        ("zz-sleep/", "Sleep FM", "../channels.json"),
        ("study/", "Study FM", "../channels.json"),
    ] {
        let doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join(prefix).join("station.json")).expect("station.json"),
        )
        .expect("JSON");
        assert_eq!(doc["name"], title);
        assert_eq!(doc["channels"], index, "{prefix}");
    }

    // The filters hold.
    let main_epoch = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .expect("t")
        .timestamp();
    let sleep_epoch = chrono::DateTime::parse_from_rfc3339("2025-06-01T00:00:07Z")
        .expect("t")
        .timestamp();
    let main = plays(&out, "", main_epoch);
    let study = plays(&out, "study", main_epoch);
    let sleep = plays(&out, "zz-sleep", sleep_epoch);
    let station = st.station();
    let analysed = lofiever::analyze::run(&station.catalog_dir, &lofiever::progress::Silent)
        .expect("analysis");
    let listed: Vec<String> =
        std::fs::read_to_string(st.root().join("pipeline/channels/study.txt"))
            .expect("playlist")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                analysed
                    .tracks
                    .iter()
                    .find(|t| t.path == l)
                    .expect("listed track analysed")
                    .hash
                    .clone()
            })
            .collect();
    assert!(study.iter().all(|(h, _, _)| listed.contains(h)));
    let distinct = |p: &[(String, i64, i64)]| {
        let mut h: Vec<&String> = p.iter().map(|(h, _, _)| h).collect();
        h.sort();
        h.dedup();
        h.len()
    };
    assert!(distinct(&sleep) < 10, "the tag filter keeps a part only");
    assert!(distinct(&main) > 5, "main plays the whole catalog");

    // No recording on two channels at once (absolute time: epochs differ).
    let mut overlaps = Vec::new();
    for (a, b, what) in [
        (&main, &study, "main/study"),
        (&main, &sleep, "main/sleep"),
        (&study, &sleep, "study/sleep"),
    ] {
        for (h, s, e) in a.iter() {
            for (h2, s2, e2) in b.iter() {
                if h == h2 && s < e2 && s2 < e {
                    overlaps.push(format!("{what}: {h} at {s}..{e} and {s2}..{e2}"));
                }
            }
        }
    }
    assert!(overlaps.is_empty(), "{overlaps:#?}");

    // status and verify: one line per channel, the exit code the worst.
    let o = st.run(&["status"]);
    assert!(o.status.success(), "status: {}", stderr(&o));
    let lines: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("status: channel "))
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        [
            "status: channel main: OK",
            "status: channel sleep: OK",
            "status: channel study: OK"
        ]
    );
    let o = st.run(&["verify", "--decode", "2"]);
    assert!(o.status.success(), "verify: {}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o).matches("verify: OK").count(),
        3,
        "{}",
        stdout(&o)
    );
    let o = st.run(&["status", "--channel", "study", "--min-runway", "2d"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("status: channel study: runway below"));
    let o = st.run(&["status", "--min-runway", "2d"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "the worst of three: {}",
        stderr(&o)
    );
    // One channel damaged: verify fails for it alone, and exits 1.
    let victim = out.join("study/64k/init.mp4");
    std::fs::write(&victim, b"not an init segment").expect("damage");
    let o = st.run(&["verify", "--decode", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("verify: channel study: FAILED"), "{e}");
    assert!(e.contains("verify: channel main: OK"), "{e}");

    // --channel renders only that channel; a second run changes nothing
    // already published.
    let before = file_bytes(&out.join("zz-sleep"));
    let o = st.run(&["render", "--minutes", "3", "--channel", "main"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("channel sleep"), "{}", stdout(&o));
    assert_eq!(before, file_bytes(&out.join("zz-sleep")));
}

/// The one line of a failing run (warnings aside).
fn one_line(o: &std::process::Output, what: &str) -> String {
    assert!(!o.status.success(), "{what} should fail");
    let err = stderr(o);
    let lines: Vec<&str> = err
        .lines()
        // Warnings and the analysis progress line aside.
        .filter(|l| !l.trim().is_empty() && !l.contains("WARN") && !l.contains(" analysed ("))
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected:\n{err}");
    lines[0].to_string()
}

#[test]
fn bad_channel_files_get_one_line_and_change_nothing() {
    let st = network(6);
    let dir = st.root().join("pipeline/channels");
    let out = st.root().join("out");

    std::fs::write(dir.join("twin.toml"), "[channel]\nprefix = \"study\"\n").expect("write");
    let line = one_line(&st.run(&["render", "--minutes", "2"]), "same prefix");
    assert!(
        line.contains("twin.toml")
            && line.contains("channel.prefix")
            && line.contains("study.toml"),
        "{line}"
    );
    assert!(file_bytes(&out).is_empty(), "nothing written");
    std::fs::remove_file(dir.join("twin.toml")).expect("rm");

    std::fs::write(dir.join("fast.toml"), "[filter]\ntempo_bpm = [300, 400]\n").expect("write");
    let line = one_line(&st.run(&["render", "--minutes", "2"]), "empty filter");
    assert!(line.contains("fast.toml: filter: keeps none"), "{line}");
    assert!(file_bytes(&out).is_empty(), "nothing written");
    std::fs::remove_file(dir.join("fast.toml")).expect("rm");

    std::fs::write(dir.join("study.txt"), "catalog/nowhere.wav\n").expect("write");
    let line = one_line(
        &st.run(&["render", "--minutes", "2"]),
        "unknown playlist entry",
    );
    assert!(line.contains("study.txt: line 1:"), "{line}");
    assert!(file_bytes(&out).is_empty(), "nothing written");

    let line = one_line(
        &st.run(&["render", "--minutes", "2", "--channel", "jazz"]),
        "unknown channel",
    );
    assert!(
        line.contains("no channel is named \"jazz\"") && line.contains("main, sleep, study"),
        "{line}"
    );
    let line = one_line(&st.run(&["status", "--channel", "jazz"]), "unknown channel");
    assert!(line.contains("no channel is named"), "{line}");
    assert!(file_bytes(&out).is_empty(), "nothing written");
}

/// `filter.moods` keeps the tracks whose mood (learned over the whole
/// catalog, as `schedule --report` lists them) carries one of the words.
#[test]
fn a_mood_filter_plays_only_the_tracks_of_those_moods() {
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(10));
    let dir = st.root().join("pipeline").join(channel::CHANNELS_DIR);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("calm.toml"),
        "[channel]\nshare_tracks = true\n[filter]\nmoods = [\"calm\"]\n",
    )
    .expect("write");
    let o = st.run(&["render", "--minutes", "2"]);
    assert!(o.status.success(), "render: {}", stderr(&o));

    // The calm tracks, by the library's own mood model over the catalog.
    let station = st.station();
    let (_, tracks) =
        lofiever::job::analyze_and_tracks(&station, &lofiever::progress::Silent).expect("analysed");
    let all: Vec<&lofiever::schedule::Track> = tracks.iter().collect();
    let cfg = &station.schedule;
    let moods =
        lofiever::schedule::moods::learn(&all, cfg.k_min, cfg.k_max, station.seed).expect("moods");
    let calm: Vec<&str> = tracks
        .iter()
        .zip(&moods.of_track)
        .filter(|(_, &m)| {
            moods.moods[m]
                .words
                .contains(&lofiever::station::schedule::Descriptor::Calm)
        })
        .map(|(t, _)| t.hash.as_str())
        .collect();
    assert!(
        !calm.is_empty() && calm.len() < tracks.len(),
        "a catalog with calm and other moods: {} of {}",
        calm.len(),
        tracks.len()
    );
    let played = plays(
        &st.root().join("out"),
        "calm",
        station.epoch.instant().timestamp(),
    );
    for (hash, _, _) in &played {
        assert!(
            calm.contains(&hash.as_str()),
            "{hash} is not calm: {calm:?}"
        );
    }
}

#[test]
fn a_single_station_publishes_no_index_and_its_page_knows_no_channels() {
    let r = crate::util::rendered();
    let out = r.station.root().join("out");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("station.json")).expect("station.json"))
            .expect("JSON");
    assert!(doc.get("channels").is_none(), "{doc}");
    assert!(doc.get("name").is_some());
    assert!(!out.join("channels.json").exists());
}

/// Each channel's page plays in Chromium, shows what its own schedule plays
/// (the study channel only its playlist's tracks) and lists every channel
/// with itself selected.
#[test]
fn the_page_plays_every_channel_and_lists_them_all() {
    use crate::browser::{exclusive, node, serve};
    let _one = exclusive();
    let st = TempStation::new(TEST_STATION_TOML);
    let specs = short_specs(10);
    let paths = st.add_tracks(&specs);
    write_channels(&st, &specs, &paths);
    let o = st.run(&["render", "--minutes", "2"]);
    assert!(o.status.success(), "render: {}", stderr(&o));
    let out = st.root().join("out");
    let (server, url) = serve(&out);
    let study: Vec<&str> = specs.iter().take(5).map(|s| s.title.as_str()).collect();
    for (prefix, title) in [
        ("", "Test FM <&>"),
        ("study/", "Study FM"),
        ("zz-sleep/", "Sleep FM"),
    ] {
        let page = url.replace("index.html", &format!("{prefix}index.html"));
        let report = node(
            "play.mjs",
            &["--url", &page, "--seconds", "3", "--timeout", "60"].map(String::from),
        );
        assert_eq!(report["ok"], true, "{prefix}: {report:#}");
        let heard = report["now_playing"]["title"].as_str().unwrap_or("");
        assert!(!heard.is_empty(), "{prefix}: nothing shown: {report:#}");
        if prefix == "study/" {
            assert!(
                study.contains(&heard),
                "the study channel plays {heard:?}, not one of its playlist {study:?}"
            );
        }
        assert_eq!(report["channels_shown"], true, "{prefix}: {report:#}");
        let listed = report["channels"].as_array().cloned().unwrap_or_default();
        let titles: Vec<&str> = listed.iter().filter_map(|c| c["title"].as_str()).collect();
        assert_eq!(titles.len(), 3, "{prefix}: channel list {listed:?}");
        let selected: Vec<&str> = listed
            .iter()
            .filter(|c| c["selected"] == true)
            .filter_map(|c| c["title"].as_str())
            .collect();
        assert_eq!(selected, [title], "{prefix}: channel list {listed:?}");
    }
    server.stop();
}

//! Bad input, in one place: every kind of bad input lofiever meets, and
//! where each is tested. What lofiever does with it is decided per class
//! (see each stage's module doc): a bad `station.toml` stops the run with
//! one line naming the file, the place and what is allowed; a bad track or
//! catalog.csv row is reported by name and line and skipped, and the run
//! goes on; text from outside comes out escaped wherever it is written.
//!
//! | input | case | tested in |
//! |---|---|---|
//! | station.toml | unknown key, unknown table | here (`broken_configs_…`), `src/station/tests.rs` |
//! | | TOML syntax error, wrong type → file, line and column | here |
//! | | bad epoch: not a date, fractional second, in the future | here, `tests/it/cli.rs` |
//! | | `segment_ms` not a multiple of 20 ms, 0, too long | here, `src/station/tests.rs` |
//! | | bitrate out of 6–510 kb/s | here, `src/station/tests.rs` |
//! | | bad `publish.target` | here, `src/station/tests.rs` |
//! | audio | empty, truncated FLAC/WAV, random bytes, AC-3, too short/long, silent, header claiming > 2 h, a WAV header claiming 4 GB over 1 s (called broken) | `tests/it/analyze.rs` (`bad_files_are_reported_and_skipped`, `damaged_files_never_panic`), `tests/it/cli.rs` (`corrupt_and_unusable_files_…`: the run goes on) |
//! | catalog.csv | path traversal `../`, absolute path, `a/../../x` | here (end to end, by line), `tests/it/analyze.rs` (`paths_that_escape_the_catalog_are_refused`) |
//! | | symbolic link out of the catalog (file and folder) | `tests/it/analyze.rs` (`paths_that_escape_the_catalog_are_refused`) |
//! | | weight −1, 1e308, NaN; enabled = "maybe"; a 1 MB line | here |
//! | | formula injection (`=`, `+`, `-`, `@`) in file names, tags and reasons → `features.csv`, `analyze-errors.csv` | here; `src/analyze/cache.rs` (round trip) |
//! | titles | `<script>`, `&`, `"`, `'`, `</title>`, `\`, U+2028, emoji in the station name and track titles → MPD (XML), `station.json` and `schedule/*.json` (JSON), the page (text only) | here |
//! | | `s3:/radio/live`, `S3://…`, `gs://…` (strict target parsing) | here (`broken_configs_…`) |
//! | catalog folder | a link to a folder around the catalog (`bad/dirloop -> ..`), folders nested 40 deep | here (`a_folder_link_loop_…`) |
//! | | the same recording under two paths (a copied folder) | here (`duplicate_recordings_…`) |
//! | | a scheduled file deleted or moved | `tests/it/identity.rs` |
//! | tags | a 100 KB title tag | here (`a_100_kb_tag_…`) |
//! | S3 endpoint | accepts connections and never answers | here (`a_silent_endpoint_…`) |
//! | AWS credentials | none at all, config files named but not there: one line, `status: s3://…` / `verify: s3://…` | here (`no_credentials_at_all_…`); wrong ones: `tests/it/publish.rs` |
//! | lock | a lock file that is not lofiever's | `src/publish/lock.rs` |
//!
//! **CSV that spreadsheets open** (`features.csv`, `analyze-errors.csv`):
//! lofiever prefixes a `'` to any text field a spreadsheet would run as a
//! formula (and to one starting with `'`), and strips it when reading, so
//! nothing runs and every value round-trips (`src/analyze/cache.rs`).
//! catalog.csv is the operator's own file and is only read.

use std::path::Path;

use crate::util::{
    ffmpeg, short_specs, stderr, stdout, xmllint_mpd, TempStation, TEST_STATION_TOML,
};

#[test]
fn broken_configs_stop_with_one_line_naming_the_file_and_the_place() {
    // (config, what the error must contain besides the file name)
    let cases: &[(&str, &[&str])] = &[
        (
            "[publish]\nbuckett = \"x\"\n",
            &["unknown field `buckett`", "line 2"],
        ),
        (
            "[streem]\nsegment_ms = 2000\n",
            &["unknown field `streem`", "line 1"],
        ),
        ("[stream\nsegment_ms = 2000\n", &["line 1, column"]),
        (
            "[stream]\nsegment_ms = \"2000\"\n",
            &["line 2, column", "invalid type"],
        ),
        (
            "[station]\nepoch = \"yesterday\"\n",
            &["station.epoch", "yesterday"],
        ),
        (
            "[station]\nepoch = \"2025-01-01T00:00:00.5Z\"\n",
            &["station.epoch"],
        ),
        (
            "[station]\nepoch = \"2999-01-01T00:00:00Z\"\n",
            &["station.epoch", "future"],
        ),
        (
            "[stream]\nsegment_ms = 2010\n",
            &["stream.segment_ms", "2010", "multiple of 20"],
        ),
        ("[stream]\nsegment_ms = 0\n", &["stream.segment_ms"]),
        ("[stream]\nsegment_ms = 10\n", &["stream.segment_ms"]),
        (
            "[stream]\nbitrates_kbps = [5]\n",
            &["stream.bitrates_kbps", "6 to 510"],
        ),
        (
            "[stream]\nbitrates_kbps = [96, 600]\n",
            &["stream.bitrates_kbps", "600"],
        ),
        ("[publish]\ntarget = \"s3://\"\n", &["publish.target"]),
        (
            "[publish]\ntarget = \"s3:/radio/live\"\n",
            &["publish.target", "s3:/radio/live", "s3://bucket/prefix"],
        ),
        (
            "[publish]\ntarget = \"S3://radio/live\"\n",
            &["publish.target", "s3://bucket/prefix"],
        ),
        (
            "[publish]\ntarget = \"gs://radio/live\"\n",
            &["publish.target", "unknown scheme \"gs\""],
        ),
    ];
    for (toml, wants) in cases {
        let st = TempStation::new(toml);
        for cmd in [&["analyze"][..], &["render", "--minutes", "1"]] {
            let o = st.run(cmd);
            let err = stderr(&o);
            assert!(!o.status.success(), "{toml:?} {cmd:?}: must fail");
            let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "{toml:?}: one line, got:\n{err}");
            assert!(
                lines[0].starts_with("error: pipeline/station.toml: "),
                "{toml:?}: names the file: {err}"
            );
            for w in *wants {
                assert!(err.contains(w), "{toml:?}: {w:?} missing in: {err}");
            }
        }
        // Nothing was written.
        assert!(!st.root().join("out").exists(), "{toml:?}: wrote output");
    }
}

/// The station's test tracks, with a catalog.csv replaced by `rows` (after
/// the header `path,artist,title,tags,weight,enabled`); returns the track
/// file names.
fn station_with_catalog_rows(rows: &dyn Fn(&[String]) -> String) -> (TempStation, Vec<String>) {
    let st = TempStation::new(TEST_STATION_TOML);
    let names: Vec<String> = st
        .add_tracks(&short_specs(4))
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let csv = format!("path,artist,title,tags,weight,enabled\n{}", rows(&names));
    std::fs::write(st.root().join("catalog/test/catalog.csv"), csv).expect("write catalog.csv");
    (st, names)
}

/// Every item of the schedule files in `out/schedule/`, as JSON.
fn schedule_items(st: &TempStation) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let dir = st.root().join("out/schedule");
    for e in std::fs::read_dir(&dir).expect("schedule folder") {
        let bytes = std::fs::read(e.expect("entry").path()).expect("read");
        let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        // Whatever the exact layout, collect objects that carry a title.
        let mut stack = vec![doc];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Array(a) => stack.extend(a),
                serde_json::Value::Object(o) if o.contains_key("title") => {
                    items.push(serde_json::Value::Object(o))
                }
                serde_json::Value::Object(o) => stack.extend(o.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
    assert!(!items.is_empty(), "no schedule items found");
    items
}

#[test]
fn malicious_catalog_rows_are_refused_by_line_and_the_run_goes_on() {
    let huge = "x".repeat(1_000_000);
    let (st, names) = station_with_catalog_rows(&|n| {
        format!(
            "../../pipeline/station.toml,A,Escape,,,\n\
             /etc/passwd,A,Absolute,,,\n\
             test/../../x.wav,A,Dotdot,,,\n\
             {0},A,Negative,,-1,\n\
             {1},A,Huge weight,,1e308,\n\
             {2},A,Not a number,,NaN,\n\
             {3},A,Maybe,,,maybe\n\
             {3},Big,{huge},,,\n",
            n[0], n[1], n[2], n[3]
        )
    });
    let o = st.run(&["render", "--minutes", "3"]);
    let err = stderr(&o);
    assert!(o.status.success(), "the run goes on: {err}");
    let csv = "catalog/test/catalog.csv: line";
    for (line, what) in [
        (2, "leaves the catalog"),
        (3, "leaves the catalog"),
        (4, "leaves the catalog"),
        (5, "field weight \"-1\""),
        (6, "field weight \"1e308\""),
        (7, "field weight \"NaN\""),
        (8, "field enabled \"maybe\""),
    ] {
        let needle = format!("{csv} {line}: ");
        let hit = err.lines().find(|l| l.contains(&needle));
        assert!(
            hit.is_some_and(|l| l.contains(what) && l.contains("ignored")),
            "line {line} ({what}) not reported: {err}"
        );
    }
    // The refused rows' tracks still play (with their defaults), and the 1 MB
    // title is cut to a sane length; nothing outside the catalog is read.
    let items = schedule_items(&st);
    for it in &items {
        let title = it["title"].as_str().expect("title");
        assert!(title.chars().count() <= 300, "{} chars", title.len());
        assert!(
            !["Escape", "Absolute", "Dotdot"].contains(&title),
            "{title}"
        );
    }
    assert!(!err.contains("permission denied"), "{err}");
    let features = std::fs::read_to_string(st.root().join("catalog/features.csv")).expect("csv");
    assert!(!features.contains("passwd") && !features.contains("station.toml"));
    assert!(names.iter().all(|n| features.contains(n.as_str())));
}

/// Fields of a CSV file (header row excluded), parsed as a spreadsheet
/// would see them.
fn csv_fields(path: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).expect("open csv");
    r.records()
        .flat_map(|rec| {
            rec.expect("record")
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A field a spreadsheet would evaluate as a formula.
fn is_formula(field: &str) -> bool {
    let number = field.parse::<f64>().is_ok()
        && field
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    matches!(
        field.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) && !number
}

#[test]
fn formula_injection_never_reaches_a_spreadsheet_and_the_cache_still_round_trips() {
    let st = TempStation::new(TEST_STATION_TOML);
    let good = st.add_tracks(&short_specs(2));
    let cat = st.root().join("catalog");
    // Usable tracks whose names and tags are formulas.
    let payload = "=cmd|' /C calc'!A0";
    let tagged = cat.join("=HYPERLINK(\"http-evil\",\"x\").flac");
    ffmpeg(&[
        "-i",
        good[0].to_str().expect("utf-8"),
        "-metadata",
        &format!("title={payload}"),
        "-metadata",
        "artist=@SUM(1+1)*cmd|' /C calc'!A0",
        "-metadata",
        "album=+1+cmd",
        tagged.to_str().expect("utf-8"),
    ]);
    std::fs::copy(&good[1], cat.join("-2+3.wav")).expect("copy");
    // Unusable files whose names are formulas (their error rows).
    std::fs::write(cat.join("@SUM(A1).mp3"), b"not audio at all").expect("write");
    std::fs::write(cat.join("+cmd.wav"), b"").expect("write");

    let o = st.run(&["analyze"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for file in ["features.csv", "analyze-errors.csv"] {
        let fields = csv_fields(&cat.join(file));
        let bad: Vec<&String> = fields.iter().filter(|f| is_formula(f)).collect();
        assert!(bad.is_empty(), "{file}: formulas {bad:?}");
    }
    let features = std::fs::read_to_string(cat.join("features.csv")).expect("read");
    assert!(features.contains(&format!("'{payload}")), "{features}");
    let errors = std::fs::read_to_string(cat.join("analyze-errors.csv")).expect("read");
    assert!(
        errors.contains("'@SUM(A1).mp3") && errors.contains("'+cmd.wav"),
        "{errors}"
    );

    // lofiever reads its own files back unchanged: nothing is re-analysed,
    // and the tags are the original text.
    let again = st.run(&["analyze"]);
    let text = stdout(&again);
    assert!(text.contains("0 analysed now, 6 from cache"), "{text}");
    let (rows, failures) =
        lofiever::analyze::read_cache(&cat.join("features.csv"), &cat.join("analyze-errors.csv"));
    let t = rows
        .iter()
        .find(|r| r.path.starts_with("=HYPERLINK"))
        .expect("the tagged track, by its real name");
    assert_eq!(t.tag_title, payload);
    assert_eq!(t.tag_album, "+1+cmd");
    assert!(rows.iter().any(|r| r.path == "-2+3.wav"));
    assert!(failures.iter().any(|f| f.path == "@SUM(A1).mp3"));
}

#[test]
fn special_characters_come_out_escaped_in_the_mpd_json_and_page() {
    let name = "Rain & <Chill> \"FM\" 'late' </Title><script>alert(1)</script> \\ ☕";
    let titles = [
        "<script>alert(\"x\")</script>",
        "Tom & Jerry's \"live\" </title>",
        "Café – 夜 🌙 \u{2028} next line",
        "back\\slash {\"json\": 1} ]]> <!-- -->",
    ];
    let toml = TEST_STATION_TOML.replace(
        "name = \"Test FM <&>\"",
        &format!("name = {}", toml_string(name)),
    );
    assert!(toml.contains("alert(1)"), "the test config has a name line");
    let st = TempStation::new(&toml);
    let names: Vec<String> = st
        .add_tracks(&short_specs(4))
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["path", "artist", "title"]).expect("csv");
    for (n, t) in names.iter().zip(titles) {
        w.write_record([n.as_str(), "A & <B>", t]).expect("csv");
    }
    let csv = w.into_inner().expect("csv");
    std::fs::write(st.root().join("catalog/test/catalog.csv"), csv).expect("write");
    let o = st.run(&["render", "--minutes", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = st.root().join("out");

    // MPD: valid against the DASH schema, and the title reads back as text.
    let mpd = out.join("stream.mpd");
    xmllint_mpd(&mpd).unwrap_or_else(|e| panic!("MPD invalid: {e}"));
    let xml = std::fs::read_to_string(&mpd).expect("read mpd");
    assert!(!xml.contains("<script>"), "{xml}");
    assert_eq!(xml_title(&xml), name);

    // station.json and the schedule: valid JSON whose strings round-trip.
    let station: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("station.json")).expect("read"))
            .expect("station.json is JSON");
    assert_eq!(station["name"], name);
    let items = schedule_items(&st);
    let seen: std::collections::BTreeSet<&str> =
        items.iter().filter_map(|i| i["title"].as_str()).collect();
    for t in titles {
        assert!(seen.contains(t), "{t:?} not in the schedule: {seen:?}");
    }
    assert!(items.iter().all(|i| i["artist"] == "A & <B>"));

    // The page: no station data in the HTML, and data only ever inserted as
    // text (never parsed as HTML).
    let html = std::fs::read_to_string(out.join("index.html")).expect("read");
    assert!(!html.contains("Rain") && !html.contains("alert"), "{html}");
    let js = std::fs::read_to_string(out.join("player.js")).expect("read");
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "createContextualFragment",
    ] {
        assert!(!js.contains(sink), "player.js uses {sink}");
    }
    // The MPD is parsed as XML into an inert document (never shown, no
    // scripts run), never as HTML.
    for call in js.split("parseFromString(").skip(1) {
        let args = call.split(')').next().unwrap_or("");
        assert!(
            args.contains("'application/xml'"),
            "parseFromString({args})"
        );
    }
    // (Titles and artists go through setText, which writes textContent.)
    for set in [
        "setText(ui.title, ",
        "setText(ui.artist, ",
        "if (el.textContent !== text) el.textContent = text;",
        "ui.name.textContent = ",
    ] {
        assert!(js.contains(set), "player.js no longer sets {set}");
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text of the MPD's `<Title>`, unescaped by an XML parser.
fn xml_title(xml: &str) -> String {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == "Title" => inside = true,
            Event::End(e) if e.name().as_ref() == "Title" => return text,
            Event::Text(t) if inside => {
                text.push_str(&t.into_inner());
            }
            Event::GeneralRef(r) if inside => {
                let name = r.into_inner();
                text.push_str(match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity &{other};"),
                });
            }
            Event::Eof => panic!("no <Title> in the MPD"),
            _ => {}
        }
    }
}

/// Lines of a command's stderr that are not blank.
fn lines(o: &std::process::Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn a_folder_link_loop_and_deep_nesting_give_one_line_each_and_no_phantom_tracks() {
    let st = TempStation::new(TEST_STATION_TOML);
    let n = st.add_tracks(&short_specs(3)).len();
    let bad = st.root().join("catalog/bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::os::unix::fs::symlink("..", bad.join("dirloop")).expect("symlink");
    let mut deep = st.root().join("catalog/deep");
    for i in 0..40 {
        deep = deep.join(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).expect("mkdir deep");
    let started = std::time::Instant::now();
    let o = st.run(&["analyze"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("analyze: {n} tracks usable")),
        "{out}"
    );
    // (Progress lines aside.)
    let l: Vec<String> = lines(&o)
        .into_iter()
        .filter(|x| x.starts_with("warning") || x.starts_with("error"))
        .collect();
    assert_eq!(l.len(), 2, "one line per problem: {l:#?}");
    assert!(
        l.iter()
            .any(|x| x.contains("bad/dirloop") && x.contains("not followed")),
        "{l:#?}"
    );
    assert!(
        l.iter().any(|x| x.contains("nested deeper than 32")),
        "{l:#?}"
    );
    assert!(l.iter().all(|x| x.len() < 300), "{l:#?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn duplicate_recordings_are_one_track_reported_once() {
    let st = TempStation::new(TEST_STATION_TOML);
    let paths = st.add_tracks(&short_specs(4));
    let copy = st.root().join("catalog/copy");
    std::fs::create_dir_all(&copy).expect("mkdir");
    for p in &paths {
        std::fs::copy(p, copy.join(p.file_name().expect("name"))).expect("copy");
    }
    let o = st.run(&["schedule", "--minutes", "30"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dup: Vec<String> = lines(&o)
        .into_iter()
        .filter(|l| l.contains("same recording"))
        .collect();
    assert_eq!(dup.len(), paths.len(), "one line per recording: {dup:#?}");
    let items = st.schedule().items;
    assert!(items.len() > 20, "{} items", items.len());
    // Each recording is scheduled under one path only.
    let mut paths_of: std::collections::HashMap<&str, std::collections::BTreeSet<&str>> =
        std::collections::HashMap::new();
    for it in &items {
        paths_of.entry(&it.hash).or_default().insert(&it.track);
    }
    assert!(
        paths_of.values().all(|p| p.len() == 1),
        "a recording under two paths: {paths_of:?}"
    );
    for w in items.windows(2) {
        assert_ne!(w[0].hash, w[1].hash, "the same recording back to back");
    }
}

#[test]
fn a_100_kb_tag_is_cut_to_300_characters_everywhere() {
    let st = TempStation::new(TEST_STATION_TOML);
    let paths = st.add_tracks(&short_specs(3));
    let long = "x".repeat(100_000);
    let tagged = st.root().join("catalog/test/tagged.flac");
    ffmpeg(&[
        "-i",
        paths[0].to_str().expect("utf-8"),
        "-metadata",
        &format!("title={long}"),
        tagged.to_str().expect("utf-8"),
    ]);
    std::fs::remove_file(&paths[0]).expect("rm");
    let o = st.run(&["schedule", "--minutes", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let features = std::fs::read_to_string(st.root().join("catalog/features.csv")).expect("csv");
    let longest = features.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1000, "features.csv has a {longest}-byte line");
    assert!(
        features.contains(&"x".repeat(300)),
        "the tag is not kept at all"
    );
    let items = st.schedule().items;
    let tagged_items: Vec<_> = items
        .iter()
        .filter(|it| it.track.ends_with("tagged.flac"))
        .collect();
    assert!(
        !tagged_items.is_empty(),
        "the tagged track was never planned"
    );
    for it in tagged_items {
        assert_eq!(it.title.chars().count(), 300, "title of {}", it.track);
    }
    for e in std::fs::read_dir(st.root().join("out/schedule")).expect("schedule") {
        let len = std::fs::metadata(e.expect("entry").path())
            .expect("meta")
            .len();
        assert!(len < 64_000, "a schedule file of {len} bytes");
    }
}

#[test]
fn a_silent_endpoint_fails_render_and_status_within_the_documented_budget() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts every connection and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    let st = TempStation::new(&format!(
        "{TEST_STATION_TOML}\n[publish]\ntarget = \"s3://silent-radio/live\"\n\
         endpoint = \"http://127.0.0.1:{port}\"\nregion = \"us-east-1\"\npath_style = true\n"
    ));
    st.add_tracks(&short_specs(2));
    let budget = lofiever::publish::silent_store_budget();
    for cmd in [&["status"][..], &["render", "--minutes", "1"]] {
        let started = std::time::Instant::now();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_lofiever"))
            .args(cmd)
            .current_dir(st.root())
            .env_remove("LOFIEVER_TARGET")
            .env("AWS_ACCESS_KEY_ID", "silent")
            .env("AWS_SECRET_ACCESS_KEY", "silent-secret")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run lofiever");
        let took = started.elapsed();
        assert!(
            !o.status.success(),
            "{cmd:?} succeeded against a silent store"
        );
        // The budget plus start-up (and, for render, analysing 2 tracks).
        assert!(
            took < budget + std::time::Duration::from_secs(15),
            "{cmd:?} took {took:?}, budget {budget:?}: {}",
            stderr(&o)
        );
        let mut l = lines(&o);
        l.extend(stdout(&o).lines().map(str::to_string));
        assert!(
            l.iter()
                .any(|x| x.contains("127.0.0.1") || x.contains("s3://silent-radio")),
            "{cmd:?}: {l:#?}"
        );
        eprintln!("{cmd:?}: {took:?} (budget {budget:?}): {l:?}");
    }
}

#[test]
fn no_credentials_at_all_give_one_line_naming_the_command() {
    let weed = crate::publish::shared_weed();
    let st = TempStation::new(&crate::publish::s3_station_toml(
        &weed.endpoint(),
        "no-credentials",
        "",
    ));
    // A new user's set-up: no keys, and config files named but not there.
    let missing = st.root().join("no-such-aws-file");
    for cmd in ["status", "verify"] {
        let o = crate::publish::lofiever_command(st.root(), None, "warn", &[cmd])
            .env("AWS_CONFIG_FILE", &missing)
            .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
            .output()
            .expect("run lofiever");
        assert!(!o.status.success(), "{cmd} succeeded without credentials");
        let l = lines(&o);
        let about: Vec<&String> = l
            .iter()
            .filter(|x| x.to_lowercase().contains("credentials"))
            .collect();
        assert_eq!(about.len(), 1, "{cmd}: one line about credentials: {l:#?}");
        assert_eq!(l.len(), 1, "{cmd}: one line in all: {l:#?}");
        // The line names the command, not publishing (which it is not).
        assert!(
            l[0].starts_with(&format!("error: {cmd}: s3://no-credentials/radio: ")),
            "{cmd}: {}",
            l[0]
        );
        assert!(
            l[0].contains("no AWS credentials found")
                && l[0].contains(&format!("AWS_CONFIG_FILE names {}", missing.display())),
            "{cmd}: {}",
            l[0]
        );
        eprintln!("{cmd}: {}", l[0]);
    }
}

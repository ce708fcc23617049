use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
        .expect("valid literal")
        .with_timezone(&Utc)
}

fn load(text: &str) -> Result<Station> {
    Station::from_toml(text, "station.toml", Path::new("/station"), now())
}

fn config_error(text: &str) -> (String, String) {
    match load(text) {
        Err(Error::Config { key, message, .. }) => (key, message),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn the_shipped_file_is_valid_and_equals_the_serde_defaults() {
    let shipped = Station::embedded(Path::new("/station"), now()).expect("shipped config is valid");
    let empty = load("").expect("all keys have defaults");
    assert_eq!(shipped.grid, empty.grid);
    assert_eq!(shipped.renditions, empty.renditions);
    assert_eq!(shipped.name, empty.name);
    assert_eq!(shipped.epoch, empty.epoch);
    assert_eq!(shipped.crossfade, empty.crossfade);
    assert_eq!(shipped.dashjs_url, empty.dashjs_url);
    assert_eq!(shipped.grid.segment_duration(), SampleCount(96_000));
    assert_eq!(shipped.renditions.len(), 3);
    assert_eq!(shipped.catalog_dir, Path::new("/station/catalog"));
    assert_eq!(shipped.target, TargetSpec::Dir("/station/out".into()));
}

#[test]
fn segment_duration_must_be_whole_opus_frames() {
    let (key, msg) = config_error("[stream]\nsegment_ms = 2010\n");
    assert_eq!(key, "stream.segment_ms");
    assert!(
        msg.contains("2010") && msg.contains("multiple of 20"),
        "{msg}"
    );
    assert!(load("[stream]\nsegment_ms = 1000\n").is_ok());
}

#[test]
fn epoch_errors_name_the_problem() {
    let (key, msg) = config_error("[station]\nepoch = \"2027-01-01T00:00:00Z\"\n");
    assert_eq!(key, "station.epoch");
    assert!(msg.contains("future"), "{msg}");
    let (key, msg) = config_error("[station]\nepoch = \"yesterday\"\n");
    assert_eq!(key, "station.epoch");
    assert!(msg.contains("RFC 3339"), "{msg}");
    let (_, msg) = config_error("[station]\nepoch = \"2026-01-01T00:00:00+02:00\"\n");
    assert!(msg.contains("UTC"), "{msg}");
    let (_, msg) = config_error("[station]\nepoch = \"2026-01-01T00:00:00.5Z\"\n");
    assert!(msg.contains("fractional"), "{msg}");
}

#[test]
fn bitrates_libopus_cannot_do_are_refused() {
    let (key, msg) = config_error("[stream]\nbitrates_kbps = [96, 600]\n");
    assert_eq!(key, "stream.bitrates_kbps");
    assert!(msg.contains("600") && msg.contains("6 to 510"), "{msg}");
    let (_, msg) = config_error("[stream]\nbitrates_kbps = []\n");
    assert!(msg.contains("at least one"), "{msg}");
    let (_, msg) = config_error("[stream]\nbitrates_kbps = [96, 96]\n");
    assert!(msg.contains("twice"), "{msg}");
}

#[test]
fn unknown_keys_and_wrong_types_are_errors_with_a_location() {
    match load("[stream]\nsegment_msec = 2000\n") {
        Err(Error::Config { message, key, .. }) => {
            assert!(message.contains("segment_msec"), "{message}");
            assert_eq!(key, "line 2, column 1");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    match load("[audio]\ncrossfade_ms = \"long\"\n") {
        Err(Error::Config { message, .. }) => {
            assert!(message.contains("invalid type"), "{message}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn targets_parse_and_bad_ones_are_refused() {
    let s = load("[publish]\ntarget = \"s3://my-radio/live/\"\n").expect("valid");
    assert_eq!(
        s.target,
        TargetSpec::S3 {
            bucket: "my-radio".into(),
            prefix: "live".into()
        }
    );
    let (key, _) = config_error("[publish]\ntarget = \"s3://A_B\"\n");
    assert_eq!(key, "publish.target");
    let (_, msg) = config_error("[publish]\ntarget = \"ftp://host/x\"\n");
    assert!(msg.contains("unknown scheme \"ftp\""), "{msg}");
}

#[test]
fn other_ranges_name_their_key() {
    for (text, key) in [
        ("[stream]\nopus_complexity = 11\n", "stream.opus_complexity"),
        ("[stream]\nchunk_segments = 0\n", "stream.chunk_segments"),
        (
            "[audio]\nloudness_target_lufs = 3.0\n",
            "audio.loudness_target_lufs",
        ),
        ("[audio]\ncrossfade_ms = 90000\n", "audio.crossfade_ms"),
        ("[station]\nname = \"  \"\n", "station.name"),
        (
            "[player]\ntarget_latency_ms = 10\n",
            "player.target_latency_ms",
        ),
    ] {
        assert_eq!(config_error(text).0, key, "{text}");
    }
}

#[test]
fn the_environment_overrides_the_target_and_is_named_in_errors() {
    let raw: RawStation = toml::from_str("[publish]\ntarget = \"out\"\n").expect("valid toml");
    let s = raw::validate(
        raw.clone(),
        "f",
        Path::new("/r"),
        Some("s3://bucket-a/x".into()),
    )
    .expect("valid override");
    assert_eq!(
        s.target,
        TargetSpec::S3 {
            bucket: "bucket-a".into(),
            prefix: "x".into()
        }
    );
    match raw::validate(raw, "f", Path::new("/r"), Some("s3://B".into())) {
        Err(Error::Config { key, .. }) => assert_eq!(key, TARGET_ENV),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn artwork_is_read_and_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let at = |name: &str| format!("[player]\nartwork = {name:?}\n");
    let load_in = |text: &str| Station::from_toml(text, "station.toml", dir.path(), now());
    let err = |text: &str| match load_in(text) {
        Err(Error::Config { key, message, .. }) => (key, message),
        other => panic!("expected a config error, got {other:?}"),
    };

    let (key, msg) = err(&at("missing.png"));
    assert_eq!(key, "player.artwork");
    assert!(msg.contains("cannot read missing.png"), "{msg}");

    std::fs::write(dir.path().join("notes.png"), b"not an image at all").expect("write");
    let (key, msg) = err(&at("notes.png"));
    assert_eq!(key, "player.artwork");
    assert!(msg.contains("not a PNG or JPEG"), "{msg}");

    let png = {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, 512, 512);
        enc.set_color(png::ColorType::Rgb);
        let mut w = enc.write_header().expect("header");
        w.write_image_data(&vec![90u8; 512 * 512 * 3])
            .expect("data");
        w.finish().expect("finish");
        out
    };
    std::fs::write(dir.path().join("art.png"), &png[..png.len() / 3]).expect("write");
    let (_, msg) = err(&at("art.png"));
    assert!(msg.contains("broken image"), "{msg}");

    std::fs::write(dir.path().join("big.png"), vec![0u8; 3 << 20]).expect("write");
    let (_, msg) = err(&at("big.png"));
    assert!(msg.contains("KB"), "{msg}");

    std::fs::write(dir.path().join("art.png"), &png).expect("write");
    let station = load_in(&at("art.png")).expect("a PNG is fine");
    let art = station.artwork.expect("artwork read");
    assert_eq!(
        (art.width, art.height, art.format),
        (512, 512, ArtworkFormat::Png)
    );
    assert_eq!(art.bytes, png);
    assert!(load_in("").expect("defaults").artwork.is_none());
}

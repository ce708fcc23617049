// A catalog of `n` tiny files that are not audio, with `features.csv`
// already holding a row for each (same path, size and mtime): a re-run
// must take every row from the cache and decode nothing. Shared by
// `benches/analyze.rs` and `tests/it/analyze.rs` through `include!`.

/// Writes the files and the cache into `catalog`; returns `n`.
pub fn fake_cached_catalog(catalog: &std::path::Path, n: usize) -> usize {
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let rel = format!("artist {:02}/track {i:04}.flac", i % 50);
        let path = lofiever::analyze::track_path(catalog, &rel);
        let parent = path.parent().expect("a file in a folder");
        std::fs::create_dir_all(parent).expect("mkdir");
        std::fs::write(&path, format!("not audio {i}")).expect("write");
        let meta = std::fs::metadata(&path).expect("stat");
        let mtime_ns = meta
            .modified()
            .expect("mtime")
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos();
        rows.push(lofiever::analyze::Features {
            path: rel,
            hash: format!("{i:032x}"),
            size: meta.len(),
            mtime_ns: u64::try_from(mtime_ns).expect("fits"),
            duration_samples: 48_000 * 180,
            source_rate: 48_000,
            source_channels: 2,
            loudness_lufs: -14.0,
            true_peak_dbtp: -1.0,
            cue_in: 0,
            cue_out: 48_000 * 180,
            tempo_bpm: 80.0,
            key: "A minor".into(),
            camelot: "8A".into(),
            fade_out_start: 48_000 * 175,
            analyzer_revision: lofiever::analyze::ANALYZER_REVISION,
            ..Default::default()
        });
    }
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    lofiever::analyze::write_cache(&catalog.join(lofiever::analyze::FEATURES_FILE), &rows)
        .expect("write cache");
    n
}

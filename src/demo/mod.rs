//! The demo catalog: a deterministic lo-fi synthesiser ([`synth`]) and the
//! code that writes its tracks into `catalog/demo/` with a `catalog.csv`
//! naming them. The same generator is the test suite's ground truth (known
//! tempo, key and length).

pub mod synth;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};
use synth::TrackSpec;

/// Folder of the demo catalog inside the catalog folder.
pub const DEMO_DIR: &str = "demo";

/// The file name of spec number `i` (0-based): `01-slow-morning-rain.wav`.
pub fn file_name(i: usize, spec: &TrackSpec) -> String {
    let slug: String = spec
        .title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("{:02}-{slug}.wav", i + 1)
}

/// Synthesises `specs` as WAV files into `dir` (in parallel) and writes a
/// `catalog.csv` with their artists and titles. Files that already exist are
/// kept (the synthesis is deterministic, and every write is atomic, so an
/// existing file is complete). Returns the paths of the audio files.
pub fn write_catalog(
    dir: &Path,
    specs: &[TrackSpec],
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    progress.start("synthesising demo tracks", specs.len() as u64, Unit::Items);
    let paths = specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| {
            let path = dir.join(file_name(i, spec));
            if !path.is_file() {
                let samples = synth::render(spec);
                let mut bytes = Cursor::new(Vec::new());
                synth::write_wav(spec, &samples, &mut bytes)
                    .map_err(|e| Error::audio(&path, format!("cannot write WAV ({e})")))?;
                crate::fsutil::write_atomic(&path, bytes.get_ref())?;
            }
            progress.advance(1);
            Ok(path)
        })
        .collect::<Result<Vec<_>>>()?;
    progress.finish(&format!("{} demo tracks in {}", specs.len(), dir.display()));

    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::Csv {
        path: dir.join("catalog.csv"),
        message: e.to_string(),
    };
    w.write_record(["path", "artist", "title", "tags", "weight", "enabled"])
        .map_err(csv_err)?;
    for (i, spec) in specs.iter().enumerate() {
        let tags = format!("demo;{};{} bpm", spec.key.name(), spec.bpm.round());
        w.write_record([
            file_name(i, spec).as_str(),
            spec.artist.as_str(),
            spec.title.as_str(),
            tags.as_str(),
            "1",
            "true",
        ])
        .map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Csv {
        path: dir.join("catalog.csv"),
        message: e.to_string(),
    })?;
    crate::fsutil::write_atomic(&dir.join("catalog.csv"), &bytes)?;
    Ok(paths)
}

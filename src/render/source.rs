//! Track audio for the mixer, decoded from the catalog as streams.
//!
//! [`CatalogAudio`] keeps one open decoder per scheduled item and the frames
//! decoded for the last request, so rendering consecutive chunks (whose
//! priming overlaps the previous chunk's end) decodes each track once,
//! front to back. Output is still a pure function of the file:
//! a request that goes backwards past the kept window reopens the file and
//! decodes from the start, which yields the very same samples.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mix::TrackAudio;
use crate::analyze::track_path;
use crate::audio::Decoder48;
use crate::error::{Error, Result};
use crate::schedule::Item;

struct OpenTrack {
    dec: Decoder48,
    /// Interleaved stereo frames `[buf_start, buf_start + buf.len()/2)`.
    buf: Vec<f32>,
    buf_start: u64,
    ended: bool,
}

/// Where each recording is in the catalog now: a track is its audio (the
/// content hash), not its path, so an item whose file was moved or renamed
/// is decoded from where its content is now.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Content hash → catalog-relative path (the first path in sorted
    /// order when one recording has several).
    pub by_hash: HashMap<String, String>,
    /// Catalog-relative path → content hash.
    pub by_path: HashMap<String, String>,
    /// Starts of items whose recording is gone and whose audio is heard
    /// only before the cut (already rendered): they mix as silence, so the
    /// chunk after the cut can be primed without them.
    pub silent: HashSet<u64>,
}

impl Sources {
    /// The catalog-relative path to decode `item` from, `None` if its
    /// recording is nowhere in the catalog: the path it was scheduled under
    /// if that still holds the same audio, else wherever that audio is now,
    /// else the scheduled path if a file is still there.
    pub fn resolve(&self, root: &Path, item: &Item) -> Option<String> {
        if self.by_path.get(&item.track) == Some(&item.hash) {
            return Some(item.track.clone());
        }
        if let Some(rel) = self.by_hash.get(&item.hash) {
            return Some(rel.clone());
        }
        track_path(root, &item.track)
            .is_file()
            .then(|| item.track.clone())
    }
}

/// Decodes scheduled tracks from the catalog folder. Not `Sync`: each
/// render worker owns one.
pub struct CatalogAudio {
    root: PathBuf,
    sources: Arc<Sources>,
    open: HashMap<u64, OpenTrack>,
    /// Buffers of closed tracks, reused for the next ones opened, so their
    /// memory is not handed back and faulted in afresh for every track.
    spare: Vec<Vec<f32>>,
}

impl CatalogAudio {
    /// Audio from the catalog at `root`.
    pub fn new(root: &Path) -> CatalogAudio {
        CatalogAudio::with_sources(root, Arc::new(Sources::default()))
    }

    /// Audio from the catalog at `root`, finding moved recordings by their
    /// content hash through `sources`.
    pub fn with_sources(root: &Path, sources: Arc<Sources>) -> CatalogAudio {
        CatalogAudio {
            root: root.to_path_buf(),
            sources,
            open: HashMap::new(),
            spare: Vec::new(),
        }
    }

    fn close_before(&mut self, sample: u64, items: &[Item]) {
        let done: Vec<u64> = self
            .open
            .keys()
            .copied()
            .filter(|start| {
                items
                    .iter()
                    .find(|it| it.start_sample == *start)
                    .is_none_or(|it| it.end().0 <= sample)
            })
            .collect();
        for k in done {
            if let Some(t) = self.open.remove(&k) {
                let mut buf = t.buf;
                buf.clear();
                self.spare.push(buf);
            }
        }
    }

    fn open_item(&mut self, item: &Item) -> Result<OpenTrack> {
        let Some(rel) = self.sources.resolve(&self.root, item) else {
            return Err(Error::Schedule(format!(
                "track {:?} (\"{}\" by {}, content {}) is scheduled at sample {} but its audio is \
                 no longer in the catalog; put the file back, or run `lofiever render` without \
                 --strict to re-plan the time not yet rendered",
                item.track, item.title, item.artist, item.hash, item.start_sample
            )));
        };
        let path = track_path(&self.root, &rel);
        Ok(OpenTrack {
            dec: Decoder48::open(&path)?,
            buf: self.spare.pop().unwrap_or_default(),
            buf_start: 0,
            ended: false,
        })
    }
}

impl TrackAudio for CatalogAudio {
    fn frames(&mut self, item: &Item, from: u64, frames: usize) -> Result<&[f32]> {
        let key = item.start_sample;
        if self.sources.silent.contains(&key) && self.sources.resolve(&self.root, item).is_none() {
            return Ok(&[]);
        }
        let reopen = match self.open.get(&key) {
            Some(t) => from < t.buf_start,
            None => true,
        };
        if reopen {
            let t = self.open_item(item)?;
            self.open.insert(key, t);
        }
        let t = self
            .open
            .get_mut(&key)
            .expect("the item's decoder was just opened or already open");
        // Drop what lies before this request (requests move forwards; one
        // that goes back reopens the file, above). What is kept is the
        // overlap with the previous request, about the priming's length.
        let have_end = t.buf_start + (t.buf.len() / 2) as u64;
        let keep_from = from.min(have_end);
        if keep_from > t.buf_start {
            t.buf.drain(..((keep_from - t.buf_start) * 2) as usize);
            t.buf_start = keep_from;
        }
        // Decode straight into the kept window until it covers the request.
        let want_end = from + frames as u64;
        // Room for the request and one more decoded packet, at once rather
        // than by doubling (each doubling copies what was decoded).
        let missing = want_end.saturating_sub((t.buf_start + (t.buf.len() / 2) as u64).max(from));
        t.buf.reserve((missing as usize + 16_384) * 2);
        while !t.ended && t.buf_start + (t.buf.len() / 2) as u64 <= want_end {
            if !t.dec.next_block(&mut t.buf)? {
                t.ended = true;
            }
            // Decoding up to a request far into the track (a fresh worker
            // starting mid-track, or a long mix): keep nothing before
            // `from`, so memory stays one request long whatever the
            // track's length.
            let end = t.buf_start + (t.buf.len() / 2) as u64;
            if end <= from {
                t.buf.clear();
                t.buf_start = end;
            }
        }
        let have_end = t.buf_start + (t.buf.len() / 2) as u64;
        if from >= have_end {
            return Ok(&[]);
        }
        let s = ((from - t.buf_start) * 2) as usize;
        let e = ((want_end.min(have_end) - t.buf_start) * 2) as usize;
        Ok(&t.buf[s..e])
    }

    fn retire_before(&mut self, sample: u64, items: &[Item]) {
        self.close_before(sample, items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 48 kHz stereo WAV of `seconds` where frame `i` holds `i` (mod
    /// 2^15) on the left, so positions can be checked.
    fn counting_wav(path: &Path, seconds: u32) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create wav");
        for i in 0..seconds * 48_000 {
            let v = (i % 32_768) as i16;
            w.write_sample(v).expect("sample");
            w.write_sample(-v).expect("sample");
        }
        w.finalize().expect("finalize");
    }

    #[test]
    fn a_request_deep_into_a_track_holds_only_that_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        counting_wav(&dir.path().join("long.wav"), 90);
        let item = Item {
            start_sample: 0,
            length: 90 * 48_000,
            track: "long.wav".into(),
            hash: "h".into(),
            cue_in: 0,
            gain_db: 0.0,
            fade_in: 0,
            fade_out: 0,
            title: String::new(),
            artist: String::new(),
        };
        let mut audio = CatalogAudio::new(dir.path());
        // A fresh worker whose first chunk lies 80 s into the track.
        let from = 80 * 48_000;
        let got = audio.frames(&item, from, 48_000).expect("frames").to_vec();
        assert_eq!(got.len(), 2 * 48_000);
        for (k, f) in got.chunks_exact(2).enumerate().step_by(997) {
            let want = ((from as usize + k) % 32_768) as f32 / 32_768.0;
            assert!((f[0] - want).abs() < 1e-6, "frame {k}: {} vs {want}", f[0]);
        }
        // The 80 s decoded on the way were not kept: at most the request
        // and the block that crossed its end.
        let t = audio.open.get(&0).expect("open");
        assert!(
            t.buf.len() / 2 < 2 * 48_000,
            "{} frames held for a 1 s request",
            t.buf.len() / 2
        );
        // A later request continues from there; one before it reopens.
        let next = audio.frames(&item, from + 48_000, 10).expect("frames");
        assert!((next[0] - ((from as usize + 48_000) % 32_768) as f32 / 32_768.0).abs() < 1e-6);
        let back = audio.frames(&item, 5, 1).expect("frames");
        assert!((back[0] - 5.0 / 32_768.0).abs() < 1e-6);
    }
}

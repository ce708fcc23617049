//! Track audio for the mixer, decoded from the catalog.

use std::path::{Path, PathBuf};

use super::mix::TrackAudio;
use crate::analyze::track_path;
use crate::audio::Decoder48;
use crate::error::{Error, Result};
use crate::schedule::Item;

/// Decodes scheduled tracks from the catalog folder.
///
/// Each call decodes from the start of the file and keeps only the frames
/// asked for: simple and exactly reproducible (resampler state always starts
/// the same way). Seeking to a fixed restart grid is a later optimisation.
pub struct CatalogAudio {
    root: PathBuf,
}

impl CatalogAudio {
    /// Audio from the catalog at `root`.
    pub fn new(root: &Path) -> CatalogAudio {
        CatalogAudio {
            root: root.to_path_buf(),
        }
    }
}

impl TrackAudio for CatalogAudio {
    fn frames(&self, item: &Item, from: u64, frames: usize) -> Result<Vec<f32>> {
        let path = track_path(&self.root, &item.track);
        if !path.is_file() {
            return Err(Error::Schedule(format!(
                "track {:?} (\"{}\" by {}) is scheduled at sample {} but is no longer in the \
                 catalog; put the file back (the schedule is append-only and never re-planned)",
                item.track, item.title, item.artist, item.start_sample
            )));
        }
        let mut dec = Decoder48::open(&path)?;
        let want_from = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .saturating_mul(2);
        let want_len = frames * 2;
        let mut out = Vec::with_capacity(want_len);
        let mut pos = 0usize; // interleaved values decoded so far
        let mut block = Vec::with_capacity(1 << 16);
        while out.len() < want_len {
            block.clear();
            if !dec.next_block(&mut block)? {
                break;
            }
            let b_start = pos;
            let b_end = pos + block.len();
            pos = b_end;
            if b_end <= want_from {
                continue;
            }
            let s = want_from.saturating_sub(b_start);
            let take = (block.len() - s).min(want_len - out.len());
            out.extend_from_slice(&block[s..s + take]);
        }
        out.resize(want_len, 0.0);
        Ok(out)
    }
}

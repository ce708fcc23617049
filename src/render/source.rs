//! Track audio for the mixer, decoded from the catalog as streams.
//!
//! [`CatalogAudio`] keeps one open decoder per scheduled item and a short
//! window of decoded frames, so rendering consecutive chunks decodes each
//! track once, front to back. Output is still a pure function of the file:
//! a request that goes backwards past the kept window reopens the file and
//! decodes from the start, which yields the very same samples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::mix::TrackAudio;
use crate::analyze::track_path;
use crate::audio::Decoder48;
use crate::error::{Error, Result};
use crate::schedule::Item;

/// Decoded frames kept behind the furthest request, so the next chunk's
/// priming (which reaches back before the previous chunk's end) is served
/// from memory.
const KEEP_FRAMES: u64 = 4 * 48_000;

struct OpenTrack {
    dec: Decoder48,
    /// Interleaved stereo frames `[buf_start, buf_start + buf.len()/2)`.
    buf: Vec<f32>,
    buf_start: u64,
    ended: bool,
}

/// Decodes scheduled tracks from the catalog folder. Not `Sync`: each
/// render worker owns one.
pub struct CatalogAudio {
    root: PathBuf,
    open: HashMap<u64, OpenTrack>,
}

impl CatalogAudio {
    /// Audio from the catalog at `root`.
    pub fn new(root: &Path) -> CatalogAudio {
        CatalogAudio {
            root: root.to_path_buf(),
            open: HashMap::new(),
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
            self.open.remove(&k);
        }
    }

    fn open_item(&self, item: &Item) -> Result<OpenTrack> {
        let path = track_path(&self.root, &item.track);
        if !path.is_file() {
            return Err(Error::Schedule(format!(
                "track {:?} (\"{}\" by {}) is scheduled at sample {} but is no longer in the \
                 catalog; put the file back (the schedule is append-only and never re-planned)",
                item.track, item.title, item.artist, item.start_sample
            )));
        }
        Ok(OpenTrack {
            dec: Decoder48::open(&path)?,
            buf: Vec::new(),
            buf_start: 0,
            ended: false,
        })
    }
}

impl TrackAudio for CatalogAudio {
    fn frames(&mut self, item: &Item, from: u64, frames: usize) -> Result<Vec<f32>> {
        let key = item.start_sample;
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
        let want_end = from + frames as u64;
        let mut block = Vec::with_capacity(1 << 16);
        while !t.ended && t.buf_start + (t.buf.len() / 2) as u64 <= want_end {
            block.clear();
            if t.dec.next_block(&mut block)? {
                t.buf.extend_from_slice(&block);
            } else {
                t.ended = true;
            }
        }
        let mut out = Vec::with_capacity(frames * 2);
        let have_end = t.buf_start + (t.buf.len() / 2) as u64;
        if from < have_end {
            let s = ((from - t.buf_start) * 2) as usize;
            let e = ((want_end.min(have_end) - t.buf_start) * 2) as usize;
            out.extend_from_slice(&t.buf[s..e]);
        }
        out.resize(frames * 2, 0.0);
        // Drop what lies more than KEEP_FRAMES behind this request's end.
        let keep_from = want_end.saturating_sub(KEEP_FRAMES).max(t.buf_start);
        let drop = ((keep_from - t.buf_start) * 2) as usize;
        if drop > 0 {
            t.buf.drain(..drop.min(t.buf.len()));
            t.buf_start = keep_from;
        }
        Ok(out)
    }

    fn retire_before(&mut self, sample: u64, items: &[Item]) {
        self.close_before(sample, items);
    }
}

//! Track audio for the mixer, decoded from the catalog as streams.
//!
//! [`CatalogAudio`] keeps one open decoder per scheduled item and the frames
//! decoded for the last request, so rendering consecutive chunks (whose
//! priming overlaps the previous chunk's end) decodes each track once,
//! front to back. Output is still a pure function of the file:
//! a request that goes backwards past the kept window reopens the file and
//! decodes from the start, which yields the very same samples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// Decodes scheduled tracks from the catalog folder. Not `Sync`: each
/// render worker owns one.
pub struct CatalogAudio {
    root: PathBuf,
    open: HashMap<u64, OpenTrack>,
    /// Buffers of closed tracks, reused for the next ones opened, so their
    /// memory is not handed back and faulted in afresh for every track.
    spare: Vec<Vec<f32>>,
}

impl CatalogAudio {
    /// Audio from the catalog at `root`.
    pub fn new(root: &Path) -> CatalogAudio {
        CatalogAudio {
            root: root.to_path_buf(),
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
            buf: self.spare.pop().unwrap_or_default(),
            buf_start: 0,
            ended: false,
        })
    }
}

impl TrackAudio for CatalogAudio {
    fn frames(&mut self, item: &Item, from: u64, frames: usize) -> Result<&[f32]> {
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
        let missing = want_end.saturating_sub(t.buf_start + (t.buf.len() / 2) as u64);
        t.buf.reserve((missing as usize + 16_384) * 2);
        while !t.ended && t.buf_start + (t.buf.len() / 2) as u64 <= want_end {
            if !t.dec.next_block(&mut t.buf)? {
                t.ended = true;
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

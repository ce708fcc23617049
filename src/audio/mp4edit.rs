//! The edit list of an MP4/M4A audio track: how much of the decoded audio
//! is encoder priming to drop, and how long the presentation is.
//!
//! AAC encoders put 1024 to 2112 samples of priming before the music and
//! say so in the track's edit list (`moov/trak/edts/elst`: the first edit's
//! media time). Players honour it; symphonia 0.5 parses the box but does
//! not apply it, so lofiever reads it here with `mp4-atom` and trims the
//! decoded audio itself. Without it every AAC track started 20–50 ms late
//! and ran that much long, which shifted cue points and crossfades.
//!
//! Best effort: a file whose boxes cannot be read, or without an edit list,
//! is decoded as it is (as before).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use mp4_atom::{Atom, FourCC, Ftyp, Header, Moov, ReadAtom, ReadFrom};

/// What the edit list says, in source frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// Decoded frames to drop at the start (encoder priming).
    pub skip: u64,
    /// Frames to keep after that (the presentation's length), if stated.
    pub keep: Option<u64>,
}

impl Edit {
    /// Applies the edit to the next decoded stereo frames (interleaved, at
    /// the source rate): drops what is still to be skipped and cuts at the
    /// end of the presentation. Returns `true` once the presentation ends.
    pub fn apply(&mut self, stereo: &mut Vec<f32>) -> bool {
        let frames = (stereo.len() / 2) as u64;
        let skip = self.skip.min(frames);
        if skip > 0 {
            stereo.drain(..(skip * 2) as usize);
            self.skip -= skip;
        }
        match &mut self.keep {
            None => false,
            Some(keep) => {
                let frames = (stereo.len() / 2) as u64;
                if frames >= *keep {
                    stereo.truncate((*keep * 2) as usize);
                    *keep = 0;
                    true
                } else {
                    *keep -= frames;
                    false
                }
            }
        }
    }
}

/// Reads the edit of the first audio track of the MP4 file at `path`, in
/// frames at `source_rate`. `None` if the file is not MP4, has no edit list,
/// or its boxes cannot be read.
pub fn read(path: &Path, source_rate: u32) -> Option<Edit> {
    let mut file = File::open(path).ok()?;
    let first = Header::read_from(&mut file).ok()?;
    if first.kind != Ftyp::KIND {
        return None;
    }
    skip_body(&mut file, &first)?;
    loop {
        let header = Header::read_from(&mut file).ok()?;
        if header.kind == Moov::KIND {
            let moov = Moov::read_atom(&header, &mut file).ok()?;
            return edit_of(&moov, source_rate);
        }
        skip_body(&mut file, &header)?;
    }
}

/// Seeks past an atom's body; `None` for an atom that runs to the end.
fn skip_body<R: Read + Seek>(r: &mut R, header: &Header) -> Option<()> {
    let size = i64::try_from(header.size?).ok()?;
    r.seek(SeekFrom::Current(size)).ok()?;
    Some(())
}

fn edit_of(moov: &Moov, source_rate: u32) -> Option<Edit> {
    let trak = moov
        .trak
        .iter()
        .find(|t| t.mdia.hdlr.handler == FourCC::new(b"soun"))?;
    let elst = trak.edts.as_ref()?.elst.as_ref()?;
    // The first edit with media (empty edits, a dwell before the track,
    // are not audio to decode and are left out).
    let entry = elst.entries.iter().find(|e| e.media_time.is_some())?;
    let to_frames = |t: u64, timescale: u32| -> Option<u64> {
        if timescale == 0 {
            return None;
        }
        let frames = u128::from(t) * u128::from(source_rate) / u128::from(timescale);
        u64::try_from(frames).ok()
    };
    let skip = to_frames(entry.media_time?, trak.mdia.mdhd.timescale)?;
    let keep = if entry.segment_duration == 0 {
        None
    } else {
        to_frames(entry.segment_duration, moov.mvhd.timescale)
    };
    Some(Edit { skip, keep })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_drops_the_priming_and_cuts_at_the_end() {
        let mut edit = Edit {
            skip: 3,
            keep: Some(4),
        };
        let frames = |range: std::ops::Range<u32>| -> Vec<f32> {
            range.flat_map(|i| [i as f32, -(i as f32)]).collect()
        };
        let mut a = frames(0..2);
        assert!(!edit.apply(&mut a));
        assert!(a.is_empty(), "both frames are priming");
        let mut b = frames(2..5);
        assert!(!edit.apply(&mut b));
        assert_eq!(b, frames(3..5), "one more frame of priming");
        let mut c = frames(5..10);
        assert!(edit.apply(&mut c), "the presentation ends in this block");
        assert_eq!(c, frames(5..7), "4 frames kept in all");
    }

    #[test]
    fn a_file_that_is_not_mp4_has_no_edit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.m4a");
        std::fs::write(&path, b"RIFF\0\0\0\0WAVEfmt ").expect("write");
        assert_eq!(read(&path, 44_100), None);
    }
}

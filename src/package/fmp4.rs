//! CMAF boxes for one Opus audio track (track id 1, timescale 48 000).
//!
//! Init segment: `ftyp` + `moov` (mvhd, trak with an `Opus` sample entry and
//! its `dOps`, mvex/trex). Media segment `N`: `styp` + `moof` (mfhd, traf with
//! tfhd, tfdt = N·D, trun with one entry per 960-sample packet) + `mdat`.
//!
//! Now playing: every media segment starts (after `styp`) with version-1
//! `emsg` boxes in the AOM "ID3 timed metadata in CMAF" scheme
//! ([`NOW_PLAYING_SCHEME`]): one for the item playing at the segment's first
//! sample, and one for each item that starts within the segment, each an
//! ID3v2.4 tag with `TIT2` (title) and `TPE1` (artist). A player that joins
//! mid-track learns the title from its first segment; the event `id` is the
//! item's start in whole seconds since the epoch, so repeats of one item
//! share it. Shaka Player turns these into `metadata` events and dash.js
//! raises them under the scheme's URI (both tested in Chromium,
//! `tests/it/browser.rs`).
//!
//! Timing: the encoder is fed the programme advanced by its look-ahead, so the
//! decoder's output sample `t` is programme sample `t`; hence `dOps.PreSkip`
//! is 0 and no edit list is needed (Opus-in-ISOBMFF §4.3.2 lets PreSkip be 0
//! when the encoder delay is compensated elsewhere).

use mp4_atom::{
    Audio, Dinf, Dops, Dref, DrefEntry, Emsg, EmsgTimestamp, Encode, FixedPoint, Ftyp, Hdlr, Mdat,
    Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mvex, Mvhd, Opus, Smhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts,
    Styp, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url,
};

use crate::time::{SampleIndex, SegmentNumber, OPUS_FRAME, SAMPLE_RATE};

/// The only track in every file.
pub const TRACK_ID: u32 = 1;

/// `emsg` scheme of the now-playing events: ID3 timed metadata in CMAF
/// (Alliance for Open Media), as Shaka Player and dash.js read it.
pub const NOW_PLAYING_SCHEME: &str = "https://aomedia.org/emsg/ID3";
/// `emsg` value of the now-playing events (a URI relative to the scheme,
/// saying what the ids mean: one id per schedule item).
pub const NOW_PLAYING_VALUE: &str = "now-playing";

/// One now-playing event in a media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NowPlaying {
    /// Programme sample from which the event applies (the item's start, or
    /// the segment's first sample for an item already playing).
    pub at: u64,
    /// Samples from `at` to the item's end.
    pub duration: u64,
    /// Event id: the item's start, whole seconds since the epoch (mod 2^32).
    pub id: u32,
    /// Track title.
    pub title: String,
    /// Track artist.
    pub artist: String,
}

impl NowPlaying {
    fn emsg(&self) -> Result<Emsg, PackageError> {
        Ok(Emsg {
            timescale: SAMPLE_RATE,
            presentation_time: EmsgTimestamp::Absolute(self.at),
            event_duration: u32::try_from(self.duration)
                .map_err(|_| PackageError::Overflow("event duration"))?,
            id: self.id,
            scheme_id_uri: NOW_PLAYING_SCHEME.to_string(),
            value: NOW_PLAYING_VALUE.to_string(),
            message_data: id3_tag(&[("TIT2", clip(&self.title)), ("TPE1", clip(&self.artist))])?,
        })
    }
}

/// Longest title or artist carried in an event, in bytes: enough for any
/// player's display, and it bounds a segment's size.
pub const MAX_EVENT_TEXT: usize = 255;
/// Most bytes one now-playing event adds to a segment: the box and its fixed
/// fields, the scheme, the value, the ID3 header and two clipped text frames.
pub const MAX_EVENT_LEN: u64 = 40 + 32 + 16 + 10 + 2 * (11 + MAX_EVENT_TEXT as u64);

/// `text` cut to at most [`MAX_EVENT_TEXT`] bytes on a character boundary.
fn clip(text: &str) -> &str {
    let mut end = text.len().min(MAX_EVENT_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An ID3v2.4 tag of UTF-8 text frames (`(frame id, text)`); sizes are
/// syncsafe integers (7 bits per byte), as v2.4 has them for tag and frames.
pub fn id3_tag(frames: &[(&str, &str)]) -> Result<Vec<u8>, PackageError> {
    fn syncsafe(n: usize) -> Result<[u8; 4], PackageError> {
        if n >= 1 << 28 {
            return Err(PackageError::Overflow("ID3 size"));
        }
        Ok([
            (n >> 21) as u8 & 0x7f,
            (n >> 14) as u8 & 0x7f,
            (n >> 7) as u8 & 0x7f,
            n as u8 & 0x7f,
        ])
    }
    let mut body = Vec::new();
    for (id, text) in frames {
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(&syncsafe(text.len() + 1)?);
        body.extend_from_slice(&[0, 0, 3]); // no flags; encoding 3 = UTF-8
        body.extend_from_slice(text.as_bytes());
    }
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend_from_slice(&syncsafe(body.len())?);
    tag.extend_from_slice(&body);
    Ok(tag)
}

/// The text frames of an ID3v2.4 tag written by [`id3_tag`], as
/// `(frame id, text)`; `None` if `tag` is not one.
pub fn read_id3_text(tag: &[u8]) -> Option<Vec<(String, String)>> {
    let unsync = |b: &[u8]| -> Option<usize> {
        b.iter().try_fold(0usize, |n, &x| {
            (x < 0x80).then_some(n << 7 | usize::from(x))
        })
    };
    if tag.get(..4)? != b"ID3\x04" {
        return None;
    }
    let end = 10 + unsync(tag.get(6..10)?)?;
    let mut pos = 10;
    let mut out = Vec::new();
    while pos + 10 <= end {
        let id = std::str::from_utf8(tag.get(pos..pos + 4)?)
            .ok()?
            .to_string();
        let size = unsync(tag.get(pos + 4..pos + 8)?)?;
        let data = tag.get(pos + 10..pos + 10 + size)?;
        let (&encoding, text) = data.split_first()?;
        if encoding != 3 {
            return None;
        }
        out.push((id, String::from_utf8(text.to_vec()).ok()?));
        pos += 10 + size;
    }
    Some(out)
}

/// Errors building boxes name the box.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// mp4-atom refused to encode a box.
    #[error("cannot encode {box_name}: {source}")]
    Encode {
        /// The box being written.
        box_name: &'static str,
        /// The underlying error.
        source: mp4_atom::Error,
    },
    /// A value does not fit its field.
    #[error("{0} does not fit its MP4 field")]
    Overflow(&'static str),
}

fn enc<T: Encode>(atom: &T, name: &'static str, out: &mut Vec<u8>) -> Result<(), PackageError> {
    atom.encode(out).map_err(|source| PackageError::Encode {
        box_name: name,
        source,
    })
}

/// The init segment for a stereo Opus rendition of `bitrate` bits/s.
pub fn init_segment(bitrate: u32) -> Result<Vec<u8>, PackageError> {
    let ftyp = Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into(), b"dash".into()],
    };
    let opus = Opus {
        audio: Audio {
            data_reference_index: 1,
            channel_count: 2,
            sample_size: 16,
            sample_rate: FixedPoint::from(
                u16::try_from(SAMPLE_RATE).map_err(|_| PackageError::Overflow("sample rate"))?,
            ),
        },
        dops: Dops {
            output_channel_count: 2,
            pre_skip: 0,
            input_sample_rate: SAMPLE_RATE,
            output_gain: 0,
            channel_mapping: None,
        },
        btrt: None,
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: SAMPLE_RATE,
            rate: FixedPoint::from(1u16),
            volume: FixedPoint::from(1u8),
            next_track_id: TRACK_ID + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: TRACK_ID,
                default_sample_description_index: 1,
                default_sample_duration: OPUS_FRAME as u32,
                default_sample_size: 0,
                default_sample_flags: 0,
            }],
        }),
        trak: vec![Trak {
            tkhd: Tkhd {
                track_id: TRACK_ID,
                enabled: true,
                in_movie: true,
                volume: FixedPoint::from(1u8),
                ..Default::default()
            },
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale: SAMPLE_RATE,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: b"soun".into(),
                    name: format!("lofiever {} kb/s", bitrate / 1000),
                },
                minf: Minf {
                    smhd: Some(Smhd::default()),
                    dinf: Dinf {
                        dref: Dref {
                            entries: vec![DrefEntry::Url(Url {
                                location: String::new(),
                            })],
                        },
                    },
                    stbl: Stbl {
                        stsd: Stsd {
                            codecs: vec![opus.into()],
                        },
                        stts: Stts::default(),
                        stsc: Stsc::default(),
                        stsz: Stsz::default(),
                        stco: Some(Stco::default()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::with_capacity(1024);
    enc(&ftyp, "ftyp", &mut out)?;
    enc(&moov, "moov", &mut out)?;
    Ok(out)
}

/// Media segment `number`, starting at programme sample `start` (its tfdt),
/// holding `packets` of 960 samples each, with the now-playing `events`
/// (see the [module docs](self)).
pub fn media_segment(
    number: SegmentNumber,
    start: SampleIndex,
    packets: &[Vec<u8>],
    events: &[NowPlaying],
) -> Result<Vec<u8>, PackageError> {
    let styp = Styp {
        major_brand: b"msdh".into(),
        minor_version: 0,
        compatible_brands: vec![b"msdh".into(), b"cmfs".into()],
    };
    let sizes: Vec<u32> = packets
        .iter()
        .map(|p| u32::try_from(p.len()).map_err(|_| PackageError::Overflow("packet size")))
        .collect::<Result<_, _>>()?;
    // ISO/IEC 23009-1 §6.3.4.2 leaves the sequence number free; count from 1
    // (0 is discouraged by 14496-12 §8.8.5) and wrap after 2^32 segments
    // (272 years of 2 s segments).
    let sequence_number = (number.0 % u64::from(u32::MAX)) as u32 + 1;
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: TRACK_ID,
                default_sample_duration: Some(OPUS_FRAME as u32),
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt {
                base_media_decode_time: start.0,
            }),
            trun: vec![Trun {
                data_offset: Some(0),
                samples: TrunSamples::Explicit(
                    sizes
                        .iter()
                        .map(|&size| TrunEntry {
                            size: Some(size),
                            ..Default::default()
                        })
                        .collect(),
                ),
            }],
            ..Default::default()
        }],
    };
    // data_offset counts from the first byte of the moof to the first byte of
    // sample data: the moof's size plus the 8-byte mdat header. The field is
    // present in both encodings, so the size does not change.
    let mut probe = Vec::new();
    enc(&moof, "moof", &mut probe)?;
    let offset =
        i32::try_from(probe.len() + 8).map_err(|_| PackageError::Overflow("data offset"))?;
    moof.traf[0].trun[0].data_offset = Some(offset);

    let payload: usize = packets.iter().map(Vec::len).sum();
    let mut data = Vec::with_capacity(payload);
    for p in packets {
        data.extend_from_slice(p);
    }
    let mut out = Vec::with_capacity(payload + probe.len() + 64);
    enc(&styp, "styp", &mut out)?;
    for e in events {
        enc(&e.emsg()?, "emsg", &mut out)?;
    }
    enc(&moof, "moof", &mut out)?;
    enc(&Mdat { data }, "mdat", &mut out)?;
    Ok(out)
}

/// A media segment read back: its timing, its packets and its events,
/// borrowed from the bytes. The one reader of media segments (verify, the
/// tests and the status checks read segments with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSegment<'a> {
    /// `tfdt.baseMediaDecodeTime`: the segment's first programme sample.
    pub base_media_decode_time: u64,
    /// Each sample's duration in ticks of 48 kHz, from the `trun` or the
    /// `tfhd` default (else the `trex` default of [`init_segment`], one
    /// Opus frame).
    pub durations: Vec<u32>,
    /// The samples (Opus packets), in order, as slices of the `mdat`.
    pub packets: Vec<&'a [u8]>,
    /// The `emsg` boxes before the `moof`, in order.
    pub events: Vec<Emsg>,
}

impl MediaSegment<'_> {
    /// Number of samples (packets).
    pub fn sample_count(&self) -> usize {
        self.packets.len()
    }

    /// Sum of the sample durations (ticks of 48 kHz).
    pub fn duration(&self) -> u64 {
        self.durations.iter().map(|&d| u64::from(d)).sum()
    }

    /// Bytes of sample data in the `mdat`.
    pub fn mdat_len(&self) -> usize {
        self.packets.iter().map(|p| p.len()).sum()
    }
}

/// Takes a media segment apart, checking the structure a player relies on:
/// one track fragment with a `tfdt`, a size for every sample, a `trun` data
/// offset pointing at the `mdat` payload, and sample sizes that add up to
/// the `mdat`. Bytes after the last box are an error; cut a segment to its
/// [`declared_len`] first to check it alone.
pub fn read_segment(bytes: &[u8]) -> Result<MediaSegment<'_>, String> {
    use mp4_atom::{Any, Decode};
    let mut buf = bytes;
    let mut moof = None;
    let mut payload_at = None;
    let mut events = Vec::new();
    while !buf.is_empty() {
        let at = bytes.len() - buf.len();
        let atom =
            Any::decode(&mut buf).map_err(|e| format!("cannot parse box at byte {at}: {e}"))?;
        match atom {
            Any::Emsg(e) => events.push(e),
            Any::Moof(m) => moof = Some((at, bytes.len() - buf.len() - at, m)),
            Any::Mdat(m) => {
                let end = bytes.len() - buf.len();
                payload_at = Some((end - m.data.len(), m.data.len()));
            }
            _ => {}
        }
    }
    let (moof_at, moof_len, moof) = moof.ok_or("no moof box")?;
    let (data_at, data_len) = payload_at.ok_or("no mdat box")?;
    if moof.traf.len() != 1 {
        return Err(format!("{} track fragments, expected 1", moof.traf.len()));
    }
    let traf = &moof.traf[0];
    let base_media_decode_time = traf
        .tfdt
        .as_ref()
        .ok_or("no tfdt box")?
        .base_media_decode_time;
    let default_duration = traf
        .tfhd
        .default_sample_duration
        .unwrap_or(OPUS_FRAME as u32);
    let default_size = traf.tfhd.default_sample_size;
    let mut durations = Vec::new();
    let mut sizes = Vec::new();
    for trun in &traf.trun {
        if let Some(off) = trun.data_offset {
            let expect = moof_len + 8;
            if usize::try_from(off).ok() != Some(expect) || data_at != moof_at + moof_len + 8 {
                return Err(format!(
                    "trun data offset {off} does not point at the mdat payload (expected {expect})"
                ));
            }
        }
        for e in trun.samples.iter() {
            durations.push(e.duration.unwrap_or(default_duration));
            let size = e.size.or(default_size).ok_or("a trun sample has no size")?;
            sizes.push(size as usize);
        }
    }
    let total: usize = sizes.iter().sum();
    if total != data_len {
        return Err(format!(
            "the trun sample sizes add up to {total} bytes but the mdat holds {data_len}"
        ));
    }
    let mut packets = Vec::with_capacity(sizes.len());
    let mut at = data_at;
    for s in sizes {
        packets.push(&bytes[at..at + s]);
        at += s;
    }
    Ok(MediaSegment {
        base_media_decode_time,
        durations,
        packets,
        events,
    })
}

/// The total length a media segment should have, read from its first bytes
/// (`styp` + `moof` headers): the end of the `moof`, plus the `mdat` header,
/// plus the sum of the sample sizes in its `trun`. `None` if `head` does not
/// start with a complete `styp` + `moof`.
pub fn declared_len(head: &[u8]) -> Option<u64> {
    use mp4_atom::{Any, Decode};
    let mut buf = head;
    let mut consumed = 0usize;
    loop {
        let before = buf.len();
        let atom = Any::decode(&mut buf).ok()?;
        consumed += before - buf.len();
        if let Any::Moof(moof) = atom {
            let payload: u64 = moof
                .traf
                .iter()
                .flat_map(|t| t.trun.iter())
                .flat_map(|r| r.samples.iter())
                .map(|e| u64::from(e.size.unwrap_or(0)))
                .sum();
            return Some(consumed as u64 + 8 + payload);
        }
    }
}

/// True if the file at `path` is a whole media segment: its length equals
/// what its own headers declare. Reads only the first few kilobytes.
pub fn segment_file_is_complete(path: &std::path::Path) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut head = vec![0u8; 8192.min(len as usize)];
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    declared_len(&head) == Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mp4_atom::{Any, Decode};

    #[test]
    fn init_segment_round_trips_with_an_opus_entry() {
        let bytes = init_segment(96_000).expect("encodes");
        let mut buf = bytes.as_slice();
        let ftyp = Any::decode(&mut buf).expect("ftyp");
        assert!(matches!(ftyp, Any::Ftyp(_)));
        let Any::Moov(moov) = Any::decode(&mut buf).expect("moov") else {
            panic!("second box is not moov");
        };
        assert!(buf.is_empty());
        let codec = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0];
        let mp4_atom::Codec::Opus(opus) = codec else {
            panic!("sample entry is not Opus: {codec:?}");
        };
        assert_eq!(opus.dops.pre_skip, 0);
        assert_eq!(opus.dops.output_channel_count, 2);
        assert_eq!(moov.trak[0].mdia.mdhd.timescale, 48_000);
        assert_eq!(
            moov.mvex.as_ref().expect("mvex").trex[0].default_sample_duration,
            960
        );
    }

    #[test]
    fn now_playing_events_ride_before_the_moof_and_read_back() {
        let packets: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 20]).collect();
        let n = SegmentNumber(9_000_000);
        let start = SampleIndex(n.0 * 96_000);
        let long = "é".repeat(200); // 400 bytes: clipped on a character boundary
        let events = [
            NowPlaying {
                at: start.0,
                duration: 40_000,
                id: 7,
                title: "Rain <on> \"glass\"".into(),
                artist: "Ünïcode & co".into(),
            },
            NowPlaying {
                at: start.0 + 40_000,
                duration: 1_440_000,
                id: 8,
                title: long.clone(),
                artist: String::new(),
            },
        ];
        let bytes = media_segment(n, start, &packets, &events).expect("encodes");
        let facts = read_segment(&bytes).expect("parses");
        assert_eq!(facts.base_media_decode_time, start.0);
        assert_eq!(facts.mdat_len(), 2_000);
        assert_eq!(facts.events.len(), 2);
        let e = &facts.events[1];
        assert_eq!(e.scheme_id_uri, NOW_PLAYING_SCHEME);
        assert_eq!(
            e.presentation_time,
            EmsgTimestamp::Absolute(start.0 + 40_000)
        );
        assert_eq!(
            (e.timescale, e.event_duration, e.id),
            (48_000, 1_440_000, 8)
        );
        let frames = read_id3_text(&facts.events[0].message_data).expect("ID3");
        assert_eq!(
            frames,
            vec![
                ("TIT2".to_string(), "Rain <on> \"glass\"".to_string()),
                ("TPE1".to_string(), "Ünïcode & co".to_string())
            ]
        );
        let frames = read_id3_text(&e.message_data).expect("ID3");
        assert_eq!(frames[0].1, "é".repeat(127));
        // The data offset still points at the first packet (it counts from
        // the moof), and the declared length still covers the whole file.
        assert_eq!(declared_len(&bytes), Some(bytes.len() as u64));
        let mdat_at = bytes.len() - 2_000;
        assert_eq!(&bytes[mdat_at..mdat_at + 20], packets[0].as_slice());
        let mut buf = bytes.as_slice();
        let mut moof_at = 0;
        while let Ok(atom) = Any::decode(&mut buf) {
            if let Any::Moof(moof) = atom {
                let off = moof.traf[0].trun[0].data_offset.expect("offset");
                assert_eq!(moof_at + usize::try_from(off).expect("positive"), mdat_at);
                break;
            }
            moof_at = bytes.len() - buf.len();
        }
        // Events of the longest texts stay within the allowance.
        let big = NowPlaying {
            at: 0,
            duration: 0,
            id: 0,
            title: "x".repeat(1000),
            artist: "y".repeat(1000),
        };
        let none = media_segment(n, start, &packets, &[])
            .expect("encodes")
            .len();
        let three = media_segment(n, start, &packets, &[big.clone(), big.clone(), big])
            .expect("encodes")
            .len();
        assert!(
            (three - none) as u64 <= 3 * MAX_EVENT_LEN,
            "{}",
            three - none
        );
    }

    #[test]
    fn media_segment_timing_and_data_offset() {
        let packets: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 10 + usize::from(i)]).collect();
        let n = SegmentNumber(8_640_000);
        let start = SampleIndex(n.0 * 96_000); // past 2^32: needs tfdt v1
        let bytes = media_segment(n, start, &packets, &[]).expect("encodes");
        let facts = read_segment(&bytes).expect("parses");
        assert_eq!(facts.base_media_decode_time, start.0);
        assert_eq!(facts.sample_count(), 100);
        assert_eq!(facts.duration(), 96_000);
        let payload: usize = packets.iter().map(Vec::len).sum();
        assert_eq!(facts.mdat_len(), payload);
        // The data offset points at the first packet's bytes.
        let mut buf = bytes.as_slice();
        let _styp = Any::decode(&mut buf).expect("styp");
        let moof_at = bytes.len() - buf.len();
        let Any::Moof(moof) = Any::decode(&mut buf).expect("moof") else {
            panic!("not a moof");
        };
        let off = moof.traf[0].trun[0].data_offset.expect("data offset");
        let first = moof_at + usize::try_from(off).expect("positive");
        assert_eq!(
            &bytes[first..first + packets[0].len()],
            packets[0].as_slice()
        );
        assert_eq!(moof.mfhd.sequence_number, 8_640_001);
        // The header declares the whole length; a truncated copy is caught.
        assert_eq!(declared_len(&bytes[..600]), Some(bytes.len() as u64));
        let dir = tempfile::tempdir().expect("temp dir");
        let whole = dir.path().join("whole.m4s");
        let cut = dir.path().join("cut.m4s");
        std::fs::write(&whole, &bytes).expect("write");
        std::fs::write(&cut, &bytes[..bytes.len() - 1]).expect("write");
        assert!(segment_file_is_complete(&whole));
        assert!(!segment_file_is_complete(&cut));
        assert!(!segment_file_is_complete(&dir.path().join("missing.m4s")));
    }
}

//! Check 3 and 4: every segment of the window exists for every rendition,
//! is whole and well-formed, and a sample of them decodes to `D` samples.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{fmt_sample, problem, Problem};
use crate::ops::status::plausible_size;
use crate::package::fmp4;
use crate::publish::Target;
use crate::station::{layout, Rendition, Station};
use crate::time::{SampleIndex, SegmentNumber, OPUS_FRAME, SAMPLE_RATE};

/// The missing run after the last present segment, up to `end`.
pub(super) fn missing_tail(present: &BTreeSet<u64>, first: u64, end: u64) -> Option<(u64, u64)> {
    let next = present.last().map_or(first, |n| n + 1);
    (next < end).then(|| (next, end - 1))
}

pub(super) fn missing(station: &Station, id: &str, a: u64, b: u64) -> Problem {
    let d = station.grid.segment_duration().0;
    let span = format!(
        "{} to {}",
        fmt_sample(station, SampleIndex(a.saturating_mul(d))),
        fmt_sample(station, SampleIndex((b + 1).saturating_mul(d)))
    );
    if a == b {
        problem(
            layout::segment(id, SegmentNumber(a)),
            format!("missing ({span})"),
        )
    } else {
        problem(
            format!(
                "{} … {}",
                layout::segment(id, SegmentNumber(a)),
                layout::segment(id, SegmentNumber(b))
            ),
            format!("missing ({} segments, {span})", b - a + 1),
        )
    }
}

/// Indices (into `len` segments) to decode: first, last and evenly spaced
/// ones between, `max` in all.
pub(super) fn decode_picks(len: usize, max: usize) -> BTreeSet<usize> {
    if len == 0 || max == 0 {
        return BTreeSet::new();
    }
    if len <= max {
        return (0..len).collect();
    }
    if max == 1 {
        return [0].into_iter().collect();
    }
    (0..max).map(|i| i * (len - 1) / (max - 1)).collect()
}

pub(super) struct Job {
    pub(super) rendition: usize,
    pub(super) n: u64,
    pub(super) listed: u64,
    pub(super) decode: bool,
}

#[derive(Default)]
pub(super) struct Outcome {
    pub(super) messages: Vec<String>,
    pub(super) decoded: bool,
}

/// Reads and checks every job's segment with `concurrency` workers; the
/// outcomes are in job order.
pub(super) fn check_segments(
    station: &Station,
    target: &dyn Target,
    jobs: &[Job],
    concurrency: usize,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    let bounds: Vec<(u64, u64)> = station
        .renditions
        .iter()
        .map(|r| plausible_size(station, r))
        .collect();
    let workers = concurrency.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else {
                    return;
                };
                let r = &station.renditions[job.rendition];
                let outcome = check_one(station, target, r, bounds[job.rendition], job);
                if let Ok(mut v) = results.lock() {
                    v.push((i, outcome));
                }
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_default();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, o)| o).collect()
}

pub(super) fn check_one(
    station: &Station,
    target: &dyn Target,
    r: &Rendition,
    (min, max): (u64, u64),
    job: &Job,
) -> Outcome {
    let mut out = Outcome::default();
    let key = layout::segment(&r.id(), SegmentNumber(job.n));
    let bytes = match target.get(&key) {
        Ok(Some(b)) => b,
        Ok(None) => {
            out.messages
                .push("listed, but gone when read (deleted meanwhile?)".into());
            return out;
        }
        Err(e) => {
            out.messages.push(format!("cannot be read: {e}"));
            return out;
        }
    };
    let len = bytes.len() as u64;
    if len != job.listed {
        out.messages.push(format!(
            "listed as {} bytes but {len} bytes were read",
            job.listed
        ));
    }
    match fmp4::declared_len(&bytes) {
        None => {
            out.messages.push(format!(
                "truncated or not a media segment: its {len} bytes do not hold a whole styp + \
                 moof header"
            ));
            return out;
        }
        Some(declared) if declared > len => {
            out.messages.push(format!(
                "truncated: {len} bytes, but its headers declare {declared}"
            ));
            return out;
        }
        Some(declared) if declared < len => out.messages.push(format!(
            "{} byte{} after the end its headers declare ({declared})",
            len - declared,
            if len - declared == 1 { "" } else { "s" }
        )),
        Some(_) => {}
    }
    if len < min || len > max {
        out.messages.push(format!(
            "{len} bytes is outside the plausible range {min}–{max} for {} kb/s",
            r.bitrate / 1000
        ));
    }
    // Trailing bytes are reported above; the segment proper is checked.
    let whole = fmp4::declared_len(&bytes)
        .and_then(|d| usize::try_from(d).ok())
        .map_or(bytes.as_slice(), |d| &bytes[..d.min(bytes.len())]);
    let seg = match fmp4::read_segment(whole) {
        Ok(s) => s,
        Err(e) => {
            out.messages.push(e);
            return out;
        }
    };
    let d = station.grid.segment_duration().0;
    let want_tfdt = job.n.saturating_mul(d);
    if seg.base_media_decode_time != want_tfdt {
        out.messages.push(format!(
            "tfdt is {}, expected N·D = {} · {d} = {want_tfdt}",
            seg.base_media_decode_time, job.n
        ));
    }
    let packets = station.grid.packets_per_segment();
    if seg.packets.len() as u64 != packets {
        out.messages.push(format!(
            "{} packets, expected D/960 = {packets}",
            seg.packets.len()
        ));
    }
    if let Some(i) = seg
        .durations
        .iter()
        .position(|&t| u64::from(t) != OPUS_FRAME)
    {
        out.messages.push(format!(
            "packet {i} lasts {} ticks in the trun, expected {OPUS_FRAME}",
            seg.durations[i]
        ));
    }
    for (i, p) in seg.packets.iter().enumerate() {
        match opus::packet::get_nb_samples(p, SAMPLE_RATE) {
            Ok(n) if n as u64 == OPUS_FRAME => {}
            Ok(n) => {
                out.messages.push(format!(
                    "packet {i} holds {n} samples, expected {OPUS_FRAME}"
                ));
                break;
            }
            Err(e) => {
                out.messages
                    .push(format!("packet {i} is not a valid Opus packet ({e})"));
                break;
            }
        }
    }
    if job.decode && out.messages.is_empty() {
        match decode(&seg.packets) {
            Ok(n) if n == d => out.decoded = true,
            Ok(n) => out
                .messages
                .push(format!("decodes to {n} samples, expected D = {d}")),
            Err(e) => out.messages.push(e),
        }
    }
    out
}

/// Decodes `packets` with a fresh stereo libopus decoder; the number of
/// samples per channel it gives.
pub(super) fn decode(packets: &[&[u8]]) -> std::result::Result<u64, String> {
    let mut dec = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Stereo)
        .map_err(|e| format!("cannot start the Opus decoder: {e}"))?;
    // 120 ms, the longest Opus packet, of stereo.
    let mut pcm = vec![0f32; 5760 * 2];
    let mut total = 0u64;
    for (i, p) in packets.iter().enumerate() {
        let n = dec
            .decode_float(p, &mut pcm, false)
            .map_err(|e| format!("packet {i} does not decode: {e}"))?;
        if pcm[..n * 2].iter().any(|x| !x.is_finite()) {
            return Err(format!("packet {i} decodes to non-finite samples"));
        }
        total += n as u64;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_picks_include_first_and_last() {
        assert_eq!(decode_picks(0, 20), BTreeSet::new());
        assert_eq!(decode_picks(3, 20), [0, 1, 2].into_iter().collect());
        let p = decode_picks(1000, 20);
        assert_eq!(p.len(), 20);
        assert!(p.contains(&0) && p.contains(&999));
        assert_eq!(decode_picks(1000, 1), [0].into_iter().collect());
    }

    #[test]
    fn a_packaged_segment_parses_and_decodes_to_d_samples() {
        let mut enc = opus::Encoder::new(
            SAMPLE_RATE,
            opus::Channels::Stereo,
            opus::Application::Audio,
        )
        .expect("encoder");
        let frame: Vec<f32> = (0..1920)
            .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.3)
            .collect();
        let packets: Vec<Vec<u8>> = (0..100)
            .map(|_| enc.encode_vec_float(&frame, 4000).expect("encode"))
            .collect();
        let n = SegmentNumber(5_000_000_000);
        let bytes =
            fmp4::media_segment(n, SampleIndex(n.0 * 96_000), &packets, &[]).expect("package");
        let seg = fmp4::read_segment(&bytes).expect("parses");
        assert_eq!(seg.base_media_decode_time, n.0 * 96_000);
        assert_eq!(seg.packets.len(), 100);
        assert_eq!(seg.packets[3], packets[3].as_slice());
        assert_eq!(decode(&seg.packets).expect("decodes"), 96_000);
        // A payload cut short is named, not a panic.
        assert!(fmp4::read_segment(&bytes[..bytes.len() - 10]).is_err());
    }
}

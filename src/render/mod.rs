//! `lofiever render`: the schedule → mixed, limited programme → Opus → CMAF.
//!
//! Rendering splits into fixed chunks on the epoch grid (chunk `k` = segments
//! `[k·C, (k+1)·C)`), rendered in parallel with rayon and written in any
//! order. Each chunk:
//! 1. mixes the programme ([`mix::mix`]) for the chunk plus a priming lead-in
//!    ([`PRIMING`] before it) and the encoder and limiter look-ahead after it;
//! 2. limits it ([`limiter::limit`]);
//! 3. encodes it once per rendition with a fresh libopus encoder, fed the
//!    programme advanced by the encoder's look-ahead (so decoded sample `t` is
//!    programme sample `t`), dropping the priming packets;
//! 4. packages each segment ([`crate::package::fmp4::media_segment`]) and
//!    writes it atomically.
//!
//! A chunk is a pure function of the schedule and its index, so re-rendering
//! any window gives byte-identical segments whatever `--days`, thread count
//! or order. Only segments whose samples (plus look-ahead) lie before the
//! schedule's horizon are written: later ones could still change when the
//! schedule grows.
//!
//! Skip or stop: a scheduled track that is missing or unreadable stops the
//! run with its name (rendering silence in its place would publish a gap).
//! A moved file is found by its content hash ([`Sources`]); a recording gone
//! for good is planned around by the job before rendering (`job`), and only
//! items it marks [`Sources::silent`] (heard before the cut) mix as silence.

pub mod encode;
pub mod limiter;
pub mod mix;
mod source;
mod stretches;

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

pub use source::{CatalogAudio, Sources};

use crate::error::{Error, Result};
use crate::package::fmp4;
use crate::progress::{Progress, Unit};
use crate::schedule::Schedule;
use crate::station::{layout, Station};
use crate::time::{ChunkIndex, SampleCount, SegmentNumber, OPUS_FRAME};

/// Audio encoded before each chunk and thrown away, so the encoder and the
/// limiter arrive at the chunk seam in the state a straight-through render
/// would have (1 s = 50 Opus frames).
pub const PRIMING: SampleCount = SampleCount(50 * OPUS_FRAME);

/// What a render run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Segments written (per rendition counted once each).
    pub written: u64,
    /// Segments that already existed and were left alone.
    pub skipped: u64,
    /// Chunks rendered.
    pub chunks: u64,
    /// The segments the run covered, after clamping to the schedule.
    pub window: Option<Range<SegmentNumber>>,
}

/// The last segment (exclusive) whose audio is final under `schedule`.
pub fn renderable_until(station: &Station, schedule: &Schedule, lookahead: u64) -> SegmentNumber {
    let Some(h) = schedule.horizon() else {
        return SegmentNumber(0);
    };
    let margin = lookahead + limiter::LOOKAHEAD as u64;
    let last_final = h.0.saturating_sub(margin);
    SegmentNumber(last_final / station.grid.segment_duration().0)
}

/// The encoder look-ahead for the station's settings.
pub fn encoder_lookahead(station: &Station) -> Result<u64> {
    let r = station.renditions.first().ok_or_else(|| Error::Render {
        context: "render".into(),
        message: "no renditions configured".into(),
    })?;
    encode::OpusEncoder::new(r.bitrate, station.opus_complexity)?.lookahead()
}

/// Renders the segments `wanted` (clamped to what the schedule makes final)
/// into `out_dir`, skipping segments whose files exist whole (their length
/// matches what their headers declare) unless `force`.
pub fn run(
    station: &Station,
    schedule: &Schedule,
    make_audio: &(dyn Fn() -> Box<dyn mix::TrackAudio> + Sync),
    out_dir: &Path,
    wanted: Range<SegmentNumber>,
    force: bool,
    progress: &dyn Progress,
) -> Result<Summary> {
    let nowhere_else = |_: &str| false;
    run_skipping(
        station,
        schedule,
        make_audio,
        out_dir,
        wanted,
        force,
        None,
        &nowhere_else,
        progress,
    )
}

/// [`run`], also skipping (unless `force`) segments whose key (e.g.
/// `96k/12.m4s`) `elsewhere` reports present for every rendition — the
/// segments already at the publish target (state lives in the target, see
/// `docs/ARCHITECTURE.md`: they are not rendered again). Segments from
/// `redo_from` on are rendered again wherever they are: the schedule was cut
/// there (a takedown, a recording gone), so they belong to an old plan.
#[allow(clippy::too_many_arguments)]
pub fn run_skipping(
    station: &Station,
    schedule: &Schedule,
    make_audio: &(dyn Fn() -> Box<dyn mix::TrackAudio> + Sync),
    out_dir: &Path,
    wanted: Range<SegmentNumber>,
    force: bool,
    redo_from: Option<SegmentNumber>,
    elsewhere: &dyn Fn(&str) -> bool,
    progress: &dyn Progress,
) -> Result<Summary> {
    let redone =
        |key: &str| redo_from.is_some_and(|r| layout::segment_number(key).is_some_and(|n| n >= r));
    let present = |key: &str| {
        !redone(key) && (elsewhere(key) || fmp4::segment_file_is_complete(&out_dir.join(key)))
    };
    let work = missing_work(station, schedule, wanted, force, &present)?;
    render_work(station, schedule, make_audio, out_dir, &work, progress)
}

/// The chunks of a window with segments to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    /// The segments the window covers, after clamping to the schedule.
    pub window: Range<SegmentNumber>,
    /// Chunks with missing segments, ascending, each with its missing
    /// segments (ascending).
    pub jobs: Vec<(ChunkIndex, Vec<SegmentNumber>)>,
    /// Segments of the window already present.
    pub skipped: u64,
}

impl Work {
    /// Segments to render (each counted once for all renditions).
    pub fn segments(&self) -> u64 {
        self.jobs.iter().map(|(_, m)| m.len() as u64).sum()
    }
}

/// Which segments of `wanted` (clamped to what the schedule makes final)
/// must be rendered: those `present` (asked per key, e.g. `96k/12.m4s`)
/// does not report for every rendition, or all when `force`. Renders
/// nothing.
pub fn missing_work(
    station: &Station,
    schedule: &Schedule,
    wanted: Range<SegmentNumber>,
    force: bool,
    present: &dyn Fn(&str) -> bool,
) -> Result<Work> {
    let grid = station.grid;
    let lookahead = encoder_lookahead(station)?;
    let first = schedule
        .start()
        .map_or(SegmentNumber(0), |s| grid.segment_of(s));
    let until = renderable_until(station, schedule, lookahead);
    let window =
        SegmentNumber(wanted.start.0.max(first.0))..SegmentNumber(wanted.end.0.min(until.0));
    let mut work = Work {
        window: window.clone(),
        ..Default::default()
    };
    if window.start >= window.end {
        return Ok(work);
    }
    let first_chunk = grid.chunk_of(window.start);
    let last_chunk = grid.chunk_of(SegmentNumber(window.end.0 - 1));
    for k in first_chunk.0..=last_chunk.0 {
        let k = ChunkIndex(k);
        let segs = grid.chunk_segment_range(k)?;
        let mut missing = Vec::new();
        for n in segs.start.0.max(window.start.0)..segs.end.0.min(window.end.0) {
            let n = SegmentNumber(n);
            let here = !force
                && station
                    .renditions
                    .iter()
                    .all(|r| present(&layout::segment(&r.id(), n)));
            if here {
                work.skipped += 1;
            } else {
                missing.push(n);
            }
        }
        if !missing.is_empty() {
            work.jobs.push((k, missing));
        }
    }
    Ok(work)
}

/// Renders `work` (from [`missing_work`]) into `out_dir`: the init segments,
/// then every missing segment of every rendition.
pub fn render_work(
    station: &Station,
    schedule: &Schedule,
    make_audio: &(dyn Fn() -> Box<dyn mix::TrackAudio> + Sync),
    out_dir: &Path,
    work: &Work,
    progress: &dyn Progress,
) -> Result<Summary> {
    let grid = station.grid;
    let window = work.window.clone();
    let mut summary = Summary {
        window: Some(window.clone()),
        skipped: work.skipped,
        ..Default::default()
    };
    if window.start >= window.end {
        return Ok(summary);
    }
    let lookahead = encoder_lookahead(station)?;

    for r in &station.renditions {
        let init = fmp4::init_segment(r.bitrate).map_err(|e| Error::Render {
            context: layout::init(&r.id()),
            message: e.to_string(),
        })?;
        crate::fsutil::write_atomic(&out_dir.join(layout::init(&r.id())), &init)?;
    }
    let jobs = &work.jobs;

    let seg_seconds = grid.segment_duration().0 / u64::from(crate::time::SAMPLE_RATE);
    let total: u64 = work.segments() * seg_seconds.max(1);
    progress.start("rendering programme", total, Unit::ProgrammeSeconds);
    let written = AtomicU64::new(0);
    // Contiguous stretches of chunks per worker, with work stealing: each
    // worker streams its tracks front to back instead of re-decoding them
    // for every chunk, and no core idles while chunks are left.
    let workers = rayon::current_num_threads().max(1);
    let stretches = stretches::Stretches::new(jobs.len(), workers);
    (0..workers)
        .into_par_iter()
        .map(|worker| {
            let mut audio = make_audio();
            let mut pcm = Vec::new();
            while let Some(j) = stretches.next(worker) {
                let (k, missing) = &jobs[j];
                let done = render_and_write(
                    station,
                    schedule,
                    audio.as_mut(),
                    *k,
                    missing,
                    lookahead,
                    out_dir,
                    &mut pcm,
                );
                if let Err(e) = done {
                    stretches.stop();
                    return Err(e);
                }
                written.fetch_add(missing.len() as u64, Ordering::Relaxed);
                progress.advance(missing.len() as u64 * seg_seconds.max(1));
                let done_until = grid.chunk_range(*k)?.start.0.saturating_sub(PRIMING.0);
                audio.retire_before(done_until, &schedule.items);
            }
            Ok(())
        })
        .collect::<Result<Vec<()>>>()?;
    summary.written = written.load(Ordering::Relaxed);
    summary.chunks = jobs.len() as u64;
    progress.finish(&format!(
        "{} segments rendered, {} already there",
        summary.written, summary.skipped
    ));
    Ok(summary)
}

/// Renders chunk `k` and writes its `missing` segments of every rendition.
#[allow(clippy::too_many_arguments)]
fn render_and_write(
    station: &Station,
    schedule: &Schedule,
    audio: &mut dyn mix::TrackAudio,
    k: ChunkIndex,
    missing: &[SegmentNumber],
    lookahead: u64,
    out_dir: &Path,
    pcm: &mut Vec<f32>,
) -> Result<()> {
    let segments = render_chunk(station, schedule, audio, k, lookahead, pcm)?;
    let first = station.grid.chunk_segment_range(k)?.start.0;
    for n in missing {
        let idx = usize::try_from(n.0 - first).expect("segment index within a chunk fits usize");
        for (r, per_rendition) in station.renditions.iter().zip(&segments) {
            let path = out_dir.join(layout::segment(&r.id(), *n));
            crate::fsutil::write_atomic(&path, &per_rendition[idx])?;
        }
    }
    Ok(())
}

/// Renders every segment of chunk `k` for every rendition:
/// `result[rendition][segment_in_chunk]` = media segment bytes. The
/// programme is mixed into `pcm`, a buffer a worker reuses for all its
/// chunks (fresh pages for every chunk were faulted in and zeroed).
pub fn render_chunk(
    station: &Station,
    schedule: &Schedule,
    audio: &mut dyn mix::TrackAudio,
    k: ChunkIndex,
    lookahead: u64,
    pcm: &mut Vec<f32>,
) -> Result<Vec<Vec<Vec<u8>>>> {
    let grid = station.grid;
    let range = grid.chunk_range(k)?;
    programme_for_encoding(
        station,
        schedule,
        audio,
        range.start.0,
        range.end.0,
        lookahead,
        pcm,
    )?;
    let pcm: &[f32] = pcm;
    let segs = grid.chunk_segment_range(k)?;
    let per_segment = grid.packets_per_segment() as usize;
    let priming_frames = (PRIMING.0 / OPUS_FRAME) as usize;
    // Per segment: its first sample and its now-playing events, the same
    // for every rendition.
    let segments = (segs.start.0..segs.end.0)
        .map(|n| {
            let n = SegmentNumber(n);
            let start = grid.segment_start(n)?;
            let end = grid.segment_start(SegmentNumber(n.0 + 1))?;
            Ok((n, start, now_playing_events(schedule, start.0, end.0)))
        })
        .collect::<Result<Vec<_>>>()?;

    // A bound on the programme's true peak, for every rendition's decision
    // whether to check (loud chunks are checked either way, so the exact
    // peak is not worth its filter).
    let input_peak = limiter::true_peak_bound(pcm);
    station
        .renditions
        .iter()
        .map(|r| {
            let (mut packets, check) = encode::encode_with_peak(
                pcm,
                input_peak,
                r.bitrate,
                station.opus_complexity,
                station.true_peak_ceiling_dbtp,
                lookahead,
            )?;
            if check.passes > 1 {
                tracing::debug!(
                    "chunk {} at {}: {} encoding passes to keep the decoded true peak under {} dBTP (now {:.2})",
                    k.0,
                    r.id(),
                    check.passes,
                    station.true_peak_ceiling_dbtp,
                    20.0 * check.decoded_peak.unwrap_or(0.0).log10()
                );
            }
            packets.drain(..priming_frames.min(packets.len()));
            segments
                .iter()
                .enumerate()
                .map(|(i, (n, start, events))| {
                    let n = *n;
                    let chunk = packets
                        .get(i * per_segment..(i + 1) * per_segment)
                        .ok_or_else(|| Error::Render {
                            context: format!("{} {n}", r.id()),
                            message: "encoder produced too few packets".into(),
                        })?;
                    fmp4::media_segment(n, *start, chunk, events).map_err(|e| Error::Render {
                        context: layout::segment(&r.id(), n),
                        message: e.to_string(),
                    })
                })
                .collect()
        })
        .collect()
}

/// The now-playing events of the segment `[from, to)`: the item playing at
/// `from` (the newer one in a crossfade, as the page shows it), then every
/// item that starts within the segment. See [`fmp4`]'s module docs.
pub fn now_playing_events(schedule: &Schedule, from: u64, to: u64) -> Vec<fmp4::NowPlaying> {
    let event = |it: &crate::schedule::Item, at: u64| fmp4::NowPlaying {
        at,
        duration: it.end().0.saturating_sub(at),
        // Whole seconds since the epoch, mod 2^32 (136 years).
        id: (it.start_sample / u64::from(crate::time::SAMPLE_RATE)) as u32,
        title: it.title.clone(),
        artist: it.artist.clone(),
    };
    let mut out: Vec<fmp4::NowPlaying> = schedule
        .playing_at(crate::time::SampleIndex(from))
        .map(|it| event(it, from))
        .into_iter()
        .collect();
    let first = schedule.items.partition_point(|it| it.start_sample <= from);
    out.extend(
        schedule.items[first..]
            .iter()
            .take_while(|it| it.start_sample < to)
            .map(|it| event(it, it.start_sample)),
    );
    out
}

/// The limited programme PCM an encoder needs for programme samples
/// `[start, end)`: priming before, and shifted by the encoder look-ahead.
/// Input frame `j` is programme sample `start − PRIMING + lookahead + j`.
/// Written into `pcm` (cleared first).
pub fn programme_for_encoding(
    station: &Station,
    schedule: &Schedule,
    audio: &mut dyn mix::TrackAudio,
    start: u64,
    end: u64,
    lookahead: u64,
    pcm: &mut Vec<f32>,
) -> Result<()> {
    let to_i64 = |v: u64| {
        i64::try_from(v).map_err(|_| {
            Error::Time(crate::time::TimeError::Overflow {
                what: "render window",
            })
        })
    };
    let from = to_i64(start)? - to_i64(PRIMING.0)? + to_i64(lookahead)?;
    let frames = usize::try_from(end - start + PRIMING.0).map_err(|_| Error::Render {
        context: "render window".into(),
        message: "window too large".into(),
    })?;
    programme(station, schedule, audio, from, frames, pcm)
}

/// The limited programme: `frames` interleaved stereo frames starting at
/// programme sample `from` (negative = before the epoch, silence). This is
/// what a straight-through render of the window sounds like before encoding.
/// Written into `pcm` (cleared first).
pub fn programme(
    station: &Station,
    schedule: &Schedule,
    audio: &mut dyn mix::TrackAudio,
    from: i64,
    frames: usize,
    pcm: &mut Vec<f32>,
) -> Result<()> {
    let len = i64::try_from(frames).map_err(|_| Error::Render {
        context: "render window".into(),
        message: "window too large".into(),
    })?;
    let mix_to = from + len + limiter::LOOKAHEAD as i64;
    let lo = crate::time::SampleIndex(u64::try_from(from.max(0)).unwrap_or(0));
    let hi = crate::time::SampleIndex(u64::try_from(mix_to.max(0)).unwrap_or(0));
    let items = schedule.overlapping(lo, hi);
    mix::mix(items, from..mix_to, audio, pcm)?;
    limiter::limit(pcm, station.true_peak_ceiling_dbtp);
    pcm.truncate(frames * 2);
    Ok(())
}

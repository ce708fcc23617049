//! The station clock: all programme time, in integers.
//!
//! One clock rules lofiever: **programme samples at 48 000 Hz since the station
//! epoch** (`docs/ARCHITECTURE.md`, "The time model"). A UTC instant `t` maps to sample
//! `(t - epoch) · 48 000`, exactly, with POSIX seconds (no leap seconds).
//!
//! The newtypes here keep samples, sample counts, segment numbers and chunk
//! indices apart, and every conversion between them is a named function with
//! checked arithmetic. Nothing in this module (or in scheduling, rendering or
//! packaging) uses floating-point time.
//!
//! Grid rules:
//! - segment `N` holds programme samples `[N·D, (N+1)·D)`, where `D` (the
//!   segment duration) is a positive multiple of the 960-sample Opus frame;
//! - chunk `k` holds segments `[k·C, (k+1)·C)`: the unit of parallel rendering.
//!   Chunk bounds come from the epoch, never from a command line, which is what
//!   makes re-rendered segments byte-identical.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, TimeZone, Utc};

/// Programme sample rate in Hz: every rendition, every timestamp.
pub const SAMPLE_RATE: u32 = 48_000;

/// Samples in one Opus frame (20 ms at 48 kHz): the packet size and the
/// granularity every segment duration must respect.
pub const OPUS_FRAME: u64 = 960;

const SAMPLE_RATE_U64: u64 = SAMPLE_RATE as u64;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Errors of time arithmetic; each says which quantity went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The instant lies before the station epoch, where no programme exists.
    #[error("{instant} is before the station epoch {epoch}")]
    BeforeEpoch {
        /// The instant asked for.
        instant: DateTime<Utc>,
        /// The station epoch.
        epoch: DateTime<Utc>,
    },
    /// A computation left the range of the u64 sample clock (or of chrono's
    /// calendar, about 262 000 years).
    #[error("time overflow while computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A segment duration that is zero or not a multiple of the Opus frame.
    #[error(
        "segment duration of {samples} samples is not a positive multiple of {OPUS_FRAME} (20 ms)"
    )]
    BadSegmentDuration {
        /// The offending duration in samples.
        samples: u64,
    },
    /// A chunk length of zero segments.
    #[error("chunk length must be at least one segment")]
    BadChunkLength,
    /// An epoch with a fractional second: sample 0 must be a whole second.
    #[error("station epoch {0} has a fractional second; use a whole second")]
    FractionalEpoch(DateTime<Utc>),
}

/// An absolute position on the programme clock: samples since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SampleIndex(pub u64);

/// A length of programme time in samples (48 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SampleCount(pub u64);

/// The number of a media segment; segment `N` starts at sample `N·D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SegmentNumber(pub u64);

/// The index of a render chunk on the epoch grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ChunkIndex(pub u64);

impl SampleIndex {
    /// The position `count` samples later, or an overflow error.
    pub fn checked_add(self, count: SampleCount) -> Result<SampleIndex, TimeError> {
        self.0
            .checked_add(count.0)
            .map(SampleIndex)
            .ok_or(TimeError::Overflow {
                what: "sample index + count",
            })
    }

    /// The position `count` samples earlier, saturating at the epoch.
    pub fn saturating_sub(self, count: SampleCount) -> SampleIndex {
        SampleIndex(self.0.saturating_sub(count.0))
    }

    /// Samples from `earlier` to `self`, or `None` when `earlier` is later.
    pub fn since(self, earlier: SampleIndex) -> Option<SampleCount> {
        self.0.checked_sub(earlier.0).map(SampleCount)
    }
}

impl SampleCount {
    /// A count of whole milliseconds, exact (48 samples per millisecond).
    pub fn from_millis(ms: u64) -> Result<SampleCount, TimeError> {
        ms.checked_mul(SAMPLE_RATE_U64 / 1000)
            .map(SampleCount)
            .ok_or(TimeError::Overflow {
                what: "milliseconds to samples",
            })
    }

    /// A count of whole seconds.
    pub fn from_secs(secs: u64) -> Result<SampleCount, TimeError> {
        secs.checked_mul(SAMPLE_RATE_U64)
            .map(SampleCount)
            .ok_or(TimeError::Overflow {
                what: "seconds to samples",
            })
    }

    /// The count in whole milliseconds, rounded down.
    pub fn as_millis_floor(self) -> u64 {
        self.0 / (SAMPLE_RATE_U64 / 1000)
    }
}

impl fmt::Display for SampleIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sample {}", self.0)
    }
}

impl fmt::Display for SegmentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {}", self.0)
    }
}

impl fmt::Display for ChunkIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chunk {}", self.0)
    }
}

/// The station epoch: the UTC instant of programme sample 0, a whole second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    unix_seconds: i64,
}

impl Epoch {
    /// An epoch at `instant`, which must fall on a whole second.
    pub fn new(instant: DateTime<Utc>) -> Result<Epoch, TimeError> {
        if instant.timestamp_subsec_nanos() != 0 {
            return Err(TimeError::FractionalEpoch(instant));
        }
        Ok(Epoch {
            unix_seconds: instant.timestamp(),
        })
    }

    /// The epoch as a UTC instant.
    pub fn instant(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.unix_seconds, 0)
            .single()
            .expect("an Epoch is only built from a valid whole-second instant")
    }

    /// The programme sample playing at `instant`, rounded down to a whole
    /// sample; an error before the epoch.
    pub fn sample_at(self, instant: DateTime<Utc>) -> Result<SampleIndex, TimeError> {
        let secs = instant.timestamp();
        let nanos = u64::from(instant.timestamp_subsec_nanos());
        let whole = secs
            .checked_sub(self.unix_seconds)
            .ok_or(TimeError::Overflow {
                what: "instant - epoch",
            })?;
        let whole = u64::try_from(whole).map_err(|_| TimeError::BeforeEpoch {
            instant,
            epoch: self.instant(),
        })?;
        let from_secs = whole
            .checked_mul(SAMPLE_RATE_U64)
            .ok_or(TimeError::Overflow {
                what: "instant to samples",
            })?;
        // nanos < 1e9, so nanos * 48_000 < 4.8e13: no overflow.
        let from_nanos = nanos * SAMPLE_RATE_U64 / NANOS_PER_SECOND;
        from_secs
            .checked_add(from_nanos)
            .map(SampleIndex)
            .ok_or(TimeError::Overflow {
                what: "instant to samples",
            })
    }

    /// The UTC instant at which `sample` starts, rounded up to a whole
    /// nanosecond, so that `sample_at(instant_of(s)) == s` for every sample.
    pub fn instant_of(self, sample: SampleIndex) -> Result<DateTime<Utc>, TimeError> {
        let overflow = TimeError::Overflow {
            what: "samples to instant",
        };
        let secs = i64::try_from(sample.0 / SAMPLE_RATE_U64).map_err(|_| overflow.clone())?;
        let rem = sample.0 % SAMPLE_RATE_U64;
        // rem < 48_000, so rem * 1e9 < 4.8e13: no overflow; the ceiling is
        // at most 999_979_167 < 1e9.
        let nanos = u32::try_from((rem * NANOS_PER_SECOND).div_ceil(SAMPLE_RATE_U64))
            .expect("a sub-second remainder is fewer than 1e9 nanoseconds");
        let unix = self
            .unix_seconds
            .checked_add(secs)
            .ok_or(overflow.clone())?;
        Utc.timestamp_opt(unix, nanos).single().ok_or(overflow)
    }
}

/// The segment and chunk grid of a station: `D` samples per segment, `C`
/// segments per chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    segment: SampleCount,
    chunk_segments: u64,
}

impl Grid {
    /// A grid of `segment` samples per segment (a positive multiple of 960)
    /// and `chunk_segments` segments per chunk (at least 1).
    pub fn new(segment: SampleCount, chunk_segments: u64) -> Result<Grid, TimeError> {
        if segment.0 == 0 || !segment.0.is_multiple_of(OPUS_FRAME) {
            return Err(TimeError::BadSegmentDuration { samples: segment.0 });
        }
        if chunk_segments == 0 {
            return Err(TimeError::BadChunkLength);
        }
        segment
            .0
            .checked_mul(chunk_segments)
            .ok_or(TimeError::Overflow {
                what: "chunk length in samples",
            })?;
        Ok(Grid {
            segment,
            chunk_segments,
        })
    }

    /// Samples per segment (`D`).
    pub fn segment_duration(self) -> SampleCount {
        self.segment
    }

    /// Opus packets per segment (`D / 960`).
    pub fn packets_per_segment(self) -> u64 {
        self.segment.0 / OPUS_FRAME
    }

    /// Segments per chunk (`C`).
    pub fn chunk_segments(self) -> u64 {
        self.chunk_segments
    }

    /// Samples per chunk (`C·D`).
    pub fn chunk_duration(self) -> SampleCount {
        SampleCount(self.segment.0 * self.chunk_segments)
    }

    /// The segment holding `sample`.
    pub fn segment_of(self, sample: SampleIndex) -> SegmentNumber {
        SegmentNumber(sample.0 / self.segment.0)
    }

    /// The first sample of segment `n` (its `tfdt`).
    pub fn segment_start(self, n: SegmentNumber) -> Result<SampleIndex, TimeError> {
        n.0.checked_mul(self.segment.0)
            .map(SampleIndex)
            .ok_or(TimeError::Overflow {
                what: "segment start",
            })
    }

    /// The programme samples of segment `n`: `[n·D, (n+1)·D)`.
    pub fn segment_range(self, n: SegmentNumber) -> Result<Range<SampleIndex>, TimeError> {
        let start = self.segment_start(n)?;
        Ok(start..start.checked_add(self.segment)?)
    }

    /// The chunk holding segment `n`.
    pub fn chunk_of(self, n: SegmentNumber) -> ChunkIndex {
        ChunkIndex(n.0 / self.chunk_segments)
    }

    /// The segments of chunk `k`: `[k·C, (k+1)·C)`.
    pub fn chunk_segment_range(self, k: ChunkIndex) -> Result<Range<SegmentNumber>, TimeError> {
        let overflow = TimeError::Overflow {
            what: "chunk segments",
        };
        let first =
            k.0.checked_mul(self.chunk_segments)
                .ok_or(overflow.clone())?;
        let end = first.checked_add(self.chunk_segments).ok_or(overflow)?;
        Ok(SegmentNumber(first)..SegmentNumber(end))
    }

    /// The programme samples of chunk `k`.
    pub fn chunk_range(self, k: ChunkIndex) -> Result<Range<SampleIndex>, TimeError> {
        let segs = self.chunk_segment_range(k)?;
        Ok(self.segment_start(segs.start)?..self.segment_start(segs.end)?)
    }

    /// The chunk at or before `sample`, as its first sample.
    pub fn chunk_floor(self, sample: SampleIndex) -> SampleIndex {
        let c = self.chunk_duration().0;
        SampleIndex(sample.0 / c * c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn epoch() -> Epoch {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("valid literal")
            .with_timezone(&Utc);
        Epoch::new(t).expect("whole second")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid literal")
            .with_timezone(&Utc)
    }

    fn grid() -> Grid {
        Grid::new(SampleCount(96_000), 30).expect("valid grid")
    }

    #[test]
    fn epoch_itself_is_sample_zero() {
        let e = epoch();
        assert_eq!(e.sample_at(e.instant()), Ok(SampleIndex(0)));
        assert_eq!(e.instant_of(SampleIndex(0)), Ok(e.instant()));
    }

    #[test]
    fn before_epoch_is_an_error() {
        let e = epoch();
        let err = e.sample_at(utc("2025-12-31T23:59:59.999Z"));
        assert!(matches!(err, Err(TimeError::BeforeEpoch { .. })), "{err:?}");
    }

    #[test]
    fn day_boundaries_are_exact() {
        let e = epoch();
        let day = 86_400 * 48_000;
        assert_eq!(
            e.sample_at(utc("2026-01-02T00:00:00Z")),
            Ok(SampleIndex(day))
        );
        assert_eq!(
            e.sample_at(utc("2026-11-24T00:00:00Z")),
            Ok(SampleIndex(327 * day))
        );
        // A day is a whole number of 2 s segments.
        assert_eq!(grid().segment_of(SampleIndex(day)), SegmentNumber(43_200));
    }

    #[test]
    fn sub_second_instants_round_down_to_a_sample() {
        let e = epoch();
        // 1 ms = 48 samples exactly; 1 ns is less than a sample.
        assert_eq!(
            e.sample_at(utc("2026-01-01T00:00:00.001Z")),
            Ok(SampleIndex(48))
        );
        assert_eq!(
            e.sample_at(utc("2026-01-01T00:00:00.000000001Z")),
            Ok(SampleIndex(0))
        );
        // Sample 1 starts 20833.33 ns after the epoch: the instant rounds up
        // to 20834 ns, so it maps back to sample 1, while 20833 ns is still 0.
        let t = e.instant_of(SampleIndex(1)).expect("in range");
        assert_eq!(t.timestamp_subsec_nanos(), 20_834);
        assert_eq!(e.sample_at(t), Ok(SampleIndex(1)));
        let just_before = t - chrono::Duration::nanoseconds(1);
        assert_eq!(e.sample_at(just_before), Ok(SampleIndex(0)));
    }

    #[test]
    fn far_future_is_fine_and_overflow_is_an_error() {
        let e = epoch();
        let t = utc("2526-01-01T00:00:00Z");
        let s = e.sample_at(t).expect("500 years fit in u64 samples");
        assert_eq!(e.instant_of(s), Ok(t));
        assert!(matches!(
            e.instant_of(SampleIndex(u64::MAX)),
            Err(TimeError::Overflow { .. })
        ));
        assert!(matches!(
            grid().segment_start(SegmentNumber(u64::MAX)),
            Err(TimeError::Overflow { .. })
        ));
    }

    #[test]
    fn fractional_epoch_is_refused() {
        let err = Epoch::new(utc("2026-01-01T00:00:00.5Z"));
        assert!(matches!(err, Err(TimeError::FractionalEpoch(_))));
    }

    #[test]
    fn segment_duration_must_be_whole_opus_frames() {
        assert!(Grid::new(SampleCount(96_000), 1).is_ok());
        assert!(Grid::new(SampleCount(960), 1).is_ok());
        for bad in [0, 959, 48_001, 100_000] {
            assert_eq!(
                Grid::new(SampleCount(bad), 1),
                Err(TimeError::BadSegmentDuration { samples: bad })
            );
        }
        assert_eq!(
            Grid::new(SampleCount(960), 0),
            Err(TimeError::BadChunkLength)
        );
    }

    #[test]
    fn segment_and_chunk_ranges() {
        let g = grid();
        assert_eq!(g.packets_per_segment(), 100);
        assert_eq!(
            g.segment_range(SegmentNumber(3)),
            Ok(SampleIndex(288_000)..SampleIndex(384_000))
        );
        assert_eq!(g.chunk_of(SegmentNumber(29)), ChunkIndex(0));
        assert_eq!(g.chunk_of(SegmentNumber(30)), ChunkIndex(1));
        assert_eq!(
            g.chunk_segment_range(ChunkIndex(2)),
            Ok(SegmentNumber(60)..SegmentNumber(90))
        );
        assert_eq!(
            g.chunk_range(ChunkIndex(1)),
            Ok(SampleIndex(2_880_000)..SampleIndex(5_760_000))
        );
        assert_eq!(
            g.chunk_floor(SampleIndex(2_880_001)),
            SampleIndex(2_880_000)
        );
    }

    proptest! {
        #[test]
        fn segment_of_segment_start_round_trips(n in 0u64..(u64::MAX / 96_000)) {
            let g = grid();
            let start = g.segment_start(SegmentNumber(n)).expect("in range");
            prop_assert_eq!(g.segment_of(start), SegmentNumber(n));
            // The last sample of segment n is still in n; the next is in n+1.
            let end = g.segment_range(SegmentNumber(n)).expect("in range").end;
            prop_assert_eq!(g.segment_of(SampleIndex(end.0 - 1)), SegmentNumber(n));
            prop_assert_eq!(g.segment_of(end), SegmentNumber(n + 1));
        }

        #[test]
        fn sample_instant_round_trips(s in 0u64..(1u64 << 50)) {
            let e = epoch();
            let t = e.instant_of(SampleIndex(s)).expect("in range");
            prop_assert_eq!(e.sample_at(t), Ok(SampleIndex(s)));
        }

        #[test]
        fn whole_milliseconds_are_exact(ms in 0i64..(1i64 << 40)) {
            let e = epoch();
            let t = e.instant() + chrono::Duration::milliseconds(ms);
            let s = e.sample_at(t).expect("after epoch");
            prop_assert_eq!(s.0, ms as u64 * 48);
            prop_assert_eq!(e.instant_of(s), Ok(t));
        }

        #[test]
        fn every_segment_lies_in_exactly_its_chunk(n in 0u64..10_000_000, c in 1u64..500) {
            let g = Grid::new(SampleCount(96_000), c).expect("valid grid");
            let k = g.chunk_of(SegmentNumber(n));
            let segs = g.chunk_segment_range(k).expect("in range");
            prop_assert!(segs.contains(&SegmentNumber(n)));
        }
    }
}

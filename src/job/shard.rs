//! Sharded rendering: one night's render split over machines (a CI matrix,
//! a Kubernetes Indexed Job, `xargs -P` on one box) with no coordinator of
//! our own.
//!
//! 1. [`plan`] (`lofiever plan`), once, under the station's exclusive lock:
//!    analyses, extends the schedule exactly as the unsharded run would,
//!    lists the target once and publishes the **journal**
//!    ([`JOURNAL`], a dot-object at the target): the whole schedule, the
//!    window and every chunk with segments missing at the target. It
//!    publishes no schedule file, MPD or page.
//! 2. [`render_shard`] (`lofiever render --shard I/N`), any number at once,
//!    anywhere, in any order: reads the journal (a shard never plans), takes
//!    the station lock *shared* with the other writers of the same plan
//!    ([`crate::publish::lock`]: a writer of another plan, or an exclusive
//!    run, is stopped), renders its share — a contiguous run of the
//!    journal's chunks holding a `1/N` of its segments, chosen from the
//!    journal alone, so every shard agrees without talking — skipping what
//!    is at the target already (a re-run after a kill continues), and
//!    uploads exactly those segments.
//! 3. [`finish`] (`lofiever render --finish`), once after all shards, under
//!    the exclusive lock: checks every segment of the journal is at the
//!    target (else one line naming the first missing), then writes and
//!    publishes the init segments, schedule files, HLS day playlists, MPD
//!    and page in publish order (audio first) and removes the journal.
//!
//! A chunk is a pure function of (schedule, chunk index), so the target
//! ends byte-identical to one unsharded `lofiever render`. The journal's
//! schedule extends the target's: an unfinished journal is adopted by the
//! next `plan`, `schedule` or `render` (never re-planned), and a plain
//! `render` that completes removes it. A shard checks the journal's id
//! (`--plan ID`, when given) and the configuration fingerprint, and reads
//! the journal again before uploading: a changed plan stops it with one
//! line, having published nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    adopt_pending_plan, extend_schedule_to, start, wanted_segments, Analysis, Start, Window,
};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::publish::{self, ObjectInfo, PutObject, Target};
use crate::render::{self, CatalogAudio, Work};
use crate::schedule::{Busy, Item, Schedule};
use crate::station::{layout, Station};
use crate::time::{ChunkIndex, SampleIndex, SegmentNumber};

/// The journal's key at the target (a dot-object: never listed by a folder
/// target, never published as part of the station).
pub const JOURNAL: &str = ".lofiever-journal.json";

/// One chunk of the plan with segments to render: `(chunk, [first, end)
/// ranges of its missing segments)`.
pub type ChunkWork = (u64, Vec<(u64, u64)>);

/// The plan of a sharded render, published at the target by [`plan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// Hash of everything below: names this plan.
    pub id: String,
    /// The "now" the plan is anchored to.
    pub planned_at: DateTime<Utc>,
    /// What must be the same for a shard to render this plan: the
    /// configuration that shapes the output and the lofiever version.
    pub fingerprint: String,
    /// The first schedule item not yet published at the target (its start
    /// sample), `None` when none is new.
    pub first_new: Option<u64>,
    /// Where the window ends (a sample): HLS day playlists are written for
    /// days rendered up to here.
    pub done_until: u64,
    /// The window's segments `[start, end)`, clamped to the schedule.
    pub window: (u64, u64),
    /// The chunks with segments missing at the target when planned.
    pub chunks: Vec<ChunkWork>,
    /// The whole schedule, extended.
    pub items: Vec<Item>,
}

impl Journal {
    /// Segments to render, each counted once for all renditions.
    pub fn segments(&self) -> u64 {
        self.chunks
            .iter()
            .flat_map(|(_, r)| r.iter().map(|(a, b)| b - a))
            .sum()
    }

    fn compute_id(&self) -> String {
        let mut copy = self.clone();
        copy.id = String::new();
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        blake3::hash(&bytes).to_hex()[..16].to_string()
    }
}

/// What must agree between the plan and a shard for the shard's segments to
/// be the plan's: every setting that shapes the published bytes (the
/// station with its machine-specific paths and target blanked) and the
/// lofiever version.
pub fn fingerprint(station: &Station) -> String {
    let mut s = station.clone();
    s.root = Default::default();
    s.catalog_dir = Default::default();
    s.output_dir = Default::default();
    s.target = crate::station::TargetSpec::Dir(Default::default());
    s.source = String::new();
    let text = format!("{} {s:?}", env!("CARGO_PKG_VERSION"));
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

fn place(target: &dyn Target) -> String {
    let d = target.describe();
    let sep = if d.ends_with('/') { "" } else { "/" };
    format!("{d}{sep}{JOURNAL}")
}

/// The journal at `target`, if any.
pub fn read_journal(target: &dyn Target) -> Result<Option<Journal>> {
    let Some(bytes) = target.get(JOURNAL)? else {
        return Ok(None);
    };
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| Error::Plan {
        place: place(target),
        message: format!(
            "not a lofiever plan journal ({e}); run `lofiever plan` again to replace it"
        ),
    })?;
    if journal.compute_id() != journal.id {
        return Err(Error::Plan {
            place: place(target),
            message: "the journal does not match its id (edited or damaged); run `lofiever \
                      plan` again to replace it"
                .into(),
        });
    }
    Ok(Some(journal))
}

/// Adopts the schedule of an unfinished journal at `target` when it extends
/// `schedule` (the target's): planned time is never planned again.
pub(super) fn adopt_journal(target: &dyn Target, schedule: &mut Schedule) -> Result<bool> {
    let Some(j) = read_journal(target)? else {
        return Ok(false);
    };
    let n = schedule.items.len();
    if j.items.len() > n && j.items[..n] == schedule.items[..] {
        let pending = Schedule { items: j.items };
        pending.validate()?;
        tracing::info!(
            "{}: continuing the schedule of the unfinished plan {} ({} items not yet published)",
            place(target),
            j.id,
            pending.items.len() - n
        );
        *schedule = pending;
    }
    Ok(true)
}

/// What `lofiever plan` did.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// The journal published.
    pub journal: Journal,
    /// Items appended to the schedule.
    pub items_added: usize,
    /// Orphan segments deleted (a first plan finding audio of a lost plan).
    pub orphans_deleted: u64,
}

/// `lofiever plan`: plans the window as the unsharded run would and
/// publishes the journal the shards read.
pub fn plan(station: &Station, window: &Window, progress: &dyn Progress) -> Result<PlanOutcome> {
    plan_prepared(station, window, Analysis::Run, &Busy::default(), progress)
}

/// [`plan`] from `analysis`, never planning a recording while `busy` (other
/// channels) holds it.
pub(crate) fn plan_prepared(
    station: &Station,
    window: &Window,
    analysis: Analysis<'_>,
    busy: &Busy,
    progress: &dyn Progress,
) -> Result<PlanOutcome> {
    let (lock, target, tracks, mut schedule) = match analysis {
        Analysis::Run => {
            let Start {
                lock,
                target,
                tracks,
                schedule,
            } = start(station, "plan", progress)?;
            (lock, target, tracks, schedule)
        }
        Analysis::Done(_, tracks) => {
            let lock = publish::lock::StationLock::acquire(station, "plan")?;
            let target = publish::open(station)?;
            let schedule = super::load_schedule(target.as_ref())?;
            (lock, target, tracks, schedule)
        }
    };
    let published = schedule.items.len();
    adopt_pending_plan(station, &mut schedule);
    adopt_journal(target.as_ref(), &mut schedule)?;
    // As in the unsharded run: audio at the target while no plan is known
    // belongs to a lost plan. Shards trust what is at the target, so it is
    // deleted here, before the journal points anyone at the window.
    let orphans = window.force || schedule.items.is_empty();
    let items_added = extend_schedule_to(
        station,
        &mut schedule,
        &tracks,
        window.now,
        window.ahead,
        None,
        busy,
    )?;
    let first_new = schedule.items.get(published).map(|it| it.start_sample);
    let mut remote = target.list("")?;
    let wanted = wanted_segments(station, window)?;
    let mut orphans_deleted = 0;
    if orphans {
        let keys: Vec<String> = remote
            .keys()
            .filter(|k| layout::Kind::of(k) == layout::Kind::Segment)
            .filter(|k| layout::segment_number(k).is_some_and(|n| wanted.contains(&n)))
            .cloned()
            .collect();
        if !keys.is_empty() {
            lock.check()?;
            orphans_deleted = target.delete(&keys)?;
            for k in &keys {
                remote.remove(k);
            }
        }
    }
    let work = render::missing_work(station, &schedule, wanted.clone(), false, &|key| {
        remote.contains_key(key)
    })?;
    let done_until = station.grid.segment_start(wanted.end)?;
    let mut journal = Journal {
        id: String::new(),
        planned_at: window.now,
        fingerprint: fingerprint(station),
        first_new,
        done_until: done_until.0,
        window: (work.window.start.0, work.window.end.0),
        chunks: work
            .jobs
            .iter()
            .map(|(k, segs)| (k.0, ranges(segs)))
            .collect(),
        items: schedule.items,
    };
    journal.id = journal.compute_id();
    let bytes = serde_json::to_vec(&journal).map_err(|e| Error::Schedule(e.to_string()))?;
    lock.check()?;
    target.put(&PutObject::new(JOURNAL, &bytes))?;
    Ok(PlanOutcome {
        journal,
        items_added,
        orphans_deleted,
    })
}

/// Ascending segment numbers as `[first, end)` runs.
fn ranges(segs: &[SegmentNumber]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for n in segs {
        match out.last_mut() {
            Some((_, end)) if *end == n.0 => *end += 1,
            _ => out.push((n.0, n.0 + 1)),
        }
    }
    out
}

/// `--shard I/N`: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, 1..=count.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` with `1 <= I <= N`; the error says what is wrong in one
    /// line.
    pub fn parse(text: &str) -> std::result::Result<Shard, String> {
        let bad = |why: &str| {
            format!(
                "--shard {text:?}: {why}; write I/N with 1 <= I <= N, e.g. --shard 2/4 for \
                 the second of four shards"
            )
        };
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("no `/` between I and N"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| bad("I is not a whole number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(bad(&format!("I must be between 1 and {count}")));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The journal's chunks of `shard`: a contiguous run holding about a `1/N`
/// of the plan's segments, from the journal alone. Share `i` ends at the
/// chunk boundary nearest to `i/N` of the segments (so no share is off by
/// more than a chunk), and while there are at least `N` chunks no share is
/// empty.
pub fn share(journal: &Journal, shard: Shard) -> Vec<ChunkWork> {
    let sizes: Vec<u64> = journal.chunks.iter().map(chunk_size).collect();
    journal.chunks[share_bounds(&sizes, shard)].to_vec()
}

/// Segments to render in one chunk of a plan.
pub fn chunk_size(c: &ChunkWork) -> u64 {
    c.1.iter().map(|(a, b)| b - a).sum()
}

/// Which of the chunks of `sizes` segments (in order) make `shard`'s share:
/// see [`share`]. Channels share out the chunks of all their plans in one
/// list.
pub fn share_bounds(sizes: &[u64], shard: Shard) -> std::ops::Range<usize> {
    let m = sizes.len();
    let n = shard.count as usize;
    let total: u128 = sizes.iter().map(|&s| u128::from(s)).sum();
    // cum[j]: segments in the chunks before j.
    let mut cum = Vec::with_capacity(m + 1);
    cum.push(0u128);
    for &size in sizes {
        cum.push(cum[cum.len() - 1] + u128::from(size));
    }
    let mut bounds = vec![0usize];
    for i in 1..n {
        let want = i as u128 * total;
        let prev = bounds[i - 1];
        let (lo, hi) = if n <= m {
            (prev + 1, m - (n - i))
        } else {
            (prev, m)
        };
        let nearest = (lo..=hi)
            .min_by_key(|&j| (cum[j] * n as u128).abs_diff(want))
            .unwrap_or(lo);
        bounds.push(nearest);
    }
    bounds.push(m);
    let i = shard.index as usize;
    bounds[i - 1]..bounds[i]
}

/// What one shard did.
#[derive(Debug, Clone, Default)]
pub struct ShardSummary {
    /// The plan rendered.
    pub plan: String,
    /// Chunks in this shard's share.
    pub chunks: u64,
    /// Segments of the share that were at the target already.
    pub already: u64,
    /// The render.
    pub render: render::Summary,
    /// The upload.
    pub upload: publish::Summary,
}

/// The journal at `target`, checked against `station` and, if given, the
/// plan id the caller expects.
pub(crate) fn current_journal(
    station: &Station,
    target: &dyn Target,
    expect: Option<&str>,
) -> Result<Journal> {
    let journal = read_journal(target)?.ok_or_else(|| Error::Plan {
        place: place(target),
        message: "no plan to render: run `lofiever plan` first (a shard never plans), then the \
                  shards, then `lofiever render --finish`"
            .into(),
    })?;
    if let Some(want) = expect {
        if want != journal.id {
            return Err(Error::Plan {
                place: place(target),
                message: format!(
                    "the plan changed: this run was given plan {want}, the target holds plan \
                     {} (planned for {}); nothing was rendered. Run the shards of the \
                     current plan (or `lofiever plan` again)",
                    journal.id,
                    crate::schedule::store::fmt_instant(journal.planned_at)
                ),
            });
        }
    }
    if journal.fingerprint != fingerprint(station) {
        return Err(Error::Plan {
            place: place(target),
            message: format!(
                "plan {} was made with another station configuration or lofiever version than \
                 this run's ({}); nothing was rendered. Run every step with the same \
                 configuration and build, or `lofiever plan` again",
                journal.id, station.source
            ),
        });
    }
    Ok(journal)
}

/// `lofiever render --shard I/N [--plan ID]`: renders and uploads this
/// shard's share of the plan at the target.
pub fn render_shard(
    station: &Station,
    shard: Shard,
    expect: Option<&str>,
    progress: &dyn Progress,
) -> Result<ShardSummary> {
    let target = publish::open(station)?;
    let journal = current_journal(station, target.as_ref(), expect)?;
    let mine = share(&journal, shard);
    render_chunks(
        station,
        target.as_ref(),
        &journal.id,
        &mine,
        &format!("render --shard {shard}"),
        progress,
    )
}

/// Renders and uploads the chunks `mine` of plan `plan_id` at `target`
/// under the plan's shared lock (a shard's share, or a channel's part of
/// it).
pub(crate) fn render_chunks(
    station: &Station,
    target: &dyn Target,
    plan_id: &str,
    mine: &[ChunkWork],
    command: &str,
    progress: &dyn Progress,
) -> Result<ShardSummary> {
    let lock = publish::lock::StationLock::acquire_shared(station, command, plan_id)?;
    // Under the lock the plan cannot change; read it once more in case it
    // did between the first read and the lock.
    let journal = current_journal(station, target, Some(plan_id))?;
    let schedule = Schedule {
        items: journal.items.clone(),
    };
    schedule.validate()?;
    let remote = target.list("")?;
    let mut summary = ShardSummary {
        plan: journal.id.clone(),
        chunks: mine.len() as u64,
        ..Default::default()
    };
    let mut work = Work {
        window: SegmentNumber(journal.window.0)..SegmentNumber(journal.window.1),
        ..Default::default()
    };
    for (k, runs) in mine {
        let missing: Vec<SegmentNumber> = runs
            .iter()
            .flat_map(|&(a, b)| a..b)
            .map(SegmentNumber)
            .filter(|&n| !at_target(station, &remote, n))
            .collect();
        summary.already += runs.iter().map(|(a, b)| b - a).sum::<u64>() - missing.len() as u64;
        if !missing.is_empty() {
            work.jobs.push((ChunkIndex(*k), missing));
        }
    }
    work.skipped = summary.already;
    if work.jobs.is_empty() {
        return Ok(summary);
    }
    let catalog = station.catalog_dir.clone();
    let make_audio =
        move || -> Box<dyn render::mix::TrackAudio> { Box::new(CatalogAudio::new(&catalog)) };
    summary.render = render::render_work(
        station,
        &schedule,
        &make_audio,
        &station.output_dir,
        &work,
        progress,
    )?;
    lock.check()?;
    current_journal(station, target, Some(&journal.id))?;
    let keys: Vec<String> = work
        .jobs
        .iter()
        .flat_map(|(_, segs)| segs.iter())
        .flat_map(|&n| {
            station
                .renditions
                .iter()
                .map(move |r| layout::segment(&r.id(), n))
        })
        .collect();
    summary.upload = publish::upload_keys(
        &station.output_dir,
        target,
        &keys,
        station.publish.concurrency.max(1),
        progress,
    )?;
    Ok(summary)
}

fn at_target(station: &Station, remote: &BTreeMap<String, ObjectInfo>, n: SegmentNumber) -> bool {
    station
        .renditions
        .iter()
        .all(|r| remote.contains_key(&layout::segment(&r.id(), n)))
}

/// What `lofiever render --finish` did.
#[derive(Debug, Clone)]
pub struct FinishSummary {
    /// The plan finished.
    pub plan: String,
    /// The station files' publish and the retention pass.
    pub publish: publish::StationPublish,
    /// First sample not rendered (the runway end).
    pub rendered_until: Option<SampleIndex>,
}

/// An error naming what is missing when the plan's audio is not all at
/// the target (`remote`, a listing of it): `--finish` publishes nothing then.
pub(crate) fn check_complete(
    station: &Station,
    target: &dyn Target,
    journal: &Journal,
    remote: &BTreeMap<String, ObjectInfo>,
) -> Result<()> {
    let mut missing = journal.chunks.iter().flat_map(|(_, runs)| {
        runs.iter()
            .flat_map(|&(a, b)| a..b)
            .map(SegmentNumber)
            .flat_map(|n| station.renditions.iter().map(move |r| (r, n)))
            .map(|(r, n)| layout::segment(&r.id(), n))
            .filter(|k| !remote.contains_key(k))
    });
    if let Some(first) = missing.next() {
        let n = 1 + missing.count();
        return Err(Error::Plan {
            place: place(target),
            message: format!(
                "plan {} is not complete: {n} segment{} not at the target yet (first: {first}); \
                 run the shards that failed or are still running (`lofiever render --shard \
                 I/N`), then --finish again. Nothing was published",
                journal.id,
                if n == 1 { " is" } else { "s are" }
            ),
        });
    }
    Ok(())
}

/// `lofiever render --finish`: after every shard, checks the plan's audio is
/// all at the target, then publishes init segments, schedule, HLS day
/// playlists, MPD and page (in that order) and removes the journal.
pub fn finish(
    station: &Station,
    expect: Option<&str>,
    progress: &dyn Progress,
) -> Result<FinishSummary> {
    let lock = publish::lock::StationLock::acquire(station, "render --finish")?;
    let target = publish::open(station)?;
    let journal = current_journal(station, target.as_ref(), expect)?;
    let remote = target.list("")?;
    check_complete(station, target.as_ref(), &journal, &remote)?;
    let schedule = Schedule {
        items: journal.items.clone(),
    };
    schedule.validate()?;
    let out = &station.output_dir;
    if journal.window.0 < journal.window.1 {
        for r in &station.renditions {
            let init =
                crate::package::fmp4::init_segment(r.bitrate).map_err(|e| Error::Render {
                    context: layout::init(&r.id()),
                    message: e.to_string(),
                })?;
            crate::fsutil::write_atomic(&out.join(layout::init(&r.id())), &init)?;
        }
    }
    let first_new = journal.first_new.map(SampleIndex);
    super::write_station_files(station, &schedule, first_new.or(schedule.start()))?;
    super::write_day_playlists(
        station,
        &schedule,
        SampleIndex(journal.done_until),
        journal.planned_at,
        &|key| remote.contains_key(key) || out.join(key).exists(),
    )?;
    lock.check()?;
    let published = publish::run_station(
        station,
        target.as_ref(),
        Some(remote),
        journal.planned_at,
        false,
        progress,
    )?;
    target.delete(&[JOURNAL.to_string()])?;
    let rendered_until = (journal.window.0 < journal.window.1)
        .then(|| station.grid.segment_start(SegmentNumber(journal.window.1)))
        .transpose()?;
    Ok(FinishSummary {
        plan: journal.id,
        publish: published,
        rendered_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_values_are_checked_in_one_line() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/0", "5/4", "a/b", "0/4", "3", "1/x", ""] {
            let e = Shard::parse(bad).expect_err(bad);
            assert!(e.starts_with("--shard") && !e.contains('\n'), "{e}");
        }
        assert!(Shard::parse("5/4").unwrap_err().contains("between 1 and 4"));
        assert!(Shard::parse("0/0").unwrap_err().contains("at least 1"));
    }

    fn journal(chunks: Vec<ChunkWork>) -> Journal {
        Journal {
            id: String::new(),
            planned_at: DateTime::<Utc>::default(),
            fingerprint: String::new(),
            first_new: None,
            done_until: 0,
            window: (0, 0),
            chunks,
            items: Vec::new(),
        }
    }

    #[test]
    fn shares_are_contiguous_balanced_and_cover_every_chunk_once() {
        // 37 chunks of 10 segments, one of 4, a gap.
        let mut chunks: Vec<ChunkWork> = (0..37u64)
            .map(|k| (k + 100, vec![(k * 10, k * 10 + 10)]))
            .collect();
        chunks.push((200, vec![(2000, 2002), (2005, 2007)]));
        let j = journal(chunks.clone());
        for n in [1u32, 2, 3, 4, 7, 38, 50] {
            let mut all = Vec::new();
            let mut sizes = Vec::new();
            for i in 1..=n {
                let s = share(&j, Shard { index: i, count: n });
                sizes.push(
                    s.iter()
                        .flat_map(|c| c.1.iter())
                        .map(|(a, b)| b - a)
                        .sum::<u64>(),
                );
                all.extend(s);
            }
            assert_eq!(all, chunks, "N = {n}: every chunk once, in order");
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            if n <= 38 {
                // Segments per shard differ by at most one chunk (10).
                assert!(hi - lo <= 10, "N = {n}: unbalanced {sizes:?}");
            }
        }
        assert!(share(&journal(vec![]), Shard { index: 1, count: 4 }).is_empty());
    }

    #[test]
    fn runs_of_segments() {
        let s = |v: &[u64]| v.iter().map(|&n| SegmentNumber(n)).collect::<Vec<_>>();
        assert_eq!(
            ranges(&s(&[1, 2, 3, 7, 9, 10])),
            vec![(1, 4), (7, 8), (9, 11)]
        );
        assert!(ranges(&[]).is_empty());
    }
}

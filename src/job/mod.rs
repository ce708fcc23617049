//! The whole job, `lofiever render --days N`: analyze what changed, extend
//! the schedule from the state in the target, render the missing segments,
//! then write schedule, MPD and page — in publish order — and publish.
//!
//! [`shard`] splits the render over machines: `plan`, `render --shard I/N`,
//! `render --finish`.
//!
//! Each stage is also callable alone ([`analyze_and_tracks`],
//! [`extend_schedule`], [`render_window`], [`write_station_files`]), and
//! [`plan`] is the schedule stage on its own (`lofiever schedule`); the CLI
//! subcommands are thin wrappers over these.
//!
//! State lives in the target (`docs/ARCHITECTURE.md`): the schedule is read back from it,
//! and when the target is not the output folder (an S3 bucket, another
//! folder) it is listed once, so segments already there are neither rendered
//! nor uploaded again — a fresh machine with only the repository and
//! credentials continues the station where it is.

pub mod channels;
pub mod shard;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::analyze;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::publish::{self, ObjectInfo, Target};
use crate::render::{self, CatalogAudio};
use crate::schedule::{store, Busy, Schedule, Track};
use crate::station::{layout, Station};
use crate::time::{SampleCount, SampleIndex, SegmentNumber};

/// How far a render run reaches.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The wall-clock "now" the run is anchored to.
    pub now: DateTime<Utc>,
    /// Programme to render ahead of now.
    pub ahead: SampleCount,
    /// Re-render segments that already exist.
    pub force: bool,
}

/// Everything a render run did, for the summary line.
#[derive(Debug, Default)]
pub struct JobSummary {
    /// Analysis outcome.
    pub analysis: Option<analyze::Report>,
    /// Items appended to the schedule.
    pub items_added: usize,
    /// Render outcome.
    pub render: render::Summary,
    /// Publish outcome (`None` when the target is the output folder).
    pub publish: Option<publish::Summary>,
    /// Segments deleted by retention at the target.
    pub retention: publish::retention::Summary,
    /// Segments deleted by retention from the output folder when it is not
    /// the target.
    pub local_retention: publish::retention::Summary,
    /// First sample not yet rendered (the runway end).
    pub rendered_until: Option<SampleIndex>,
}

/// Runs the analyzer and joins catalog.csv overrides into schedulable tracks.
pub fn analyze_and_tracks(
    station: &Station,
    progress: &dyn Progress,
) -> Result<(analyze::Report, Vec<Track>)> {
    let report = analyze::run(&station.catalog_dir, progress)?;
    let rows: std::collections::HashMap<&str, &crate::catalog::CatalogRow> = report
        .catalog
        .entries
        .iter()
        .filter_map(|e| e.row.as_ref().map(|r| (e.file.rel_path.as_str(), r)))
        .collect();
    // A track is its recording: the same audio under several paths (a
    // copied folder) is one track, scheduled under its first path and
    // reported once.
    let mut first_path: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut copies: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut tracks: Vec<Track> = Vec::with_capacity(report.tracks.len());
    for f in &report.tracks {
        match first_path.get(f.hash.as_str()) {
            Some(first) => copies.entry(first).or_default().push(f.path.as_str()),
            None => {
                first_path.insert(f.hash.as_str(), f.path.as_str());
                tracks.push(Track::new(f, rows.get(f.path.as_str()).copied()));
            }
        }
    }
    for (first, others) in &copies {
        warn_duplicate(first, others);
    }
    if station.schedule.listener_weighting {
        use crate::listeners::weighting;
        let path = station.catalog_dir.join(weighting::STATS_FILE);
        match weighting::load(&path) {
            Ok(stats) => {
                let n = weighting::apply(&mut tracks, &stats);
                tracing::info!(
                    "listener weighting: {n} tracks planned less often ({})",
                    path.display()
                );
            }
            Err(e) => tracing::warn!("{e}; listener weighting skipped this run"),
        }
    }
    Ok((report, tracks))
}

/// One line for the copies of one recording.
fn warn_duplicate(first: &str, others: &[&str]) {
    let shown: Vec<String> = others.iter().take(3).map(|o| format!("{o:?}")).collect();
    let more = if others.len() > 3 {
        format!(" and {} more", others.len() - 3)
    } else {
        String::new()
    };
    tracing::warn!(
        "catalog: {}{more} {} the same recording as {first:?}; scheduled as one track, under \
         {first:?} (remove the copies to silence this)",
        shown.join(", "),
        if others.len() == 1 { "is" } else { "are" },
    );
}

/// Reads the schedule from the target (the authoritative state).
pub fn load_schedule(target: &dyn Target) -> Result<Schedule> {
    let keys = target.list(&format!("{}/", layout::SCHEDULE_DIR))?;
    let mut items = Vec::new();
    for key in keys.keys().filter(|k| k.ends_with(".json")) {
        let bytes = target.get(key)?.ok_or_else(|| {
            Error::Schedule(format!(
                "{key} was listed at {} but cannot be read",
                target.describe()
            ))
        })?;
        items.extend(store::parse_day(key, &bytes)?);
    }
    let schedule = Schedule { items };
    schedule.validate()?;
    Ok(schedule)
}

/// Extends `schedule` so everything up to `now + ahead` can be rendered.
/// An empty schedule starts at the chunk boundary a minute before now.
pub fn extend_schedule(
    station: &Station,
    schedule: &mut Schedule,
    tracks: &[Track],
    now: DateTime<Utc>,
    ahead: SampleCount,
) -> Result<usize> {
    extend_schedule_to(
        station,
        schedule,
        tracks,
        now,
        ahead,
        None,
        &Busy::default(),
    )
}

/// [`extend_schedule`], and at least to `at_least` (a schedule that was cut
/// is planned again as far as it reached before).
fn extend_schedule_to(
    station: &Station,
    schedule: &mut Schedule,
    tracks: &[Track],
    now: DateTime<Utc>,
    ahead: SampleCount,
    at_least: Option<SampleIndex>,
    busy: &Busy,
) -> Result<usize> {
    let now_s = station.epoch.sample_at(now)?;
    let back = SampleCount(behind(station)?.0 + SampleCount::from_secs(60)?.0);
    let start = station.grid.chunk_floor(now_s.saturating_sub(back));
    // Render needs the horizon past the window by the crossfade and look-ahead.
    let margin = SampleCount(station.crossfade.0 + SampleCount::from_secs(10)?.0);
    let until = now_s.checked_add(ahead)?.checked_add(margin)?;
    let until = at_least.map_or(until, |a| a.max(until));
    schedule.extend_avoiding(tracks, station, start, until, busy)
}

/// Where each recording of the analysed catalog is (see
/// [`render::Sources`]); duplicates map to their first path.
pub fn sources_of(report: &analyze::Report) -> render::Sources {
    let mut sources = render::Sources::default();
    for f in &report.tracks {
        sources
            .by_hash
            .entry(f.hash.clone())
            .or_insert_with(|| f.path.clone());
        sources.by_path.insert(f.path.clone(), f.hash.clone());
    }
    sources
}

/// A schedule cut by [`replan_missing`] or a takedown: what must be
/// planned, rendered and written again.
#[derive(Debug, Clone)]
pub struct Cut {
    /// The programme sample from which the programme changed (a segment
    /// boundary): nothing before it changes.
    pub at: SampleIndex,
    /// Index of the first schedule item removed or changed.
    pub first_item: usize,
    /// Segments from `at` to the last one that existed (exclusive): they
    /// belong to the old plan and are rendered again.
    pub redo: std::ops::Range<SegmentNumber>,
    /// Where the old schedule reached: the new one is planned at least to
    /// the end of that day, so every old day file is written again.
    pub replan_until: SampleIndex,
}

/// The first segment not at the target: everything before it may have
/// been heard (or buffered) and never changes; one past the last segment
/// the target holds, or the schedule's start for a target with none.
fn first_unpublished(
    station: &Station,
    schedule: &Schedule,
    remote: &BTreeMap<String, ObjectInfo>,
) -> SegmentNumber {
    remote
        .keys()
        .filter(|k| layout::Kind::of(k) == layout::Kind::Segment)
        .filter_map(|k| layout::segment_number(k))
        .max()
        .map(|n| SegmentNumber(n.0 + 1))
        .unwrap_or_else(|| {
            schedule
                .start()
                .map_or(SegmentNumber(0), |s| station.grid.segment_of(s))
        })
}

/// Cuts `schedule` at segment `from` for the items `gone` selects (see
/// [`Schedule::cut`]); `None` if none is affected.
pub fn cut_schedule(
    station: &Station,
    schedule: &mut Schedule,
    from: SegmentNumber,
    remote: &BTreeMap<String, ObjectInfo>,
    gone: &dyn Fn(&crate::schedule::Item) -> bool,
) -> Result<Option<Cut>> {
    let at = station.grid.segment_start(from)?;
    let old_end = schedule.items.last().map(|it| it.start());
    let Some(first_item) = schedule.cut(at, gone) else {
        return Ok(None);
    };
    // The end of the old schedule's last day (day files must not be left
    // holding items of the old plan).
    let replan_until = match old_end {
        Some(s) => {
            let day = store::day_of(station.epoch, s)?;
            let midnight = day
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
                .ok_or_else(|| Error::Schedule(format!("day {day} has no next day")))?;
            station.epoch.sample_at(midnight)?
        }
        None => at,
    };
    let last = first_unpublished(station, schedule, remote);
    let local_last = last_local_segment(station).map_or(last, |n| SegmentNumber(n.0 + 1));
    let redo = from..SegmentNumber(last.0.max(local_last.0).max(from.0));
    Ok(Some(Cut {
        at,
        first_item,
        redo,
        replan_until,
    }))
}

/// The highest segment number in the output folder (first rendition).
fn last_local_segment(station: &Station) -> Option<SegmentNumber> {
    let r = station.renditions.first()?;
    let dir = station.output_dir.join(r.id());
    std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| layout::segment_file_number(&e.file_name().to_string_lossy()))
        .max()
}

/// A scheduled item whose recording is nowhere in the catalog (not at its
/// path, not elsewhere under its content hash) must not stop the station:
/// the schedule is cut at the first segment not yet at the target and
/// planned again from there, with a warning naming each such track. Items
/// before the cut that are gone mix as silence (their segments exist; only
/// the next chunk's priming reads them).
fn replan_missing(
    station: &Station,
    schedule: &mut Schedule,
    sources: &mut render::Sources,
    remote: &BTreeMap<String, ObjectInfo>,
) -> Result<Option<Cut>> {
    let root = station.catalog_dir.clone();
    let gone_now = |it: &crate::schedule::Item| sources.resolve(&root, it).is_none();
    let from = first_unpublished(station, schedule, remote);
    let at = station.grid.segment_start(from)?;
    let mut named = std::collections::BTreeSet::new();
    for it in schedule
        .items
        .iter()
        .filter(|it| it.end() > at && gone_now(it))
    {
        if named.insert(it.hash.clone()) {
            tracing::warn!(
                "render: track {:?} (\"{}\" by {}, content {}) is scheduled from {} but its audio is \
                 nowhere in the catalog; the programme is planned again from {} (`render --strict` \
                 stops instead)",
                it.track,
                it.title,
                it.artist,
                it.hash,
                store::fmt_sample(station.epoch, it.start()),
                store::fmt_sample(station.epoch, at.max(it.start())),
            );
        }
    }
    let silent: Vec<u64> = schedule
        .items
        .iter()
        .filter(|it| it.start() < at && gone_now(it))
        .map(|it| it.start_sample)
        .collect();
    if named.is_empty() {
        return Ok(None);
    }
    let cut = cut_schedule(station, schedule, from, remote, &gone_now)?;
    sources.silent.extend(silent);
    Ok(cut)
}

/// How much programme before "now" a run wants rendered: the MPD lets
/// players seek back `timeShiftBufferDepth`, so that much must exist from a
/// fresh station's first run on (and always the listeners' latency, with
/// half a minute to spare). Later runs find it rendered already.
fn behind(station: &Station) -> Result<SampleCount> {
    let latency = station.target_latency_ms + 30_000;
    Ok(SampleCount::from_millis(
        latency.max(crate::station::TIME_SHIFT_BUFFER_MS),
    )?)
}

/// The segments a window asks for: from the seek-back depth before the live
/// point ([`behind`]) to `now + ahead`.
pub fn wanted_segments(
    station: &Station,
    window: &Window,
) -> Result<std::ops::Range<SegmentNumber>> {
    let now_s = station.epoch.sample_at(window.now)?;
    let from = station
        .grid
        .segment_of(now_s.saturating_sub(behind(station)?));
    let until = station.grid.segment_of(now_s.checked_add(window.ahead)?);
    Ok(from..SegmentNumber(until.0 + 1))
}

/// Renders the window into the output folder.
pub fn render_window(
    station: &Station,
    schedule: &Schedule,
    window: &Window,
    progress: &dyn Progress,
) -> Result<render::Summary> {
    render_window_skipping(station, schedule, window, None, progress)
}

/// Renders the window into the output folder, skipping segments that are in
/// `at_target` (a listing of the publish target) as well as those already in
/// the output folder.
pub fn render_window_skipping(
    station: &Station,
    schedule: &Schedule,
    window: &Window,
    at_target: Option<&BTreeMap<String, ObjectInfo>>,
    progress: &dyn Progress,
) -> Result<render::Summary> {
    render_cut(
        station,
        schedule,
        window,
        at_target,
        std::sync::Arc::new(render::Sources::default()),
        None,
        progress,
    )
}

/// [`render_window_skipping`] with recordings found by content hash
/// (`sources`) and, after a cut, its segments rendered again (the window
/// reaches at least to the last of them).
fn render_cut(
    station: &Station,
    schedule: &Schedule,
    window: &Window,
    at_target: Option<&BTreeMap<String, ObjectInfo>>,
    sources: std::sync::Arc<render::Sources>,
    redo: Option<std::ops::Range<SegmentNumber>>,
    progress: &dyn Progress,
) -> Result<render::Summary> {
    let catalog = station.catalog_dir.clone();
    let make_audio = move || -> Box<dyn render::mix::TrackAudio> {
        Box::new(CatalogAudio::with_sources(&catalog, sources.clone()))
    };
    let mut wanted = wanted_segments(station, window)?;
    if let Some(r) = &redo {
        wanted.end = wanted.end.max(r.end);
    }
    let elsewhere = |key: &str| at_target.is_some_and(|l| l.contains_key(key));
    render::run_skipping(
        station,
        schedule,
        &make_audio,
        &station.output_dir,
        wanted,
        window.force,
        redo.map(|r| r.start),
        &elsewhere,
        progress,
    )
}

/// Writes the schedule files into the output folder, from the day of `from`
/// (the first item that changed; `None`: every day).
fn write_schedule_files(
    station: &Station,
    schedule: &Schedule,
    from: Option<SampleIndex>,
) -> Result<()> {
    let from_day = match from {
        Some(s) => Some(store::day_of(station.epoch, s)?),
        None => None,
    };
    store::write_dir(&station.output_dir, schedule, station.epoch, from_day)?;
    Ok(())
}

/// Writes schedule files (from the first day that changed), then the MPD and
/// the page, into the output folder — after the segments they point at.
pub fn write_station_files(
    station: &Station,
    schedule: &Schedule,
    from: Option<SampleIndex>,
) -> Result<()> {
    let out = &station.output_dir;
    write_schedule_files(station, schedule, from)?;
    crate::fsutil::write_atomic(&out.join(layout::MPD), &crate::package::mpd::write(station))?;
    for (name, bytes) in crate::page::files(station) {
        let path = out.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            crate::fsutil::write_atomic(&path, &bytes)?;
        }
    }
    Ok(())
}

/// Writes into the output folder the HLS playlists of every day that is
/// rendered to its end before `done_until` and has none yet, locally or at
/// the target (`present`): see [`crate::package::hls::new_day_playlists`].
/// Starts at the first day the keep window as of `now` keeps whole
/// ([`publish::retention::first_kept_day`]), so a day whose playlists
/// retention deleted is never written again with fewer segments. Off when
/// `stream.hls` is false.
pub fn write_day_playlists(
    station: &Station,
    schedule: &Schedule,
    done_until: SampleIndex,
    now: DateTime<Utc>,
    present: &dyn Fn(&str) -> bool,
) -> Result<usize> {
    let Some(start) = schedule.start() else {
        return Ok(0);
    };
    if !station.hls {
        return Ok(0);
    }
    // Days retention has begun to delete are not written again.
    let mut first_day = store::day_of(station.epoch, start)?;
    if let Some(keep) = publish::retention::keep(station, now)? {
        first_day = first_day.max(keep.day);
    }
    let files = crate::package::hls::new_day_playlists(station, first_day, done_until, present)?;
    for (key, bytes) in &files {
        crate::fsutil::write_atomic(&station.output_dir.join(key), bytes)?;
    }
    Ok(files.len())
}

/// What a run starts from, read under the station lock: the target, the
/// analysed catalog and the schedule the target holds.
struct Start {
    lock: publish::lock::StationLock,
    target: Box<dyn Target>,
    tracks: Vec<Track>,
    schedule: Schedule,
}

/// Takes the station lock for `command`, opens the target, analyses the
/// catalog and reads the schedule back from the target.
fn start(station: &Station, command: &str, progress: &dyn Progress) -> Result<Start> {
    let lock = publish::lock::StationLock::acquire(station, command)?;
    let target = publish::open(station)?;
    let (_, tracks) = analyze_and_tracks(station, progress)?;
    let schedule = load_schedule(target.as_ref())?;
    Ok(Start {
        lock,
        target,
        tracks,
        schedule,
    })
}

/// The catalog a run plans from: analysed by the run itself (one
/// station), or once for every channel of the repository
/// ([`channels`]), with the channel's filter applied to the tracks.
pub(crate) enum Analysis<'a> {
    /// Analyse under the lock.
    Run,
    /// Already analysed: the report and this station's tracks.
    Done(&'a analyze::Report, Vec<Track>),
}

/// What `lofiever schedule` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSummary {
    /// Items appended to the schedule.
    pub items_added: usize,
    /// Items in the whole schedule.
    pub items: usize,
    /// Where the schedule ends (`None`: empty).
    pub horizon: Option<SampleIndex>,
}

/// The schedule alone (`lofiever schedule`): under the station lock,
/// extends the target's schedule to `now + ahead` and writes the days that
/// changed into the output folder. Renders and publishes nothing.
pub fn plan(
    station: &Station,
    now: DateTime<Utc>,
    ahead: SampleCount,
    progress: &dyn Progress,
) -> Result<PlanSummary> {
    // `_lock` (not `..`): the lock is held until the schedule is written.
    let Start {
        lock: _lock,
        target,
        tracks,
        mut schedule,
        ..
    } = start(station, "schedule", progress)?;
    let before = schedule.items.len();
    shard::adopt_journal(target.as_ref(), &mut schedule)?;
    let items_added = extend_schedule(station, &mut schedule, &tracks, now, ahead)?;
    // From the first new day; with nothing new, every day (unchanged files
    // are not rewritten).
    let first_new = schedule.items.get(before).map(|it| it.start());
    write_schedule_files(station, &schedule, first_new)?;
    Ok(PlanSummary {
        items_added,
        items: schedule.items.len(),
        horizon: schedule.horizon(),
    })
}

/// The takedown list, in the catalog folder: one row per recording taken
/// out of the programme (`hash,from,path`), written by `lofiever remove`.
pub const TAKEDOWNS_FILE: &str = "takedowns.csv";

/// How long after "now" a takedown takes effect by default, beyond the
/// players' latency and one segment of buffer: players of a dynamic MPD
/// fetch a segment only once it is complete, so nobody holds audio past
/// now; the margin covers the run itself (rendering and uploading the first
/// replaced chunks, audio first), hosts' clocks that run a little ahead,
/// and a CDN edge that may serve a segment slightly early.
pub const TAKEDOWN_MARGIN_SECS: i64 = 5 * 60;

/// One recording taken out of the programme from `from` on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Takedown {
    /// Content hash of the recording.
    pub hash: String,
    /// From when (RFC 3339, UTC) it no longer plays.
    pub from: DateTime<Utc>,
    /// The path it had when it was taken down (for people).
    pub path: String,
}

/// Reads the takedown list (none if the file is missing); a bad row is an
/// error naming the file and line.
pub fn read_takedowns(catalog_dir: &Path) -> Result<Vec<Takedown>> {
    let path = catalog_dir.join(TAKEDOWNS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut out = Vec::new();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for (i, row) in reader.deserialize::<Takedown>().enumerate() {
        out.push(row.map_err(|e| {
            Error::Schedule(format!(
                "{}: line {}: {e}; each row is hash,from,path with from in RFC 3339",
                path.display(),
                i + 2
            ))
        })?);
    }
    Ok(out)
}

/// The earliest moment a takedown may start at `now`: the players' latency,
/// one segment of buffer and [`TAKEDOWN_MARGIN_SECS`] ahead.
pub fn earliest_takedown(station: &Station, now: DateTime<Utc>) -> DateTime<Utc> {
    let latency = i64::try_from(station.target_latency_ms).unwrap_or(i64::MAX / 2);
    let segment_ms = i64::try_from(station.grid.segment_duration().0 / 48).unwrap_or(0);
    now + chrono::Duration::milliseconds(latency.saturating_add(segment_ms))
        + chrono::Duration::seconds(TAKEDOWN_MARGIN_SECS)
}

/// `lofiever remove PATH|HASH [--from TIME]`: adds the recording to the
/// takedown list, from `from` (default [`earliest_takedown`]); the next
/// render takes it out of the schedule from there and replaces the
/// segments after it. `what` is a catalog path, a content hash, or the
/// path of a scheduled item whose file is already gone.
pub fn remove(
    station: &Station,
    what: &str,
    from: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<Takedown> {
    let earliest = earliest_takedown(station, now);
    let from = from.unwrap_or(earliest);
    if from < earliest {
        return Err(Error::Schedule(format!(
            "remove: --from {} is too soon: listeners may already hold that audio; the \
             earliest is {}",
            store::fmt_instant(from),
            store::fmt_instant(earliest)
        )));
    }
    let report = analyze::run(&station.catalog_dir, progress)?;
    let schedule = load_schedule(publish::open(station)?.as_ref())?;
    let found = report
        .tracks
        .iter()
        .find(|f| f.path == what || f.hash == what)
        .map(|f| (f.hash.clone(), f.path.clone()))
        .or_else(|| {
            schedule
                .items
                .iter()
                .rev()
                .find(|it| it.track == what || it.hash == what)
                .map(|it| (it.hash.clone(), it.track.clone()))
        });
    let Some((hash, path)) = found else {
        return Err(Error::Schedule(format!(
            "remove: {what:?} is neither a track of the catalog nor a scheduled one (give a \
             path relative to the catalog folder, or a content hash from features.csv)"
        )));
    };
    let file = station.catalog_dir.join(TAKEDOWNS_FILE);
    let mut list = read_takedowns(&station.catalog_dir)?;
    let takedown = Takedown { hash, from, path };
    list.retain(|d| d.hash != takedown.hash);
    list.push(takedown.clone());
    let mut w = csv::Writer::from_writer(Vec::new());
    for d in &list {
        w.serialize(d)
            .map_err(|e| Error::Schedule(format!("{}: {e}", file.display())))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Schedule(format!("{}: {e}", file.display())))?;
    crate::fsutil::write_atomic(&file, &bytes)?;
    Ok(takedown)
}

/// Applies the takedown list to `schedule`: each recording is cut from
/// its `from` (at the earliest [`earliest_takedown`] of this run, rounded
/// up to a segment boundary). Returns the merged cut, if any.
fn apply_takedowns(
    station: &Station,
    schedule: &mut Schedule,
    takedowns: &[Takedown],
    now: DateTime<Utc>,
    remote: &BTreeMap<String, ObjectInfo>,
) -> Result<Option<Cut>> {
    let earliest = earliest_takedown(station, now);
    let mut merged: Option<Cut> = None;
    let mut sorted: Vec<&Takedown> = takedowns.iter().collect();
    sorted.sort_by_key(|d| d.from);
    for d in sorted {
        let at = station.epoch.sample_at(d.from.max(earliest))?;
        let mut seg = station.grid.segment_of(at);
        if station.grid.segment_start(seg)? < at {
            seg = SegmentNumber(seg.0 + 1);
        }
        if let Some(c) = cut_schedule(station, schedule, seg, remote, &|it| it.hash == d.hash)? {
            tracing::info!(
                "render: {:?} taken out of the programme from {}",
                d.path,
                store::fmt_sample(station.epoch, c.at)
            );
            merged = Some(merge_cuts(merged, c));
        }
    }
    Ok(merged)
}

fn merge_cuts(a: Option<Cut>, b: Cut) -> Cut {
    match a {
        None => b,
        Some(a) => Cut {
            at: a.at.min(b.at),
            first_item: a.first_item.min(b.first_item),
            redo: a.redo.start.min(b.redo.start)..a.redo.end.max(b.redo.end),
            replan_until: a.replan_until.max(b.replan_until),
        },
    }
}

/// How a render run treats a scheduled recording that is gone.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop (as before content identity) instead of planning again the
    /// time not yet rendered when a scheduled recording is nowhere in the
    /// catalog.
    pub strict: bool,
}

/// The whole job: analyze → schedule → render → station files → publish,
/// under the station lock ([`crate::publish::lock`]): a second run of the same
/// station stops at once with [`Error::Locked`].
pub fn run(station: &Station, window: &Window, progress: &dyn Progress) -> Result<JobSummary> {
    run_with(station, window, RunOptions::default(), progress)
}

/// [`run`] with options.
pub fn run_with(
    station: &Station,
    window: &Window,
    options: RunOptions,
    progress: &dyn Progress,
) -> Result<JobSummary> {
    let (summary, _) = run_prepared(
        station,
        window,
        options,
        Analysis::Run,
        &Busy::default(),
        progress,
    )?;
    Ok(summary)
}

/// [`run_with`] from `analysis`, never planning a recording while `busy`
/// (other channels) holds it; also returns the schedule it published.
pub(crate) fn run_prepared(
    station: &Station,
    window: &Window,
    options: RunOptions,
    analysis: Analysis<'_>,
    busy: &Busy,
    progress: &dyn Progress,
) -> Result<(JobSummary, Schedule)> {
    // As `start`: the lock first, then the target, the analysis and the
    // schedule the target holds.
    let lock = publish::lock::StationLock::acquire(station, "render")?;
    let target = publish::open(station)?;
    let mut owned: Option<analyze::Report> = None;
    let (report, mut tracks) = match analysis {
        Analysis::Run => {
            let (r, t) = analyze_and_tracks(station, progress)?;
            (&*owned.insert(r), t)
        }
        Analysis::Done(r, t) => (r, t),
    };
    let mut schedule = load_schedule(target.as_ref())?;
    let published = schedule.items.len();
    adopt_pending_plan(station, &mut schedule);
    // An unfinished sharded plan's schedule is continued too; this run
    // completes what its shards left, so the journal goes at the end.
    let journal = shard::adopt_journal(target.as_ref(), &mut schedule)?;
    // One listing of the target serves the cut (what may have been heard),
    // render (what is there already), publish (what differs) and retention
    // (what has aged out).
    let remote = target.list("")?;
    let takedowns = read_takedowns(&station.catalog_dir)?;
    tracks.retain(|t| !takedowns.iter().any(|d| d.hash == t.hash));
    let planned = schedule.items.clone();
    let mut cut = apply_takedowns(station, &mut schedule, &takedowns, window.now, &remote)?;
    let mut sources = sources_of(report);
    if !options.strict {
        if let Some(c) = replan_missing(station, &mut schedule, &mut sources, &remote)? {
            cut = Some(merge_cuts(cut, c));
        }
    }
    if cut.is_some() {
        let r = schedule.rejoin(&planned, &tracks, station)?;
        tracing::info!(
            "render: {} of the {} items planned after the cut kept in their order, {} dropped, \
             {} planned afresh where a join broke a rotation rule",
            r.kept,
            r.old,
            r.dropped,
            r.planned
        );
    }
    let published = cut
        .as_ref()
        .map_or(published, |c| c.first_item.min(published));
    // Segments already there while neither the target nor this folder
    // knows a plan were rendered by a first run killed before it published
    // its plan: they are orphans of a plan that is lost (a new one starts
    // from this run's "now"), so render them again rather than trust them.
    // (Nothing points at them: the MPD is published after the schedule.)
    let window = &Window {
        force: window.force || schedule.items.is_empty(),
        ..*window
    };
    let items_added = extend_schedule_to(
        station,
        &mut schedule,
        &tracks,
        window.now,
        window.ahead,
        cut.as_ref().map(|c| c.replan_until),
        busy,
    )?;
    let first_new = schedule.items.get(published).map(|it| it.start());
    write_pending_plan(station, &schedule)?;
    let separate = !publish::target_is_output(station);
    let render = render_cut(
        station,
        &schedule,
        window,
        separate.then_some(&remote),
        std::sync::Arc::new(sources),
        cut.map(|c| c.redo),
        progress,
    )?;
    lock.check()?;
    write_station_files(station, &schedule, first_new.or(schedule.start()))?;
    let done_until = station
        .grid
        .segment_start(wanted_segments(station, window)?.end)?;
    write_day_playlists(station, &schedule, done_until, window.now, &|key| {
        remote.contains_key(key) || station.output_dir.join(key).exists()
    })?;
    let published = publish::run_station(
        station,
        target.as_ref(),
        Some(remote),
        window.now,
        false,
        progress,
    )?;
    remove_pending_plan(station);
    if journal {
        target.delete(&[shard::JOURNAL.to_string()])?;
    }
    let rendered_until = render
        .window
        .as_ref()
        .map(|w| station.grid.segment_start(w.end))
        .transpose()?;
    Ok((
        JobSummary {
            analysis: owned,
            items_added,
            render,
            publish: published.upload,
            retention: published.retention,
            local_retention: published.local_retention,
            rendered_until,
        },
        schedule,
    ))
}

/// The plan of the run in progress, journalled in the output folder before
/// any audio is rendered from it (a dot-file: never published). The target's
/// schedule is the station's state, but it is published only after the
/// audio; a run killed in between would otherwise leave audio of a plan
/// that the next run, at another "now", plans differently.
pub const PENDING_PLAN: &str = ".lofiever-plan.json";

/// Continues the plan of a killed run: if the output folder holds a pending
/// plan that extends `schedule` (the target's), it becomes the schedule.
fn adopt_pending_plan(station: &Station, schedule: &mut Schedule) {
    let path = station.output_dir.join(PENDING_PLAN);
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    let items: Vec<crate::schedule::Item> = match serde_json::from_slice(&bytes) {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!("{}: unreadable ({e}); ignored", path.display());
            return;
        }
    };
    let n = schedule.items.len();
    if items.len() > n && items[..n] == schedule.items[..] {
        let pending = Schedule { items };
        match pending.validate() {
            Ok(()) => {
                tracing::info!(
                    "{}: continuing the plan of an interrupted run ({} items not yet published)",
                    path.display(),
                    pending.items.len() - n
                );
                *schedule = pending;
            }
            Err(e) => tracing::warn!("{}: {e}; ignored", path.display()),
        }
    }
}

fn write_pending_plan(station: &Station, schedule: &Schedule) -> Result<()> {
    let path = station.output_dir.join(PENDING_PLAN);
    let bytes = serde_json::to_vec(&schedule.items).map_err(|e| Error::Schedule(e.to_string()))?;
    crate::fsutil::write_atomic(&path, &bytes)
}

/// After a complete run the target holds the whole plan.
fn remove_pending_plan(station: &Station) {
    let path = station.output_dir.join(PENDING_PLAN);
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("{}: cannot remove ({e})", path.display());
        }
    }
}

/// Whether `path` looks like a station root (has `pipeline/station.toml`).
pub fn is_station_root(path: &Path) -> bool {
    path.join("pipeline").join("station.toml").is_file()
}

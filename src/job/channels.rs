//! Every station of the repository in one run: the main station, then each
//! channel of `pipeline/channels/` in name order (see
//! [`crate::station::channel`]).
//!
//! The catalog is analysed once; each channel plans from the tracks its
//! filter keeps and runs the ordinary job ([`super::run_prepared`]) under
//! its own lock, at its own prefix of the main target. Unless a channel
//! sets `channel.share_tracks`, its planner never picks a recording at a
//! moment another channel (that does not share either) plays it: every
//! schedule already planned is read back first, and each channel's new
//! schedule joins the set before the next one plans. Last, the channel
//! index (`channels.json`) is written at the main target's root.
//!
//! A repository without channels runs exactly the single-station job.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::{Analysis, JobSummary, RunOptions, Window};
use crate::analyze;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::publish::{self, PutObject};
use crate::schedule::{Busy, Schedule, Track};
use crate::station::channel::{Channel, MAIN};
use crate::station::schedule::Descriptor;
use crate::station::{layout, Station};

/// One station of the repository: the main one or a channel.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// `main` or the channel's name (what `--channel` takes).
    pub name: &'a str,
    /// The station to run.
    pub station: &'a Station,
    /// The channel, `None` for the main station.
    pub channel: Option<&'a Channel>,
}

impl Member<'_> {
    /// Where its files are, relative to the main target's root (empty for
    /// the main station, else `<prefix>/`).
    pub fn path(&self) -> String {
        self.channel
            .map_or_else(String::new, |c| format!("{}/", c.prefix))
    }

    /// Whether it may play a recording while another station plays it.
    fn shares(&self) -> bool {
        self.channel.is_some_and(|c| c.share_tracks)
    }
}

/// The main station and its channels, or only the one named `only`
/// (`main` or a channel's name); an unknown name is an error listing the
/// known ones.
pub fn members<'a>(
    main: &'a Station,
    channels: &'a [Channel],
    only: Option<&str>,
) -> Result<Vec<Member<'a>>> {
    let all: Vec<Member<'a>> = std::iter::once(Member {
        name: MAIN,
        station: main,
        channel: None,
    })
    .chain(channels.iter().map(|c| Member {
        name: &c.name,
        station: &c.station,
        channel: Some(c),
    }))
    .collect();
    let Some(name) = only else {
        return Ok(all);
    };
    match all.iter().find(|m| m.name == name) {
        Some(m) => Ok(vec![*m]),
        None => Err(Error::Config {
            file: main.source.clone(),
            key: "--channel".into(),
            message: format!(
                "no channel is named {name:?}: the channels are {} (files in {})",
                all.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
                crate::station::channel::channels_dir(main)
                    .map_or_else(|| "pipeline/channels".into(), |d| d.display().to_string())
            ),
        }),
    }
}

/// The tracks of `tracks` (the whole analysed catalog) that `channel`'s
/// filter keeps. A playlist entry that names no track, or a filter that
/// keeps no playable track, is an error naming the file and the key.
pub fn tracks_for(
    channel: &Channel,
    report: &analyze::Report,
    tracks: &[Track],
) -> Result<Vec<Track>> {
    let f = &channel.filter;
    if f.is_empty() {
        return Ok(tracks.to_vec());
    }
    let tags: HashMap<&str, Vec<String>> = report
        .catalog
        .entries
        .iter()
        .filter_map(|e| {
            e.row.as_ref().map(|r| {
                (
                    e.file.rel_path.as_str(),
                    r.tags.iter().map(|t| t.trim().to_lowercase()).collect(),
                )
            })
        })
        .collect();
    let listed: Option<HashSet<&str>> = match &f.playlist {
        None => None,
        Some(p) => {
            let mut hashes = HashSet::new();
            for (line, entry) in &p.entries {
                let found = report
                    .tracks
                    .iter()
                    .find(|t| t.path == *entry || t.hash == *entry);
                match found {
                    Some(t) => hashes.insert(t.hash.as_str()),
                    None => {
                        return Err(Error::Config {
                            file: p.path.display().to_string(),
                            key: format!("line {line}"),
                            message: format!(
                                "{entry:?} is neither a path in the catalog folder nor a \
                                 content hash of an analysed track (features.csv)"
                            ),
                        })
                    }
                };
            }
            Some(hashes)
        }
    };
    // The planner's model of the whole catalog with the channel's settings
    // knows each playable track's mood, as `schedule --report` lists them.
    let model = if f.moods.is_empty() {
        None
    } else {
        Some(crate::schedule::plan::Model::new(tracks, &channel.station)?)
    };
    let mood_of = |t: &Track| -> Option<[Descriptor; 3]> {
        let m = model.as_ref()?;
        let mood = m.moods.of_track.get(*m.index.get(t.id.as_str())?)?;
        m.moods.moods.get(*mood).map(|m| m.words)
    };
    let kept: Vec<Track> = tracks
        .iter()
        .filter(|t| {
            let tag_ok = f.tags.is_empty()
                || tags
                    .get(t.id.as_str())
                    .is_some_and(|have| have.iter().any(|h| f.tags.contains(h)));
            let tempo_ok = f
                .tempo_bpm
                .is_none_or(|(lo, hi)| t.tempo_bpm.is_some_and(|b| lo <= b && b <= hi));
            let listed_ok = listed.as_ref().is_none_or(|l| l.contains(t.hash.as_str()));
            // A disabled track has no mood and never plays: it stays, so
            // its scheduled items are still recognised.
            let mood_ok = f.moods.is_empty()
                || !t.enabled
                || mood_of(t).is_some_and(|w| w.iter().any(|d| f.moods.contains(d)));
            tag_ok && mood_ok && tempo_ok && listed_ok
        })
        .cloned()
        .collect();
    if !kept.iter().any(|t| t.enabled) {
        return Err(Error::Config {
            file: channel.file.clone(),
            key: "filter".into(),
            message: format!(
                "keeps none of the {} playable tracks of the catalog (tags {:?}, moods {:?}, \
                 tempo {}, playlist {}): widen it",
                tracks.iter().filter(|t| t.enabled).count(),
                f.tags,
                f.moods.iter().map(|d| d.word()).collect::<Vec<_>>(),
                f.tempo_bpm
                    .map_or_else(|| "any".into(), |(lo, hi)| format!("{lo}-{hi} BPM")),
                f.playlist
                    .as_ref()
                    .map_or_else(|| "none".into(), |p| p.path.display().to_string()),
            ),
        });
    }
    Ok(kept)
}

/// Checks every channel's filter against the catalog before anything is
/// planned, so a bad one changes nothing; returns each channel's tracks.
fn all_tracks(
    members: &[Member<'_>],
    report: &analyze::Report,
    tracks: &[Track],
) -> Result<Vec<Vec<Track>>> {
    members
        .iter()
        .map(|m| match m.channel {
            None => Ok(tracks.to_vec()),
            Some(c) => tracks_for(c, report, tracks),
        })
        .collect()
}

/// What `busy` holds for member `me`: the schedules of every other
/// station that does not share tracks; nothing if `me` shares.
fn busy_for(members: &[Member<'_>], schedules: &[Schedule], me: usize) -> Busy {
    let mut busy = Busy::default();
    if members[me].shares() {
        return busy;
    }
    for (i, (m, s)) in members.iter().zip(schedules).enumerate() {
        if i != me && !m.shares() {
            busy.add(m.station.epoch, s);
        }
    }
    busy
}

/// Each station's schedule as its target holds it (an unfinished sharded
/// plan's included), read without a lock: what the others avoid.
pub(crate) fn published_schedules(members: &[Member<'_>]) -> Result<Vec<Schedule>> {
    members
        .iter()
        .map(|m| {
            let target = publish::open(m.station)?;
            let mut s = super::load_schedule(target.as_ref())?;
            super::shard::adopt_journal(target.as_ref(), &mut s)?;
            Ok(s)
        })
        .collect()
}

/// What a run over the repository's stations did.
#[derive(Debug)]
pub struct NetworkSummary {
    /// The one analysis of the shared catalog.
    pub analysis: analyze::Report,
    /// Each station's run, by name, in run order.
    pub runs: Vec<(String, JobSummary)>,
}

/// `lofiever render` over the main station and its channels (or only the
/// one named `only`): analysis once, then each station's job in order, then
/// the channel index. See the module docs.
pub fn run_all(
    main: &Station,
    channels: &[Channel],
    only: Option<&str>,
    window: &Window,
    options: RunOptions,
    progress: &dyn Progress,
) -> Result<NetworkSummary> {
    let all = members(main, channels, None)?;
    let selected: Vec<&str> = members(main, channels, only)?
        .iter()
        .map(|m| m.name)
        .collect();
    let (report, tracks) = super::analyze_and_tracks(main, progress)?;
    let per_member = all_tracks(&all, &report, &tracks)?;
    let mut schedules = published_schedules(&all)?;
    let mut runs = Vec::new();
    for (i, (m, tracks)) in all.iter().zip(per_member).enumerate() {
        if !selected.contains(&m.name) {
            continue;
        }
        let busy = busy_for(&all, &schedules, i);
        let (summary, schedule) = super::run_prepared(
            m.station,
            window,
            options,
            Analysis::Done(&report, tracks),
            &busy,
            progress,
        )
        .map_err(|e| in_channel(m, e))?;
        schedules[i] = schedule;
        runs.push((m.name.to_string(), summary));
    }
    if !channels.is_empty() {
        publish_index(main, channels)?;
    }
    Ok(NetworkSummary {
        analysis: report,
        runs,
    })
}

/// An error of one channel's run, prefixed with the channel (the main
/// station's errors are left as they are).
pub fn in_channel(m: &Member<'_>, e: Error) -> Error {
    match (m.channel, e) {
        (None, e) => e,
        // Config errors already name the channel file.
        (Some(_), e @ Error::Config { .. }) => e,
        (Some(_), Error::Schedule(s)) => Error::Schedule(format!("channel {}: {s}", m.name)),
        (Some(_), Error::Plan { place, message }) => Error::Plan {
            place,
            message: format!("channel {}: {message}", m.name),
        },
        (Some(_), e) => e,
    }
}

/// One entry of `channels.json`.
#[derive(Debug, Serialize)]
struct IndexEntry<'a> {
    name: &'a str,
    title: &'a str,
    page: String,
    mpd: String,
}

/// `channels.json`: every station's name, title, page and MPD, relative
/// to the main target's root, main first.
pub fn index_json(main: &Station, channels: &[Channel]) -> Result<Vec<u8>> {
    let entries: Vec<IndexEntry<'_>> = members(main, channels, None)?
        .iter()
        .map(|m| IndexEntry {
            name: m.name,
            title: &m.station.name,
            page: format!("{}{}", m.path(), layout::INDEX_HTML),
            mpd: format!("{}{}", m.path(), layout::MPD),
        })
        .collect();
    let mut doc = BTreeMap::new();
    doc.insert("channels", entries);
    let mut bytes = serde_json::to_vec_pretty(&doc)
        .map_err(|e| Error::Schedule(format!("{}: {e}", layout::CHANNELS_INDEX)))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `channels.json` into the main output folder and, when the target
/// is elsewhere, puts it there (after every channel's page).
pub fn publish_index(main: &Station, channels: &[Channel]) -> Result<()> {
    let bytes = index_json(main, channels)?;
    let local = main.output_dir.join(layout::CHANNELS_INDEX);
    if std::fs::read(&local).ok().as_deref() != Some(bytes.as_slice()) {
        crate::fsutil::write_atomic(&local, &bytes)?;
    }
    if !publish::target_is_output(main) {
        let target = publish::open(main)?;
        if target.get(layout::CHANNELS_INDEX)?.as_deref() != Some(bytes.as_slice()) {
            target.put(&PutObject::new(layout::CHANNELS_INDEX, &bytes))?;
        }
    }
    Ok(())
}

/// What `lofiever plan` did over the repository's stations.
#[derive(Debug)]
pub struct NetworkPlan {
    /// Names the plans of all stations together: what `--plan` takes.
    pub id: String,
    /// Each station's plan, in order.
    pub plans: Vec<(String, super::shard::PlanOutcome)>,
}

/// The id of the plans of all stations: a hash of each station's name and
/// plan id, in order.
pub fn network_id<'a>(plans: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (name, id) in plans {
        text.push_str(name);
        text.push(' ');
        text.push_str(id);
        text.push('\n');
    }
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

/// `lofiever plan` over the main station and every channel: the analysis
/// once, then each station's plan in order, each avoiding what the others
/// play (as [`run_all`] plans).
pub fn plan_all(
    main: &Station,
    channels: &[Channel],
    window: &Window,
    progress: &dyn Progress,
) -> Result<NetworkPlan> {
    let all = members(main, channels, None)?;
    let (report, tracks) = super::analyze_and_tracks(main, progress)?;
    let per_member = all_tracks(&all, &report, &tracks)?;
    let mut schedules = published_schedules(&all)?;
    let mut plans = Vec::with_capacity(all.len());
    for (i, (m, tracks)) in all.iter().zip(per_member).enumerate() {
        let busy = busy_for(&all, &schedules, i);
        let outcome = super::shard::plan_prepared(
            m.station,
            window,
            Analysis::Done(&report, tracks),
            &busy,
            progress,
        )
        .map_err(|e| in_channel(m, e))?;
        schedules[i] = Schedule {
            items: outcome.journal.items.clone(),
        };
        plans.push((m.name.to_string(), outcome));
    }
    let id = network_id(
        plans
            .iter()
            .map(|(n, p)| (n.as_str(), p.journal.id.as_str())),
    );
    Ok(NetworkPlan { id, plans })
}

/// A station's target and the plan journal it holds.
type Planned = (Box<dyn publish::Target>, super::shard::Journal);

/// Every station's plan journal at its target and the id of them all,
/// checked against `expect` (the id [`plan_all`] printed): a changed plan
/// is one line naming both.
fn journals<'a>(all: &[Member<'a>], expect: Option<&str>) -> Result<(Vec<Planned>, String)> {
    let mut out = Vec::with_capacity(all.len());
    for m in all {
        let target = publish::open(m.station)?;
        let journal = super::shard::current_journal(m.station, target.as_ref(), None)
            .map_err(|e| in_channel(m, e))?;
        out.push((target, journal));
    }
    let id = network_id(
        all.iter()
            .zip(&out)
            .map(|(m, (_, j))| (m.name, j.id.as_str())),
    );
    if let Some(want) = expect {
        if want != id {
            return Err(Error::Plan {
                place: out.first().map_or_else(String::new, |(t, _)| t.describe()),
                message: format!(
                    "the plan changed: this run was given plan {want}, the targets hold plan \
                     {id} (the plans of {} channels); nothing was rendered. Run the shards of \
                     the current plan (or `lofiever plan` again)",
                    all.len()
                ),
            });
        }
    }
    Ok((out, id))
}

/// `lofiever render --shard I/N` over every station: the share is taken
/// over the chunks of all stations' plans in one list (main first, then
/// the channels in order), so shards stay balanced whatever the channels.
pub fn render_shard_all(
    main: &Station,
    channels: &[Channel],
    shard: super::shard::Shard,
    expect: Option<&str>,
    progress: &dyn Progress,
) -> Result<(String, Vec<(String, super::shard::ShardSummary)>)> {
    let all = members(main, channels, None)?;
    let (plans, id) = journals(&all, expect)?;
    let mut list: Vec<(usize, &super::shard::ChunkWork)> = Vec::new();
    for (i, (_, j)) in plans.iter().enumerate() {
        list.extend(j.chunks.iter().map(|c| (i, c)));
    }
    let sizes: Vec<u64> = list
        .iter()
        .map(|(_, c)| super::shard::chunk_size(c))
        .collect();
    let mine = &list[super::shard::share_bounds(&sizes, shard)];
    let mut out = Vec::new();
    for (i, (m, (target, journal))) in all.iter().zip(&plans).enumerate() {
        let chunks: Vec<super::shard::ChunkWork> = mine
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, c)| (*c).clone())
            .collect();
        if chunks.is_empty() {
            continue;
        }
        let s = super::shard::render_chunks(
            m.station,
            target.as_ref(),
            &journal.id,
            &chunks,
            &format!("render --shard {shard}"),
            progress,
        )
        .map_err(|e| in_channel(m, e))?;
        out.push((m.name.to_string(), s));
    }
    Ok((id, out))
}

/// `lofiever render --finish` over every station: first every plan's audio
/// is checked to be at its target (else nothing is published), then each
/// station finishes in order, then `channels.json` is written.
pub fn finish_all(
    main: &Station,
    channels: &[Channel],
    expect: Option<&str>,
    progress: &dyn Progress,
) -> Result<(String, Vec<(String, super::shard::FinishSummary)>)> {
    let all = members(main, channels, None)?;
    let (plans, id) = journals(&all, expect)?;
    for (m, (target, journal)) in all.iter().zip(&plans) {
        let remote = target.list("")?;
        super::shard::check_complete(m.station, target.as_ref(), journal, &remote)
            .map_err(|e| in_channel(m, e))?;
    }
    let mut out = Vec::with_capacity(all.len());
    for (m, (_, journal)) in all.iter().zip(&plans) {
        let s = super::shard::finish(m.station, Some(&journal.id), progress)
            .map_err(|e| in_channel(m, e))?;
        out.push((m.name.to_string(), s));
    }
    publish_index(main, channels)?;
    Ok((id, out))
}

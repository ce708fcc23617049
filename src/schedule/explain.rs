//! `lofiever explain --at <time>`: why a track plays at a given moment.
//!
//! A decision depends only on the schedule before it, the catalog and the
//! configuration (see [`super::plan`]), so the explanation *replays* it: it
//! rebuilds the rotation state from the items before the one playing at
//! that moment, runs the same beam search and shows the candidates that
//! were considered with their cost terms and look-ahead path costs. If the
//! replay picks a different track, the catalog, the configuration or the
//! seed changed since the item was planned (or an older lofiever planned
//! it), and the explanation says so: the schedule itself is never changed.

use std::fmt;

use super::cost::Terms;
use super::daypart::Target;
use super::plan::{Decision, Model};
use super::rules::fmt_span;
use super::{store, Item, Schedule, Track};
use crate::error::{Error, Result};
use crate::station::Station;
use crate::time::SampleIndex;

/// One candidate of the replayed decision, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Considered {
    /// Track id.
    pub id: String,
    /// Display title.
    pub title: String,
    /// Display artist.
    pub artist: String,
    /// Camelot code, if the key is known.
    pub camelot: Option<String>,
    /// Tempo (BPM), if known.
    pub tempo_bpm: Option<f64>,
    /// Mood label.
    pub mood: String,
    /// Cost terms for this slot.
    pub terms: Terms,
    /// Cost of the cheapest look-ahead path it starts (`None`: pruned).
    pub path_cost: Option<f64>,
    /// That path, as titles.
    pub path: Vec<String>,
    /// Whether it was overdue (coverage).
    pub overdue: bool,
    /// Rules it needed relaxed, in words (empty if none).
    pub relaxed: String,
    /// Whether this is the replayed pick.
    pub picked: bool,
}

/// Why an item plays at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The moment asked about (RFC 3339 UTC).
    pub at: String,
    /// Local time and zone of that moment, e.g. `21:14 Europe/Berlin`.
    pub local: String,
    /// The item playing.
    pub item: Item,
    /// Its start and end (RFC 3339 UTC).
    pub span: (String, String),
    /// The item before it, if any.
    pub previous: Option<Item>,
    /// Mood label and profile of the track (current catalog), if still in it.
    pub mood: Option<String>,
    /// Name of the day part in force and when it began (local `HH:MM`).
    pub day_part: (String, String),
    /// The day-part targets for the item's slot.
    pub target: Target,
    /// Candidates of the replayed decision, cheapest step first.
    pub considered: Vec<Considered>,
    /// Look-ahead past the hour and beam width used.
    pub search: (usize, usize),
    /// The rest of the hour's plan from this item on (titles), and the
    /// plan's whole cost.
    pub plan: (Vec<String>, f64),
    /// How many items of the same hour's plan came before this one (0: the
    /// plan was made at this slot).
    pub plan_offset: usize,
    /// Whether the replay picks the scheduled track.
    pub replay_matches: bool,
    /// Remarks: replay differences, vanished track, relaxed rules.
    pub notes: Vec<String>,
}

/// Explains the item playing at programme sample `at`.
pub fn explain(
    station: &Station,
    schedule: &Schedule,
    tracks: &[Track],
    at: SampleIndex,
) -> Result<Explanation> {
    let epoch = station.epoch;
    let fmt = |s: SampleIndex| -> Result<String> { Ok(store::fmt_instant(epoch.instant_of(s)?)) };
    let index = schedule.items.partition_point(|it| it.start() <= at);
    let item = index
        .checked_sub(1)
        .and_then(|i| schedule.items.get(i))
        .filter(|it| it.end() > at)
        .ok_or_else(|| -> Error {
            let covered = match (schedule.start(), schedule.items.last()) {
                (Some(a), Some(b)) => match (fmt(a), fmt(b.end())) {
                    (Ok(a), Ok(b)) => format!("the schedule covers {a} to {b}"),
                    _ => "the schedule cannot be read".into(),
                },
                _ => "the schedule is empty; run `lofiever schedule` first".into(),
            };
            match fmt(at) {
                Ok(t) => Error::Schedule(format!("nothing is scheduled at {t}: {covered}")),
                Err(e) => e,
            }
        })?;
    let i = index - 1;
    let history = &schedule.items[..i];
    let model = Model::new(tracks, station)?;
    let origin = schedule
        .items
        .first()
        .map_or(item.start_sample, |it| it.start_sample);
    let decision: Decision = model.decide(history, origin)?;
    let cfg = &station.schedule;

    let local_at = epoch.instant_of(at)?.with_timezone(&cfg.time_zone);
    let part = cfg.day_parts.get(decision.target.part);
    let day_part = part.map_or((String::new(), String::new()), |p| {
        (
            p.name.clone(),
            crate::station::schedule::fmt_clock(p.at_seconds),
        )
    });

    let mut notes = Vec::new();
    let picked_id = model.tracks.get(decision.pick).map(|t| t.id.clone());
    let replay_matches = picked_id.as_deref() == Some(item.track.as_str());
    let mood = model.index.get(item.track.as_str()).map(|&ti| {
        let f = &model.feats[ti];
        let m = model.moods.moods.get(f.mood);
        let profile = m.map_or(String::new(), |m| {
            let mut parts = vec![format!("{} tracks", m.tracks)];
            if let Some(e) = m.energy_db {
                parts.push(format!("{e:.1} dB"));
            }
            if let Some(t) = m.tempo_bpm {
                parts.push(format!("{t:.0} BPM"));
            }
            if let Some(c) = m.centroid_hz {
                parts.push(format!("{c:.0} Hz"));
            }
            format!(
                " (mood {} of {}: {})",
                f.mood + 1,
                model.moods.moods.len(),
                parts.join(", ")
            )
        });
        format!("{}{profile}", model.mood_label(ti))
    });
    if !model.all.contains_key(item.track.as_str()) {
        notes.push(format!(
            "track {:?} is no longer in the catalog: restore it, or rendering this time fails",
            item.track
        ));
    } else if !model.index.contains_key(item.track.as_str()) {
        notes.push(format!(
            "track {:?} is disabled in catalog.csv now (it was playable when planned)",
            item.track
        ));
    }
    if !replay_matches {
        let other = picked_id
            .and_then(|id| {
                model
                    .all
                    .get(id.as_str())
                    .map(|t| format!("{:?} by {}", t.title, t.artist))
            })
            .unwrap_or_default();
        notes.push(format!(
            "replaying this decision now picks {other} instead: the catalog, the [schedule] \
             configuration or the seed changed since this item was planned (or an older \
             lofiever planned it); planned time is never re-planned"
        ));
    }
    let considered: Vec<Considered> = decision
        .alternatives
        .iter()
        .map(|a| {
            let t = model.tracks[a.track];
            let mut relaxed = Vec::new();
            if a.relaxed.artist {
                relaxed.push("artist separation");
            }
            if a.relaxed.repeat {
                relaxed.push("repeat window");
            }
            Considered {
                id: t.id.clone(),
                title: t.title.clone(),
                artist: t.artist.clone(),
                camelot: t.key.map(|k| k.camelot().to_string()),
                tempo_bpm: t.tempo_bpm,
                mood: model.mood_label(a.track).to_string(),
                terms: a.terms,
                path_cost: a.path_cost,
                path: a
                    .path
                    .iter()
                    .map(|&p| model.tracks[p].title.clone())
                    .collect(),
                overdue: a.overdue,
                relaxed: relaxed.join(", "),
                picked: a.track == decision.pick,
            }
        })
        .collect();
    if let Some(p) = considered.iter().find(|c| c.picked) {
        if !p.relaxed.is_empty() {
            notes.push(format!(
                "no track passed every rotation rule here, so the {} was relaxed for this pick",
                p.relaxed
            ));
        }
        if p.overdue {
            notes.push(format!(
                "only overdue tracks were considered: every playable track must play at least once \
                 in {} (coverage)",
                fmt_span(model.rules.coverage)
            ));
        }
    }
    Ok(Explanation {
        at: fmt(at)?,
        local: format!("{} {}", local_at.format("%H:%M"), cfg.time_zone.name()),
        item: item.clone(),
        span: (fmt(item.start())?, fmt(item.end())?),
        previous: i
            .checked_sub(1)
            .and_then(|p| schedule.items.get(p))
            .cloned(),
        mood,
        day_part,
        target: decision.target.clone(),
        considered,
        search: (cfg.look_ahead, cfg.beam_width),
        plan: (
            decision
                .plan
                .0
                .iter()
                .map(|&p| model.tracks[p].title.clone())
                .collect(),
            decision.plan.1,
        ),
        plan_offset: decision.plan_offset,
        replay_matches,
        notes,
    })
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let it = &self.item;
        writeln!(f, "At {} ({}):", self.at, self.local)?;
        writeln!(f, "  {:?} by {}  [{}]", it.title, it.artist, it.track)?;
        writeln!(f, "  plays {} to {}", self.span.0, self.span.1)?;
        if let Some(m) = &self.mood {
            writeln!(f, "  mood: {m}")?;
        }
        writeln!(
            f,
            "  day part: {} (from {}): target energy {:.2}, tempo {:.2}; mood words: {}",
            self.day_part.0,
            self.day_part.1,
            self.target.energy,
            self.target.tempo,
            self.target.words_text()
        )?;
        match &self.previous {
            Some(p) => writeln!(f, "  after: {:?} by {}", p.title, p.artist)?,
            None => writeln!(f, "  after: nothing (the first item of the schedule)")?,
        }
        let (depth, width) = self.search;
        let shown: Vec<&str> = self.plan.0.iter().take(8).map(String::as_str).collect();
        writeln!(
            f,
            "Why: each hour is planned as a whole at its first slot (beam search, width {width}, \
             looking {depth} tracks past the hour) to keep keys and tempos compatible and the \
             hour's energy on the day-part target; this is item {} of that plan (plan cost \
             {:.2}): {}{}.",
            self.plan_offset + 1,
            self.plan.1,
            shown.join(" → "),
            if self.plan.0.len() > shown.len() {
                " → …"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "The {} cheapest candidates for this slot that passed the rotation rules, with the \
             cost of the best plan each starts (day-part: the hour's day-part cost with it):",
            self.considered.len()
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  {:<34} {:>4} {:>6}  {:<24} {:>5} {:>5} {:>6} {:>6} {:>8} {:>5} {:>5} {:>6} | {:>6}",
            "candidate",
            "key",
            "BPM",
            "mood",
            "tempo",
            "key",
            "energy",
            "bright",
            "day-part",
            "mood",
            "fresh",
            "step",
            "path"
        )?;
        for c in &self.considered {
            let mut name = format!("{} — {}", c.title, c.artist);
            if name.chars().count() > 33 {
                name = name.chars().take(32).collect::<String>() + "…";
            }
            let t = &c.terms;
            writeln!(
                f,
                "{} {:<34} {:>4} {:>6}  {:<24} {:>5.2} {:>5.2} {:>6.2} {:>6.2} {:>8.2} {:>5.2} {:>5.2} {:>6.2} | {:>6}{}{}",
                if c.picked { '*' } else { ' ' },
                name,
                c.camelot.as_deref().unwrap_or("?"),
                c.tempo_bpm.map_or("?".into(), |b| format!("{b:.1}")),
                c.mood,
                t.tempo,
                t.key,
                t.energy,
                t.brightness,
                t.day_part,
                t.mood,
                t.freshness,
                t.total(),
                c.path_cost.map_or("pruned".into(), |p| format!("{p:.2}")),
                if c.overdue { "  overdue" } else { "" },
                if c.relaxed.is_empty() {
                    String::new()
                } else {
                    format!("  relaxed: {}", c.relaxed)
                },
            )?;
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
            for n in &self.notes {
                writeln!(f, "note: {n}")?;
            }
        }
        Ok(())
    }
}

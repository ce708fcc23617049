//! The rotation rules — hard constraints on what may play when — as they
//! apply to one catalog, and a checker that finds violations in any window
//! of a schedule (used by the report and the tests).
//!
//! | rule | holds when |
//! |---|---|
//! | repeat | two plays of a track start at least `W` apart, `W` = min(`repeat_window_hours`, `repeat_catalog_share` × the catalog's play-through time) |
//! | artist | two tracks by the same artist start at least `artist_separation_minutes` apart (tracks with no known artist are exempt) |
//! | coverage | every enabled track plays at least once in every span of `C` = max(`coverage_days`, 2 × play-through time) |
//! | enabled | no disabled track is scheduled, and every scheduled track is in the catalog |
//!
//! The catalog's *play-through time* is the time it takes to play every
//! playable track once, crossfades overlapped. When the catalog makes a
//! rule impossible (it is shorter than the repeat window, or every track is
//! by one artist) the rule is relaxed up front with a notice naming it; when
//! a single pick cannot satisfy a rule the planner relaxes it for that pick
//! and reports how often (see `schedule::plan`).

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::{Item, Track};
use crate::station::schedule::Rotation;
use crate::time::SAMPLE_RATE;

/// The rotation rules in force for one catalog, in samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Minimum start-to-start gap between two plays of a track (0 = none).
    pub repeat_window: u64,
    /// Minimum start-to-start gap between two tracks by one artist (0 = none).
    pub artist_separation: u64,
    /// Longest a playable track may go unplayed.
    pub coverage: u64,
    /// Time to play every playable track once, crossfades overlapped.
    pub play_through: u64,
}

impl Rules {
    /// The rules for a catalog that plays through in `play_through` samples,
    /// with `tracks` playable tracks of which `artists` distinct known
    /// artists (`single_artist` names the artist when there is exactly one).
    /// Returns the rules and the notices about rules relaxed up front.
    pub fn new(
        cfg: &Rotation,
        play_through: u64,
        tracks: &[&Track],
        single_artist: Option<&str>,
    ) -> (Rules, Vec<String>) {
        let mut notices = Vec::new();
        let configured = cfg.repeat_window.0;
        let share = cfg.repeat_catalog_share;
        let cap = |s: f64| (play_through as f64 * s) as u64;
        let mut repeat_window = if share > 0.0 {
            configured.min(cap(share))
        } else {
            configured
        };
        if configured > 0 && play_through <= configured {
            let s = if share > 0.0 { share } else { 0.8 };
            repeat_window = cap(s);
            notices.push(format!(
                "schedule.rotation.repeat_window_hours: the playable catalog plays through in {}, \
                 less than the {} repeat window; relaxed: no track repeats within {} ({:.0} % of the \
                 catalog) instead. Add music for a longer window",
                fmt_span(play_through),
                fmt_span(configured),
                fmt_span(repeat_window),
                s * 100.0
            ));
        }
        if let [only] = tracks {
            notices.push(format!(
                "only one playable track ({:?} by {}): it repeats back to back",
                only.title, only.artist
            ));
        }
        let mut artist_separation = cfg.artist_separation.0;
        if let (Some(artist), true) = (single_artist, artist_separation > 0) {
            if tracks.iter().all(|t| t.has_artist()) {
                artist_separation = 0;
                notices.push(format!(
                    "schedule.rotation.artist_separation_minutes: every playable track is by \
                     {artist:?}, so the rule cannot hold and is not applied"
                ));
            }
        }
        let coverage = cfg.coverage.0.max(play_through.saturating_mul(2));
        (
            Rules {
                repeat_window,
                artist_separation,
                coverage,
                play_through,
            },
            notices,
        )
    }
}

/// Which rule a [`Violation`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A track repeated within the repeat window.
    Repeat,
    /// An artist repeated within the artist separation.
    Artist,
    /// An enabled track went unplayed longer than the coverage span.
    Coverage,
    /// A disabled track was scheduled.
    Disabled,
    /// A scheduled track is not in the catalog (any more).
    NotInCatalog,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Repeat => "repeat window",
            Rule::Artist => "artist separation",
            Rule::Coverage => "coverage",
            Rule::Disabled => "disabled track",
            Rule::NotInCatalog => "not in catalog",
        })
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// Programme sample where it happens (the offending item's start).
    pub at: u64,
    /// The track id.
    pub track: String,
    /// What happened, in words.
    pub detail: String,
}

/// Normalised artist name for the artist rule; `None` for no known artist.
pub fn artist_key(artist: &str) -> Option<String> {
    let a = artist.trim();
    (!a.is_empty() && a != super::track::UNKNOWN_ARTIST).then(|| a.to_lowercase())
}

/// Every violation by the items starting in `[from, to)`, judged against
/// all earlier items too (so a window's first items are checked against
/// what played before it). `catalog` holds every track, enabled or not.
pub fn check(
    items: &[Item],
    from: u64,
    to: u64,
    rules: &Rules,
    catalog: &HashMap<&str, &Track>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut last_track: HashMap<&str, u64> = HashMap::new();
    let mut last_artist: HashMap<String, u64> = HashMap::new();
    // Coverage: the last play of each enabled track (or the window start).
    let enabled: Vec<&str> = {
        let mut e: Vec<&str> = catalog
            .values()
            .filter(|t| t.enabled)
            .map(|t| t.id.as_str())
            .collect();
        e.sort_unstable();
        e
    };
    let mut last_cover: HashMap<&str, u64> = enabled.iter().map(|id| (*id, from)).collect();
    let mut reported_cover: HashSet<&str> = HashSet::new();
    for it in items {
        let s = it.start_sample;
        if s >= to {
            break;
        }
        let in_window = s >= from;
        if in_window {
            match catalog.get(it.track.as_str()) {
                None => out.push(Violation {
                    rule: Rule::NotInCatalog,
                    at: s,
                    track: it.track.clone(),
                    detail: format!("{:?} by {} is not in the catalog", it.title, it.artist),
                }),
                Some(t) if !t.enabled => out.push(Violation {
                    rule: Rule::Disabled,
                    at: s,
                    track: it.track.clone(),
                    detail: format!("{:?} is disabled in catalog.csv", it.title),
                }),
                Some(_) => {}
            }
            if let Some(prev) = last_track.get(it.track.as_str()) {
                if rules.repeat_window > 0 && s - prev < rules.repeat_window {
                    out.push(Violation {
                        rule: Rule::Repeat,
                        at: s,
                        track: it.track.clone(),
                        detail: format!(
                            "{:?} again after {} (window {})",
                            it.title,
                            fmt_span(s - prev),
                            fmt_span(rules.repeat_window)
                        ),
                    });
                }
            }
            if let Some(a) = artist_key(&it.artist) {
                if let Some(prev) = last_artist.get(&a) {
                    if rules.artist_separation > 0 && s - prev < rules.artist_separation {
                        out.push(Violation {
                            rule: Rule::Artist,
                            at: s,
                            track: it.track.clone(),
                            detail: format!(
                                "{} again after {} (separation {})",
                                it.artist,
                                fmt_span(s - prev),
                                fmt_span(rules.artist_separation)
                            ),
                        });
                    }
                }
            }
            if let Some(last) = last_cover.get_mut(it.track.as_str()) {
                if s - *last > rules.coverage && reported_cover.insert(&it.track) {
                    out.push(Violation {
                        rule: Rule::Coverage,
                        at: s,
                        track: it.track.clone(),
                        detail: format!(
                            "{:?} waited {} (limit {})",
                            it.title,
                            fmt_span(s - *last),
                            fmt_span(rules.coverage)
                        ),
                    });
                }
                *last = s;
            }
        } else if let Some(last) = last_cover.get_mut(it.track.as_str()) {
            // Plays before the window count from when they happened.
            *last = s;
        }
        last_track.insert(&it.track, s);
        if let Some(a) = artist_key(&it.artist) {
            last_artist.insert(a, s);
        }
    }
    for id in enabled {
        let last = last_cover.get(id).copied().unwrap_or(from);
        if to.saturating_sub(last) > rules.coverage && !reported_cover.contains(id) {
            out.push(Violation {
                rule: Rule::Coverage,
                at: to,
                track: id.to_string(),
                detail: format!(
                    "not played for {} by the end of the window (limit {})",
                    fmt_span(to - last),
                    fmt_span(rules.coverage)
                ),
            });
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.rule.cmp(&b.rule)));
    out
}

/// A span of samples as `2 h 05 min`, `12 min 30 s` or `40 s`.
pub fn fmt_span(samples: u64) -> String {
    let s = samples / u64::from(SAMPLE_RATE);
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{sec} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Features;
    use crate::time::SampleCount;

    const MIN: u64 = 60 * 48_000;

    fn track(id: &str, artist: &str, enabled: bool) -> Track {
        let mut t = Track::new(
            &Features {
                path: id.into(),
                cue_out: 3 * MIN,
                ..Default::default()
            },
            None,
        );
        t.artist = artist.into();
        t.enabled = enabled;
        t
    }

    fn item(track: &Track, start: u64) -> Item {
        Item {
            start_sample: start,
            length: 3 * MIN,
            track: track.id.clone(),
            hash: String::new(),
            cue_in: 0,
            gain_db: 0.0,
            fade_in: 0,
            fade_out: 0,
            title: track.title.clone(),
            artist: track.artist.clone(),
        }
    }

    fn rotation() -> Rotation {
        Rotation {
            repeat_window: SampleCount(24 * 60 * MIN),
            repeat_catalog_share: 0.8,
            artist_separation: SampleCount(30 * MIN),
            coverage: SampleCount(2 * 24 * 60 * MIN),
        }
    }

    #[test]
    fn a_short_catalog_relaxes_the_window_with_a_notice() {
        let a = track("a.wav", "A", true);
        let b = track("b.wav", "B", true);
        let (rules, notices) = Rules::new(&rotation(), 100 * MIN, &[&a, &b], None);
        assert_eq!(rules.repeat_window, 80 * MIN);
        assert_eq!(rules.coverage, 2 * 24 * 60 * MIN);
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0].contains("repeat_window_hours") && notices[0].contains("1 h 20 min"),
            "{notices:?}"
        );
    }

    #[test]
    fn one_artist_turns_the_artist_rule_off_with_a_notice() {
        let a = track("a.wav", "Solo", true);
        let b = track("b.wav", "Solo", true);
        let (rules, notices) = Rules::new(&rotation(), 100 * MIN, &[&a, &b], Some("Solo"));
        assert_eq!(rules.artist_separation, 0);
        assert!(notices
            .iter()
            .any(|n| n.contains("artist_separation_minutes") && n.contains("Solo")));
    }

    #[test]
    fn check_finds_each_kind_of_violation() {
        let a = track("a.wav", "A", true);
        let a2 = track("a2.wav", "A", true);
        let b = track("b.wav", "B", true);
        let off = track("off.wav", "C", false);
        let catalog: HashMap<&str, &Track> = [&a, &a2, &b, &off]
            .iter()
            .map(|t| (t.id.as_str(), *t))
            .collect();
        let rules = Rules {
            repeat_window: 60 * MIN,
            artist_separation: 30 * MIN,
            coverage: 1000 * MIN,
            play_through: 9 * MIN,
        };
        let ghost = track("gone.wav", "G", true);
        let items = vec![
            item(&a, 0),
            item(&b, 3 * MIN),
            item(&a2, 6 * MIN),   // artist A after 6 min
            item(&a, 70 * MIN),   // fine: 70 min later, artist 64 min later
            item(&off, 73 * MIN), // disabled
            item(&b, 76 * MIN),   // fine
            item(&ghost, 79 * MIN),
            item(&b, 82 * MIN), // repeat (and artist) after 6 min
        ];
        let v = check(&items, 0, 100 * MIN, &rules, &catalog);
        let kinds: Vec<Rule> = v.iter().map(|v| v.rule).collect();
        assert_eq!(
            kinds,
            [
                Rule::Artist,
                Rule::Disabled,
                Rule::NotInCatalog,
                Rule::Repeat,
                Rule::Artist
            ],
            "{v:#?}"
        );
        // A window starting later still sees what played before it.
        let v = check(&items, 80 * MIN, 100 * MIN, &rules, &catalog);
        let kinds: Vec<Rule> = v.iter().map(|v| v.rule).collect();
        assert_eq!(kinds, [Rule::Repeat, Rule::Artist]);
        // Coverage: a 20-minute limit, and a2 not played after minute 6.
        let strict = Rules {
            coverage: 20 * MIN,
            ..rules
        };
        let v = check(&items, 0, 100 * MIN, &strict, &catalog);
        assert!(
            v.iter()
                .any(|v| v.rule == Rule::Coverage && v.track == "a2.wav"),
            "{v:#?}"
        );
    }

    #[test]
    fn spans_read_well() {
        assert_eq!(fmt_span(40 * 48_000), "40 s");
        assert_eq!(fmt_span(12 * MIN + 30 * 48_000), "12 min 30 s");
        assert_eq!(fmt_span(125 * MIN), "2 h 05 min");
        assert_eq!(fmt_span(50 * 60 * MIN), "2 d 2 h");
    }
}

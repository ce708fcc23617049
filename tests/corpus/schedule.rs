//! Schedule figures on the labelled corpus, measured by the LABELS: lofiever
//! plans a day over its own estimates of the pieces; each transition is
//! then judged by the pieces' true keys and tempos (key-compatible: same or
//! adjacent on the Camelot wheel; tempo jump: octave-aware change above
//! 8 %), beside a seeded shuffle of the same plays.

#![allow(dead_code)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lofiever::analyze::Features;
use lofiever::music::{camelot_distance, Key};
use lofiever::schedule::{cost, Schedule, Track};
use lofiever::time::SampleIndex;
use lofiever::Station;

use super::corpus::{Piece, Rng};

/// Shares measured by the labels over one sequence of plays.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabelShares {
    pub transitions: usize,
    pub key_compatible: f64,
    pub tempo_jumps: f64,
}

fn label_key(p: &Piece) -> Key {
    p.key_name().parse().expect("labels are key names")
}

/// The shares of a sequence of pieces.
pub fn shares(seq: &[&Piece]) -> LabelShares {
    let (mut keys, mut key_ok, mut tempos, mut jumps) = (0usize, 0usize, 0usize, 0usize);
    for w in seq.windows(2) {
        keys += 1;
        if camelot_distance(label_key(w[0]), label_key(w[1])) <= 1 {
            key_ok += 1;
        }
        if let (Some(a), Some(b)) = (w[0].tempo, w[1].tempo) {
            tempos += 1;
            if cost::tempo_jump(a, b) > 0.08 {
                jumps += 1;
            }
        }
    }
    LabelShares {
        transitions: keys,
        key_compatible: key_ok as f64 / keys.max(1) as f64,
        tempo_jumps: jumps as f64 / tempos.max(1) as f64,
    }
}

/// How the planner is to take the analyzer's estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Belief {
    /// As the analyzer reported them, confidences and all.
    Confidences,
    /// Every estimate as if the analyzer were sure of it (confidence 1):
    /// the planner without its trust in confidences.
    AllSure,
}

/// Plans `days` days over the analysed pieces with the shipped station
/// configuration (seed `seed`), the estimates taken as `belief` says;
/// returns the played pieces in order.
pub fn plan_with(
    analysed: &[(Piece, Features)],
    days: u64,
    seed: u64,
    belief: Belief,
) -> Vec<&Piece> {
    let toml = format!("[station]\nseed = {seed}\n");
    let station = Station::from_toml(&toml, "corpus.toml", std::path::Path::new("."), Utc::now())
        .expect("the corpus station is valid");
    let tracks: Vec<Track> = analysed
        .iter()
        .map(|(p, f)| {
            let mut f = f.clone();
            f.path = p.file_name();
            f.hash = format!("{:032x}", p.seed);
            if belief == Belief::AllSure {
                f.key_confidence = 1.0;
                f.tempo_confidence = 1.0;
            }
            Track::new(&f, None)
        })
        .collect();
    let by_id: HashMap<String, &Piece> = analysed.iter().map(|(p, _)| (p.file_name(), p)).collect();
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
        .expect("literal")
        .with_timezone(&Utc);
    let from = station.epoch.sample_at(t).expect("after the epoch");
    let mut s = Schedule::default();
    s.plan(
        &tracks,
        &station,
        from,
        SampleIndex(from.0 + days * 86_400 * 48_000),
    )
    .expect("the corpus plans");
    s.items
        .iter()
        .filter_map(|it| by_id.get(&it.track).copied())
        .collect()
}

/// The same plays in a seeded random order.
pub fn shuffled<'a>(plays: &[&'a Piece], seed: u64) -> Vec<&'a Piece> {
    let mut v = plays.to_vec();
    let mut r = Rng::new(seed ^ 0x5151);
    for i in (1..v.len()).rev() {
        let j = r.below(i + 1);
        v.swap(i, j);
    }
    v
}

/// Station seeds the figures are averaged over (one day's plan is a
/// single draw; three make a change of a few points visible over noise).
pub const PLAN_SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// The mean shares of one day planned with each of [`PLAN_SEEDS`] as
/// `belief` says, and of a shuffle of each day's plays; and the plays.
pub fn mean_shares(
    analysed: &[(Piece, Features)],
    belief: Belief,
) -> (LabelShares, LabelShares, usize) {
    let (mut s, mut x, mut plays) = (LabelShares::default(), LabelShares::default(), 0);
    for seed in PLAN_SEEDS {
        let p = plan_with(analysed, 1, seed, belief);
        let (a, b) = (shares(&p), shares(&shuffled(&p, seed)));
        let n = PLAN_SEEDS.len() as f64;
        s.transitions += a.transitions;
        s.key_compatible += a.key_compatible / n;
        s.tempo_jumps += a.tempo_jumps / n;
        x.transitions += b.transitions;
        x.key_compatible += b.key_compatible / n;
        x.tempo_jumps += b.tempo_jumps / n;
        plays += p.len();
    }
    (s, x, plays)
}

/// The figures as printed by the bench: a day planned trusting the
/// confidences, the same planned as if every estimate were sure, and a
/// shuffle of the first's plays; each the mean of [`PLAN_SEEDS`].
pub fn figures(analysed: &[(Piece, Features)]) -> String {
    let (s, x, plays) = mean_shares(analysed, Belief::Confidences);
    let (sure, _, _) = mean_shares(analysed, Belief::AllSure);
    format!(
        "schedule of one day over the corpus, station seeds {PLAN_SEEDS:?} ({plays} plays), judged by the labels:\n\
         | | lofiever | lofiever, every estimate taken as sure | shuffle of the same plays |\n|---|---|---|---|\n\
         | key-compatible | {:.1} % | {:.1} % | {:.1} % |\n| tempo jumps > 8 % | {:.1} % | {:.1} % | {:.1} % |",
        100.0 * s.key_compatible,
        100.0 * sure.key_compatible,
        100.0 * x.key_compatible,
        100.0 * s.tempo_jumps,
        100.0 * sure.tempo_jumps,
        100.0 * x.tempo_jumps
    )
}

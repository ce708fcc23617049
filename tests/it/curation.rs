//! Curation on realistic labelled audio (issue 14): the analyzer's key and
//! tempo on a seeded subset of the labelled corpus (`tests/corpus/`), held
//! above bounds a little under the figures the bench reports on the whole
//! corpus, and the schedule judged by the labels.

#[path = "../corpus/mod.rs"]
mod corpus;
#[path = "../corpus/schedule.rs"]
mod corpus_schedule;

use lofiever::analyze::features::analyse_file;
use rayon::prelude::*;

fn analyse(
    set: &str,
    seeds: std::ops::Range<u64>,
) -> Vec<(corpus::Piece, lofiever::analyze::Features)> {
    corpus::build(set, seeds)
        .par_iter()
        .map(|(p, path)| {
            (
                p.clone(),
                analyse_file(path).expect("corpus pieces analyse"),
            )
        })
        .collect()
}

/// Prints the figures of a seed range (`CORPUS_SEEDS=a..b`, default the
/// tuning seeds); a tool for tuning, run by hand.
#[test]
#[ignore = "a tuning tool: cargo test --test it curation::tuning_figures -- --ignored --nocapture"]
fn tuning_figures() {
    let range = std::env::var("CORPUS_SEEDS")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse().ok()?..b.parse().ok()?)
        })
        .unwrap_or(corpus::TUNING_SEEDS);
    let analysed = analyse("tuning", range);
    let outcomes: Vec<corpus::Outcome> = analysed
        .iter()
        .map(|(p, f)| corpus::outcome(p, f))
        .collect();
    for o in &outcomes {
        println!("{}", o.line());
    }
    println!("{:?}", corpus::figures(&outcomes));
    println!("{}", corpus::reliability(&outcomes));
    println!("{}", corpus_schedule::figures(&analysed));
}

/// The seeded subset the suite measures: the first pieces of the report
/// seeds (the analyzer was never tuned on them).
const SUBSET: std::ops::Range<u64> = 0..24;

/// Bounds a little under what the subset measures with the analyzer as it
/// is (key weighted 0.767, Acc1 0.818, Acc2 0.955 on these 24 pieces; see
/// README, "Curation on labelled audio"), so a regression fails and noise
/// (one piece either way) does not.
const KEY_WEIGHTED_BOUND: f64 = 0.72;
const ACC1_BOUND: f64 = 0.75;
const ACC2_BOUND: f64 = 0.90;

#[test]
fn key_and_tempo_hold_on_a_seeded_subset_of_the_labelled_corpus() {
    let analysed = analyse("subset", SUBSET);
    let outcomes: Vec<corpus::Outcome> = analysed
        .iter()
        .map(|(p, f)| corpus::outcome(p, f))
        .collect();
    let f = corpus::figures(&outcomes);
    println!("{f:?}\n{}", corpus::reliability(&outcomes));
    assert!(f.tempo_pieces >= 16, "most pieces have a beat: {f:?}");
    assert!(f.key_weighted >= KEY_WEIGHTED_BOUND, "{f:?}");
    assert!(f.acc1 >= ACC1_BOUND, "{f:?}");
    assert!(f.acc2 >= ACC2_BOUND, "{f:?}");
    // Loudness stays a measurement of the real signal: every piece was
    // normalised to a peak between -9 and -1 dBFS.
    for (p, feat) in &analysed {
        assert!(
            feat.true_peak_dbtp < 0.5 && feat.true_peak_dbtp > -12.0,
            "{}: {}",
            p.seed,
            feat.true_peak_dbtp
        );
    }
}

#[test]
fn the_corpus_is_reproducible_and_labelled() {
    // The same seed composes the same piece; labels cover every style and
    // both modes, and the production choices vary.
    let a = corpus::Piece::compose(7);
    let b = corpus::Piece::compose(7);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let pieces: Vec<corpus::Piece> = corpus::REPORT_SEEDS.map(corpus::Piece::compose).collect();
    assert!(pieces.len() >= 200);
    for style in ["lofi", "jazz", "ambient", "orchestral"] {
        assert!(
            pieces.iter().filter(|p| p.style.name() == style).count() >= 20,
            "{style}"
        );
    }
    assert!(pieces.iter().any(|p| p.minor) && pieces.iter().any(|p| !p.minor));
    for (what, n) in [
        (
            "key changes",
            pieces.iter().filter(|p| p.key_change != 0).count(),
        ),
        (
            "drumless intros",
            pieces.iter().filter(|p| p.intro_bars > 0).count(),
        ),
        (
            "tempo drift",
            pieces.iter().filter(|p| p.drift != 0.0).count(),
        ),
        ("crackle", pieces.iter().filter(|p| p.crackle > 0.0).count()),
        ("wow", pieces.iter().filter(|p| p.wow > 0.0).count()),
        ("pumping", pieces.iter().filter(|p| p.pumping > 0.0).count()),
        ("beatless", pieces.iter().filter(|p| p.beatless).count()),
    ] {
        assert!(n >= 10, "{what}: {n}");
    }
    // Tuning and report seeds are disjoint.
    const { assert!(corpus::TUNING_SEEDS.start >= corpus::REPORT_SEEDS.end) };
    // The MIREX weights.
    assert_eq!(corpus::mirex_key_score(9, true, 9, true), 1.0);
    assert_eq!(corpus::mirex_key_score(9, true, 4, true), 0.5);
    assert_eq!(corpus::mirex_key_score(9, true, 2, true), 0.5);
    assert_eq!(corpus::mirex_key_score(9, true, 0, false), 0.3);
    assert_eq!(corpus::mirex_key_score(0, false, 9, true), 0.3);
    assert_eq!(corpus::mirex_key_score(9, true, 9, false), 0.2);
    assert_eq!(corpus::mirex_key_score(9, true, 10, true), 0.0);
    assert!(corpus::acc1(100.0, 103.9) && !corpus::acc1(100.0, 104.1));
    assert!(corpus::acc2(140.0, 70.5) && !corpus::acc1(140.0, 70.5));
}

//! Curation on realistic labelled audio (issue 14): builds the labelled
//! corpus (`tests/corpus/`: pieces composed by code at a known key and
//! tempo, played by a General MIDI SoundFont, with lo-fi production on top),
//! analyses every piece with lofiever, and prints, against the targets:
//!
//! - key: the MIREX weighted score (same 1.0, fifth 0.5, relative 0.3,
//!   parallel 0.2) and the exact share;
//! - tempo: Acc1 (within 4 %) and Acc2 (octave errors allowed), over the
//!   pieces with a beat;
//! - the confidence reliability table (how often an estimate in each
//!   confidence bin is right);
//! - the schedule figures on the corpus computed from the LABELS: a day
//!   planned by lofiever over its own estimates, its key-compatible share
//!   and tempo-jump share by the labels, beside a seeded shuffle.
//!
//! Run: `cargo bench --bench curation` (the report seeds, all of them);
//! `SEEDS=tuning cargo bench --bench curation` runs the tuning seeds, the
//! only ones the analyzer was tuned on. Needs the GM SoundFont
//! (`fluid-soundfont-gm`, installed by `ci/setup.sh`).

use std::time::Instant;

use lofiever::analyze::features::analyse_file;
use rayon::prelude::*;

#[path = "../tests/corpus/mod.rs"]
mod corpus;
#[path = "../tests/corpus/schedule.rs"]
mod corpus_schedule;

const KEY_TARGET: f64 = 0.80;
const ACC1_TARGET: f64 = 0.80;
const ACC2_TARGET: f64 = 0.95;

fn main() {
    let tuning = std::env::var("SEEDS").is_ok_and(|s| s == "tuning");
    let (set, seeds) = if tuning {
        ("tuning", corpus::TUNING_SEEDS)
    } else {
        ("report", corpus::REPORT_SEEDS)
    };
    let t = Instant::now();
    let pieces = corpus::build(set, seeds.clone());
    println!(
        "corpus: {} pieces (seeds {}..{}, the {set} set), built or cached in {:.1} s, in {}",
        pieces.len(),
        seeds.start,
        seeds.end,
        t.elapsed().as_secs_f64(),
        corpus::cache_dir().display()
    );
    let t = Instant::now();
    let analysed: Vec<(corpus::Piece, lofiever::analyze::Features)> = pieces
        .par_iter()
        .map(|(p, path)| {
            let f = analyse_file(path).expect("corpus pieces analyse");
            (p.clone(), f)
        })
        .collect();
    println!("analysed in {:.1} s", t.elapsed().as_secs_f64());
    let outcomes: Vec<corpus::Outcome> = analysed
        .iter()
        .map(|(p, f)| corpus::outcome(p, f))
        .collect();
    if std::env::var("VERBOSE").is_ok() {
        for o in &outcomes {
            println!("{}", o.line());
        }
    }
    let f = corpus::figures(&outcomes);
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    println!("\n| measure | figure | target |");
    println!("|---|---|---|");
    println!(
        "| key, MIREX weighted ({} pieces) | {:.3} (exact {:.1} %) | >= {KEY_TARGET:.2}: {} |",
        f.pieces,
        f.key_weighted,
        100.0 * f.key_exact,
        verdict(f.key_weighted >= KEY_TARGET)
    );
    println!(
        "| tempo Acc1 ({} pieces with a beat) | {:.3} | >= {ACC1_TARGET:.2}: {} |",
        f.tempo_pieces,
        f.acc1,
        verdict(f.acc1 >= ACC1_TARGET)
    );
    println!(
        "| tempo Acc2 | {:.3} | >= {ACC2_TARGET:.2}: {} |",
        f.acc2,
        verdict(f.acc2 >= ACC2_TARGET)
    );
    for style in ["lofi", "jazz", "ambient", "orchestral"] {
        let o: Vec<corpus::Outcome> = outcomes
            .iter()
            .filter(|o| o.piece.style.name() == style)
            .cloned()
            .collect();
        let s = corpus::figures(&o);
        println!(
            "  {style:10} {:3} pieces: key {:.3}, Acc1 {:.3}, Acc2 {:.3}",
            s.pieces, s.key_weighted, s.acc1, s.acc2
        );
    }
    println!("\nreliability:\n{}", corpus::reliability(&outcomes));
    println!("{}", corpus_schedule::figures(&analysed));
}

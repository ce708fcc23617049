//! The mood-aware scheduler on synthetic catalogs: analysed feature rows
//! with known tempo, key, energy and brightness (`schedule::synthetic`), so
//! no audio is decoded — except for the CLI test, which runs the binary on
//! a real (synthesised) catalog. Checks the acceptance figures of issue 4
//! against a seeded shuffle, day-by-day extension through the schedule
//! files, determinism, the edge cases and `explain`/`--report`.

use chrono::{DateTime, Utc};
use lofiever::schedule::report::{self, Report};
use lofiever::schedule::rules::Rule;
use lofiever::schedule::{explain, store, synthetic, Schedule, Track};
use lofiever::time::SampleIndex;
use lofiever::Station;

use crate::util::{short_specs, stderr, stdout, TempStation, TEST_STATION_TOML};

const DAY: u64 = 86_400 * 48_000;

/// The station under test: the shipped configuration (default day parts,
/// weights and rules), seed `seed`.
fn station(seed: u64) -> Station {
    let toml = format!("[station]\nseed = {seed}\n");
    Station::from_toml(&toml, "test.toml", std::path::Path::new("/tmp"), Utc::now())
        .expect("valid test station")
}

/// A fixed start: midnight UTC, 2026-03-02.
fn start(station: &Station) -> SampleIndex {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
        .expect("literal")
        .with_timezone(&Utc);
    station.epoch.sample_at(t).expect("after the epoch")
}

/// The analyzer's ground-truth spread: tempos even over 65–100 BPM, all 24
/// keys equally often (the hardest case for harmonic mixing).
fn uniform(n: usize, seed: u64) -> Vec<Track> {
    synthetic::features(n, seed)
        .iter()
        .map(|f| Track::new(f, None))
        .collect()
}

/// A lo-fi shaped catalog: tempos around 82 BPM, keys as common as in
/// published key histograms.
fn lofi(n: usize, seed: u64) -> Vec<Track> {
    synthetic::lofi_features(n, seed)
        .iter()
        .map(|f| Track::new(f, None))
        .collect()
}

/// Plans `days` days from the fixed start in one run.
fn plan(station: &Station, tracks: &[Track], days: u64) -> (Schedule, Vec<String>) {
    let mut s = Schedule::default();
    let from = start(station);
    let ext = s
        .plan(tracks, station, from, SampleIndex(from.0 + days * DAY))
        .expect("plan");
    (s, ext.notices)
}

fn window_report(station: &Station, tracks: &[Track], schedule: &Schedule, days: u64) -> Report {
    let from = start(station);
    report::report(
        station,
        schedule,
        tracks,
        from,
        SampleIndex(from.0 + days * DAY),
    )
    .expect("report")
}

/// [`window_report`], failing the test if any rule is broken.
fn report_without_violations(
    station: &Station,
    tracks: &[Track],
    schedule: &Schedule,
    days: u64,
) -> Report {
    let r = window_report(station, tracks, schedule, days);
    assert!(
        r.scheduled.violations.is_empty(),
        "{:#?}",
        r.scheduled.violations
    );
    r
}

/// One line of figures: scheduled vs shuffle.
fn figures(name: &str, r: &Report) -> String {
    let pct = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.1} %", 100.0 * v));
    let num = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.2}"));
    let (s, x) = (&r.scheduled, &r.shuffle);
    format!(
        "{name}: violations {} (shuffle {}), key-compatible {} ({}), tempo jumps > 8 % {} ({}), \
         energy r {} ({})",
        s.violations.len(),
        x.violations.len(),
        pct(s.key_compatible_share()),
        pct(x.key_compatible_share()),
        pct(s.tempo_jump_share()),
        pct(x.tempo_jump_share()),
        num(s.energy_correlation),
        num(x.energy_correlation),
    )
}

/// Plans a week and checks the four figures.
fn assert_acceptance(name: &str, station_seed: u64, tracks: &[Track]) {
    let st = station(station_seed);
    let (schedule, _) = plan(&st, tracks, 7);
    let r = window_report(&st, tracks, &schedule, 7);
    println!("{}", figures(name, &r));
    let s = &r.scheduled;
    assert!(s.violations.is_empty(), "{name}: {:#?}", s.violations);
    let key = s.key_compatible_share().expect("keys known");
    let tempo = s.tempo_jump_share().expect("tempos known");
    let corr = s.energy_correlation.expect("hourly energy");
    assert!(key >= 0.80, "{name}: key-compatible {key}\n{r}");
    assert!(tempo <= 0.10, "{name}: tempo jumps {tempo}\n{r}");
    assert!(corr >= 0.70, "{name}: energy correlation {corr}\n{r}");
    // And far better than chance.
    let shuffle_key = r.shuffle.key_compatible_share().expect("keys known");
    assert!(
        key > 3.0 * shuffle_key,
        "{name}: {key} vs shuffle {shuffle_key}"
    );
}

#[test]
fn seven_days_on_the_ground_truth_spread_meet_the_acceptance_figures() {
    // 120 tracks with keys and tempos spread evenly: the four
    // figures, for two catalog/station seeds.
    assert_acceptance("uniform 120 tracks, seed 1", 1, &uniform(120, 1));
    assert_acceptance("uniform 120 tracks, seed 3", 3, &uniform(120, 3));
}

#[test]
fn seven_days_on_a_lofi_shaped_catalog_meet_the_acceptance_figures() {
    assert_acceptance("lo-fi 80 tracks, seed 2", 2, &lofi(80, 2));
    assert_acceptance("lo-fi 80 tracks, seed 4", 4, &lofi(80, 4));
}

/// The smallest catalog the issue names. Its repeat window (80 % of the
/// catalog) leaves a fifth of the tracks playable at any moment, each with
/// two or three compatible neighbours, so key, tempo and the day-part curve
/// cannot all reach the figures at once: this pins what the planner
/// does reach (see README, Scheduling), far above the shuffle, with no rule
/// broken.
#[test]
fn seven_days_on_sixty_tracks_break_no_rule_and_beat_the_shuffle() {
    let st = station(1);
    let tracks = uniform(60, 3);
    let (schedule, notices) = plan(&st, &tracks, 7);
    let r = window_report(&st, &tracks, &schedule, 7);
    println!("{r}\n{}", figures("uniform 60 tracks, seed 3", &r));
    assert!(
        notices.iter().any(|n| n.contains("repeat_window_hours")),
        "the short catalog is reported: {notices:?}"
    );
    let (s, x) = (&r.scheduled, &r.shuffle);
    assert!(s.violations.is_empty(), "{:#?}", s.violations);
    assert!(x.violations.len() > 100, "the shuffle breaks the rules");
    let key = s.key_compatible_share().expect("keys");
    let tempo = s.tempo_jump_share().expect("tempos");
    let corr = s.energy_correlation.expect("hourly");
    assert!(key >= 0.70, "key-compatible {key}");
    assert!(tempo <= 0.12, "tempo jumps {tempo}");
    assert!(corr >= 0.60, "energy correlation {corr}");
    assert!(key > 4.0 * x.key_compatible_share().expect("keys"));
    assert!(tempo < 0.25 * x.tempo_jump_share().expect("tempos"));
}

/// Key-compatible share (by the estimates) of the transitions of a plan
/// between two tracks both in `sure` or both not.
fn compatible_by_sureness(
    schedule: &Schedule,
    tracks: &[Track],
    sure: &dyn Fn(&Track) -> bool,
) -> (f64, f64) {
    let by_id: std::collections::HashMap<&str, &Track> =
        tracks.iter().map(|t| (t.id.as_str(), t)).collect();
    let (mut n, mut ok) = ([0usize; 2], [0usize; 2]);
    for w in schedule.items.windows(2) {
        let (a, b) = (by_id[w[0].track.as_str()], by_id[w[1].track.as_str()]);
        if sure(a) != sure(b) {
            continue;
        }
        let (Some(ka), Some(kb)) = (a.key, b.key) else {
            continue;
        };
        let side = usize::from(!sure(a));
        n[side] += 1;
        ok[side] += usize::from(lofiever::music::camelot_distance(ka, kb) <= 1);
    }
    (
        ok[0] as f64 / n[0].max(1) as f64,
        ok[1] as f64 / n[1].max(1) as f64,
    )
}

/// The planner trusts a key by its confidence: in a catalog where the
/// analyzer was sure of half the keys and guessed the others, the sure
/// tracks follow each other in compatible keys far more often than the
/// guessed ones do, and far more than when every key is taken as sure.
/// The report counts the transitions whose features were all sure.
#[test]
fn the_planner_keeps_sure_keys_compatible_before_guessed_ones() {
    let st = station(5);
    let mut guessed = synthetic::features(120, 5);
    for (i, f) in guessed.iter_mut().enumerate() {
        if i % 2 == 1 {
            f.key_confidence = 0.05;
        }
    }
    let tracks: Vec<Track> = guessed.iter().map(|f| Track::new(f, None)).collect();
    // The even tracks (`synthetic/00042.wav`) are the sure half.
    let sure = |t: &Track| {
        t.id.trim_start_matches("synthetic/")
            .trim_end_matches(".wav")
            .parse::<usize>()
            .is_ok_and(|i| i % 2 == 0)
    };
    let (schedule, _) = plan(&st, &tracks, 2);
    let (sure_ok, guessed_ok) = compatible_by_sureness(&schedule, &tracks, &sure);
    let all_sure: Vec<Track> = synthetic::features(120, 5)
        .iter()
        .map(|f| Track::new(f, None))
        .collect();
    let (alike, _) = plan(&st, &all_sure, 2);
    let (a_ok, b_ok) = compatible_by_sureness(&alike, &all_sure, &sure);
    println!(
        "key-compatible: sure {:.1} %, guessed {:.1} % (all taken as sure: {:.1} %, {:.1} %)",
        100.0 * sure_ok,
        100.0 * guessed_ok,
        100.0 * a_ok,
        100.0 * b_ok
    );
    // Measured: 97.8 % against 28.8 %; taken as sure, 88.5 % against 78.0 %.
    assert!(
        sure_ok - guessed_ok > (a_ok - b_ok) + 0.3,
        "sure keys ({sure_ok}) should be kept compatible well before guessed ones \
         ({guessed_ok}), far more than the same halves are when all are taken as sure \
         ({a_ok}, {b_ok})"
    );
    let r = window_report(&st, &tracks, &schedule, 2);
    let text = r.to_string();
    assert!(text.contains("confident key and tempo"), "{text}");
    let share = r.scheduled.confident_share().expect("transitions");
    let sure_pairs = schedule
        .items
        .windows(2)
        .filter(|w| {
            [&w[0], &w[1]]
                .iter()
                .all(|it| tracks.iter().any(|t| t.id == it.track && sure(t)))
        })
        .count();
    assert!(
        (share - sure_pairs as f64 / r.scheduled.transitions as f64).abs() < 0.02,
        "{share} vs {sure_pairs} of {}",
        r.scheduled.transitions
    );
}

/// Plans `days` more days the way the CLI does: read the schedule files
/// back, extend, write the files of the changed days.
fn extend_through_files(dir: &std::path::Path, st: &Station, tracks: &[Track], until: u64) {
    let mut schedule = store::load_dir(dir).expect("read the schedule files");
    let before = schedule.items.len();
    schedule
        .plan(tracks, st, start(st), SampleIndex(until))
        .expect("extend");
    let first_new = schedule.items.get(before).map(|it| it.start());
    let from_day = first_new
        .map(|s| store::day_of(st.epoch, s))
        .transpose()
        .expect("day");
    store::write_dir(dir, &schedule, st.epoch, from_day).expect("write the schedule files");
}

#[test]
fn extending_day_by_day_through_the_files_matches_a_week_at_once() {
    let st = station(1);
    let tracks = uniform(60, 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut previous: Vec<lofiever::schedule::Item> = Vec::new();
    for day in 1..=7 {
        extend_through_files(dir.path(), &st, &tracks, start(&st).0 + day * DAY);
        let now = store::load_dir(dir.path()).expect("read back");
        assert!(
            now.items.len() > previous.len() && now.items[..previous.len()] == previous[..],
            "run {day} changed items planned before it"
        );
        previous = now.items;
    }
    // Seven one-day runs give exactly the week planned at once.
    let (week, _) = plan(&st, &tracks, 7);
    assert_eq!(previous.len(), week.items.len());
    assert!(
        previous == week.items,
        "day-by-day differs from a week at once"
    );
    // No violation anywhere, seams included.
    report_without_violations(&st, &tracks, &Schedule { items: previous }, 7);
}

#[test]
fn extending_in_the_middle_of_an_hour_continues_the_hours_plan() {
    let st = station(2);
    let tracks = lofi(80, 6);
    let (whole, _) = plan(&st, &tracks, 1);
    // Stop at odd moments (mid-hour), resume each time. Each run passes the
    // start its own "now" would give (`job::extend_schedule` starts a new
    // schedule shortly before now); a schedule that has items ignores it,
    // so what was planned never depends on when the next run happens.
    let mut s = Schedule::default();
    let from = start(&st);
    for minutes in [17u64, 95, 96, 250, 601, 1440] {
        let runs_start = if s.items.is_empty() {
            from
        } else {
            SampleIndex(from.0 + (minutes - 5) * 60 * 48_000)
        };
        s.plan(
            &tracks,
            &st,
            runs_start,
            SampleIndex(from.0 + minutes * 60 * 48_000),
        )
        .expect("extend");
    }
    assert!(s.items == whole.items, "resumed runs differ from one run");
}

#[test]
fn the_same_inputs_and_seed_give_the_same_schedule() {
    let tracks = uniform(90, 7);
    let (a, _) = plan(&station(1), &tracks, 2);
    let (b, _) = plan(&station(1), &tracks, 2);
    assert!(a == b, "two runs with the same inputs differ");
    // The catalog's order (as files are found) does not matter.
    let mut reversed = tracks.clone();
    reversed.reverse();
    let (c, _) = plan(&station(1), &reversed, 2);
    assert!(a == c, "the catalog order changed the schedule");
}

#[test]
fn an_empty_or_disabled_catalog_is_a_clear_error() {
    let st = station(1);
    let mut s = Schedule::default();
    let from = start(&st);
    let err = s
        .plan(&[], &st, from, SampleIndex(from.0 + DAY))
        .expect_err("nothing to play")
        .to_string();
    assert!(
        err.contains("no playable tracks") && err.contains("catalog is empty"),
        "{err}"
    );
    let mut tracks = uniform(5, 1);
    for t in &mut tracks {
        t.enabled = false;
    }
    let err = s
        .plan(&tracks, &st, from, SampleIndex(from.0 + DAY))
        .expect_err("all disabled")
        .to_string();
    assert!(
        err.contains("disabled") && err.contains("all 5 tracks"),
        "{err}"
    );
}

#[test]
fn a_catalog_shorter_than_the_window_relaxes_it_with_a_warning_naming_the_rule() {
    let st = station(1);
    // One artist per track, so only the repeat window is in question.
    let mut tracks = uniform(12, 2);
    for (i, t) in tracks.iter_mut().enumerate() {
        t.artist = format!("Artist {i}");
    }
    let (schedule, notices) = plan(&st, &tracks, 1);
    let notice = notices
        .iter()
        .find(|n| n.contains("schedule.rotation.repeat_window_hours"))
        .unwrap_or_else(|| panic!("no repeat-window notice in {notices:?}"));
    assert!(
        notice.contains("relaxed") && notice.contains("80 %"),
        "{notice}"
    );
    report_without_violations(&st, &tracks, &schedule, 1);
}

#[test]
fn one_track_repeats_back_to_back_with_a_notice() {
    let st = station(1);
    let tracks = uniform(1, 4);
    let (schedule, notices) = plan(&st, &tracks, 1);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("only one playable track")),
        "{notices:?}"
    );
    assert!(schedule.items.len() > 300);
    assert!(schedule.items.iter().all(|it| it.track == tracks[0].id));
    schedule.validate().expect("joins up");
    report_without_violations(&st, &tracks, &schedule, 1);
}

#[test]
fn one_artist_turns_the_artist_rule_off_with_a_notice() {
    let st = station(1);
    let mut tracks = uniform(40, 8);
    for t in &mut tracks {
        t.artist = "Solo Beats".into();
    }
    let (schedule, notices) = plan(&st, &tracks, 1);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("artist_separation_minutes") && n.contains("Solo Beats")),
        "{notices:?}"
    );
    let r = report_without_violations(&st, &tracks, &schedule, 1);
    assert_eq!(r.rules.artist_separation, 0);
}

#[test]
fn a_scheduled_track_removed_from_the_catalog_is_named_and_never_replanned() {
    let st = station(1);
    let tracks = uniform(60, 9);
    let (mut schedule, _) = plan(&st, &tracks, 1);
    let planned = schedule.items.clone();
    // Remove a track that plays in the last hour of the planned day.
    let gone = planned[planned.len() - 3].track.clone();
    let rest: Vec<Track> = tracks.iter().filter(|t| t.id != gone).cloned().collect();
    let from = start(&st);
    let ext = schedule
        .plan(&rest, &st, from, SampleIndex(from.0 + 2 * DAY))
        .expect("planning goes on after it");
    let notice = ext
        .notices
        .iter()
        .find(|n| n.contains(&gone))
        .unwrap_or_else(|| panic!("the vanished track is not named: {:?}", ext.notices));
    assert!(
        notice.contains("no longer in the catalog")
            && notice.contains("plans the time not yet published again"),
        "{notice}"
    );
    assert!(
        schedule.items[..planned.len()] == planned[..],
        "planned time changed"
    );
    assert!(
        schedule.items[planned.len()..]
            .iter()
            .all(|it| it.track != gone),
        "the vanished track was scheduled again"
    );
    // The report and explain name it too.
    let r = window_report(&st, &rest, &schedule, 2);
    assert!(
        r.scheduled
            .violations
            .iter()
            .any(|v| v.rule == Rule::NotInCatalog && v.track == gone),
        "{:#?}",
        r.scheduled.violations
    );
    let at = planned[planned.len() - 3].start();
    let e = explain::explain(&st, &schedule, &rest, at).expect("explain");
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("no longer in the catalog")),
        "{:?}",
        e.notes
    );
}

#[test]
fn explain_replays_each_decision_and_shows_its_reasons() {
    let st = station(1);
    let tracks = lofi(80, 3);
    let (schedule, _) = plan(&st, &tracks, 1);
    // The first item of an hour and items in the middle of hours.
    for i in [0usize, 1, 17, 40, 111, 300] {
        let it = &schedule.items[i];
        let at = SampleIndex(it.start_sample + it.length / 2);
        let e = explain::explain(&st, &schedule, &tracks, at).expect("explain");
        assert!(e.replay_matches, "item {i}: {e}");
        assert_eq!(e.item.track, it.track);
        assert!(e.considered.iter().any(|c| c.picked), "item {i}: {e}");
        let text = e.to_string();
        for needle in ["day part:", "mood:", "Why:", "candidate", "tempo", "key"] {
            assert!(text.contains(needle), "item {i}: no {needle:?} in\n{text}");
        }
        if i == 17 {
            println!("{text}");
        }
    }
    let before = SampleIndex(start(&st).0 - 48_000);
    let err = explain::explain(&st, &schedule, &tracks, before)
        .expect_err("nothing then")
        .to_string();
    assert!(
        err.contains("nothing is scheduled at") && err.contains("covers"),
        "{err}"
    );
}

#[test]
fn the_cli_reports_and_explains_the_schedule() {
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(6));
    let out = st.run(&["schedule", "--hours", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = st.run(&["schedule", "--report"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for needle in [
        "Schedule report",
        "scheduled",
        "shuffle",
        "rule violations",
        "key-compatible transitions",
        "tempo jumps > 8 %",
        "energy vs day part",
        "Moods:",
    ] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }

    let out = st.run(&["explain", "--at", "now"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("Why:") && text.contains("day part:"),
        "{text}"
    );

    let soon = (Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let out = st.run(&["schedule", "--explain", &soon]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Why:"), "{}", stdout(&out));

    // Clear errors.
    let out = st.run(&["explain", "--at", "yesterday-ish"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a time"), "{}", stderr(&out));
    let out = st.run(&["explain", "--at", "2030-01-01T00:00:00Z"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nothing is scheduled at"),
        "{}",
        stderr(&out)
    );
    let out = st.run(&[
        "schedule",
        "--report",
        "--from",
        "2030-01-01",
        "--until",
        "2030-01-02",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("report"), "{}", stderr(&out));
}

/// Tuning harness (not a test): `LOFI_EXP="n seed key tempo energy bright
/// daypart mood fresh look beam [branching];..."`, `LOFI_LOFI=1` for the
/// lo-fi shaped catalog, `LOFI_HOURLY=1` for the hourly energy.
#[test]
#[ignore]
fn tuning_experiment() {
    let spec = std::env::var("LOFI_EXP").unwrap_or_default();
    for line in spec.split(';').filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("num"))
            .collect();
        let toml = format!(
            "[station]\nseed = 1\n[schedule.weights]\nkey = {}\ntempo = {}\nenergy = {}\nbrightness = {}\nday_part = {}\nmood = {}\nfreshness = {}\n[schedule.search]\nlook_ahead = {}\nbeam_width = {}\nbranching = {}\n",
            v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9] as usize, v[10] as usize,
            v.get(11).copied().unwrap_or(8.0) as usize
        );
        let st =
            Station::from_toml(&toml, "t", std::path::Path::new("/tmp"), Utc::now()).expect("cfg");
        let tracks = if std::env::var("LOFI_LOFI").is_ok() {
            lofi(v[0] as usize, v[1] as u64)
        } else {
            uniform(v[0] as usize, v[1] as u64)
        };
        let t0 = std::time::Instant::now();
        let (schedule, _) = plan(&st, &tracks, 7);
        let dt = t0.elapsed();
        let r = window_report(&st, &tracks, &schedule, 7);
        println!("{line:<50} {} {:.2}s", figures("", &r), dt.as_secs_f64());
        if std::env::var("LOFI_HOURLY").is_ok() {
            for (h, (t, p)) in r
                .hourly_target
                .iter()
                .zip(&r.scheduled.hourly_energy)
                .enumerate()
                .take(48)
            {
                println!(
                    "  h{h:02} target {t:.2} played {p:.2} shuffle {:.2}",
                    r.shuffle.hourly_energy[h]
                );
            }
        }
    }
}

//! A track is its audio (the content hash), not its path: a scheduled file
//! that moves is rendered from where it is now, byte for byte the same, and
//! one that is gone for good is planned around from the first segment not
//! yet published, so the station never goes off air.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lofiever::job::{self, Window};
use lofiever::progress::Silent;
use lofiever::schedule::Schedule;
use lofiever::time::SampleCount;
use serde_json::Value;

use crate::util::{file_bytes, short_specs, stderr, stdout, TempStation, TEST_STATION_TOML};

/// Every file under `dir` (relative path → bytes), dot-files excepted.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    file_bytes(dir)
        .into_iter()
        .filter(|(k, _)| !k.split('/').any(|part| part.starts_with('.')))
        .collect()
}

fn segments(t: &BTreeMap<String, Vec<u8>>) -> BTreeMap<&String, &Vec<u8>> {
    t.iter().filter(|(k, _)| k.ends_with(".m4s")).collect()
}

fn render(st: &TempStation, now: DateTime<Utc>, minutes: u64) -> job::JobSummary {
    let window = Window {
        now,
        ahead: SampleCount::from_secs(minutes * 60).expect("small"),
        force: false,
    };
    job::run(&st.station(), &window, &Silent).expect("render")
}

fn runway(st: &TempStation, at: DateTime<Utc>) -> u64 {
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let o = st.run(&["status", "--json", "--at", &at]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("status --json ({e}): {}{}", stdout(&o), stderr(&o)));
    v["runway_seconds"].as_u64().expect("runway_seconds")
}

/// A station rendered 3 minutes ahead of `now` and planned 10 minutes
/// ahead, with the item to take away: the first one that starts after
/// what is rendered and whose recording plays nowhere before it.
fn planned_station(now: DateTime<Utc>) -> (TempStation, Schedule, usize) {
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(6));
    render(&st, now, 3);
    job::plan(
        &st.station(),
        now,
        SampleCount::from_secs(10 * 60).expect("small"),
        &Silent,
    )
    .expect("plan");
    let schedule = st.schedule();
    let s = st.station();
    let rendered_end = tree(&st.root().join("out"))
        .keys()
        .filter_map(|k| lofiever::station::layout::segment_number(k))
        .max()
        .expect("segments rendered");
    let cut = s
        .grid
        .segment_start(lofiever::time::SegmentNumber(rendered_end.0 + 1))
        .expect("in range");
    let items = &schedule.items;
    let i = (0..items.len())
        .find(|&i| {
            items[i].start() > cut
                && !items[..i]
                    .iter()
                    .any(|it| it.end() > cut && it.hash == items[i].hash)
        })
        .expect("an item after what is rendered");
    (st, schedule, i)
}

#[test]
fn a_scheduled_file_that_is_gone_is_planned_around_and_the_runway_never_drops() {
    let now = Utc::now() - Duration::seconds(5);
    let (st, before, i) = planned_station(now);
    let gone = before.items[i].clone();
    let out = st.root().join("out");
    let files_before = tree(&out);
    let runway_before = runway(&st, now + Duration::seconds(60));
    std::fs::remove_file(st.root().join("catalog").join(&gone.track)).expect("rm");

    // The next run, a minute later: it succeeds instead of stopping.
    let later = now + Duration::seconds(60);
    let summary = render(&st, later, 5);
    assert!(summary.render.written > 0, "{summary:?}");
    let after = st.schedule();
    // Nothing published before the cut changed, and the gone recording
    // never plays from there on.
    assert_eq!(after.items[..i], before.items[..i], "items before the cut");
    assert!(
        after.items[i..].iter().all(|it| it.hash != gone.hash),
        "the gone recording is still scheduled after the cut"
    );
    assert!(
        after.horizon() >= before.horizon(),
        "the gap was not planned"
    );
    let files_after = tree(&out);
    for (k, v) in segments(&files_before) {
        assert_eq!(files_after.get(k), Some(v), "{k} changed");
    }
    // The runway never dropped: it reaches further than before.
    let runway_after = runway(&st, now + Duration::seconds(60));
    assert!(
        runway_after >= runway_before,
        "runway {runway_before} s → {runway_after} s"
    );
    let from = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let until = (later + Duration::seconds(4 * 60)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let v = st.run(&["verify", "--from", &from, "--until", &until]);
    assert!(v.status.success(), "verify: {}{}", stdout(&v), stderr(&v));
}

#[test]
fn render_strict_stops_at_a_gone_recording_and_names_it() {
    let now = Utc::now() - Duration::seconds(5);
    let (st, before, i) = planned_station(now);
    let gone = before.items[i].clone();
    std::fs::remove_file(st.root().join("catalog").join(&gone.track)).expect("rm");
    let later = now + Duration::seconds(60);
    let o = st.run_at(later, &["render", "--minutes", "5", "--strict"]);
    assert!(!o.status.success(), "render --strict went on");
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{:?}", gone.track)) && err.contains("no longer in the catalog"),
        "{err}"
    );
    assert_eq!(st.schedule(), before, "--strict changed the schedule");
}

#[test]
fn a_moved_file_keeps_the_plan_and_gives_the_same_audio() {
    let now = Utc::now() - Duration::seconds(5);
    let (a, before_a, _) = planned_station(now);
    let (b, before_b, i) = planned_station(now);
    assert_eq!(before_a, before_b, "two identical stations plan alike");
    let moved = &before_b.items[i].track;
    let to = b.root().join("catalog/elsewhere");
    std::fs::create_dir_all(&to).expect("mkdir");
    let name = moved.rsplit('/').next().expect("file name");
    std::fs::rename(b.root().join("catalog").join(moved), to.join(name)).expect("move");

    let later = now + Duration::seconds(60);
    render(&a, later, 5);
    render(&b, later, 5);
    assert_eq!(a.schedule(), b.schedule(), "the plan changed");
    let (ta, tb) = (tree(&a.root().join("out")), tree(&b.root().join("out")));
    let (sa, sb) = (segments(&ta), segments(&tb));
    assert_eq!(
        sa.keys().collect::<Vec<_>>(),
        sb.keys().collect::<Vec<_>>(),
        "the same segments"
    );
    for (k, v) in &sa {
        assert!(sb.get(k) == Some(v), "{k} differs");
    }
}

#[test]
fn remove_takes_a_track_out_from_the_cut_and_changes_nothing_before_it() {
    let now = Utc::now() - Duration::seconds(5);
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(6));
    render(&st, now, 40);
    let out = st.root().join("out");
    let before_files = tree(&out);
    let before = st.schedule();
    let s = st.station();
    let thirty = s
        .epoch
        .sample_at(now + Duration::minutes(30))
        .expect("after the epoch");
    let victim = before
        .playing_at(thirty)
        .expect("an item 30 min ahead")
        .clone();

    let o = st.run_at(now, &["remove", &victim.track]);
    assert!(o.status.success(), "remove: {}", stderr(&o));
    assert!(stdout(&o).contains("taken out from"), "{}", stdout(&o));
    // Nothing is published by `remove` itself.
    assert_eq!(tree(&out), before_files, "remove changed the target");

    render(&st, now, 40);
    let cut_time = job::earliest_takedown(&s, now);
    let cut = s.epoch.sample_at(cut_time).expect("after the epoch");
    let cut_segment = s.grid.segment_of(cut).0 + 1;
    let after_files = tree(&out);
    let mut changed = 0;
    for (k, v) in segments(&before_files) {
        let n = lofiever::station::layout::segment_number(k)
            .expect("a segment")
            .0;
        let now_bytes = after_files.get(k).unwrap_or_else(|| panic!("{k} is gone"));
        if n < cut_segment {
            assert_eq!(now_bytes, v, "{k} before the cut changed");
        } else if now_bytes != v {
            changed += 1;
        }
    }
    assert!(changed > 0, "no segment after the cut was replaced");
    let after = st.schedule();
    let cut_at = s
        .grid
        .segment_start(lofiever::time::SegmentNumber(cut_segment))
        .expect("range");
    assert!(
        after
            .items
            .iter()
            .filter(|it| it.end() > cut_at)
            .all(|it| it.hash != victim.hash),
        "the removed track still plays after the cut"
    );
    let n = after.items.partition_point(|it| it.start() < cut_at);
    assert_eq!(
        after.items[..n],
        before.items[..n],
        "the plan before the cut changed"
    );
    assert!(after.horizon() >= before.horizon());
    eprintln!(
        "remove: cut at segment {cut_segment}; {changed} of {} segments after it replaced",
        segments(&before_files)
            .keys()
            .filter(|k| lofiever::station::layout::segment_number(k).expect("seg").0 >= cut_segment)
            .count()
    );
    let from = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let until = (now + Duration::minutes(39)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let v = st.run(&["verify", "--from", &from, "--until", &until]);
    assert!(v.status.success(), "verify: {}{}", stdout(&v), stderr(&v));
}

/// The longest common subsequence of `a` and `b` (its length): how many of
/// `a`'s entries `b` still has in the same order.
fn in_order(a: &[&str], b: &[&str]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diag = 0;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y {
                diag + 1
            } else {
                row[j + 1].max(row[j])
            };
            diag = up;
        }
    }
    row[b.len()]
}

#[test]
fn remove_keeps_the_later_items_of_the_old_plan_in_their_order() {
    let now = Utc::now() - Duration::seconds(5);
    let st = TempStation::new(TEST_STATION_TOML);
    st.add_tracks(&short_specs(6));
    render(&st, now, 20);
    let before = st.schedule();
    let s = st.station();
    // The victim: the first recording to start after the earliest cut that
    // is not playing across it (so the plans part where it first starts).
    // The cut is the first segment boundary at or after the earliest
    // takedown: an item starting in the segment before it is heard up to
    // it and cut short there.
    let earliest = s
        .epoch
        .sample_at(job::earliest_takedown(&s, now))
        .expect("after the epoch");
    let seg = s.grid.segment_of(earliest);
    let boundary = |n: u64| {
        s.grid
            .segment_start(lofiever::time::SegmentNumber(n))
            .expect("a segment start")
    };
    let cut = if boundary(seg.0) < earliest {
        boundary(seg.0 + 1)
    } else {
        boundary(seg.0)
    };
    let across = before.playing_at(cut).map(|it| it.hash.clone());
    let victim = before
        .items
        .iter()
        .find(|it| it.start() >= cut && Some(&it.hash) != across.as_ref())
        .expect("an item after the cut")
        .clone();
    let o = st.run_at(now, &["remove", &victim.hash]);
    assert!(o.status.success(), "remove: {}", stderr(&o));
    render(&st, now, 20);
    let after = st.schedule();

    // The first play of the victim after the cut is where the plans part.
    let k = before
        .items
        .iter()
        .position(|it| it.end() > cut && it.hash == victim.hash)
        .expect("the victim plays after the cut");
    assert!(
        before.items[k].start() >= cut,
        "the victim starts after the cut"
    );
    assert_eq!(after.items[..k], before.items[..k], "items before the cut");
    // Every later item follows its predecessor as the planner times items.
    after.validate().expect("the new schedule joins up");
    let old_end = before.horizon().expect("a planned schedule");
    let old: Vec<&str> = before.items[k..]
        .iter()
        .filter(|it| it.hash != victim.hash)
        .map(|it| it.hash.as_str())
        .collect();
    let new: Vec<&str> = after.items[k..]
        .iter()
        .take_while(|it| it.start() < old_end)
        .map(|it| it.hash.as_str())
        .collect();
    assert!(
        new.iter().all(|h| *h != victim.hash),
        "the removed recording still plays"
    );
    let kept = in_order(&old, &new);
    eprintln!(
        "remove: {kept} of the {} later items of the old plan kept in their order ({} items in \
         the same time now)",
        old.len(),
        new.len()
    );
    assert!(
        old.len() >= 10,
        "too short a stretch to judge: {}",
        old.len()
    );
    assert!(
        kept * 4 >= old.len() * 3,
        "only {kept} of {} later items kept in order",
        old.len()
    );
}

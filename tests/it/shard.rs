//! Sharded rendering against a real S3 server (SeaweedFS, as in
//! `crate::publish`): `lofiever plan`, shard processes started at once,
//! `render --finish`, compared object by object with one unsharded
//! `lofiever render` into another bucket; a shard killed midway and run
//! again; bad `--shard` values and a changed plan changing nothing; three
//! channels sharded the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::publish::{lofiever_command, shared_weed, Probe, KEY, SECRET};
use crate::util::{short_specs, TempStation};

/// Every run of these tests is anchored to this instant (`LOFIEVER_NOW`), so
/// the unsharded and the sharded runs plan and render the same window.
const NOW: &str = "2026-03-01T12:00:00Z";

const PREFIX: &str = "radio/";

/// Two renditions, the fastest encoder, 10 s chunks: a dozen minutes of
/// programme is some seventy chunks to share out.
fn toml(endpoint: &str, bucket: &str, complexity: u32) -> String {
    format!(
        r#"
[station]
name = "Shard FM"
epoch = "2025-01-01T00:00:00Z"
seed = 17

[stream]
segment_ms = 2000
chunk_segments = 5
bitrates_kbps = [48, 64]
opus_complexity = {complexity}

[audio]
crossfade_ms = 3000

[publish]
target = "s3://{bucket}/radio"
endpoint = "{endpoint}"
region = "us-east-1"
path_style = true
"#
    )
}

fn station(endpoint: &str, bucket: &str) -> TempStation {
    let st = TempStation::new(&toml(endpoint, bucket, 0));
    st.add_tracks(&short_specs(4));
    st
}

fn spawn(root: &Path, args: &[&str]) -> Child {
    lofiever_command(root, Some((KEY, SECRET)), "warn", args)
        .env("LOFIEVER_NOW", NOW)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lofiever")
}

/// Starts `render --shard I/N --plan ID` on each machine at once (N = how
/// many machines).
fn spawn_shards(machines: &[TempStation], id: &str) -> Vec<Child> {
    let n = machines.len();
    machines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            spawn(
                m.root(),
                &["render", "--shard", &format!("{}/{n}", i + 1), "--plan", id],
            )
        })
        .collect()
}

/// Kills a running shard once it has rendered a few segments into its work
/// folder (of any channel), and reaps it: a machine lost in the middle of
/// its share.
fn kill_midway(mut victim: Child, root: &Path, what: &str) {
    let started = Instant::now();
    loop {
        let rendered = crate::util::files(root)
            .keys()
            .filter(|k| k.ends_with(".m4s"))
            .count();
        if rendered >= 4 {
            break;
        }
        assert!(
            victim.try_wait().expect("poll").is_none(),
            "{what} ended before it could be killed midway"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{what} never rendered"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    victim.kill().expect("kill the shard");
    victim.wait().expect("reap");
}

fn run(root: &Path, args: &[&str]) -> Output {
    lofiever_command(root, Some((KEY, SECRET)), "warn", args)
        .env("LOFIEVER_NOW", NOW)
        .output()
        .expect("run lofiever")
}

fn ok(o: Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{what} failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The one line a failing run prints.
fn fails(o: Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{what} should fail:\n{err}");
    // Warnings (a dead writer's lock taken over) aside.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("WARN"))
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected:\n{err}");
    lines[0].to_string()
}

/// Every object of the bucket under the station's prefix, with its bytes.
fn contents(probe: &Probe, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    probe
        .list(bucket, PREFIX)
        .into_keys()
        .map(|k| {
            let bytes = probe.get(bucket, &format!("{PREFIX}{k}"));
            (k, bytes)
        })
        .collect()
}

/// (key, size, ETag) of every object: what "nothing changed" compares.
fn listing(probe: &Probe, bucket: &str) -> Vec<(String, u64, String)> {
    probe
        .list(bucket, PREFIX)
        .into_iter()
        .map(|(k, l)| (k, l.size, l.etag))
        .collect()
}

fn assert_identical(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let only_a: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let differ: Vec<&String> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        only_a.is_empty() && only_b.is_empty() && differ.is_empty(),
        "{what}: only unsharded {only_a:?}, only sharded {only_b:?}, different {differ:?}"
    );
}

/// The unsharded reference: one `lofiever render` into its own bucket.
fn unsharded(probe: &Probe, endpoint: &str, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    probe.create_bucket(bucket);
    let st = station(endpoint, bucket);
    ok(
        run(st.root(), &["render", "--minutes", "2"]),
        "unsharded render",
    );
    contents(probe, bucket)
}

/// `lofiever plan`; returns the plan id.
fn plan(st: &TempStation) -> String {
    let out = ok(
        run(st.root(), &["plan", "--minutes", "2", "--print-id"]),
        "plan",
    );
    let id = out.trim().to_string();
    assert_eq!(id.len(), 16, "a plan id: {out:?}");
    id
}

#[test]
fn four_shards_at_once_then_finish_equal_one_unsharded_run_and_a_killed_shard_is_rerun() {
    let weed = shared_weed();
    let endpoint = weed.endpoint();
    let probe = Probe::new(&endpoint, KEY, SECRET);
    let reference = unsharded(&probe, &endpoint, "shard-one");
    let segments = reference.keys().filter(|k| k.ends_with(".m4s")).count();
    assert!(segments > 300, "a real window: {segments} segments");

    // Four shard processes started at once, each in its own work folder (as
    // on four machines), then finish from a fifth.
    let bucket = "shard-four";
    probe.create_bucket(bucket);
    let planner = station(&endpoint, bucket);
    let id = plan(&planner);
    let planned: Vec<String> = listing(&probe, bucket).into_iter().map(|l| l.0).collect();
    assert_eq!(
        planned,
        vec![".lofiever-journal.json".to_string()],
        "plan publishes no station object, only its journal"
    );
    let machines: Vec<TempStation> = (0..4).map(|_| station(&endpoint, bucket)).collect();
    let children = spawn_shards(&machines, &id);
    for (i, c) in children.into_iter().enumerate() {
        let out = ok(
            c.wait_with_output().expect("wait"),
            &format!("shard {}", i + 1),
        );
        assert!(out.contains(&format!("plan {id}")), "{out}");
    }
    let before_finish = listing(&probe, bucket);
    assert!(
        before_finish
            .iter()
            .all(|(k, _, _)| k.ends_with(".m4s") || k.starts_with('.')),
        "shards publish segments only, nothing that points at them"
    );
    let finisher = station(&endpoint, bucket);
    ok(run(finisher.root(), &["render", "--finish"]), "finish");
    assert_identical(&reference, &contents(&probe, bucket), "four shards");

    // Killed midway: shard 2 of 4 dies while rendering; the others run in
    // one shared work folder at once; shard 2 runs again; finish.
    let bucket = "shard-killed";
    probe.create_bucket(bucket);
    let box_ = station(&endpoint, bucket);
    let id = plan(&box_);
    let victim = spawn(
        box_.root(),
        &["--threads", "1", "render", "--shard", "2/4", "--plan", &id],
    );
    kill_midway(victim, box_.root(), "shard 2");
    // Its work is not complete, so finish refuses, in one line, publishing nothing.
    // (The killed writer's lock is stale and may be cleared: not station state.)
    let unlocked = |l: Vec<(String, u64, String)>| {
        l.into_iter()
            .filter(|o| o.0 != ".lofiever.lock")
            .collect::<Vec<_>>()
    };
    let partial = unlocked(listing(&probe, bucket));
    let line = fails(run(box_.root(), &["render", "--finish"]), "early finish");
    assert!(line.contains("is not complete"), "{line}");
    assert_eq!(
        unlocked(listing(&probe, bucket)),
        partial,
        "an early finish changes nothing"
    );
    let others: Vec<Child> = [1, 3, 4]
        .iter()
        .map(|i| spawn(box_.root(), &["render", "--shard", &format!("{i}/4")]))
        .collect();
    for c in others {
        ok(c.wait_with_output().expect("wait"), "shard");
    }
    ok(
        run(box_.root(), &["render", "--shard", "2/4", "--plan", &id]),
        "shard 2 again",
    );
    ok(run(box_.root(), &["render", "--finish"]), "finish");
    assert_identical(&reference, &contents(&probe, bucket), "killed and re-run");
}

#[test]
fn bad_shard_values_and_a_changed_plan_get_one_line_and_change_nothing() {
    let weed = shared_weed();
    let endpoint = weed.endpoint();
    let probe = Probe::new(&endpoint, KEY, SECRET);
    let bucket = "shard-bad";
    probe.create_bucket(bucket);
    let st = station(&endpoint, bucket);

    // No plan yet: a shard says so.
    let line = fails(run(st.root(), &["render", "--shard", "1/2"]), "no plan");
    assert!(line.contains("run `lofiever plan` first"), "{line}");

    let id = plan(&st);
    let journal = probe.get(bucket, &format!("{PREFIX}.lofiever-journal.json"));
    let before = listing(&probe, bucket);
    for (value, says) in [
        ("0/0", "N must be at least 1"),
        ("5/4", "I must be between 1 and 4"),
        ("a/b", "I is not a whole number"),
    ] {
        let line = fails(run(st.root(), &["render", "--shard", value]), value);
        assert!(line.contains(says) && line.contains("--shard"), "{line}");
    }
    // A shard told another plan id.
    let line = fails(
        run(
            st.root(),
            &["render", "--shard", "1/2", "--plan", "0123456789abcdef"],
        ),
        "other plan",
    );
    assert!(line.contains("the plan changed"), "{line}");
    // A shard whose configuration differs from the plan's.
    let other = TempStation::new(&toml(&endpoint, bucket, 3));
    other.add_tracks(&short_specs(4));
    let line = fails(
        run(other.root(), &["render", "--shard", "1/2"]),
        "changed configuration",
    );
    assert!(line.contains("another station configuration"), "{line}");
    assert_eq!(listing(&probe, bucket), before, "nothing was published");
    assert_eq!(
        probe.get(bucket, &format!("{PREFIX}.lofiever-journal.json")),
        journal,
        "the plan is untouched"
    );
    assert!(
        !st.root().join("out/48k").exists() || {
            std::fs::read_dir(st.root().join("out/48k"))
                .map(|d| d.count() == 0)
                .unwrap_or(true)
        }
    );
    // The real plan still renders.
    ok(
        run(st.root(), &["render", "--shard", "1/1", "--plan", &id]),
        "the plan's one shard",
    );
    ok(run(st.root(), &["render", "--finish"]), "finish");
}

/// The station of [`station`] with the two channels of
/// `crate::channels::write_channels` (8 tracks: enough for three channels
/// that never play one recording at once).
fn network(endpoint: &str, bucket: &str) -> TempStation {
    let st = TempStation::new(&toml(endpoint, bucket, 0));
    let specs = short_specs(8);
    let paths = st.add_tracks(&specs);
    crate::channels::write_channels(&st, &specs, &paths);
    st
}

#[test]
fn three_channels_in_four_shards_at_once_one_killed_and_rerun_equal_one_unsharded_run() {
    let weed = shared_weed();
    let endpoint = weed.endpoint();
    let probe = Probe::new(&endpoint, KEY, SECRET);

    let one = "channels-one";
    probe.create_bucket(one);
    let st = network(&endpoint, one);
    ok(
        run(st.root(), &["render", "--minutes", "2"]),
        "unsharded render",
    );
    let reference = contents(&probe, one);
    for prefix in ["", "study/", "zz-sleep/"] {
        // The channel's own segments: `<prefix><rendition>/<N>.m4s`.
        let segments = reference
            .keys()
            .filter_map(|k| k.strip_prefix(prefix))
            .filter(|k| k.ends_with(".m4s") && k.matches('/').count() == 1)
            .count();
        assert!(
            segments > 300,
            "{prefix}: a real window: {segments} segments"
        );
        assert!(
            reference.contains_key(&format!("{prefix}stream.mpd")),
            "{prefix}"
        );
    }
    assert!(reference.contains_key("channels.json"));

    let bucket = "channels-four";
    probe.create_bucket(bucket);
    let planner = network(&endpoint, bucket);
    let out = ok(
        run(planner.root(), &["plan", "--minutes", "2", "--print-id"]),
        "plan",
    );
    let id = out.trim().to_string();
    assert_eq!(id.len(), 16, "a plan id: {out:?}");
    let planned: Vec<String> = listing(&probe, bucket).into_iter().map(|l| l.0).collect();
    assert_eq!(
        planned,
        [
            ".lofiever-journal.json",
            "study/.lofiever-journal.json",
            "zz-sleep/.lofiever-journal.json"
        ],
        "plan publishes one journal per channel and nothing else"
    );
    let machines: Vec<TempStation> = (0..4).map(|_| network(&endpoint, bucket)).collect();
    let mut children = spawn_shards(&machines, &id);
    // Shard 2's machine is lost midway; the other three finish.
    kill_midway(children.remove(1), machines[1].root(), "shard 2");
    let mut channels_per_shard = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = ok(
            c.wait_with_output().expect("wait"),
            &format!("shard {}", if i == 0 { 1 } else { i + 2 }),
        );
        assert!(out.contains(&format!("plan {id}")), "{out}");
        channels_per_shard.push(out.matches(": channel ").count());
    }
    let line = fails(
        run(machines[0].root(), &["render", "--finish", "--plan", &id]),
        "finish before shard 2 is run again",
    );
    assert!(line.contains("is not complete"), "{line}");
    // Shard 2 again, on its own machine: it renders what the killed run had
    // not uploaded.
    let out = ok(
        run(
            machines[1].root(),
            &["render", "--shard", "2/4", "--plan", &id],
        ),
        "shard 2 again",
    );
    channels_per_shard.push(out.matches(": channel ").count());
    assert!(
        channels_per_shard.iter().all(|&n| n >= 1) && channels_per_shard.iter().sum::<usize>() >= 4,
        "every shard renders a share: {channels_per_shard:?}"
    );
    let before_finish = listing(&probe, bucket);
    assert!(
        before_finish.iter().all(|(k, _, _)| k.ends_with(".m4s")
            || k.rsplit('/').next().is_some_and(|f| f.starts_with('.'))),
        "shards publish segments only"
    );
    // A shard of another plan id changes nothing, in one line.
    let line = fails(
        run(
            machines[0].root(),
            &["render", "--shard", "1/4", "--plan", "0123456789abcdef"],
        ),
        "a changed plan",
    );
    assert!(line.contains("the plan changed"), "{line}");
    assert_eq!(listing(&probe, bucket), before_finish);

    let finisher = network(&endpoint, bucket);
    ok(
        run(finisher.root(), &["render", "--finish", "--plan", &id]),
        "finish",
    );
    assert_identical(
        &reference,
        &contents(&probe, bucket),
        "three channels, four shards",
    );
}

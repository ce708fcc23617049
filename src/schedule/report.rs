//! `lofiever schedule --report`: quality metrics of the schedule over any
//! window, side by side with a seeded random shuffle of the same catalog
//! over the same window, so an operator can see the curation working.
//!
//! | metric | definition |
//! |---|---|
//! | rule violations | [`super::rules::check`] on the items starting in the window, against everything scheduled before them (the shuffle: against its own items) |
//! | key-compatible | transitions whose keys are the same or adjacent on the Camelot wheel, of those with both keys known |
//! | tempo jumps > 8 % | octave-aware tempo change above 8 %, of transitions with both tempos known |
//! | confident key and tempo | transitions whose two tracks both have key and tempo estimates the analyzer is sure of ([`cost::Trust::sure`]: key confidence ≥ 0.6, tempo ≥ 0.2), of all transitions: how much of the smoothness above can be believed |
//! | key-compatible, confident keys | the key-compatible share among transitions whose two keys are both sure |
//! | energy / brightness jump | mean absolute change of level (catalog percentile, 0..1) |
//! | energy vs day part | Pearson correlation, over the window's whole hours, of the day-part target energy at mid-hour and the time-weighted mean energy level played in that hour |
//!
//! The shuffle plays the playable tracks in a seeded random order, reshuffled
//! after each pass, from the window's start.

use std::collections::HashMap;
use std::fmt;

use super::cost;
use super::moods::{Mood, SplitMix64};
use super::plan::Model;
use super::rules::{check, fmt_span, Rule, Rules, Violation};
use super::{make_item, Item, Schedule, Track};
use crate::error::{Error, Result};
use crate::music::camelot_distance;
use crate::station::Station;
use crate::time::{SampleIndex, SAMPLE_RATE};

const HOUR: u64 = 3600 * SAMPLE_RATE as u64;

/// The metrics of one sequence of items over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Items starting in the window.
    pub items: usize,
    /// Consecutive pairs among them.
    pub transitions: usize,
    /// Transitions with both keys known.
    pub key_known: usize,
    /// Of those, same or adjacent Camelot keys.
    pub key_compatible: usize,
    /// Transitions with both keys known and sure ([`cost::KEY_TRUST`]).
    pub key_sure: usize,
    /// Of those, same or adjacent Camelot keys.
    pub key_sure_compatible: usize,
    /// Transitions whose two tracks have sure keys and sure tempos.
    pub confident: usize,
    /// Transitions with both tempos known.
    pub tempo_known: usize,
    /// Of those, octave-aware tempo change above 8 %.
    pub tempo_jumps: usize,
    /// Mean absolute energy-level change.
    pub energy_jump: f64,
    /// Mean absolute brightness-level change, if brightness is known.
    pub brightness_jump: Option<f64>,
    /// Hourly correlation of target and played energy (`None` if there are
    /// fewer than 3 whole hours or the target is flat).
    pub energy_correlation: Option<f64>,
    /// Mean energy level played in each whole hour of the window.
    pub hourly_energy: Vec<f64>,
    /// Every rule violation.
    pub violations: Vec<Violation>,
    /// Distinct playable tracks played.
    pub distinct: usize,
}

impl Metrics {
    /// Key-compatible share of the transitions with known keys (0..=1).
    pub fn key_compatible_share(&self) -> Option<f64> {
        share(self.key_compatible, self.key_known)
    }

    /// Share of transitions whose features were all sure (0..=1).
    pub fn confident_share(&self) -> Option<f64> {
        share(self.confident, self.transitions)
    }

    /// Key-compatible share among transitions with two sure keys (0..=1).
    pub fn sure_key_compatible_share(&self) -> Option<f64> {
        share(self.key_sure_compatible, self.key_sure)
    }

    /// Share of tempo jumps above 8 % among transitions with known tempos.
    pub fn tempo_jump_share(&self) -> Option<f64> {
        share(self.tempo_jumps, self.tempo_known)
    }

    /// Violations of one rule.
    pub fn count(&self, rule: Rule) -> usize {
        self.violations.iter().filter(|v| v.rule == rule).count()
    }
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The report for one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Window start (RFC 3339 UTC).
    pub from: String,
    /// Window end (RFC 3339 UTC).
    pub to: String,
    /// Window length in samples.
    pub span: u64,
    /// Playable tracks in the catalog.
    pub playable: usize,
    /// The catalog's moods.
    pub moods: Vec<Mood>,
    /// The silhouette of each k tried.
    pub k_scores: Vec<(usize, f64)>,
    /// The feature columns the moods were learned from.
    pub columns: Vec<&'static str>,
    /// The rules in force.
    pub rules: Rules,
    /// Day-part target energy at each whole hour's middle.
    pub hourly_target: Vec<f64>,
    /// The schedule's metrics.
    pub scheduled: Metrics,
    /// The shuffle's metrics.
    pub shuffle: Metrics,
    /// Whether the window reaches past the end of the schedule.
    pub incomplete: bool,
    /// The planned levels and the targets over the window, for the chart.
    pub curve: Curve,
}

/// What `schedule --report --html` draws: each item's energy and tempo
/// level and the day-part targets, over the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curve {
    /// Window start and end, Unix ms.
    pub span_ms: (i64, i64),
    /// Per item overlapping the window: start (Unix ms), energy level,
    /// tempo level (0..=1, catalog percentiles; tempo if known).
    pub planned: Vec<(i64, f64, Option<f64>)>,
    /// Every few minutes: time (Unix ms), target energy, target tempo, and
    /// both as paced to what the rotation allows (what the planner aims at).
    pub targets: Vec<(i64, f64, f64, f64, f64)>,
}

/// Computes the report for `[from, to)`.
pub fn report(
    station: &Station,
    schedule: &Schedule,
    tracks: &[Track],
    from: SampleIndex,
    to: SampleIndex,
) -> Result<Report> {
    if to <= from {
        return Err(Error::Schedule(
            "the report window is empty: its end must be after its start".into(),
        ));
    }
    let model = Model::new(tracks, station)?;
    let hours = (to.0 - from.0) / HOUR;
    let hourly_target = (0..hours)
        .map(|h| Ok(model.target_at(from.0 + h * HOUR + HOUR / 2)?.energy))
        .collect::<Result<Vec<f64>>>()?;
    let scheduled = metrics(&model, &schedule.items, from.0, to.0, &hourly_target);
    let shuffled = shuffle(&model, station, from.0, to.0);
    let shuffle = metrics(&model, &shuffled, from.0, to.0, &hourly_target);
    let fmt = |s: SampleIndex| -> Result<String> {
        Ok(super::store::fmt_instant(station.epoch.instant_of(s)?))
    };
    let curve = curve(&model, station, schedule, from, to)?;
    Ok(Report {
        from: fmt(from)?,
        to: fmt(to)?,
        span: to.0 - from.0,
        playable: model.tracks.len(),
        moods: model.moods.moods.clone(),
        k_scores: model.moods.scores.clone(),
        columns: model.moods.columns.clone(),
        rules: model.rules.clone(),
        hourly_target,
        scheduled,
        shuffle,
        incomplete: schedule.horizon().is_none_or(|h| h < to),
        curve,
    })
}

/// The planned levels and the targets over `[from, to)`.
fn curve(
    model: &Model<'_>,
    station: &Station,
    schedule: &Schedule,
    from: SampleIndex,
    to: SampleIndex,
) -> Result<Curve> {
    let ms = |s: u64| -> Result<i64> {
        Ok(station.epoch.instant_of(SampleIndex(s))?.timestamp_millis())
    };
    let mut planned = Vec::new();
    for it in schedule.overlapping(from, to) {
        if let Some(&i) = model.index.get(it.track.as_str()) {
            planned.push((
                ms(it.start_sample.max(from.0))?,
                model.energy_level(i),
                model.tempo_level(i),
            ));
        }
    }
    // About 400 target points, at least a minute apart.
    let step = ((to.0 - from.0) / 400).max(60 * u64::from(SAMPLE_RATE));
    let mut targets = Vec::new();
    let mut t = from.0;
    loop {
        let target = model.target_at(t)?;
        let (pe, pt) = model.paced(&target);
        targets.push((ms(t)?, target.energy, target.tempo, pe, pt));
        if t >= to.0 {
            break;
        }
        // The window's end is the last point.
        t = (t + step).min(to.0);
    }
    Ok(Curve {
        span_ms: (ms(from.0)?, ms(to.0)?),
        planned,
        targets,
    })
}

impl Report {
    /// `schedule --report --html`: the window's planned energy and tempo
    /// against the day-part targets, drawn, with the figures below, as one
    /// self-contained page.
    pub fn html(&self, station: &Station) -> String {
        use crate::chart::{self, esc, LineChart, Series};
        let c = &self.curve;
        let tz = station.schedule.time_zone;
        let (from, to) = c.span_ms;
        let chart_of = |what: &str, planned: Vec<(f64, f64)>, target: usize, paced: usize| {
            let pick = |k: usize| -> Vec<(f64, f64)> {
                c.targets
                    .iter()
                    .map(|p| (p.0 as f64, [p.1, p.2, p.3, p.4][k]))
                    .collect()
            };
            let mut planned = planned;
            // The last item holds until the window's end.
            if let Some(&(_, v)) = planned.last() {
                planned.push((to as f64, v));
            }
            LineChart {
                height: 300.0,
                x: (from as f64, to as f64),
                y: (0.0, 1.0),
                x_ticks: chart::time_ticks(tz, from, to),
                y_ticks: (0..=4)
                    .map(|i| (f64::from(i) / 4.0, format!("{:.2}", f64::from(i) / 4.0)))
                    .collect(),
                bands: chart::day_part_bands(tz, &station.schedule.day_parts, from, to),
                series: vec![
                    Series {
                        name: format!("planned {what}"),
                        points: planned,
                        color: chart::COLORS[0],
                        dashed: false,
                        step: true,
                    },
                    Series {
                        name: format!("day-part target {what}"),
                        points: pick(target),
                        color: chart::COLORS[1],
                        dashed: true,
                        step: false,
                    },
                    Series {
                        name: format!("{what} aimed at (paced)"),
                        points: pick(paced),
                        color: chart::COLORS[2],
                        dashed: true,
                        step: false,
                    },
                ],
                title: format!("Planned {what} against the day-part target"),
            }
            .svg()
        };
        let energy: Vec<(f64, f64)> = c.planned.iter().map(|p| (p.0 as f64, p.1)).collect();
        let tempo: Vec<(f64, f64)> = c
            .planned
            .iter()
            .map(|p| (p.0 as f64, p.2.unwrap_or(f64::NAN)))
            .collect();
        let body = format!(
            "<h1>Schedule of {}</h1><p class=\"note\">{} to {} (UTC), {} playable tracks; times on the station's clock ({}). \
             Levels are catalog percentiles: 0 the calmest (slowest) track, 1 the most energetic (fastest). \
             Each item holds its level until the next; the dashed lines are the day-part plan and what the planner aims at, \
             the plan pulled towards the middle as far as the rotation rules demand.</p>\
             <h2>Energy</h2>{}<h2>Tempo</h2>{}<h2>Figures beside a seeded shuffle</h2><pre>{}</pre>",
            esc(&station.name),
            esc(&self.from),
            esc(&self.to),
            self.playable,
            esc(tz.name()),
            chart_of("energy", energy, 0, 2),
            chart_of("tempo", tempo, 1, 3),
            esc(&self.to_string())
        );
        chart::page(&format!("Schedule of {}", station.name), &body)
    }
}

/// A seeded random shuffle of the playable tracks from `from` to `to`.
pub fn shuffle(model: &Model<'_>, station: &Station, from: u64, to: u64) -> Vec<Item> {
    let mut rng = SplitMix64(station.seed ^ 0x0053_4855_4646_4c45);
    let n = model.tracks.len();
    let mut order: Vec<usize> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let mut t = from;
    while t < to {
        if order.is_empty() {
            order = (0..n).collect();
            for i in (1..n).rev() {
                let j = rng.below(i + 1);
                order.swap(i, j);
            }
            order.reverse();
        }
        let Some(c) = order.pop() else { break };
        let item = make_item(items.last(), model.tracks[c], SampleIndex(t), station);
        t = item.next_start().0;
        items.push(item);
    }
    items
}

/// The metrics of `items` over `[from, to)`.
fn metrics(
    model: &Model<'_>,
    items: &[Item],
    from: u64,
    to: u64,
    hourly_target: &[f64],
) -> Metrics {
    let first = items.partition_point(|it| it.start_sample < from);
    let last = items.partition_point(|it| it.start_sample < to);
    let window = &items[first..last];
    let idx = |it: &Item| model.index.get(it.track.as_str()).copied();
    let mut m = Metrics {
        items: window.len(),
        transitions: window.len().saturating_sub(1),
        key_known: 0,
        key_compatible: 0,
        key_sure: 0,
        key_sure_compatible: 0,
        confident: 0,
        tempo_known: 0,
        tempo_jumps: 0,
        energy_jump: 0.0,
        brightness_jump: None,
        energy_correlation: None,
        hourly_energy: Vec::new(),
        violations: Vec::new(),
        distinct: 0,
    };
    let (mut e_sum, mut e_n, mut b_sum, mut b_n) = (0.0, 0usize, 0.0, 0usize);
    for w in window.windows(2) {
        let (Some(a), Some(b)) = (idx(&w[0]), idx(&w[1])) else {
            continue;
        };
        let (ta, tb) = (model.tracks[a], model.tracks[b]);
        let (key, tempo) = (cost::KEY_TRUST, cost::TEMPO_TRUST);
        let keys_sure = key.sure(ta.key_confidence) && key.sure(tb.key_confidence);
        let tempos_sure = tempo.sure(ta.tempo_confidence) && tempo.sure(tb.tempo_confidence);
        if let (Some(ka), Some(kb)) = (ta.key, tb.key) {
            m.key_known += 1;
            let compatible = camelot_distance(ka, kb) <= 1;
            m.key_compatible += usize::from(compatible);
            if keys_sure {
                m.key_sure += 1;
                m.key_sure_compatible += usize::from(compatible);
            }
        }
        if let (Some(x), Some(y)) = (ta.tempo_bpm, tb.tempo_bpm) {
            m.tempo_known += 1;
            if cost::tempo_jump(x, y) > 0.08 {
                m.tempo_jumps += 1;
            }
        }
        let known = ta.key.zip(tb.key).is_some() && ta.tempo_bpm.zip(tb.tempo_bpm).is_some();
        m.confident += usize::from(known && keys_sure && tempos_sure);
        e_sum += (model.energy_level(a) - model.energy_level(b)).abs();
        e_n += 1;
        if let (Some(x), Some(y)) = (model.brightness_level(a), model.brightness_level(b)) {
            b_sum += (x - y).abs();
            b_n += 1;
        }
    }
    m.energy_jump = if e_n > 0 { e_sum / e_n as f64 } else { 0.0 };
    m.brightness_jump = (b_n > 0).then(|| b_sum / b_n as f64);

    // Hourly played energy: each item counts over [start, next start).
    let mut sum = vec![0.0; hourly_target.len()];
    let mut weight = vec![0u64; hourly_target.len()];
    for it in &items[first.saturating_sub(1)..last] {
        let Some(i) = idx(it) else { continue };
        let (s, e) = (it.start_sample, it.next_start().0);
        let level = model.energy_level(i);
        for (h, (sm, wt)) in sum.iter_mut().zip(weight.iter_mut()).enumerate() {
            let (hs, he) = (from + h as u64 * HOUR, from + (h as u64 + 1) * HOUR);
            let overlap = e.min(he).saturating_sub(s.max(hs));
            if overlap > 0 {
                *sm += level * overlap as f64;
                *wt += overlap;
            }
        }
    }
    let hourly: Vec<Option<f64>> = sum
        .iter()
        .zip(&weight)
        .map(|(s, w)| (*w > 0).then(|| s / *w as f64))
        .collect();
    let pairs: Vec<(f64, f64)> = hourly_target
        .iter()
        .zip(&hourly)
        .filter_map(|(t, p)| p.map(|p| (*t, p)))
        .collect();
    m.energy_correlation = pearson(&pairs);
    m.hourly_energy = hourly.iter().map(|h| h.unwrap_or(f64::NAN)).collect();

    let all: HashMap<&str, &Track> = model.all.clone();
    m.violations = check(items, from, to, &model.rules, &all);
    let mut played: Vec<usize> = window.iter().filter_map(idx).collect();
    played.sort_unstable();
    played.dedup();
    m.distinct = played.len();
    m
}

/// Pearson correlation; `None` for fewer than 3 pairs or a constant side.
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len();
    if n < 3 {
        return None;
    }
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (mx / n as f64, my / n as f64);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    (sxx > 1e-12 && syy > 1e-12).then(|| sxy / (sxx * syy).sqrt())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Schedule report {} to {} ({}), {} playable tracks",
            self.from,
            self.to,
            fmt_span(self.span),
            self.playable
        )?;
        if self.incomplete {
            writeln!(
                f,
                "note: the schedule ends before this window does; only what is planned is counted"
            )?;
        }
        let tried: Vec<String> = self
            .k_scores
            .iter()
            .map(|(k, s)| format!("{k}: {s:.2}"))
            .collect();
        writeln!(
            f,
            "Moods: {} (silhouette by k: {}; features: {})",
            self.moods.len(),
            if tried.is_empty() {
                "not enough distinct tracks to compare".into()
            } else {
                tried.join(", ")
            },
            if self.columns.is_empty() {
                "none known yet".into()
            } else {
                self.columns.join(", ")
            }
        )?;
        for (i, m) in self.moods.iter().enumerate() {
            writeln!(
                f,
                "  {}. {:<26} {:>4} tracks  {:>8}  {:>9}  {:>8}",
                i + 1,
                m.label,
                m.tracks,
                m.energy_db.map_or("-".into(), |e| format!("{e:.1} dB")),
                m.tempo_bpm.map_or("-".into(), |t| format!("{t:.1} BPM")),
                m.centroid_hz.map_or("-".into(), |c| format!("{c:.0} Hz")),
            )?;
        }
        writeln!(
            f,
            "Rules: no repeat within {}, artists {} apart, every track within {}",
            fmt_span(self.rules.repeat_window),
            if self.rules.artist_separation > 0 {
                fmt_span(self.rules.artist_separation)
            } else {
                "(off)".into()
            },
            fmt_span(self.rules.coverage)
        )?;
        writeln!(f)?;
        let (s, r) = (&self.scheduled, &self.shuffle);
        let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1} %", v * 100.0));
        let num = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
        let rows: Vec<(String, String, String)> = vec![
            ("items".into(), s.items.to_string(), r.items.to_string()),
            (
                "rule violations".into(),
                s.violations.len().to_string(),
                r.violations.len().to_string(),
            ),
            (
                "  repeat window".into(),
                s.count(Rule::Repeat).to_string(),
                r.count(Rule::Repeat).to_string(),
            ),
            (
                "  artist separation".into(),
                s.count(Rule::Artist).to_string(),
                r.count(Rule::Artist).to_string(),
            ),
            (
                "  coverage".into(),
                s.count(Rule::Coverage).to_string(),
                r.count(Rule::Coverage).to_string(),
            ),
            (
                "  disabled / not in catalog".into(),
                (s.count(Rule::Disabled) + s.count(Rule::NotInCatalog)).to_string(),
                (r.count(Rule::Disabled) + r.count(Rule::NotInCatalog)).to_string(),
            ),
            (
                "key-compatible transitions".into(),
                pct(s.key_compatible_share()),
                pct(r.key_compatible_share()),
            ),
            (
                "  on confident keys only".into(),
                pct(s.sure_key_compatible_share()),
                pct(r.sure_key_compatible_share()),
            ),
            (
                "tempo jumps > 8 %".into(),
                pct(s.tempo_jump_share()),
                pct(r.tempo_jump_share()),
            ),
            (
                "confident key and tempo".into(),
                pct(s.confident_share()),
                pct(r.confident_share()),
            ),
            (
                "mean energy jump (0..1)".into(),
                num(Some(s.energy_jump)),
                num(Some(r.energy_jump)),
            ),
            (
                "mean brightness jump (0..1)".into(),
                num(s.brightness_jump),
                num(r.brightness_jump),
            ),
            (
                "energy vs day part (hourly r)".into(),
                num(s.energy_correlation),
                num(r.energy_correlation),
            ),
            (
                "tracks played".into(),
                format!("{}/{}", s.distinct, self.playable),
                format!("{}/{}", r.distinct, self.playable),
            ),
        ];
        writeln!(f, "  {:<32} {:>10} {:>10}", "", "scheduled", "shuffle")?;
        for (name, a, b) in rows {
            writeln!(f, "  {name:<32} {a:>10} {b:>10}")?;
        }
        for v in s.violations.iter().take(10) {
            writeln!(f, "violation: {}: {} ({})", v.rule, v.detail, v.track)?;
        }
        if s.violations.len() > 10 {
            writeln!(f, "... and {} more violations", s.violations.len() - 10)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_basics() {
        assert_eq!(pearson(&[(0.0, 1.0), (1.0, 2.0)]), None);
        let r = pearson(&[(0.0, 0.0), (1.0, 2.0), (2.0, 4.1)]).expect("defined");
        assert!(r > 0.99);
        let r = pearson(&[(0.0, 2.0), (1.0, 1.0), (2.0, 0.0)]).expect("defined");
        assert!((r + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[(1.0, 0.0), (1.0, 1.0), (1.0, 2.0)]), None);
    }
}

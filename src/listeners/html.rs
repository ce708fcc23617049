//! `lofiever listeners --html FILE`: the report as one self-contained page
//! (inline SVG, no script): listeners at once over the window with the
//! day parts behind, the session-length histogram, the tracks listeners
//! leave during most and least, and the tables behind them.

use std::fmt::Write as _;

use super::{fmt_secs, Report, Share};
use crate::chart::{self, esc, LineChart, Series};
use crate::station::schedule::DayPart;

/// How many tracks each of "left most" and "left least" shows.
const TOP_TRACKS: usize = 10;

/// The page for `report`, with `parts` (the station's day parts) as bands.
pub fn page(report: &Report, station_name: &str, parts: &[DayPart]) -> String {
    let tz: chrono_tz::Tz = report.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Listeners of {}</h1><p class=\"note\">{} to {} (UTC). Day parts and times on the station's clock ({}). \
         A listener is a client address and user agent fetching segments; addresses were hashed with a key made for this run and are not kept.</p>",
        esc(station_name),
        esc(&report.from),
        esc(&report.to),
        esc(&report.time_zone)
    );
    let l = &report.listeners;
    let s = &report.sessions;
    let _ = write!(
        b,
        "<div class=\"figures\"><div class=\"figure\"><b>{}</b>peak at once</div><div class=\"figure\"><b>{:.1}</b>mean at once</div>\
         <div class=\"figure\"><b>{}</b>sessions</div><div class=\"figure\"><b>{}</b>median session</div><div class=\"figure\"><b>{}</b>listened in all</div></div>",
        l.peak, l.mean, s.sessions, esc(&fmt_secs(s.median_s)), esc(&fmt_secs(s.hours * 3600.0))
    );

    // Listeners at once.
    let step = l.curve_step_ms;
    let points: Vec<(f64, f64)> = l
        .curve
        .iter()
        .enumerate()
        .map(|(i, v)| ((l.first_minute_ms + step * i as i64 + step / 2) as f64, *v))
        .collect();
    let top_value = l.curve.iter().copied().fold(1.0, f64::max);
    let (top, y_ticks) = chart::y_ticks(top_value, |v| {
        if v.fract().abs() < 1e-9 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    });
    let (from, to) = (report.from_ms, report.to_ms);
    let curve = LineChart {
        height: 320.0,
        x: (from as f64, to as f64),
        y: (0.0, top),
        x_ticks: chart::time_ticks(tz, from, to),
        y_ticks,
        bands: chart::day_part_bands(tz, parts, from, to),
        series: vec![Series {
            name: format!("listeners (mean per {})", fmt_secs(step as f64 / 1000.0)),
            points,
            color: chart::COLORS[0],
            dashed: false,
            step: false,
        }],
        title: "Listeners at once, per minute".into(),
    };
    let _ = write!(
        b,
        "<h2>Listeners at once</h2>{}<p class=\"note\">Mean listeners in each {}; the busiest minute averaged {:.1}, and the peak at any moment was {}{}.</p>",
        curve.svg(),
        esc(&fmt_secs(step as f64 / 1000.0)),
        l.peak_minute,
        l.peak,
        l.peak_at
            .as_ref()
            .map(|t| format!(" at {}", esc(t)))
            .unwrap_or_default()
    );

    // Session lengths.
    let bars: Vec<(String, f64)> = s
        .histogram
        .iter()
        .map(|(label, n)| (label.clone(), *n as f64))
        .collect();
    let _ = write!(
        b,
        "<h2>How long people listen</h2>{}<p class=\"note\">{} sessions; median {}, mean {}, 90 % shorter than {}. A silence over {} s ends a session. \
         {} were already listening when the logs begin and {} still listening when they end; their lengths are lower bounds.</p>",
        chart::bars("Sessions by length", &bars, |v| format!("{v:.0}")),
        s.sessions,
        esc(&fmt_secs(s.median_s)),
        esc(&fmt_secs(s.mean_s)),
        esc(&fmt_secs(s.p90_s)),
        report.session_gap_s,
        s.listening_at_start,
        s.still_listening_at_end
    );

    // Tracks.
    b.push_str("<h2>Tracks listeners leave during</h2>");
    match (&report.tracks, &report.tracks_note) {
        (Some(t), _) if !t.tracks.is_empty() => {
            let name = super::tracks::TrackRow::display_name;
            let indexed: Vec<&super::tracks::TrackRow> = t
                .tracks
                .iter()
                .filter(|r| r.leave_index.is_some())
                .collect();
            let most: Vec<(String, f64)> = indexed
                .iter()
                .take(TOP_TRACKS)
                .map(|r| {
                    (
                        format!("{} ({}×)", name(r), r.plays),
                        r.leave_index.unwrap_or(0.0),
                    )
                })
                .collect();
            let least: Vec<(String, f64)> = indexed
                .iter()
                .rev()
                .take(TOP_TRACKS)
                .map(|r| {
                    (
                        format!("{} ({}×)", name(r), r.plays),
                        r.leave_index.unwrap_or(0.0),
                    )
                })
                .collect();
            let _ = write!(
                b,
                "<p class=\"note\">Leave index: listeners who left while the track played, over those expected to leave at the station's usual rate for those hours \
                 (1 = as usual). Thin evidence says little: look at the plays.</p><h3>Left most</h3>{}<h3>Left least</h3>{}",
                chart::hbars("Tracks left most", &most, Some(1.0)),
                chart::hbars("Tracks left least", &least, Some(1.0))
            );
            b.push_str("<table><tr><th>track</th><th>plays</th><th>at start</th><th>at end</th><th>left</th><th>left %</th><th>usual %</th><th>index</th></tr>");
            for r in &t.tracks {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{}</td></tr>",
                    esc(&name(r)),
                    r.plays,
                    r.mean_at_start,
                    r.mean_at_end,
                    r.left,
                    r.left_share * 100.0,
                    r.usual_share * 100.0,
                    r.leave_index.map_or("–".into(), |i| format!("{i:.2}"))
                );
            }
            b.push_str("</table>");
        }
        (_, Some(note)) => {
            let _ = write!(
                b,
                "<p class=\"note\">No per-track figures: {}.</p>",
                esc(note)
            );
        }
        _ => b.push_str("<p class=\"note\">No play was heard in this window.</p>"),
    }

    // Who.
    let table = |b: &mut String, title: &str, what: &str, rows: &[Share]| {
        let _ = write!(
            b,
            "<h2>{}</h2><table><tr><th>{}</th><th>count</th><th>share</th></tr>",
            esc(title),
            esc(what)
        );
        for r in rows {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{:.1} %</td></tr>",
                esc(&r.name),
                r.count,
                r.share * 100.0
            );
        }
        b.push_str("</table>");
    };
    table(&mut b, "Renditions", "segment requests", &report.renditions);
    table(
        &mut b,
        "Players",
        "sessions (browser or player)",
        &report.players,
    );
    table(&mut b, "Platforms", "sessions", &report.platforms);
    match &report.countries {
        Some(c) => table(&mut b, "Countries", "sessions", c),
        None => b.push_str("<h2>Countries</h2><p class=\"note\">These logs do not say.</p>"),
    }
    b.push_str("<h2>Logs read</h2><table><tr><th>file</th><th>format</th><th>lines</th><th>segment requests</th><th>bad lines</th></tr>");
    for f in &report.files {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.name),
            esc(&f.format),
            f.lines,
            f.segment_requests,
            f.bad_lines
        );
    }
    b.push_str("</table>");
    chart::page(&format!("Listeners of {station_name}"), &b)
}

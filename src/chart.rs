//! Charts as inline SVG, and the self-contained HTML page they go in: no
//! script, no font, no file from elsewhere, so a report can be mailed,
//! opened offline or published next to the station.
//!
//! Used by `lofiever listeners --html` (listeners over the day, session
//! lengths, tracks listeners leave) and `lofiever schedule --report --html`
//! (planned energy and tempo against the day-part targets). Times on the x
//! axis are Unix milliseconds shown on the station's local clock, with the
//! day parts of the schedule configuration as bands behind the curves.

use std::fmt::Write as _;

use chrono::{Duration, NaiveTime, TimeZone, Timelike};

use crate::station::schedule::DayPart;

const W: f64 = 960.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

/// Band fills, one per day part (repeating).
const BAND_FILLS: [&str; 7] = [
    "#e8eef7", "#f3ecf7", "#fdf3e1", "#e7f5ec", "#fbe9e7", "#eef3e0", "#e6f2f5",
];

/// Series colours, in order.
pub const COLORS: [&str; 5] = ["#2b59c3", "#d1495b", "#edae49", "#00798c", "#66a182"];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A shaded stretch of the x axis with a label (a day part).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Start (x units).
    pub x0: f64,
    /// End (x units).
    pub x1: f64,
    /// Label drawn at its top.
    pub label: String,
    /// Which fill.
    pub shade: usize,
}

/// One curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points in x order; a `NaN` y breaks the line.
    pub points: Vec<(f64, f64)>,
    /// Stroke colour.
    pub color: &'static str,
    /// Dashed (targets) or solid (measured).
    pub dashed: bool,
    /// Drawn as steps (a value holds until the next point).
    pub step: bool,
}

/// A line chart over bands.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Height in px.
    pub height: f64,
    /// x range.
    pub x: (f64, f64),
    /// y range.
    pub y: (f64, f64),
    /// x tick positions and labels.
    pub x_ticks: Vec<(f64, String)>,
    /// y tick positions and labels.
    pub y_ticks: Vec<(f64, String)>,
    /// Bands behind the curves.
    pub bands: Vec<Band>,
    /// The curves.
    pub series: Vec<Series>,
    /// Accessible name of the chart.
    pub title: String,
}

impl LineChart {
    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> String {
        let h = self.height;
        let (x0, x1) = self.x;
        let (y0, y1) = self.y;
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0).max(1e-12) * (W - LEFT - RIGHT);
        let py = |y: f64| h - BOTTOM - (y - y0) / (y1 - y0).max(1e-12) * (h - TOP - BOTTOM);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
            esc(&self.title)
        );
        for b in &self.bands {
            let (a, e) = (px(b.x0.max(x0)), px(b.x1.min(x1)));
            if e <= a {
                continue;
            }
            let _ = write!(
                s,
                r#"<rect x="{a:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                e - a,
                h - TOP - BOTTOM,
                BAND_FILLS[b.shade % BAND_FILLS.len()]
            );
            if e - a > 40.0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" class="band">{}</text>"#,
                    a + 4.0,
                    TOP + 12.0,
                    esc(&b.label)
                );
            }
        }
        for (y, label) in &self.y_ticks {
            let yy = py(*y);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ccc" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                yy + 4.0,
                esc(label)
            );
        }
        for (x, label) in &self.x_ticks {
            let xx = px(*x);
            let _ = write!(
                s,
                r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"##,
                h - BOTTOM,
                h - BOTTOM + 5.0,
                h - BOTTOM + 18.0,
                esc(label)
            );
        }
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#555"/>"##,
            W - RIGHT,
            h - BOTTOM,
            h - BOTTOM
        );
        // Curves stay inside the plot area.
        let clip = format!("clip{:x}", {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.title.hash(&mut hasher);
            hasher.finish() & 0xffff_ffff
        });
        let _ = write!(
            s,
            r#"<clipPath id="{clip}"><rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}"/></clipPath>"#,
            W - LEFT - RIGHT,
            h - TOP - BOTTOM + 2.0
        );
        for (i, se) in self.series.iter().enumerate() {
            let mut d = String::new();
            let mut pen_up = true;
            let mut last_y = None;
            for (x, y) in &se.points {
                if !y.is_finite() {
                    pen_up = true;
                    last_y = None;
                    continue;
                }
                let (xx, yy) = (px(*x), py(*y));
                if pen_up {
                    let _ = write!(d, "M{xx:.1},{yy:.1}");
                    pen_up = false;
                } else {
                    if se.step {
                        if let Some(ly) = last_y {
                            let _ = write!(d, "L{xx:.1},{ly:.1}");
                        }
                    }
                    let _ = write!(d, "L{xx:.1},{yy:.1}");
                }
                last_y = Some(yy);
            }
            if d.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                r#"<path d="{d}" clip-path="url(#{clip})" fill="none" stroke="{}" stroke-width="{}"{}/>"#,
                se.color,
                if se.dashed { 1.5 } else { 2.0 },
                if se.dashed {
                    r#" stroke-dasharray="6 4""#
                } else {
                    ""
                }
            );
            // Legend, top right.
            let lx = W - RIGHT - 200.0;
            let ly = TOP + 14.0 + 16.0 * i as f64;
            let _ = write!(
                s,
                r#"<line x1="{lx}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{}/><text x="{:.1}" y="{ly:.1}" class="legend">{}</text>"#,
                lx + 22.0,
                ly - 4.0,
                ly - 4.0,
                se.color,
                if se.dashed {
                    r#" stroke-dasharray="6 4""#
                } else {
                    ""
                },
                lx + 28.0,
                esc(&se.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// Vertical bars with labels under them and values over them.
pub fn bars(title: &str, bars: &[(String, f64)], value: impl Fn(f64) -> String) -> String {
    let h = 240.0;
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-12);
    let n = bars.len().max(1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
        esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let bh = v / max * (h - TOP - BOTTOM);
        let x = LEFT + slot * i as f64;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" class="value" text-anchor="middle">{}</text>"#,
            x + slot * 0.15,
            h - BOTTOM - bh,
            slot * 0.7,
            COLORS[0],
            x + slot / 2.0,
            h - BOTTOM + 18.0,
            esc(label),
            x + slot / 2.0,
            h - BOTTOM - bh - 4.0,
            esc(&value(*v))
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#555"/></svg>"##,
        W - RIGHT,
        h - BOTTOM,
        h - BOTTOM
    );
    s
}

/// Horizontal bars (one row each) from 0, with an optional reference line
/// (e.g. 1 = as usual).
pub fn hbars(title: &str, rows: &[(String, f64)], reference: Option<f64>) -> String {
    let row_h = 22.0;
    let label_w = 360.0;
    let h = TOP + row_h * rows.len().max(1) as f64 + 24.0;
    let max = rows
        .iter()
        .map(|r| r.1)
        .chain(reference)
        .fold(0.0, f64::max)
        .max(1e-12);
    let span = W - label_w - RIGHT - 50.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
        esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let w = v / max * span;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" class="value">{v:.2}</text>"#,
            label_w - 8.0,
            y + 15.0,
            esc(label),
            y + 4.0,
            row_h - 8.0,
            if reference.is_some_and(|r| *v > r) {
                COLORS[1]
            } else {
                COLORS[3]
            },
            label_w + w + 6.0,
            y + 15.0
        );
    }
    if let Some(r) = reference {
        let x = label_w + r / max * span;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="4 3"/><text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">usual</text>"##,
            TOP - 4.0,
            h - 20.0,
            h - 6.0
        );
    }
    s.push_str("</svg>");
    s
}

/// The day parts over `[from_ms, to_ms)` as bands, on the station's local
/// clock (`parts` sorted by time, as validated).
pub fn day_part_bands(tz: chrono_tz::Tz, parts: &[DayPart], from_ms: i64, to_ms: i64) -> Vec<Band> {
    let mut bands = Vec::new();
    let (Some(from), Some(to)) = (
        chrono::DateTime::from_timestamp_millis(from_ms),
        chrono::DateTime::from_timestamp_millis(to_ms),
    ) else {
        return bands;
    };
    let mut day = from.with_timezone(&tz).date_naive() - Duration::days(1);
    let last = to.with_timezone(&tz).date_naive();
    // Each day's points, then the next day's first point ends the last part.
    let at = |date: chrono::NaiveDate, secs: u32| -> Option<i64> {
        let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)?;
        tz.from_local_datetime(&date.and_time(t))
            .earliest()
            .map(|t| t.timestamp_millis())
    };
    while day <= last {
        for (i, p) in parts.iter().enumerate() {
            let start = at(day, p.at_seconds);
            let end = match parts.get(i + 1) {
                Some(n) => at(day, n.at_seconds),
                None => parts
                    .first()
                    .and_then(|f| at(day + Duration::days(1), f.at_seconds)),
            };
            if let (Some(a), Some(b)) = (start, end) {
                if b > from_ms && a < to_ms {
                    bands.push(Band {
                        x0: a as f64,
                        x1: b as f64,
                        label: p.name.clone(),
                        shade: i,
                    });
                }
            }
        }
        day += Duration::days(1);
    }
    bands
}

/// Ticks for a time axis over `[from_ms, to_ms)` on the local clock: about
/// eight, on round minutes or hours, the date shown where the day changes.
pub fn time_ticks(tz: chrono_tz::Tz, from_ms: i64, to_ms: i64) -> Vec<(f64, String)> {
    const STEPS_MIN: [i64; 11] = [1, 2, 5, 10, 15, 30, 60, 180, 360, 720, 1440];
    let span_min = ((to_ms - from_ms) / 60_000).max(1);
    let step = STEPS_MIN
        .iter()
        .copied()
        .find(|s| span_min / s <= 8)
        .unwrap_or(1440);
    let step_ms = step * 60_000;
    let mut ticks = Vec::new();
    // Round in local time: the zone's offset at the start.
    let offset_ms = chrono::DateTime::from_timestamp_millis(from_ms)
        .map(|t| {
            use chrono::Offset;
            i64::from(t.with_timezone(&tz).offset().fix().local_minus_utc()) * 1000
        })
        .unwrap_or(0);
    let mut t = (from_ms + offset_ms).div_euclid(step_ms) * step_ms - offset_ms;
    if t < from_ms {
        t += step_ms;
    }
    let mut last_day = None;
    while t <= to_ms && ticks.len() < 40 {
        if let Some(local) =
            chrono::DateTime::from_timestamp_millis(t).map(|u| u.with_timezone(&tz))
        {
            let day = local.date_naive();
            let label = if last_day.is_some_and(|d| d != day)
                || (local.hour() == 0 && local.minute() == 0)
            {
                local.format("%b %-d %H:%M").to_string()
            } else {
                local.format("%H:%M").to_string()
            };
            last_day = Some(day);
            ticks.push((t as f64, label));
        }
        t += step_ms;
    }
    ticks
}

/// Evenly spaced y ticks from 0 to about `max` (at most 6), labelled.
pub fn y_ticks(max: f64, label: impl Fn(f64) -> String) -> (f64, Vec<(f64, String)>) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let top = (max / step).ceil() * step;
    let ticks = (0..=((top / step).round() as usize))
        .map(|i| {
            let v = step * i as f64;
            (v, label(v))
        })
        .collect();
    (top, ticks)
}

/// A whole HTML page with `body`, styled inline.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title>
<style>
body {{ font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; }}
h1 {{ font-size: 1.5rem; margin-bottom: .2rem; }}
h2 {{ font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #dde; padding-bottom: .2rem; }}
p.note {{ color: #555; font-size: .9rem; }}
svg {{ width: 100%; height: auto; display: block; }}
svg text {{ font: 12px system-ui, sans-serif; fill: #333; }}
svg text.band {{ font-size: 11px; fill: #667; }}
svg text.value {{ font-size: 11px; fill: #222; }}
table {{ border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }}
th, td {{ padding: .2rem .6rem; border-bottom: 1px solid #eee; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
.figure {{ background: #f5f7fb; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }}
.figure b {{ display: block; font-size: 1.4rem; }}
pre {{ overflow-x: auto; font-size: .8rem; background: #f8f9fb; padding: .6rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"#,
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_window_on_the_local_clock() {
        let parts = crate::station::ScheduleConfig::default().day_parts;
        let from = chrono::DateTime::parse_from_rfc3339("2026-03-02T07:00:00Z")
            .expect("literal")
            .timestamp_millis();
        let to = from + 4 * 3_600_000;
        let bands = day_part_bands(chrono_tz::UTC, &parts, from, to);
        let names: Vec<&str> = bands.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(names, ["before dawn", "morning", "focus"]);
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
        let bands = day_part_bands(berlin, &parts, from, to);
        // 07:00 UTC is 08:00 in Berlin in March: the morning has begun.
        assert_eq!(bands[0].label, "morning");
        assert_eq!(bands[0].x0 as i64, from);
    }

    #[test]
    fn ticks_and_escaping() {
        let (top, ticks) = y_ticks(3.2, |v| format!("{v}"));
        assert_eq!(top, 4.0);
        assert_eq!(ticks.len(), 5);
        let t = time_ticks(chrono_tz::UTC, 0, 3_600_000);
        assert!(t.len() >= 4 && t.len() <= 9, "{t:?}");
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        let svg = LineChart {
            height: 200.0,
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            x_ticks: vec![],
            y_ticks: vec![],
            bands: vec![],
            series: vec![Series {
                name: "a".into(),
                points: vec![(0.0, 0.0), (0.5, f64::NAN), (1.0, 1.0)],
                color: COLORS[0],
                dashed: false,
                step: true,
            }],
            title: "t".into(),
        }
        .svg();
        assert_eq!(svg.matches("<path").count(), 1);
    }
}

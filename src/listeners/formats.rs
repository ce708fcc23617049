//! Access-log line formats: recognising a file's format from its first lines
//! and reading one line into a [`Request`], byte by byte (no regex, no
//! allocation for the text formats).
//!
//! | format | written by | how it is recognised |
//! |---|---|---|
//! | [`Format::Common`] | nginx, Apache, Caddy's `common_log`, most others: `%h %l %u [%t] "%r" %>s %b` and, combined, `"%{Referer}i" "%{User-agent}i"` | the fourth field is `[time]` |
//! | [`Format::S3`] | Amazon S3 server access logs (and stores that copy them) | the third field is `[time]` |
//! | [`Format::W3c`] | CloudFront standard logs, IIS: W3C extended with a `#Fields:` header | the file starts with `#Version:` or `#Fields:` |
//! | [`Format::Json`] | Cloudflare Logpush, Fastly JSON logging, Caddy's structured log: one JSON object a line | the line starts with `{` |
//!
//! A line that is well-formed but not a request for a media segment (the page,
//! the MPD, a failed request, a HEAD) is [`Line::Other`]; one that cannot be
//! read in its file's format is [`Line::Bad`] with the reason, which the
//! caller counts and shows once (never an error that stops the run).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime};

/// How many of a file's first lines are looked at to recognise its format.
pub const DETECT_LINES: usize = 20;

/// A log file's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Common or combined log format.
    Common,
    /// Amazon S3 server access log.
    S3,
    /// W3C extended log (CloudFront standard logs), fields as its header names them.
    W3c(W3cFields),
    /// One JSON object a line.
    Json,
}

impl Format {
    /// The format's name, for the report.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Common => "common/combined",
            Format::S3 => "Amazon S3 server access log",
            Format::W3c(_) => "W3C extended (CloudFront)",
            Format::Json => "JSON lines",
        }
    }
}

/// Where the fields lie in a W3C extended log's lines (from `#Fields:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct W3cFields {
    date: usize,
    time: usize,
    ip: usize,
    uri: usize,
    status: usize,
    ua: Option<usize>,
    method: Option<usize>,
    count: usize,
    /// Field separator: a tab (CloudFront) or a space (IIS).
    sep: u8,
}

impl W3cFields {
    /// Reads a `#Fields: a b c` directive; `Err` names what is missing.
    pub fn parse(directive: &[u8]) -> Result<W3cFields, String> {
        let names = directive
            .strip_prefix(b"#Fields:")
            .ok_or("not a #Fields: line")?;
        let names: Vec<&[u8]> = names
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|n| !n.is_empty())
            .collect();
        let find = |name: &str| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        };
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                format!("the #Fields: header has no {name} field (it needs date, time, c-ip, cs-uri-stem and sc-status)")
            })
        };
        Ok(W3cFields {
            date: need("date")?,
            time: need("time")?,
            ip: need("c-ip")?,
            uri: need("cs-uri-stem")?,
            status: need("sc-status")?,
            ua: find("cs(User-Agent)"),
            method: find("cs-method"),
            count: names.len(),
            sep: b'\t',
        })
    }
}

/// One request read from a log line. Text fields are as the log writes them
/// (a CloudFront user agent stays URL-encoded): they are only hashed and
/// matched, never shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// When it was made (or logged), Unix milliseconds.
    pub t_ms: i64,
    /// The client address.
    pub addr: Cow<'a, [u8]>,
    /// The user agent (empty when the log has none).
    pub ua: Cow<'a, [u8]>,
    /// The path or object key, query string possibly attached.
    pub path: Cow<'a, [u8]>,
    /// HTTP status.
    pub status: u16,
    /// A GET (an S3 `REST.GET.OBJECT`); a HEAD or anything else fetches no audio.
    pub get: bool,
    /// The client's country, when the log has it.
    pub country: Option<Cow<'a, str>>,
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// A request.
    Request(Request<'a>),
    /// A blank line or a directive (`#…` in W3C logs).
    Skip,
    /// Not readable in the file's format, and why.
    Bad(&'static str),
}

/// Recognises the format from a file's first lines; `None` when no line
/// looks like any known format.
pub fn detect<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<Format> {
    let mut votes = [0usize; 3];
    let mut fields: Option<W3cFields> = None;
    let mut w3c = false;
    for line in lines
        .into_iter()
        .map(trim_end)
        .filter(|l| !l.is_empty())
        .take(DETECT_LINES)
    {
        if line.starts_with(b"#Version:") || line.starts_with(b"#Fields:") {
            w3c = true;
            if line.starts_with(b"#Fields:") {
                fields = W3cFields::parse(line).ok();
            }
            continue;
        }
        if w3c {
            if let Some(f) = fields.as_mut() {
                if !line.contains(&b'\t') {
                    f.sep = b' ';
                }
            }
            break;
        }
        if line.first() == Some(&b'{') {
            votes[2] += 1;
            continue;
        }
        let mut toks = Tokens::new(line);
        let firsts: Vec<&[u8]> = (0..4).map_while(|_| toks.next_raw()).collect();
        match firsts.as_slice() {
            [_, _, _, t, ..] if t.first() == Some(&b'[') => votes[0] += 1,
            [_, _, t, ..] if t.first() == Some(&b'[') => votes[1] += 1,
            _ => {}
        }
    }
    if w3c {
        return fields.map(Format::W3c);
    }
    let best = (0..3).max_by_key(|i| votes[*i])?;
    if votes[best] == 0 {
        return None;
    }
    Some([Format::Common, Format::S3, Format::Json][best].clone())
}

/// Reads one line (without its newline) in `format`.
pub fn parse_line<'a>(format: &Format, line: &'a [u8]) -> Line<'a> {
    let line = trim_end(line);
    if line.is_empty() {
        return Line::Skip;
    }
    match format {
        Format::Common => common(line),
        Format::S3 => s3(line),
        Format::W3c(f) => w3c(f, line),
        Format::Json => json(line),
    }
}

fn trim_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b'\n' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}

/// Space-separated fields where `[…]` and `"…"` (with `\"` escapes) are
/// one field each.
struct Tokens<'a> {
    rest: &'a [u8],
}

impl<'a> Tokens<'a> {
    fn new(line: &'a [u8]) -> Tokens<'a> {
        Tokens { rest: line }
    }

    /// The next field with its brackets or quotes, or `None` at the end or
    /// at an unterminated bracket or quote.
    fn next_raw(&mut self) -> Option<&'a [u8]> {
        let s = self.rest;
        let start = s.iter().position(|b| *b != b' ')?;
        let s = &s[start..];
        let end = match s[0] {
            b'[' => s.iter().position(|b| *b == b']')? + 1,
            b'"' => {
                let mut i = 1;
                loop {
                    match s.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break i + 1,
                        _ => i += 1,
                    }
                }
            }
            _ => s.iter().position(|b| *b == b' ').unwrap_or(s.len()),
        };
        self.rest = &s[end..];
        Some(&s[..end])
    }

    /// The next field without its brackets or quotes.
    fn next(&mut self) -> Option<&'a [u8]> {
        let t = self.next_raw()?;
        Some(match t.first() {
            Some(b'[' | b'"') if t.len() >= 2 => &t[1..t.len() - 1],
            _ => t,
        })
    }
}

/// `%h %l %u [%t] "%r" %>s %b ["%{Referer}i" "%{User-agent}i"]`.
fn common(line: &[u8]) -> Line<'_> {
    let mut t = Tokens::new(line);
    let (Some(addr), Some(_), Some(_), Some(time)) = (t.next(), t.next(), t.next(), t.next_raw())
    else {
        return Line::Bad("fewer fields than the common log format has");
    };
    if time.first() != Some(&b'[') {
        return Line::Bad("the fourth field is not a [time]");
    }
    let Some(t_ms) = clf_time(&time[1..time.len() - 1]) else {
        return Line::Bad("the time is not like [10/Oct/2026:13:55:36 +0000]");
    };
    let Some(request) = t.next() else {
        return Line::Bad("no request field after the time");
    };
    let Some(status) = t.next().and_then(status) else {
        return Line::Bad("the status is not a number");
    };
    let _bytes = t.next();
    let _referer = t.next();
    let ua = t.next().unwrap_or(b"");
    let (get, path) = request_line(request);
    Line::Request(Request {
        t_ms,
        addr: Cow::Borrowed(addr),
        ua: Cow::Borrowed(dash_empty(ua)),
        path: Cow::Borrowed(path),
        status,
        get,
        country: None,
    })
}

/// Amazon S3 server access log: `owner bucket [time] ip requester id
/// operation key "request-uri" status error bytes size total turnaround
/// "referer" "user-agent" …` (later fields are not needed).
fn s3(line: &[u8]) -> Line<'_> {
    let mut t = Tokens::new(line);
    let mut f: [&[u8]; 17] = [b""; 17];
    for (i, slot) in f.iter_mut().enumerate() {
        let next = if i == 2 { t.next_raw() } else { t.next() };
        match next {
            Some(v) => *slot = v,
            None => {
                return Line::Bad(
                    "fewer than the 17 fields an S3 access log line has up to the user agent",
                )
            }
        }
    }
    let time = f[2];
    if time.first() != Some(&b'[') {
        return Line::Bad("the third field is not a [time]");
    }
    let Some(t_ms) = clf_time(&time[1..time.len() - 1]) else {
        return Line::Bad("the time is not like [06/Feb/2026:00:00:38 +0000]");
    };
    let Some(status) = status(f[9]) else {
        return Line::Bad("the HTTP status (10th field) is not a number");
    };
    Line::Request(Request {
        t_ms,
        addr: Cow::Borrowed(f[3]),
        ua: Cow::Borrowed(dash_empty(f[16])),
        path: Cow::Borrowed(dash_empty(f[7])),
        status,
        get: f[6] == b"REST.GET.OBJECT",
        country: None,
    })
}

/// A W3C extended line, fields as the file's `#Fields:` header says.
fn w3c<'a>(f: &W3cFields, line: &'a [u8]) -> Line<'a> {
    if line.first() == Some(&b'#') {
        return Line::Skip;
    }
    let mut fields: [&[u8]; 64] = [b""; 64];
    let mut n = 0;
    for v in line.split(|b| *b == f.sep) {
        if n < fields.len() {
            fields[n] = v;
        }
        n += 1;
    }
    if n != f.count {
        return Line::Bad("the number of fields differs from the #Fields: header");
    }
    let Some(t_ms) = w3c_time(fields[f.date], fields[f.time]) else {
        return Line::Bad("the date and time are not like 2026-12-04 21:02:31");
    };
    let Some(status) = status(fields[f.status]) else {
        return Line::Bad("sc-status is not a number");
    };
    Line::Request(Request {
        t_ms,
        addr: Cow::Borrowed(fields[f.ip]),
        ua: Cow::Borrowed(f.ua.map_or(&b""[..], |i| dash_empty(fields[i]))),
        path: Cow::Borrowed(fields[f.uri]),
        status,
        get: f.method.is_none_or(|i| fields[i] == b"GET"),
        country: None,
    })
}

/// Field names of the JSON log formats, first match wins: Cloudflare's
/// HTTP requests dataset, then common Fastly/custom names, then Caddy's
/// nested `request` object.
const JSON_ADDR: &[&str] = &[
    "ClientIP",
    "client_ip",
    "clientIp",
    "remote_addr",
    "ip",
    "request.client_ip",
    "request.remote_ip",
];
const JSON_UA: &[&str] = &[
    "ClientRequestUserAgent",
    "request_user_agent",
    "user_agent",
    "http_user_agent",
    "request.headers.User-Agent",
];
const JSON_PATH: &[&str] = &[
    "ClientRequestURI",
    "ClientRequestPath",
    "url",
    "uri",
    "request_uri",
    "path",
    "request.uri",
];
const JSON_TIME: &[&str] = &[
    "EdgeStartTimestamp",
    "timestamp",
    "time",
    "ts",
    "@timestamp",
    "start_time",
];
const JSON_STATUS: &[&str] = &[
    "EdgeResponseStatus",
    "response_status",
    "status",
    "status_code",
];
const JSON_METHOD: &[&str] = &[
    "ClientRequestMethod",
    "request_method",
    "method",
    "request.method",
];
const JSON_COUNTRY: &[&str] = &[
    "ClientCountry",
    "geo_country_code",
    "country_code",
    "geo_country",
    "country",
    "client_country",
];

fn json(line: &[u8]) -> Line<'_> {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(line) else {
        return Line::Bad("not a JSON object");
    };
    let get = |names: &[&str]| -> Option<&serde_json::Value> {
        names.iter().find_map(|name| {
            let mut parts = name.split('.');
            let mut v = o.get(parts.next()?)?;
            for p in parts {
                v = v.get(p)?;
            }
            // Caddy keeps each header as a list of values.
            match v {
                serde_json::Value::Array(a) => a.first(),
                serde_json::Value::Null => None,
                v => Some(v),
            }
        })
    };
    let text = |names: &[&str]| get(names).and_then(|v| v.as_str()).map(str::to_string);
    let Some(addr) = text(JSON_ADDR) else {
        return Line::Bad("no client address (ClientIP, client_ip, remote_addr, …)");
    };
    let Some(path) = text(JSON_PATH) else {
        return Line::Bad("no request path (ClientRequestURI, url, uri, …)");
    };
    let Some(t_ms) = get(JSON_TIME).and_then(json_time) else {
        return Line::Bad("no readable time (EdgeStartTimestamp, timestamp, ts, …)");
    };
    let status = match get(JSON_STATUS) {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(status) = status else {
        return Line::Bad("no numeric status (EdgeResponseStatus, status, …)");
    };
    let method = text(JSON_METHOD);
    Line::Request(Request {
        t_ms,
        addr: Cow::Owned(addr.into_bytes()),
        ua: Cow::Owned(text(JSON_UA).unwrap_or_default().into_bytes()),
        path: Cow::Owned(path.into_bytes()),
        status,
        get: method.is_none_or(|m| m.eq_ignore_ascii_case("GET")),
        country: text(JSON_COUNTRY)
            .filter(|c| !c.is_empty() && c != "-" && c.len() <= 40)
            .map(Cow::Owned),
    })
}

/// A JSON time: a number of Unix seconds, milliseconds, microseconds or
/// nanoseconds (told apart by size), or an RFC 3339 / ISO 8601 string.
fn json_time(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => {
            let x = n.as_f64()?;
            let ms = if x > 1e17 {
                x / 1e6
            } else if x > 1e14 {
                x / 1e3
            } else if x > 1e11 {
                x
            } else {
                x * 1e3
            };
            (ms.is_finite() && ms.abs() < 1e15).then_some(ms.floor() as i64)
        }
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.timestamp_millis());
            }
            if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
                return Some(t.timestamp_millis());
            }
            if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
                return Some(t.and_utc().timestamp_millis());
            }
            clf_time(s.trim_start_matches('[').trim_end_matches(']').as_bytes())
        }
        _ => None,
    }
}

/// `"GET /96k/12.m4s HTTP/1.1"` → (is a GET, the target).
fn request_line(r: &[u8]) -> (bool, &[u8]) {
    let mut parts = r.split(|b| *b == b' ').filter(|p| !p.is_empty());
    let method = parts.next().unwrap_or(b"");
    let target = parts.next().unwrap_or(b"");
    (method == b"GET", target)
}

fn dash_empty(v: &[u8]) -> &[u8] {
    if v == b"-" {
        b""
    } else {
        v
    }
}

fn status(v: &[u8]) -> Option<u16> {
    if v.is_empty() || v.len() > 3 {
        return None;
    }
    digits(v).and_then(|n| u16::try_from(n).ok())
}

fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 {
        return None;
    }
    let mut n = 0u64;
    for b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// `10/Oct/2026:13:55:36 -0700` → Unix milliseconds.
pub fn clf_time(s: &[u8]) -> Option<i64> {
    // dd/Mon/yyyy:hh:mm:ss +hhmm
    if s.len() < 20 || s[2] != b'/' || s[6] != b'/' || s[11] != b':' {
        return None;
    }
    let day = digits(&s[0..2])?;
    let month = match &s[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = digits(&s[7..11])?;
    let secs = clock(&s[12..20])?;
    let offset = match s.get(20..) {
        None | Some(b"") => 0,
        Some(z) => zone(z)?,
    };
    let days = days_from_civil(year as i64, month, day as u32)?;
    Some((days * 86_400 + secs - offset) * 1000)
}

/// `2026-12-04` and `21:02:31` (optionally `.123`) in UTC → Unix milliseconds.
pub fn w3c_time(date: &[u8], time: &[u8]) -> Option<i64> {
    if date.len() != 10 || date[4] != b'-' || date[7] != b'-' || time.len() < 8 {
        return None;
    }
    let days = days_from_civil(
        digits(&date[0..4])? as i64,
        digits(&date[5..7])? as u32,
        digits(&date[8..10])? as u32,
    )?;
    let secs = clock(&time[..8])?;
    let ms = match time.get(8..) {
        None | Some(b"") => 0,
        Some([b'.', frac @ ..]) if !frac.is_empty() => {
            let f = &frac[..frac.len().min(3)];
            let v = digits(f)? as i64;
            v * [100, 10, 1][f.len() - 1]
        }
        _ => return None,
    };
    Some((days * 86_400 + secs) * 1000 + ms)
}

/// `hh:mm:ss` → seconds of the day.
fn clock(s: &[u8]) -> Option<i64> {
    if s.len() != 8 || s[2] != b':' || s[5] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&s[0..2])?, digits(&s[3..5])?, digits(&s[6..8])?);
    (h < 24 && m < 60 && sec < 61).then_some((h * 3600 + m * 60 + sec) as i64)
}

/// ` +hhmm` / `-hhmm` → seconds east of UTC.
fn zone(z: &[u8]) -> Option<i64> {
    let z = z.strip_prefix(b" ").unwrap_or(z);
    if z.len() != 5 {
        return None;
    }
    let sign = match z[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = (digits(&z[1..3])? as i64, digits(&z[3..5])? as i64);
    Some(sign * (h * 3600 + m * 60))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm); `None` for an impossible month or day.
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max = if m == 2 && leap {
        29
    } else {
        *month_days.get(m.checked_sub(1)? as usize)?
    };
    if d == 0 || d > max {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(format: &Format, line: &str) -> Request<'static> {
        let line: &'static str = Box::leak(line.to_string().into_boxed_str());
        match parse_line(format, line.as_bytes()) {
            Line::Request(r) => r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn times_parse_exactly() {
        let t = clf_time(b"10/Oct/2000:13:55:36 -0700").expect("valid");
        assert_eq!(t, 971_211_336_000);
        assert_eq!(clf_time(b"01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(clf_time(b"29/Feb/2026:00:00:00 +0000"), None);
        assert!(clf_time(b"29/Feb/2028:00:00:00 +0000").is_some());
        assert_eq!(clf_time(b"10/Foo/2000:13:55:36 -0700"), None);
        assert_eq!(
            w3c_time(b"2019-12-04", b"21:02:31"),
            Some(1_575_493_351_000)
        );
        assert_eq!(
            w3c_time(b"2019-12-04", b"21:02:31.25"),
            Some(1_575_493_351_250)
        );
        assert_eq!(w3c_time(b"2019-13-04", b"21:02:31"), None);
    }

    #[test]
    fn combined_lines_with_escapes_and_missing_fields() {
        let r = req(
            &Format::Common,
            r#"203.0.113.9 - - [03/Dec/2026:16:00:01 +0000] "GET /96k/123.m4s?x=1 HTTP/1.1" 200 4321 "http://r/a \"b\"" "Mozilla/5.0 (X11) Firefox/120.0""#,
        );
        assert_eq!(&*r.addr, b"203.0.113.9");
        assert_eq!(&*r.path, b"/96k/123.m4s?x=1");
        assert_eq!(r.status, 200);
        assert!(r.get);
        assert!(String::from_utf8_lossy(&r.ua).contains("Firefox"));
        // Common format: no user agent.
        let r = req(
            &Format::Common,
            "::1 - frank [03/Dec/2026:16:00:01 +0100] \"HEAD /clock.txt HTTP/1.1\" 200 -",
        );
        assert!(!r.get && r.ua.is_empty());
        assert!(matches!(
            parse_line(
                &Format::Common,
                b"::1 - - [03/Dec/2026:16:00 +0000] \"GET / HTTP/1.1\" 200 1"
            ),
            Line::Bad(_)
        ));
        assert!(matches!(
            parse_line(
                &Format::Common,
                b"::1 - - [03/Dec/2026:16:00:01 +0000] \"GET / HTTP/1.1"
            ),
            Line::Bad(_)
        ));
    }

    #[test]
    fn json_time_units() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("json");
        let want = 1_764_777_600_000;
        assert_eq!(json_time(&v("1764777600")), Some(want));
        assert_eq!(json_time(&v("1764777600.5")), Some(want + 500));
        assert_eq!(json_time(&v("1764777600000")), Some(want));
        assert_eq!(json_time(&v("1764777600000000000")), Some(want));
        assert_eq!(json_time(&v("\"2025-12-03T16:00:00Z\"")), Some(want));
        assert_eq!(json_time(&v("\"2025-12-03T17:00:00+0100\"")), Some(want));
    }

    #[test]
    fn detection_votes_on_the_first_lines() {
        let common = b"1.2.3.4 - - [03/Dec/2026:16:00:01 +0000] \"GET / HTTP/1.1\" 200 1";
        let s3 = b"79a5 bucket [06/Feb/2026:00:00:38 +0000] 192.0.2.3 79a5 3E57 REST.GET.OBJECT k \"GET /k HTTP/1.1\" 200 - 1 1 1 1 \"-\" \"ua\" -";
        assert_eq!(detect([&common[..], &common[..]]), Some(Format::Common));
        assert_eq!(detect([&s3[..]]), Some(Format::S3));
        assert_eq!(detect([&b"{\"a\":1}"[..]]), Some(Format::Json));
        assert_eq!(detect([&b"hello world"[..]]), None);
        let f = detect([
            &b"#Version: 1.0"[..],
            &b"#Fields: date time c-ip cs-uri-stem sc-status"[..],
            &b"2026-12-04\t21:02:31\t1.2.3.4\t/96k/1.m4s\t200"[..],
        ]);
        assert!(matches!(f, Some(Format::W3c(_))), "{f:?}");
        // A header without the fields needed: not readable.
        assert_eq!(detect([&b"#Fields: date time"[..]]), None);
    }
}

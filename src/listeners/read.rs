//! Reading logs: files, gzipped files (read transparently, whatever their
//! name) and standard input, in blocks; each block is cut at line ends into
//! pieces parsed in parallel (rayon), so a log of millions of lines takes
//! seconds and memory stays at a block plus the segment requests kept.
//!
//! Only segment requests (`…/<N>k/<S>.m4s`, a GET answered below 400) are
//! kept, each as a [`Hit`]: when, which listener (a hash, see below), which
//! segment and rendition. Everything else only counts as a line.
//!
//! Privacy: a listener is the pair (client address, user agent). The pair
//! is hashed at once with SipHash under a random key made for this run
//! ([`std::collections::hash_map::RandomState`]); the address itself is
//! never kept, printed or written, and the key dies with the process, so
//! the hashes of two runs cannot be matched with each other or reversed.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::formats::{self, Format, Line};
use crate::error::{Error, Result};

/// Bytes read at a time; each block is parsed in parallel.
const BLOCK: usize = 32 << 20;
/// Bytes per parallel piece of a block.
const PIECE: usize = 512 << 10;

/// Where a log comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file (gzipped or not).
    File(PathBuf),
    /// Standard input (gzipped or not).
    Stdin,
}

impl Input {
    /// `-` is standard input, anything else a file.
    pub fn from_arg(arg: &Path) -> Input {
        if arg == Path::new("-") {
            Input::Stdin
        } else {
            Input::File(arg.to_path_buf())
        }
    }

    /// The name shown in the report.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
        }
    }
}

/// One request for a media segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// The listener: a keyed hash of (address, user agent).
    pub who: u64,
    /// Unix milliseconds.
    pub t_ms: i64,
    /// Segment number.
    pub segment: u64,
    /// Rendition bitrate in kb/s (the folder `96k` is 96).
    pub kbps: u32,
}

/// What is known of a listener besides its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// Browser or player family from the user agent.
    pub player: &'static str,
    /// Operating system from the user agent.
    pub platform: &'static str,
    /// Country, if the log has it.
    pub country: Option<String>,
}

/// The first bad line of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// Line number, from 1.
    pub line: u64,
    /// Why it could not be read.
    pub reason: &'static str,
    /// The line, cut to 200 characters.
    pub text: String,
}

/// What one log file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// File name (or `<stdin>`).
    pub name: String,
    /// Format recognised.
    pub format: &'static str,
    /// Lines read.
    pub lines: u64,
    /// Requests for media segments kept.
    pub segment_requests: u64,
    /// Lines that could not be read.
    pub bad: u64,
    /// The first of them.
    pub first_bad: Option<BadLine>,
}

/// Everything read from all logs.
#[derive(Debug, Default)]
pub struct Logs {
    /// Segment requests in the window.
    pub hits: Vec<Hit>,
    /// Per listener hash.
    pub who: HashMap<u64, Who>,
    /// Per file.
    pub files: Vec<FileSummary>,
    /// Files that could not be read at all, and why.
    pub unreadable: Vec<String>,
    /// Earliest and latest request time of any kind in the window (ms).
    pub span: Option<(i64, i64)>,
}

/// Reading options.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Keep requests from this time on (Unix ms).
    pub from_ms: Option<i64>,
    /// Keep requests before this time (Unix ms).
    pub to_ms: Option<i64>,
    /// The per-run hash key.
    pub salt: std::collections::hash_map::RandomState,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            from_ms: None,
            to_ms: None,
            salt: std::collections::hash_map::RandomState::new(),
        }
    }
}

/// Reads every input. A file that cannot be opened, or whose format cannot
/// be recognised, is listed in [`Logs::unreadable`] and the others are read.
pub fn read(inputs: &[Input], opts: &ReadOptions) -> Logs {
    let mut logs = Logs::default();
    for input in inputs {
        match read_one(input, opts, &mut logs) {
            Ok(summary) => logs.files.push(summary),
            Err(e) => logs.unreadable.push(e.to_string()),
        }
    }
    logs
}

fn open(input: &Input) -> Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = match input {
        Input::File(p) => Box::new(std::fs::File::open(p).map_err(|e| Error::io(p, e))?),
        Input::Stdin => Box::new(std::io::stdin()),
    };
    let mut buf = BufReader::with_capacity(1 << 20, raw);
    let head = buf.fill_buf().map_err(|e| Error::io(input.name(), e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(buf),
        )))
    } else {
        Ok(Box::new(buf))
    }
}

fn read_one(input: &Input, opts: &ReadOptions, logs: &mut Logs) -> Result<FileSummary> {
    let name = input.name();
    let mut reader = open(input)?;
    let mut summary = FileSummary {
        name: name.clone(),
        format: "",
        lines: 0,
        segment_requests: 0,
        bad: 0,
        first_bad: None,
    };
    let mut format: Option<Format> = None;
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 20));
    let mut eof = false;
    let mut target = BLOCK;
    while !eof {
        // Fill the block, then cut it after its last newline; the rest
        // starts the next block.
        while block.len() < target {
            let chunk = reader.fill_buf().map_err(|e| Error::io(&name, e))?;
            if chunk.is_empty() {
                eof = true;
                break;
            }
            let n = chunk.len().min(target - block.len());
            block.extend_from_slice(&chunk[..n]);
            reader.consume(n);
        }
        let cut = if eof {
            block.len()
        } else {
            match block.iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                // One line longer than a block: read on until its end.
                None => {
                    target = block.len() + BLOCK;
                    continue;
                }
            }
        };
        target = BLOCK;
        if format.is_none() {
            let first = block[..cut].split(|b| *b == b'\n');
            format = Some(formats::detect(first).ok_or_else(|| Error::Log {
                log: name.clone(),
                message: format!(
                    "not an access log lofiever can read (first line: {:?}); it reads the \
                     common/combined format, S3 server access logs, CloudFront/W3C logs with a \
                     #Fields: header and JSON lines",
                    block[..cut]
                        .split(|b| *b == b'\n')
                        .next()
                        .map(short)
                        .unwrap_or_default()
                ),
            })?);
        }
        let Some(fmt) = format.as_ref() else { break };
        summary.format = fmt.name();
        parse_block(&block[..cut], fmt, opts, &mut summary, logs);
        block.drain(..cut);
    }
    if format.is_none() {
        return Err(Error::Log {
            log: name,
            message: "is empty".into(),
        });
    }
    Ok(summary)
}

/// What one piece of a block held.
#[derive(Default)]
struct Piece {
    hits: Vec<Hit>,
    who: HashMap<u64, Who>,
    lines: u64,
    bad: u64,
    first_bad: Option<BadLine>,
    span: Option<(i64, i64)>,
}

fn parse_block(
    block: &[u8],
    format: &Format,
    opts: &ReadOptions,
    summary: &mut FileSummary,
    logs: &mut Logs,
) {
    // Pieces of about PIECE bytes, each ending at a line end.
    let mut bounds = Vec::new();
    let mut start = 0;
    while start < block.len() {
        let mut end = (start + PIECE).min(block.len());
        if end < block.len() {
            end = block[end..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(block.len(), |i| end + i + 1);
        }
        bounds.push((start, end));
        start = end;
    }
    let pieces: Vec<Piece> = bounds
        .par_iter()
        .map(|&(s, e)| parse_piece(&block[s..e], format, opts))
        .collect();
    for p in pieces {
        if let (Some(b), None) = (p.first_bad, &summary.first_bad) {
            summary.first_bad = Some(BadLine {
                line: summary.lines + b.line,
                ..b
            });
        }
        summary.lines += p.lines;
        summary.bad += p.bad;
        summary.segment_requests += p.hits.len() as u64;
        logs.hits.extend_from_slice(&p.hits);
        for (k, v) in p.who {
            logs.who.entry(k).or_insert(v);
        }
        if let Some((a, b)) = p.span {
            logs.span = Some(match logs.span {
                Some((x, y)) => (x.min(a), y.max(b)),
                None => (a, b),
            });
        }
    }
}

fn parse_piece(piece: &[u8], format: &Format, opts: &ReadOptions) -> Piece {
    let mut out = Piece::default();
    // Few user agents, many listeners: classify each user agent once.
    let mut agents: HashMap<Vec<u8>, (&'static str, &'static str)> = HashMap::new();
    let body = piece.strip_suffix(b"\n").unwrap_or(piece);
    if body.is_empty() && piece.is_empty() {
        return out;
    }
    for line in body.split(|b| *b == b'\n') {
        out.lines += 1;
        let r = match formats::parse_line(format, line) {
            Line::Request(r) => r,
            Line::Skip => continue,
            Line::Bad(reason) => {
                out.bad += 1;
                if out.first_bad.is_none() {
                    out.first_bad = Some(BadLine {
                        line: out.lines,
                        reason,
                        text: short(line),
                    });
                }
                continue;
            }
        };
        if opts.from_ms.is_some_and(|f| r.t_ms < f) || opts.to_ms.is_some_and(|t| r.t_ms >= t) {
            continue;
        }
        out.span = Some(match out.span {
            Some((a, b)) => (a.min(r.t_ms), b.max(r.t_ms)),
            None => (r.t_ms, r.t_ms),
        });
        if !r.get || r.status >= 400 {
            continue;
        }
        let Some((kbps, segment)) = segment_of(&r.path) else {
            continue;
        };
        let who = opts.salt.hash_one((&*r.addr, &*r.ua));
        out.who.entry(who).or_insert_with(|| {
            let (player, platform) = match agents.get(&*r.ua) {
                Some(known) => *known,
                None => {
                    let kind = (player(&r.ua), platform(&r.ua));
                    agents.insert(r.ua.to_vec(), kind);
                    kind
                }
            };
            Who {
                player,
                platform,
                country: r.country.as_deref().map(str::to_string),
            }
        });
        out.hits.push(Hit {
            who,
            t_ms: r.t_ms,
            segment,
            kbps,
        });
    }
    out
}

/// The rendition (kb/s) and segment number of a request path ending in
/// `<N>k/<S>.m4s` (any prefix, query string ignored).
pub fn segment_of(path: &[u8]) -> Option<(u32, u64)> {
    let end = path
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .unwrap_or(path.len());
    let path = &path[..end];
    let file_at = path.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1);
    let folder_at = path[..file_at.saturating_sub(1)]
        .iter()
        .rposition(|b| *b == b'/')
        .map_or(0, |i| i + 1);
    let key = std::str::from_utf8(&path[folder_at..]).ok()?;
    let segment = crate::station::layout::segment_number(key)?;
    let kbps = key.split_once('k')?.0.parse().ok()?;
    Some((kbps, segment.0))
}

/// A line as shown in the report: cut to 200 characters, with every IP
/// address in it replaced by `<address>` (a bad line is shown, and no
/// address may be).
fn short(line: &[u8]) -> String {
    let text = redact(&String::from_utf8_lossy(line));
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// `text` with every run of hex digits, dots and colons that is an IPv4 or
/// IPv6 address replaced by `<address>`.
pub fn redact(text: &str) -> String {
    let is_addr_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        // Trailing punctuation ("1.2.3.4:" or "host.") is not part of it.
        let core = run.trim_end_matches(['.', ':']);
        if core.parse::<std::net::IpAddr>().is_ok() {
            out.push_str("<address>");
            out.push_str(&run[core.len()..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_addr_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn has(ua: &[u8], needle: &str) -> bool {
    ua.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The browser or player family of a user agent. The web players (dash.js,
/// Shaka) do not show in it, so a page listener is its browser.
pub fn player(ua: &[u8]) -> &'static str {
    const FAMILIES: &[(&str, &str)] = &[
        ("HeadlessChrome", "Headless Chrome"),
        ("Edg", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS", "Firefox"),
        ("CriOS", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chrome"),
        ("Safari/", "Safari"),
        ("AppleCoreMedia", "Apple media player"),
        ("VLC", "VLC"),
        ("Lavf", "ffmpeg"),
        ("ExoPlayer", "ExoPlayer"),
        ("stagefright", "Android media player"),
        ("curl/", "curl"),
        ("Wget", "Wget"),
        ("bot", "bot"),
        ("spider", "bot"),
        ("crawl", "bot"),
    ];
    if ua.is_empty() {
        return "unknown (no user agent)";
    }
    FAMILIES
        .iter()
        .find(|(needle, _)| has(ua, needle))
        .map_or("other", |(_, name)| name)
}

/// The operating system of a user agent.
pub fn platform(ua: &[u8]) -> &'static str {
    const PLATFORMS: &[(&str, &str)] = &[
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Mac%20OS%20X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    PLATFORMS
        .iter()
        .find(|(needle, _)| has(ua, needle))
        .map_or("other", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_never_shown() {
        assert_eq!(
            redact(
                "192.0.2.10 - - [03/Dec/2026:16:00:04 +0000] \"GET /a HTTP/1.1\" 2001:db8::7,::1 x"
            ),
            "<address> - - [03/Dec/2026:16:00:04 +0000] \"GET /a HTTP/1.1\" <address>,<address> x"
        );
        assert_eq!(
            redact("2026-12-03\t16:00:04\tbeef"),
            "2026-12-03\t16:00:04\tbeef"
        );
    }

    #[test]
    fn segment_paths() {
        assert_eq!(segment_of(b"/96k/123.m4s"), Some((96, 123)));
        assert_eq!(segment_of(b"/radio/160k/7.m4s?t=1"), Some((160, 7)));
        assert_eq!(segment_of(b"radio/64k/0.m4s"), Some((64, 0)));
        assert_eq!(segment_of(b"64k/0.m4s"), Some((64, 0)));
        for p in [
            &b"/96k/init.mp4"[..],
            b"/stream.mpd",
            b"/schedule/1.m4s",
            b"/96k/12a.m4s",
            b"12.m4s",
            b"",
        ] {
            assert_eq!(segment_of(p), None, "{}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn user_agents() {
        let chrome = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(player(chrome), "Chrome");
        assert_eq!(platform(chrome), "Linux");
        let safari = b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(player(safari), "Safari");
        assert_eq!(platform(safari), "iOS");
        let edge = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(player(edge), "Edge");
        assert_eq!(player(b""), "unknown (no user agent)");
        assert_eq!(
            player(b"Mozilla/5.0%20(Windows%20NT%2010.0)%20Firefox/121.0"),
            "Firefox"
        );
    }

    #[test]
    fn blocks_pieces_and_line_numbers() {
        let mut log = String::new();
        for i in 0..5000 {
            if i == 4321 {
                log.push_str("garbage line\n");
            }
            log.push_str(&format!(
                "10.0.0.{} - - [03/Dec/2026:16:{:02}:{:02} +0000] \"GET /96k/{}.m4s HTTP/1.1\" 200 10 \"-\" \"curl/8\"\n",
                i % 7,
                i / 60 % 60,
                i % 60,
                1000 + i
            ));
        }
        let dir = tempfile::tempdir().expect("tmp");
        let plain = dir.path().join("access.log");
        std::fs::write(&plain, &log).expect("write");
        let gz = dir.path().join("access.log.1");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, log.as_bytes()).expect("gzip");
        std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
        let logs = read(
            &[Input::File(plain), Input::File(gz)],
            &ReadOptions::default(),
        );
        assert!(logs.unreadable.is_empty(), "{:?}", logs.unreadable);
        assert_eq!(logs.hits.len(), 10_000);
        assert_eq!(logs.who.len(), 7);
        for f in &logs.files {
            assert_eq!(f.lines, 5001);
            assert_eq!(f.bad, 1);
            let b = f.first_bad.as_ref().expect("bad line");
            assert_eq!((b.line, b.text.as_str()), (4322, "garbage line"));
        }
    }
}

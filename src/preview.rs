//! `lofiever preview`: a small static file server for the output folder, so
//! an operator (or a test) can listen to the station locally. Production
//! hosting is any static host or CDN; this is not one.
//!
//! Serves files under the root with the Content-Types of [`crate::publish::content_type`],
//! `Cache-Control: no-cache` (so a re-render shows at once; `no-store` for the
//! clock object, as published) and a `Date` header stamped when the answer is
//! made (GET and HEAD: the page reads the host's clock from `Date`;
//! [`Preview::at`] sets that clock to another time), and maps `/vendor/<name>/…`
//! to local copies of the player libraries when given: `/vendor/dashjs/`
//! ([`local_dashjs`]) and `/vendor/shaka/` ([`local_shaka`], see
//! [`Preview::with_vendor`]). The page falls back to them when the configured
//! CDN URLs cannot be loaded (offline).
//!
//! Connections are served by hyper on a tokio runtime, each on its own task,
//! with keep-alive: a browser holds several connections open per page, and a
//! server that gives each a thread from a fixed pool can leave a new
//! connection waiting until another closes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, DATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::publish;
use crate::station::layout::Kind;

/// A running preview server.
pub struct Preview {
    listener: std::sync::Mutex<Option<std::net::TcpListener>>,
    addr: Option<SocketAddr>,
    files: Arc<Files>,
    stop: watch::Sender<bool>,
}

/// What the server serves, shared by its connections.
struct Files {
    root: PathBuf,
    /// `(name, dir)`: `/vendor/<name>/…` is served from `dir`.
    vendor: Vec<(String, PathBuf)>,
    /// Added to this machine's clock in the `Date` header ([`Preview::at`]).
    clock_offset: chrono::TimeDelta,
}

impl Preview {
    /// Binds `addr` (port 0 picks a free port) to serve `root`, with
    /// `/vendor/dashjs/` served from `dashjs_dir` if given.
    pub fn bind(addr: &str, root: &Path, dashjs_dir: Option<&Path>) -> Result<Preview> {
        let cannot = |e: std::io::Error| Error::Publish {
            target: format!("http://{addr}"),
            message: format!("cannot listen ({e}); is another server using the port? try --port"),
        };
        let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
        listener.set_nonblocking(true).map_err(cannot)?;
        let bound = listener.local_addr().ok();
        Ok(Preview {
            listener: std::sync::Mutex::new(Some(listener)),
            addr: bound,
            files: Arc::new(Files {
                root: root.to_path_buf(),
                vendor: dashjs_dir
                    .map(|d| ("dashjs".to_string(), d.to_path_buf()))
                    .into_iter()
                    .collect(),
                clock_offset: chrono::TimeDelta::zero(),
            }),
            stop: watch::channel(false).0,
        })
    }

    /// Serves as if the wall clock read `at` now (and runs on from there):
    /// every response's `Date` header says so. The page takes its clock from
    /// that header, so listeners hear the station as it sounds at `at`:
    /// tonight's switch to a new UTC day, tomorrow's breakfast hour. Only
    /// rendered programme plays.
    pub fn at(mut self, at: chrono::DateTime<chrono::Utc>) -> Preview {
        self.files_mut().clock_offset = at - chrono::Utc::now();
        self
    }

    /// Also serves `/vendor/<name>/…` from `dir` (e.g. `"shaka"` with
    /// [`local_shaka`]). `name` is one path segment.
    pub fn with_vendor(mut self, name: &str, dir: &Path) -> Preview {
        self.files_mut()
            .vendor
            .push((name.to_string(), dir.to_path_buf()));
        self
    }

    fn files_mut(&mut self) -> &mut Files {
        Arc::get_mut(&mut self.files).expect("configured before serving")
    }

    /// The bound address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Serves requests until [`Preview::stop`] is called (from another
    /// thread). Returns at once if it is already serving or was stopped.
    pub fn serve(&self) {
        let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return;
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("preview: cannot start the server runtime: {e}");
                return;
            }
        };
        let mut stop = self.stop.subscribe();
        let files = Arc::clone(&self.files);
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("preview: cannot listen: {e}");
                    return;
                }
            };
            loop {
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let files = Arc::clone(&files);
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let files = Arc::clone(&files);
                                async move { Ok::<_, Infallible>(files.respond(&req)) }
                            });
                            // A client that went away is not our problem.
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
        });
        runtime.shutdown_background();
    }

    /// Stops [`Preview::serve`].
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// A handle to stop the server from another thread.
    pub fn stopper(&self) -> impl Fn() + Send + Sync + 'static {
        let s = self.stop.clone();
        move || {
            s.send_replace(true);
        }
    }
}

impl Files {
    fn respond(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let mut response = self.file(req.method(), req.uri().path());
        let now = chrono::Utc::now() + self.clock_offset;
        let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(v) = HeaderValue::from_str(&date) {
            response.headers_mut().insert(DATE, v);
        }
        let h = response.headers_mut();
        h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("Date, Age"),
        );
        response
    }

    fn file(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if !matches!(*method, Method::GET | Method::HEAD) {
            return text(405, "method not allowed");
        }
        let path = if path.ends_with('/') {
            format!("{path}index.html")
        } else {
            path.to_string()
        };
        let vendored = self.vendor.iter().find_map(|(name, dir)| {
            path.strip_prefix("/vendor/")
                .and_then(|p| p.strip_prefix(name.as_str()))
                .and_then(|p| p.strip_prefix('/'))
                .map(|rest| (dir.as_path(), rest.to_string()))
        });
        let (base, rel) = vendored.unwrap_or_else(|| {
            (
                self.root.as_path(),
                path.trim_start_matches('/').to_string(),
            )
        });
        let rel = percent_decode(&rel);
        let rel_path = Path::new(&rel);
        if rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return text(400, "bad path");
        }
        match std::fs::read(base.join(rel_path)) {
            Ok(bytes) => {
                let cache = match Kind::of(&rel) {
                    Kind::Clock => publish::cache_control(Kind::Clock),
                    _ => "no-cache",
                };
                let mut r = Response::new(Full::new(Bytes::from(bytes)));
                let h = r.headers_mut();
                h.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(publish::content_type(&rel)),
                );
                h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
                r
            }
            Err(_) => text(404, "not found"),
        }
    }
}

fn text(code: u16, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The dash.js build shipped in the test/set-up node packages, if installed
/// under `root` (the station root).
pub fn local_dashjs(root: &Path) -> Option<PathBuf> {
    let dir = root.join("tests/browser/node_modules/dashjs/dist/modern/umd");
    dir.join("dash.all.min.js").is_file().then_some(dir)
}

/// The hls.js build shipped in the test/set-up node packages, if installed
/// under `root` (the station root).
pub fn local_hlsjs(root: &Path) -> Option<PathBuf> {
    let dir = root.join("tests/browser/node_modules/hls.js/dist");
    dir.join("hls.min.js").is_file().then_some(dir)
}

/// The Shaka Player build shipped in the test/set-up node packages, if
/// installed under `root` (the station root).
pub fn local_shaka(root: &Path) -> Option<PathBuf> {
    let dir = root.join("tests/browser/node_modules/shaka-player/dist");
    dir.join("shaka-player.compiled.js")
        .is_file()
        .then_some(dir)
}

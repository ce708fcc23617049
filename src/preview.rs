//! `lofiever preview`: a small static file server for the output folder, so
//! an operator (or a test) can listen to the station locally. Production
//! hosting is any static host or CDN; this is not one.
//!
//! Serves files under the root with the Content-Types of [`crate::publish::Kind`],
//! `Cache-Control: no-cache` (so a re-render shows at once) and a `Date`
//! header (GET and HEAD: the MPD's default `UTCTiming` is a HEAD of the MPD
//! itself; [`Preview::at`] sets that clock to another time), and maps `/vendor/<name>/…` to local copies of the player
//! libraries when given: `/vendor/dashjs/` ([`local_dashjs`]) and
//! `/vendor/shaka/` ([`local_shaka`], see [`Preview::with_vendor`]). The page
//! falls back to them when the configured CDN URLs cannot be loaded (offline).

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tiny_http::{Header, Method, Response, Server, StatusCode};

use crate::error::{Error, Result};
use crate::publish::Kind;

/// A running preview server.
pub struct Preview {
    server: Arc<Server>,
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
        let server = Server::http(addr).map_err(|e| Error::Publish {
            target: format!("http://{addr}"),
            message: format!("cannot listen ({e}); is another server using the port? try --port"),
        })?;
        Ok(Preview {
            server: Arc::new(server),
            root: root.to_path_buf(),
            vendor: dashjs_dir
                .map(|d| ("dashjs".to_string(), d.to_path_buf()))
                .into_iter()
                .collect(),
            clock_offset: chrono::TimeDelta::zero(),
        })
    }

    /// Serves as if the wall clock read `at` now (and runs on from there):
    /// every response's `Date` header says so. The page and both players take
    /// their clock from that header (and the MPD's `UTCTiming`, a HEAD of
    /// the MPD) when the device clock disagrees with it, so listeners hear
    /// the station as it sounds at `at`: tonight's switch to a new UTC day,
    /// tomorrow's breakfast hour. Only rendered programme plays.
    pub fn at(mut self, at: chrono::DateTime<chrono::Utc>) -> Preview {
        self.clock_offset = at - chrono::Utc::now();
        self
    }

    /// Also serves `/vendor/<name>/…` from `dir` (e.g. `"shaka"` with
    /// [`local_shaka`]). `name` is one path segment.
    pub fn with_vendor(mut self, name: &str, dir: &Path) -> Preview {
        self.vendor.push((name.to_string(), dir.to_path_buf()));
        self
    }

    /// The bound address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Serves requests until the process ends (or [`Preview::stop`] is
    /// called from another thread).
    pub fn serve(&self) {
        for request in self.server.incoming_requests() {
            let mut response = self.respond(request.method(), request.url());
            if !self.clock_offset.is_zero() {
                let now = chrono::Utc::now() + self.clock_offset;
                let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
                response.add_header(header("Date", &date));
            }
            // A client that went away is not our problem.
            let _ = request.respond(response);
        }
    }

    /// Stops [`Preview::serve`].
    pub fn stop(&self) {
        self.server.unblock();
    }

    /// A handle to stop the server from another thread.
    pub fn stopper(&self) -> impl Fn() + Send + Sync + 'static {
        let s = Arc::clone(&self.server);
        move || s.unblock()
    }

    fn respond(&self, method: &Method, url: &str) -> Response<std::io::Cursor<Vec<u8>>> {
        if !matches!(method, Method::Get | Method::Head) {
            return text(405, "method not allowed");
        }
        let path = url.split(['?', '#']).next().unwrap_or("/");
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
        let file = base.join(rel_path);
        match std::fs::read(&file) {
            Ok(bytes) => {
                let mut r = Response::from_data(bytes)
                    .with_header(header("Content-Type", Kind::content_type(&rel)))
                    .with_header(header("Cache-Control", "no-cache"))
                    .with_header(header("Access-Control-Allow-Origin", "*"));
                r.add_header(header("Access-Control-Expose-Headers", "Date"));
                r
            }
            Err(_) => text(404, "not found"),
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("static header names and values are valid")
}

fn text(code: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(StatusCode(code))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
        .with_header(header("Access-Control-Allow-Origin", "*"))
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

/// The Shaka Player build shipped in the test/set-up node packages, if
/// installed under `root` (the station root).
pub fn local_shaka(root: &Path) -> Option<PathBuf> {
    let dir = root.join("tests/browser/node_modules/shaka-player/dist");
    dir.join("shaka-player.compiled.js")
        .is_file()
        .then_some(dir)
}

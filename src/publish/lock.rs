//! The station lock: one run at a time writes a station's output folder and
//! its publish target.
//!
//! `render`, `schedule`, `publish` (and `demo`, which renders) take it before
//! they write anything, and hold it to the end:
//!
//! - **locally**, `<output>/.lofiever.lock`, created exclusively (a hard link
//!   of a fully written temporary file, which fails if the name exists like
//!   `O_EXCL`; `create_new` where links are unsupported);
//! - **at the target**: for a folder target other than the output folder,
//!   the same file there; for S3, the object `<prefix>/.lofiever.lock`,
//!   written with `If-None-Match: *` (S3's conditional write: exactly one of
//!   several concurrent writers gets 200, the others 412 Precondition
//!   Failed). SeaweedFS honours it (checked against 4.48, also with eight
//!   concurrent writers; older releases ignored the header). For stores that
//!   ignore it, the lock is read before it is written and read back after a
//!   short settle delay: whoever does not find their own random token there
//!   has lost and stops.
//!
//! A lock is a small JSON document: command, pid, host, boot id, process
//! start time, start, expiry and a random token. A second run finding a live
//! lock stops at once with one line: "locked by pid N on host H since T …",
//! saying how to recover.
//!
//! **Stale locks** are taken over automatically, with a warning: when they
//! have expired (a lock lives [`DEFAULT_TTL`] and the holder renews it every
//! fifth of that while it runs, so a long render keeps it and a crashed one
//! on another machine frees it within minutes); when they were taken on this
//! host and their process is gone (or the pid now belongs to another
//! process, or the machine has rebooted since). Taking over deletes the
//! stale lock only if it is still the version that was judged stale (S3
//! `If-Match`), then creates a new one exclusively, so two runs recovering
//! the same stale lock cannot both win (on a folder the compare-and-delete
//! has a window of microseconds). Expiry compares clocks of different
//! machines: they must agree to well under the lifetime.
//!
//! A run that finds its lock was taken over (it could not renew it for a
//! whole lifetime, e.g. the store was unreachable) stops at the next
//! [`StationLock::check`], before it publishes anything further. Releasing
//! deletes the lock only if it is still ours. Within one process the lock is
//! re-entrant (the CLI and the library job may both ask for it).
//!
//! Killed runs also leave temporary files of atomic writes; taking the lock
//! removes those of dead processes ([`crate::fsutil::remove_stale_temps`]).

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{DirTarget, PutObject, Target};
use crate::error::{Error, Result};
use crate::fsutil;

use crate::station::{Station, TargetSpec};

/// The lock's file name in a folder, and its key under a bucket prefix.
pub const LOCK_NAME: &str = ".lofiever.lock";

/// How long a lock lives unless its holder renews it (every fifth of this).
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);

/// How long to wait before reading an S3 lock back, so that a competitor on
/// a store that ignores `If-None-Match` has written too and one of the two
/// finds the other's token.
const SETTLE: Duration = Duration::from_millis(500);

/// What a lock says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The process that took it (for a shared lock: the first shard
    /// writer); its fields sit at the top level of the lock's JSON.
    #[serde(flatten)]
    pub by: Holder,
    /// When the lock was taken.
    pub started: DateTime<Utc>,
    /// When the lock expires unless renewed.
    pub expires: DateTime<Utc>,
    /// A shared lock's plan id: shard writers of this plan (`lofiever
    /// render --shard`) share the lock; empty for an exclusive lock.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan: String,
    /// The processes sharing a shared lock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<Holder>,
}

/// A process holding a lock: who took an exclusive one, or one of the
/// processes sharing a shared one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holder's command, e.g. `render --shard 2/4`.
    pub command: String,
    /// Its process id.
    pub pid: u32,
    /// Its host name.
    pub host: String,
    /// Its kernel boot id (Linux).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub boot_id: String,
    /// Its process start time (Linux clock ticks since boot).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proc_start: String,
    /// Its random token: whose lock this is.
    pub token: String,
}

impl Holder {
    fn for_this_process(command: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            command: command.to_string(),
            pid,
            host: host_name(),
            boot_id: boot_id(),
            proc_start: proc_start(pid).unwrap_or_default(),
            token: new_token(),
        }
    }

    /// Why this holder is surely gone (see [`process_gone`]).
    fn gone(&self) -> Option<String> {
        process_gone(&self.host, &self.boot_id, self.pid, &self.proc_start)
    }
}

/// Why the process `pid` on `host` surely no longer runs, or `None` if it
/// may (another machine: only expiry tells).
fn process_gone(host: &str, boot: &str, pid: u32, started: &str) -> Option<String> {
    if host != host_name() {
        return None;
    }
    let here = boot_id();
    if !boot.is_empty() && !here.is_empty() && boot != here {
        return Some("this machine has restarted since it was taken".into());
    }
    if !fsutil::process_alive(pid) {
        return Some(format!("process {pid} is gone"));
    }
    match proc_start(pid) {
        Some(s) if !started.is_empty() && s != started => {
            Some(format!("process id {pid} now belongs to another process"))
        }
        _ => None,
    }
}

impl LockInfo {
    /// A lock for this process running `command`, valid for `ttl`.
    pub fn for_this_process(command: &str, ttl: Duration) -> LockInfo {
        let now = Utc::now();
        LockInfo {
            by: Holder::for_this_process(command),
            started: now,
            expires: now + chrono_duration(ttl),
            plan: String::new(),
            holders: Vec::new(),
        }
    }

    /// Why this lock no longer protects anything, or `None` if it may be
    /// held by a live run. `now` is the real clock.
    pub fn stale_reason(&self, now: DateTime<Utc>) -> Option<String> {
        if now > self.expires {
            return Some(format!("it expired at {}", fmt(self.expires)));
        }
        if self.plan.is_empty() {
            return self.by.gone();
        }
        // Shared: stale once every writer is gone.
        let mut why = Vec::new();
        for h in &self.holders {
            why.push(h.gone()?);
        }
        Some(if why.is_empty() {
            "no shard writer holds it".into()
        } else {
            format!("all its shard writers are gone ({})", why.join("; "))
        })
    }

    /// "pid N on host H since T (`lofiever render`, expires E)".
    pub fn holder(&self) -> String {
        if !self.plan.is_empty() {
            let who: Vec<String> = self
                .holders
                .iter()
                .map(|h| {
                    format!(
                        "pid {} on host {} (`lofiever {}`)",
                        h.pid, h.host, h.command
                    )
                })
                .collect();
            return format!(
                "the shard writers of plan {} since {} ({}; expires {} unless renewed)",
                self.plan,
                fmt(self.started),
                who.join(", "),
                fmt(self.expires)
            );
        }
        format!(
            "pid {} on host {} since {} (`lofiever {}`, expires {} unless renewed)",
            self.by.pid,
            self.by.host,
            fmt(self.started),
            self.by.command,
            fmt(self.expires)
        )
    }
}

/// The lock at `store`, if any, as `(holder, stale reason)`; for status
/// displays. A lock that is not lofiever's JSON is reported as an error.
pub fn inspect(store: &dyn Target) -> Result<Option<(LockInfo, Option<String>)>> {
    match store.get_versioned(LOCK_NAME)? {
        None => Ok(None),
        Some((bytes, _)) => {
            let info = parse(&bytes).map_err(|e| unreadable(&store_place(store), &e))?;
            let stale = info.stale_reason(Utc::now());
            Ok(Some((info, stale)))
        }
    }
}

/// One lock held at one place.
struct Held {
    store: Box<dyn Target>,
    place: String,
    info: LockInfo,
    version: String,
    /// This process's token in a shared lock's holders (`None`: exclusive).
    mine: Option<String>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("place", &self.place)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Held {
    /// Renews the lock for `ttl` more; `Err` with a message if it is no
    /// longer ours.
    fn renew(&mut self, ttl: Duration) -> std::result::Result<(), String> {
        if let Some(mine) = self.mine.clone() {
            return self.renew_shared(&mine, ttl);
        }
        let mut info = self.info.clone();
        info.expires = Utc::now() + chrono_duration(ttl);
        let body = to_json(&info);
        match self
            .store
            .put_if_version(&PutObject::new(LOCK_NAME, &body), &self.version)
        {
            Ok(Some(v)) => {
                self.version = v;
                self.info = info;
                Ok(())
            }
            Ok(None) => Err(format!(
                "the lock {} was taken over by another run while this one held it (it could \
                 not be renewed in time)",
                self.place
            )),
            Err(e) => {
                // Transient (the store was unreachable): try again next time;
                // if it stays so for a whole lifetime, another run may take
                // over and the next renewal says so.
                tracing::warn!("cannot renew the lock {}: {e}", self.place);
                Ok(())
            }
        }
    }
}

impl Held {
    /// Whether `info` is still the shared lock this process joined.
    fn still_ours(&self, info: &LockInfo, mine: &str) -> bool {
        info.plan == self.info.plan && info.holders.iter().any(|h| h.token == mine)
    }

    /// Renews a shared lock: any writer's renewal keeps it for all. Others
    /// change it too, so each try reads the current version first.
    fn renew_shared(&mut self, mine: &str, ttl: Duration) -> std::result::Result<(), String> {
        let lost = || {
            format!(
                "the shared lock {} no longer lists this shard writer (it was taken over \
                 while this run held it)",
                self.place
            )
        };
        for _ in 0..CAS_TRIES {
            let (bytes, version) = match self.store.get_versioned(LOCK_NAME) {
                Ok(Some(got)) => got,
                Ok(None) => return Err(lost()),
                Err(e) => {
                    tracing::warn!("cannot renew the lock {}: {e}", self.place);
                    return Ok(());
                }
            };
            let Ok(mut info) = parse(&bytes) else {
                return Err(lost());
            };
            if !self.still_ours(&info, mine) {
                return Err(lost());
            }
            info.expires = Utc::now() + chrono_duration(ttl);
            match self
                .store
                .put_if_version(&PutObject::new(LOCK_NAME, &to_json(&info)), &version)
            {
                Ok(Some(v)) => {
                    self.version = v;
                    return Ok(());
                }
                Ok(None) => cas_pause(),
                Err(e) => {
                    tracing::warn!("cannot renew the lock {}: {e}", self.place);
                    return Ok(());
                }
            }
        }
        Ok(()) // contended: the others renewed it meanwhile
    }

    /// Leaves a shared lock; the last writer out deletes it.
    fn leave_shared(&mut self, mine: &str) -> Result<()> {
        for _ in 0..CAS_TRIES {
            let Some((bytes, version)) = self.store.get_versioned(LOCK_NAME)? else {
                return Ok(());
            };
            let Ok(mut info) = parse(&bytes) else {
                return Ok(());
            };
            if !self.still_ours(&info, mine) {
                tracing::warn!(
                    "the lock {} was no longer this run's when it ended; left alone",
                    self.place
                );
                return Ok(());
            }
            info.holders.retain(|h| h.token != mine);
            let done = if info.holders.is_empty() {
                self.store.delete_if_version(LOCK_NAME, &version)?
            } else {
                self.store
                    .put_if_version(&PutObject::new(LOCK_NAME, &to_json(&info)), &version)?
                    .is_some()
            };
            if done {
                return Ok(());
            }
            cas_pause();
        }
        Err(Error::Locked {
            place: self.place.clone(),
            message: "the shared lock kept changing while this writer left it".into(),
        })
    }
}

/// Compare-and-swap attempts on a shared lock before giving up.
const CAS_TRIES: usize = 200;

/// A short random pause between compare-and-swap attempts.
fn cas_pause() {
    let ms = 5 + super::retry::jitter_seed() % 40;
    std::thread::sleep(Duration::from_millis(ms));
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mine) = self.mine.clone() {
            if let Err(e) = self.leave_shared(&mine) {
                tracing::warn!(
                    "cannot leave the shared lock {} ({e}); it is taken over once its writers \
                     are gone or it expires",
                    self.place
                );
            }
            if let Ok(mut here) = held_here().lock() {
                here.remove(&self.place);
            }
            return;
        }
        match self.store.delete_if_version(LOCK_NAME, &self.version) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the lock {} was no longer this run's when it ended; left alone",
                self.place
            ),
            Err(e) => tracing::warn!(
                "cannot remove the lock {} ({e}); the next run on this machine takes it over, \
                 any other after {}",
                self.place,
                fmt(self.info.expires)
            ),
        }
        if let Ok(mut here) = held_here().lock() {
            here.remove(&self.place);
        }
    }
}

/// Places whose lock this process holds (the lock is re-entrant per process).
fn held_here() -> &'static Mutex<HashSet<String>> {
    static HELD: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The station's locks, held until dropped, renewed meanwhile by a
/// background thread.
pub struct StationLock {
    stop: Option<mpsc::Sender<()>>,
    worker: Option<JoinHandle<()>>,
    lost: Arc<Mutex<Option<String>>>,
    places: Vec<String>,
}

impl std::fmt::Debug for StationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationLock")
            .field("places", &self.places)
            .finish_non_exhaustive()
    }
}

impl StationLock {
    /// Takes the station's locks for `command` (the output folder's, then
    /// the target's), or fails with [`Error::Locked`] naming the holder.
    pub fn acquire(station: &Station, command: &str) -> Result<StationLock> {
        Self::acquire_with_ttl(station, command, DEFAULT_TTL)
    }

    /// [`StationLock::acquire`] with a lock lifetime of `ttl`.
    pub fn acquire_with_ttl(
        station: &Station,
        command: &str,
        ttl: Duration,
    ) -> Result<StationLock> {
        Self::acquire_mode(station, command, None, ttl)
    }

    /// Takes the station's locks shared with the other shard writers of
    /// `plan` (`lofiever render --shard`): any number of them may hold it at
    /// once, while an exclusive run, or a writer of another plan, is
    /// stopped with [`Error::Locked`] (and stops them).
    pub fn acquire_shared(station: &Station, command: &str, plan: &str) -> Result<StationLock> {
        Self::acquire_mode(station, command, Some(plan), DEFAULT_TTL)
    }

    /// [`StationLock::acquire_shared`] with a lock lifetime of `ttl`.
    pub fn acquire_shared_with_ttl(
        station: &Station,
        command: &str,
        plan: &str,
        ttl: Duration,
    ) -> Result<StationLock> {
        Self::acquire_mode(station, command, Some(plan), ttl)
    }

    fn acquire_mode(
        station: &Station,
        command: &str,
        plan: Option<&str>,
        ttl: Duration,
    ) -> Result<StationLock> {
        let mut held: Vec<Held> = Vec::new();
        let out = &station.output_dir;
        let mode = Mode { command, plan, ttl };
        if let Some(h) = acquire_at(Box::new(DirTarget::new(out)), &mode, Duration::ZERO)? {
            held.push(h);
        }
        // Only now does the output folder surely exist, so that a target
        // naming it another way is recognised as the same folder.
        let mut dirs = vec![out.clone()];
        match &station.target {
            TargetSpec::Dir(p) if !super::target_is_output(station) => {
                if let Some(h) = acquire_at(Box::new(DirTarget::new(p)), &mode, Duration::ZERO)? {
                    held.push(h);
                }
                dirs.push(p.clone());
            }
            TargetSpec::Dir(_) => {}
            TargetSpec::S3 { .. } => {
                if let Some(h) = acquire_at(super::open(station)?, &mode, SETTLE)? {
                    held.push(h);
                }
            }
        }
        for d in dirs {
            let n = fsutil::remove_stale_temps(&d)?;
            if n > 0 {
                tracing::info!(
                    "{}: removed {n} temporary files of killed runs",
                    d.display()
                );
            }
        }
        let places = held.iter().map(|h| h.place.clone()).collect();
        let lost = Arc::new(Mutex::new(None));
        let (stop, stopped) = mpsc::channel::<()>();
        let flag = lost.clone();
        let interval = (ttl / 5).max(Duration::from_millis(100));
        let worker = std::thread::Builder::new()
            .name("lofiever-lock".into())
            .spawn(move || {
                let mut held = held;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    for h in &mut held {
                        if let Err(msg) = h.renew(ttl) {
                            if let Ok(mut slot) = flag.lock() {
                                slot.get_or_insert(msg);
                            }
                        }
                    }
                }
                drop(held); // releases, in order
            })
            .map_err(|e| Error::Locked {
                place: station.output_dir.join(LOCK_NAME).display().to_string(),
                message: format!("cannot start the lock renewal thread: {e}"),
            })?;
        Ok(StationLock {
            stop: Some(stop),
            worker: Some(worker),
            lost,
            places,
        })
    }

    /// `Err` if a lock was taken over by another run meanwhile: stop before
    /// publishing more.
    pub fn check(&self) -> Result<()> {
        let lost = self.lost.lock().ok().and_then(|l| l.clone());
        match lost {
            None => Ok(()),
            Some(message) => Err(Error::Locked {
                place: self.places.first().cloned().unwrap_or_default(),
                message: format!("{message}; stopped before publishing anything more"),
            }),
        }
    }

    /// The lock files and objects this value holds (empty when an outer
    /// lock of this process already held them).
    pub fn places(&self) -> &[String] {
        &self.places
    }
}

impl Drop for StationLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// How a lock is taken: for which command, exclusive or shared by the
/// writers of a plan, for how long.
struct Mode<'a> {
    command: &'a str,
    plan: Option<&'a str>,
    ttl: Duration,
}

/// Takes the lock at `store`; `None` if this process holds it already.
fn acquire_at(store: Box<dyn Target>, mode: &Mode<'_>, settle: Duration) -> Result<Option<Held>> {
    let place = store_place(store.as_ref());
    {
        let mut here = held_here().lock().map_err(|_| Error::Locked {
            place: place.clone(),
            message: "the lock registry is poisoned".into(),
        })?;
        if !here.insert(place.clone()) {
            return Ok(None);
        }
    }
    let result = match mode.plan {
        None => take(store, &place, mode.command, mode.ttl, settle),
        Some(plan) => take_shared(store, &place, mode.command, plan, mode.ttl),
    };
    if result.is_err() {
        if let Ok(mut here) = held_here().lock() {
            here.remove(&place);
        }
    }
    result.map(Some)
}

fn take(
    store: Box<dyn Target>,
    place: &str,
    command: &str,
    ttl: Duration,
    settle: Duration,
) -> Result<Held> {
    let me = LockInfo::for_this_process(command, ttl);
    let body = to_json(&me);
    for _ in 0..5 {
        // Read first: on a store that ignores If-None-Match this is what
        // keeps a live lock from being overwritten.
        if let Some((bytes, version)) = read_lock(store.as_ref())? {
            let info = parse(&bytes).map_err(|e| unreadable(place, &e))?;
            if info.by.token == me.by.token {
                // Our own write, answered late (a retried request).
                return Ok(Held {
                    store,
                    place: place.to_string(),
                    info: me,
                    version,
                    mine: None,
                });
            }
            match info.stale_reason(Utc::now()) {
                None => return Err(locked(place, &info)),
                Some(why) => {
                    tracing::warn!(
                        "taking over the stale lock {place}: {why} ({})",
                        info.holder()
                    );
                    store.delete_if_version(LOCK_NAME, &version)?;
                    continue;
                }
            }
        }
        if store
            .put_if_absent(&PutObject::new(LOCK_NAME, &body))?
            .is_none()
        {
            continue; // someone was quicker: look at theirs
        }
        if !settle.is_zero() {
            std::thread::sleep(settle);
        }
        // Read back: the lock is ours only if it holds our token.
        match read_lock(store.as_ref())? {
            Some((bytes, version)) => {
                let info = parse(&bytes).map_err(|e| unreadable(place, &e))?;
                if info.by.token != me.by.token {
                    return Err(locked(place, &info));
                }
                return Ok(Held {
                    store,
                    place: place.to_string(),
                    info: me,
                    version,
                    mine: None,
                });
            }
            None => continue,
        }
    }
    Err(Error::Locked {
        place: place.to_string(),
        message: "the lock kept changing while this run tried to take it (several runs \
                  starting at once?); run again"
            .into(),
    })
}

/// Joins the shared lock of `plan`'s writers at `store`, creating it if
/// there is none; a live lock of anything else stops this run.
fn take_shared(
    store: Box<dyn Target>,
    place: &str,
    command: &str,
    plan: &str,
    ttl: Duration,
) -> Result<Held> {
    let me = Holder::for_this_process(command);
    for _ in 0..CAS_TRIES {
        let now = Utc::now();
        match read_lock(store.as_ref())? {
            None => {
                let mut doc = LockInfo::for_this_process(command, ttl);
                doc.by = me.clone();
                doc.plan = plan.to_string();
                doc.holders = vec![me.clone()];
                if let Some(version) =
                    store.put_if_absent(&PutObject::new(LOCK_NAME, &to_json(&doc)))?
                {
                    return Ok(Held {
                        store,
                        place: place.to_string(),
                        info: doc,
                        version,
                        mine: Some(me.token),
                    });
                }
            }
            Some((bytes, version)) => {
                let mut info = parse(&bytes).map_err(|e| unreadable(place, &e))?;
                if info.plan != plan {
                    match info.stale_reason(now) {
                        None => return Err(locked(place, &info)),
                        Some(why) => {
                            tracing::warn!(
                                "taking over the stale lock {place}: {why} ({})",
                                info.holder()
                            );
                            store.delete_if_version(LOCK_NAME, &version)?;
                            continue;
                        }
                    }
                }
                info.holders.retain(|h| h.gone().is_none());
                info.holders.push(me.clone());
                info.expires = now + chrono_duration(ttl);
                if let Some(version) =
                    store.put_if_version(&PutObject::new(LOCK_NAME, &to_json(&info)), &version)?
                {
                    return Ok(Held {
                        store,
                        place: place.to_string(),
                        info,
                        version,
                        mine: Some(me.token),
                    });
                }
            }
        }
        cas_pause();
    }
    Err(Error::Locked {
        place: place.to_string(),
        message: "the lock kept changing while this shard writer tried to join it; run again"
            .into(),
    })
}

/// Reads the lock; a document that does not parse yet is read again a few
/// times (a lock being written where exclusive creation is not atomic).
fn read_lock(store: &dyn Target) -> Result<Option<(Vec<u8>, String)>> {
    let mut got = store.get_versioned(LOCK_NAME)?;
    for _ in 0..3 {
        match &got {
            Some((bytes, _)) if parse(bytes).is_err() => {
                std::thread::sleep(Duration::from_millis(100));
                got = store.get_versioned(LOCK_NAME)?;
            }
            _ => break,
        }
    }
    Ok(got)
}

fn parse(bytes: &[u8]) -> std::result::Result<LockInfo, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn to_json(info: &LockInfo) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(info).unwrap_or_default();
    v.push(b'\n');
    v
}

fn store_place(store: &dyn Target) -> String {
    let d = store.describe();
    let sep = if d.ends_with('/') { "" } else { "/" };
    format!("{d}{sep}{LOCK_NAME}")
}

/// The one-line error for a live lock held by someone else.
fn locked(place: &str, info: &LockInfo) -> Error {
    Error::Locked {
        place: place.to_string(),
        message: format!(
            "locked by {}: another lofiever run is writing this station; wait for it to \
             finish. If none is running (it was killed on another machine), delete {place} \
             and run again; a lock whose process died on this machine is taken over \
             automatically, and any lock once it expires",
            info.holder()
        ),
    }
}

fn unreadable(place: &str, why: &str) -> Error {
    Error::Locked {
        place: place.to_string(),
        message: format!(
            "is not a lofiever lock ({why}); if no lofiever run is active, delete it and run \
             again"
        ),
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// This machine's host name ("unknown-host" if it cannot be read).
pub fn host_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    read("/proc/sys/kernel/hostname")
        .or_else(|| read("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".into())
}

/// The kernel's boot id (Linux), empty elsewhere.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// When process `pid` started (field 22 of `/proc/<pid>/stat`, clock ticks
/// since boot), on Linux.
fn proc_start(pid: u32) -> Option<String> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// 128 random bits as hex (hashed from the process, the time and the
/// standard library's random hasher keys).
fn new_token() -> String {
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    h.update(&Utc::now().timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
    h.update(&super::retry::jitter_seed().to_le_bytes());
    h.update(&super::retry::jitter_seed().to_le_bytes());
    h.finalize().to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excl(command: &str) -> Mode<'_> {
        Mode {
            command,
            plan: None,
            ttl: DEFAULT_TTL,
        }
    }

    fn dir_store(p: &Path) -> Box<dyn Target> {
        Box::new(DirTarget::new(p))
    }

    fn write_lock(dir: &Path, info: &LockInfo) {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join(LOCK_NAME), to_json(info)).expect("write lock");
    }

    fn foreign(host: &str, expires_in: i64) -> LockInfo {
        let now = Utc::now();
        LockInfo {
            by: Holder {
                command: "render".into(),
                pid: 1,
                host: host.into(),
                boot_id: String::new(),
                proc_start: String::new(),
                token: "someone-else".into(),
            },
            started: now - chrono::Duration::seconds(60),
            expires: now + chrono::Duration::seconds(expires_in),
            plan: String::new(),
            holders: Vec::new(),
        }
    }

    #[test]
    fn a_live_lock_stops_a_second_taker_with_the_holder_named() {
        let dir = tempfile::tempdir().expect("tmp");
        write_lock(dir.path(), &foreign("elsewhere-01", 600));
        let err = acquire_at(dir_store(dir.path()), &excl("render"), Duration::ZERO)
            .expect_err("locked")
            .to_string();
        assert!(
            err.contains("locked by pid 1 on host elsewhere-01 since"),
            "{err}"
        );
        assert!(
            err.contains(&format!("delete {}", dir.path().join(LOCK_NAME).display())),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        // It is left in place.
        assert!(std::fs::read_to_string(dir.path().join(LOCK_NAME))
            .expect("read")
            .contains("someone-else"));
    }

    #[test]
    fn expired_and_dead_locks_are_taken_over_and_released() {
        for stale in [
            foreign("elsewhere-01", -5),
            {
                let mut l = foreign(&host_name(), 600);
                l.by.pid = 4_999_999; // above any pid_max: not running
                l
            },
            {
                let mut l = foreign(&host_name(), 600);
                l.by.boot_id = "an-earlier-boot".into();
                l.by.pid = std::process::id();
                l
            },
        ] {
            assert!(stale.stale_reason(Utc::now()).is_some(), "{stale:?}");
            let dir = tempfile::tempdir().expect("tmp");
            write_lock(dir.path(), &stale);
            let held = acquire_at(dir_store(dir.path()), &excl("render"), Duration::ZERO)
                .expect("stale lock taken over")
                .expect("not held before");
            let now: LockInfo =
                parse(&std::fs::read(dir.path().join(LOCK_NAME)).expect("read")).expect("parse");
            assert_eq!(now.by.pid, std::process::id());
            assert_eq!(now.by.token, held.info.by.token);
            drop(held);
            assert!(!dir.path().join(LOCK_NAME).exists(), "released");
        }
    }

    #[test]
    fn the_lock_is_reentrant_in_a_process_and_renewed_while_held() {
        let dir = tempfile::tempdir().expect("tmp");
        let st = tempfile::tempdir().expect("tmp");
        let toml = format!(
            "[paths]\noutput = {:?}\n[publish]\ntarget = {:?}\n",
            dir.path().join("out").display().to_string(),
            dir.path().join("site").display().to_string()
        );
        std::fs::create_dir_all(st.path().join("pipeline")).expect("mkdir");
        std::fs::write(st.path().join("pipeline/station.toml"), toml).expect("write");
        let station =
            Station::load(&st.path().join("pipeline/station.toml"), Utc::now()).expect("config");
        let ttl = Duration::from_millis(1000);
        let outer = StationLock::acquire_with_ttl(&station, "render", ttl).expect("lock");
        assert_eq!(outer.places().len(), 2, "{:?}", outer.places());
        let read = |d: &str| -> LockInfo {
            parse(&std::fs::read(dir.path().join(d).join(LOCK_NAME)).expect("read")).expect("json")
        };
        let first = read("site").expires;
        let inner = StationLock::acquire(&station, "publish").expect("re-entrant");
        assert!(inner.places().is_empty());
        drop(inner);
        assert!(
            dir.path().join("out").join(LOCK_NAME).exists(),
            "inner drop keeps it"
        );
        std::thread::sleep(Duration::from_millis(700));
        assert!(read("site").expires > first, "renewed");
        outer.check().expect("still ours");
        drop(outer);
        for d in ["out", "site"] {
            assert!(!dir.path().join(d).join(LOCK_NAME).exists(), "{d} released");
        }
    }

    #[test]
    fn a_lock_taken_over_meanwhile_is_reported_and_not_deleted() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut held = acquire_at(dir_store(dir.path()), &excl("render"), Duration::ZERO)
            .expect("lock")
            .expect("new");
        write_lock(dir.path(), &foreign("elsewhere-01", 600));
        let err = held.renew(DEFAULT_TTL).expect_err("lost");
        assert!(err.contains("taken over"), "{err}");
        drop(held);
        assert!(
            dir.path().join(LOCK_NAME).exists(),
            "the other run's lock stays"
        );
    }

    #[test]
    fn shard_writers_of_one_plan_share_the_lock_and_another_plan_is_stopped() {
        let dir = tempfile::tempdir().expect("tmp");
        let place = dir.path().join(LOCK_NAME).display().to_string();
        let join = |plan: &str| {
            take_shared(
                dir_store(dir.path()),
                &place,
                "render --shard 1/2",
                plan,
                DEFAULT_TTL,
            )
        };
        let a = join("plan-one").expect("first writer");
        let b = join("plan-one").expect("second writer of the same plan");
        let read = || -> LockInfo {
            parse(&std::fs::read(dir.path().join(LOCK_NAME)).expect("read")).expect("json")
        };
        assert_eq!(read().holders.len(), 2);
        let err = join("plan-two").expect_err("another plan").to_string();
        assert!(err.contains("shard writers of plan plan-one"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = take(
            dir_store(dir.path()),
            &place,
            "render",
            DEFAULT_TTL,
            Duration::ZERO,
        )
        .expect_err("an exclusive run")
        .to_string();
        assert!(
            err.contains("locked by the shard writers of plan plan-one"),
            "{err}"
        );
        drop(a);
        assert_eq!(read().holders.len(), 1, "the other writer still holds it");
        drop(b);
        assert!(
            !dir.path().join(LOCK_NAME).exists(),
            "the last one out deletes it"
        );

        // An exclusive lock stops shard writers.
        let x = take(
            dir_store(dir.path()),
            &place,
            "render",
            DEFAULT_TTL,
            Duration::ZERO,
        )
        .expect("exclusive");
        assert!(join("plan-one").is_err());
        drop(x);

        // Writers that died are pruned; when all are gone another plan
        // takes the lock over.
        let mut dead = foreign(&host_name(), 600);
        dead.plan = "plan-one".into();
        dead.holders = vec![Holder {
            command: "render --shard 2/2".into(),
            pid: 4_999_999,
            host: host_name(),
            boot_id: String::new(),
            proc_start: String::new(),
            token: "dead".into(),
        }];
        write_lock(dir.path(), &dead);
        let c = join("plan-one").expect("joins, pruning the dead writer");
        assert_eq!(read().holders.len(), 1);
        drop(c);
        write_lock(dir.path(), &dead);
        let d = join("plan-two").expect("a plan whose writers are all gone is taken over");
        assert_eq!(read().plan, "plan-two");
        drop(d);
    }

    #[test]
    fn garbage_in_the_lock_file_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join(LOCK_NAME), b"not json").expect("write");
        let err = acquire_at(dir_store(dir.path()), &excl("render"), Duration::ZERO)
            .expect_err("unreadable")
            .to_string();
        assert!(err.contains("is not a lofiever lock"), "{err}");
    }

    #[test]
    fn proc_start_reads_this_process() {
        if Path::new("/proc/self/stat").exists() {
            let s = proc_start(std::process::id()).expect("own start time");
            assert!(s.bytes().all(|b| b.is_ascii_digit()), "{s}");
        }
        assert_eq!(new_token().len(), 32);
        assert_ne!(new_token(), new_token());
    }
}

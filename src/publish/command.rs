//! A target read by a command other than publishing (`status`, `verify`):
//! its errors name that command, not "publish to …" (see
//! [`Error::in_command`]).

use std::collections::BTreeMap;

use super::{ObjectInfo, PutObject, Target};
use crate::error::{Error, Result};

/// `inner`, with every error named after `command`.
pub struct ForCommand<'a> {
    inner: &'a dyn Target,
    command: &'static str,
}

impl<'a> ForCommand<'a> {
    /// Wraps `inner` for `command` (e.g. `"status"`).
    pub fn new(inner: &'a dyn Target, command: &'static str) -> ForCommand<'a> {
        ForCommand { inner, command }
    }

    fn name<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e: Error| e.in_command(self.command))
    }
}

impl Target for ForCommand<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>> {
        self.name(self.inner.list(prefix))
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.name(self.inner.get(key))
    }
    fn put(&self, object: &PutObject<'_>) -> Result<()> {
        self.name(self.inner.put(object))
    }
    fn delete(&self, keys: &[String]) -> Result<u64> {
        self.name(self.inner.delete(keys))
    }
    fn retries(&self) -> u64 {
        self.inner.retries()
    }
    fn put_if_absent(&self, object: &PutObject<'_>) -> Result<Option<String>> {
        self.name(self.inner.put_if_absent(object))
    }
    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        self.name(self.inner.get_versioned(key))
    }
    fn put_if_version(&self, object: &PutObject<'_>, version: &str) -> Result<Option<String>> {
        self.name(self.inner.put_if_version(object, version))
    }
    fn delete_if_version(&self, key: &str, version: &str) -> Result<bool> {
        self.name(self.inner.delete_if_version(key, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::DirTarget;

    #[test]
    fn a_publish_error_names_the_command_and_others_pass_as_they_are() {
        let e = Error::Publish {
            target: "s3://radio/live".into(),
            message: "listing live/: no AWS credentials found".into(),
        };
        assert_eq!(
            e.in_command("status").to_string(),
            "status: s3://radio/live: listing live/: no AWS credentials found"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let t = DirTarget::new(dir.path());
        let named = ForCommand::new(&t, "verify");
        assert_eq!(named.describe(), t.describe());
        assert!(named.list("").expect("an empty folder").is_empty());
    }
}

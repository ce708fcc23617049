//! `[publish]` of `station.toml`: where the station goes and how it gets
//! there — as written ([`RawPublish`], a serde mirror with
//! `deny_unknown_fields`) and validated ([`PublishConfig`]).
//!
//! `publish.target` itself is parsed by the station's validation (it becomes
//! [`crate::station::TargetSpec`], and `LOFIEVER_TARGET` overrides it); the
//! other keys are checked by [`validate`], called from the station's one
//! validation. Every error names the dotted key, the bad value
//! and what is allowed. Credentials are deliberately *not* configurable here:
//! they come from the standard AWS chain only (environment, profile, SSO, web
//! identity, container or instance role), never from the repository.

use serde::Deserialize;

use super::TIME_SHIFT_BUFFER_MS;
use crate::error::{Error, Result};

/// Default simultaneous uploads: enough to fill a typical uplink with
/// 2-second segments of a few tens of kilobytes, few enough for any store.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// The largest `publish.concurrency` accepted.
pub const MAX_CONCURRENCY: usize = 256;

/// Default keep window: a day plus the MPD's timeShiftBufferDepth.
pub const DEFAULT_KEEP_MINUTES: u64 = 24 * 60 + TIME_SHIFT_BUFFER_MS / 60_000;

/// The shortest keep window accepted: the MPD lets players seek back
/// `timeShiftBufferDepth`, so segments that young must stay, plus a minute of
/// margin for the players' latency and clock error.
pub const MIN_KEEP_MINUTES: u64 = TIME_SHIFT_BUFFER_MS / 60_000 + 1;

// The default keeps a day more than players can seek back.
const _: () = assert!(DEFAULT_KEEP_MINUTES >= MIN_KEEP_MINUTES + 24 * 60 - 1);

/// `[publish]` as written, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPublish {
    /// `publish.target`: a directory or `s3://bucket/prefix`.
    pub target: String,
    /// `publish.endpoint`: the S3 endpoint URL; empty = AWS's own (or
    /// `AWS_ENDPOINT_URL` from the environment).
    pub endpoint: String,
    /// `publish.region`: empty = from the AWS environment/profile, else
    /// `us-east-1`.
    pub region: String,
    /// `publish.path_style`: `bucket` in the path rather than the host name.
    pub path_style: bool,
    /// `publish.concurrency`: simultaneous uploads.
    pub concurrency: usize,
    /// `publish.keep_minutes`: how long segments stay after they are played;
    /// 0 keeps them forever.
    pub keep_minutes: u64,
    /// `publish.cors_origins`: origins `--setup-bucket` allows to fetch the
    /// stream.
    pub cors_origins: Vec<String>,
}

impl Default for RawPublish {
    fn default() -> Self {
        RawPublish {
            target: "out".into(),
            endpoint: String::new(),
            region: String::new(),
            path_style: false,
            concurrency: DEFAULT_CONCURRENCY,
            keep_minutes: DEFAULT_KEEP_MINUTES,
            cors_origins: vec!["*".into()],
        }
    }
}

/// Validated `[publish]` settings (the target itself is
/// [`crate::station::Station::target`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishConfig {
    /// S3 endpoint URL (`http(s)://host[:port]`), `None` for the SDK's
    /// default resolution (AWS, or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Region, `None` for the AWS chain's (falling back to `us-east-1`).
    pub region: Option<String>,
    /// Path-style addressing (MinIO, SeaweedFS, most non-AWS stores).
    pub path_style: bool,
    /// Simultaneous uploads, 1..=[`MAX_CONCURRENCY`].
    pub concurrency: usize,
    /// Segments that ended more than this many minutes before now are
    /// deleted; `None` keeps everything.
    pub keep_minutes: Option<u64>,
    /// Origins allowed by the CORS rule `--setup-bucket` applies.
    pub cors_origins: Vec<String>,
}

impl Default for PublishConfig {
    fn default() -> Self {
        // The defaults are valid by construction (a unit test checks it).
        PublishConfig {
            endpoint: None,
            region: None,
            path_style: false,
            concurrency: DEFAULT_CONCURRENCY,
            keep_minutes: Some(DEFAULT_KEEP_MINUTES),
            cors_origins: vec!["*".into()],
        }
    }
}

/// Checks `[publish]` (all keys but `target`), naming `file` and the key in
/// errors.
pub fn validate(raw: &RawPublish, file: &str) -> Result<PublishConfig> {
    let bad = |key: &str, message: String| Error::Config {
        file: file.to_string(),
        key: format!("publish.{key}"),
        message,
    };

    let endpoint = raw.endpoint.trim();
    let endpoint = if endpoint.is_empty() {
        None
    } else {
        let rest = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"));
        let Some(rest) = rest else {
            return Err(bad(
                "endpoint",
                format!("{endpoint:?} is not allowed: give an http:// or https:// URL, e.g. \"http://127.0.0.1:8333\", or leave it empty for AWS"),
            ));
        };
        let host = rest.split('/').next().unwrap_or("");
        if host.contains('@') {
            // Never echo the value: it may hold a secret.
            return Err(bad(
                "endpoint",
                "must not contain credentials (user:password@); credentials come from the AWS \
                 environment or profile only"
                    .into(),
            ));
        }
        if host.is_empty()
            || rest
                .chars()
                .any(|c| c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(bad(
                "endpoint",
                format!("{endpoint:?} is not a valid URL: give scheme, host and optional port, e.g. \"https://s3.example.com\""),
            ));
        }
        Some(endpoint.trim_end_matches('/').to_string())
    };

    let region = raw.region.trim();
    let region = if region.is_empty() {
        None
    } else if region.len() <= 64
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some(region.to_string())
    } else {
        return Err(bad(
            "region",
            format!("{region:?} is not a region name: use lowercase letters, digits and '-', e.g. \"us-east-1\" or \"auto\""),
        ));
    };

    if raw.concurrency == 0 || raw.concurrency > MAX_CONCURRENCY {
        return Err(bad(
            "concurrency",
            format!(
                "{} is not allowed: use 1 to {MAX_CONCURRENCY} simultaneous uploads, e.g. {DEFAULT_CONCURRENCY}",
                raw.concurrency
            ),
        ));
    }

    let keep_minutes = match raw.keep_minutes {
        0 => None,
        m if m < MIN_KEEP_MINUTES => {
            return Err(bad(
                "keep_minutes",
                format!(
                    "{m} is too short: players may seek back {} minutes (the MPD's \
                     timeShiftBufferDepth), so keep at least {MIN_KEEP_MINUTES}; the default is \
                     {DEFAULT_KEEP_MINUTES} (a day more), and 0 keeps everything",
                    TIME_SHIFT_BUFFER_MS / 60_000
                ),
            ))
        }
        m if m > 366 * 24 * 60 * 100 => {
            return Err(bad(
                "keep_minutes",
                format!("{m} is too large: use at most a century, or 0 to keep everything"),
            ))
        }
        m => Some(m),
    };

    if raw.cors_origins.is_empty() {
        return Err(bad(
            "cors_origins",
            "needs at least one origin, e.g. [\"*\"] or [\"https://radio.example.com\"]".into(),
        ));
    }
    let mut cors_origins = Vec::with_capacity(raw.cors_origins.len());
    for o in &raw.cors_origins {
        let o = o.trim();
        let ok = o == "*"
            || o.strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .is_some_and(|host| {
                    !host.is_empty()
                        && !host.contains('/')
                        && !host.contains('@')
                        && !host.chars().any(char::is_whitespace)
                });
        if !ok {
            return Err(bad(
                "cors_origins",
                format!("{o:?} is not an origin: use \"*\" or scheme://host[:port] without a path, e.g. \"https://radio.example.com\""),
            ));
        }
        cors_origins.push(o.to_string());
    }

    Ok(PublishConfig {
        endpoint,
        region,
        path_style: raw.path_style,
        concurrency: raw.concurrency,
        keep_minutes,
        cors_origins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> Result<PublishConfig> {
        #[derive(Deserialize)]
        struct Wrap {
            publish: RawPublish,
        }
        let w: Wrap = toml::from_str(toml_text).expect("valid TOML");
        validate(&w.publish, "f")
    }

    fn key_of(toml_text: &str) -> String {
        match check(toml_text) {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_match_the_shipped_file() {
        let d = validate(&RawPublish::default(), "f").expect("defaults are valid");
        assert_eq!(d, PublishConfig::default());
        let shipped: toml::Table =
            toml::from_str(crate::station::EMBEDDED_DEFAULT).expect("shipped TOML");
        let publish = shipped
            .get("publish")
            .cloned()
            .expect("the shipped file has [publish]");
        let raw: RawPublish = publish.try_into().expect("[publish] parses");
        assert_eq!(validate(&raw, "f").expect("valid"), d);
    }

    #[test]
    fn s3_settings_parse() {
        let c = check(
            "[publish]\nendpoint = \"http://127.0.0.1:8333/\"\nregion = \"us-east-1\"\npath_style = true\nconcurrency = 8\nkeep_minutes = 0\ncors_origins = [\"https://radio.example.com\"]\n",
        )
        .expect("valid");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(c.region.as_deref(), Some("us-east-1"));
        assert!(c.path_style);
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.keep_minutes, None);
    }

    #[test]
    fn bad_values_name_their_key_and_never_echo_credentials() {
        for (text, key) in [
            ("[publish]\nendpoint = \"ftp://x\"\n", "publish.endpoint"),
            ("[publish]\nregion = \"US East\"\n", "publish.region"),
            ("[publish]\nconcurrency = 0\n", "publish.concurrency"),
            ("[publish]\nconcurrency = 100000\n", "publish.concurrency"),
            ("[publish]\nkeep_minutes = 5\n", "publish.keep_minutes"),
            ("[publish]\ncors_origins = []\n", "publish.cors_origins"),
            (
                "[publish]\ncors_origins = [\"https://a.example/page\"]\n",
                "publish.cors_origins",
            ),
        ] {
            assert_eq!(key_of(text), key, "{text}");
        }
        match check("[publish]\nendpoint = \"https://AKIA:s3cr3t@s3.example.com\"\n") {
            Err(e) => {
                let m = e.to_string();
                assert!(!m.contains("s3cr3t") && !m.contains("AKIA"), "{m}");
            }
            Ok(_) => panic!("credentials in the endpoint must be refused"),
        }
    }
}

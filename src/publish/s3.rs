//! The S3 target: an S3-compatible bucket (AWS S3, R2, MinIO, SeaweedFS…)
//! through aws-sdk-s3.
//!
//! The rest of lofiever is synchronous; this target owns a small tokio
//! runtime and blocks on it, so its methods can be called from any thread,
//! concurrently (the publish driver runs `publish.concurrency` workers).
//!
//! - **Credentials** come from the standard AWS chain only (environment,
//!   shared config/credentials files and profiles, SSO, web identity,
//!   container and instance roles). They are never read from the repository,
//!   never stored here and never formatted into a message or a log line.
//! - **Endpoint, region, addressing** come from `[publish]` (endpoint URL,
//!   region, `path_style` for stores that do not do virtual-host buckets).
//! - **Retries**: the SDK's own retries are turned off and replaced by one
//!   policy ([`super::retry::Backoff`]): throttling (429, `SlowDown`…), 5xx,
//!   timeouts, dropped or refused connections and unreadable responses are
//!   retried with exponential backoff and jitter; anything else (rejected
//!   credentials, a missing bucket, access denied, a bad request) stops at
//!   once with one line saying what to do.
//! - **Checksums**: every upload carries `Content-MD5`, so the store refuses a
//!   corrupted body; for a single-part upload the ETag is that MD5, which is
//!   how [`Target::list`] can report content checksums without a request per
//!   object. The SDK's newer CRC checksums are sent only where an operation
//!   requires one (many S3-compatible stores do not know them).
//! - **Conditional writes** (for the station lock, `super::lock`):
//!   `If-None-Match: *` and `If-Match: <ETag>` on PutObject, `If-Match` on
//!   DeleteObject; a 412 answer means "the condition does not hold", not a
//!   failure. Objects whose name starts with `.` (the lock) are left out of
//!   listings, as a folder target leaves out dot-files.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete,
    ObjectIdentifier,
};
use aws_sdk_s3::Client;

use super::retry::{jitter_seed, Backoff};
use super::{ObjectInfo, PutObject, Target};
use crate::error::{Error, Result};
use crate::station::PublishConfig;

/// Keys per `DeleteObjects` request (the S3 limit).
pub const DELETE_BATCH: usize = 1000;

/// The region used when neither `publish.region` nor the AWS chain names one.
pub const FALLBACK_REGION: &str = "us-east-1";

/// An S3-compatible bucket and key prefix as a publish target.
pub struct S3Target {
    rt: tokio::runtime::Runtime,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Deliberately minimal: no client, no configuration, no credentials.
        f.debug_struct("S3Target")
            .field("url", &self.inner.url)
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

/// What tasks on the runtime share.
struct Inner {
    client: Client,
    bucket: String,
    /// Key prefix with a trailing `/`, or empty.
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    url: String,
    /// The endpoint, for messages.
    endpoint: String,
    region: String,
    custom_endpoint: bool,
    backoff: Backoff,
    retries: AtomicU64,
}

/// Why one request failed, and whether trying again could help.
#[derive(Debug)]
struct Failure {
    retryable: bool,
    message: String,
}

/// What `--setup-bucket` did, and the policy the operator still has to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSetup {
    /// The bucket was created by this call (it did not exist).
    pub created: bool,
    /// The origins the CORS rule allows.
    pub cors_origins: Vec<String>,
    /// The bucket policy (JSON) that makes the station's objects publicly
    /// readable. Not applied automatically: public access is the operator's
    /// decision, and many accounts block public policies by default.
    pub public_read_policy: String,
}

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a store may stay silent after a request is sent (until the
/// first byte of its answer). A store that accepts connections and never
/// answers fails each attempt after this.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one attempt may take in all (a large listing page or upload
/// on a slow link).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest a request may take before it is reported as failed when the
/// store accepts connections but never answers: every attempt waits
/// [`READ_TIMEOUT`], with the retry waits of [`Backoff::DEFAULT`] between
/// them (6 × 5 s + at most 6.2 s ≈ 36 s).
pub fn silent_store_budget() -> Duration {
    let b = Backoff::DEFAULT;
    let waits: Duration = (1..b.attempts)
        .map(|r| {
            b.base
                .checked_mul(1u32 << (r - 1).min(20))
                .unwrap_or(b.cap)
                .min(b.cap)
        })
        .sum();
    READ_TIMEOUT * b.attempts + waits
}

impl S3Target {
    /// Connects (lazily: nothing goes over the network until the first
    /// request) to `bucket` under `prefix` with the `[publish]` settings.
    pub fn new(bucket: &str, prefix: &str, cfg: &PublishConfig) -> Result<S3Target> {
        Self::with_backoff(bucket, prefix, cfg, Backoff::DEFAULT)
    }

    /// Like [`S3Target::new`] with an explicit retry policy.
    pub fn with_backoff(
        bucket: &str,
        prefix: &str,
        cfg: &PublishConfig,
        backoff: Backoff,
    ) -> Result<S3Target> {
        let prefix = prefix.trim_matches('/');
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lofiever-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::Publish {
                target: url.clone(),
                message: format!("cannot start the network runtime: {e}"),
            })?;
        let sdk = rt.block_on(async {
            let region = match &cfg.region {
                Some(r) => RegionProviderChain::first_try(Region::new(r.clone())),
                None => RegionProviderChain::default_provider(),
            }
            .or_else(Region::new(FALLBACK_REGION));
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .retry_config(RetryConfig::disabled())
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(CONNECT_TIMEOUT)
                        .read_timeout(READ_TIMEOUT)
                        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                        .build(),
                );
            if let Some(e) = &cfg.endpoint {
                loader = loader.endpoint_url(e.clone());
            }
            loader.load().await
        });
        let region = sdk
            .region()
            .map_or_else(|| FALLBACK_REGION.to_string(), |r| r.to_string());
        let endpoint = match (&cfg.endpoint, sdk.endpoint_url()) {
            (Some(e), _) => e.clone(),
            (None, Some(e)) => e.to_string(),
            (None, None) => format!("AWS S3 in {region}"),
        };
        let custom_endpoint = cfg.endpoint.is_some() || sdk.endpoint_url().is_some();
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(cfg.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Ok(S3Target {
            rt,
            inner: Arc::new(Inner {
                client: Client::from_conf(conf),
                bucket: bucket.to_string(),
                prefix: if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                },
                url,
                endpoint,
                region,
                custom_endpoint,
                backoff,
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// Creates the bucket if it is missing, applies a CORS rule letting
    /// `origins` fetch the stream (GET/HEAD, exposing the headers players
    /// read), and returns the public-read policy for the operator to apply.
    pub fn setup_bucket(&self, origins: &[String]) -> Result<BucketSetup> {
        let inner = self.inner.clone();
        let origins = origins.to_vec();
        self.rt.block_on(async move {
            let created = inner.create_bucket_if_missing().await?;
            inner.put_cors(&origins).await?;
            Ok(BucketSetup {
                created,
                cors_origins: origins,
                public_read_policy: public_read_policy(&inner.bucket, &inner.prefix),
            })
        })
    }
}

/// The bucket policy that lets anyone read the objects under `prefix`
/// (with its trailing `/`, or empty for the whole bucket).
pub fn public_read_policy(bucket: &str, prefix: &str) -> String {
    // Written out rather than built from a map, to keep the customary key
    // order (Version first) that people compare against the AWS docs.
    let resource = serde_json::Value::from(format!("arn:aws:s3:::{bucket}/{prefix}*"));
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Sid\": \"LofieverPublicRead\",\n      \"Effect\": \"Allow\",\n      \"Principal\": \"*\",\n      \"Action\": \"s3:GetObject\",\n      \"Resource\": {resource}\n    }}\n  ]\n}}"
    )
}

impl Target for S3Target {
    fn describe(&self) -> String {
        self.inner.url.clone()
    }

    fn list(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>> {
        let inner = self.inner.clone();
        let prefix = prefix.to_string();
        self.rt.block_on(async move {
            if !prefix.is_empty() {
                return inner.list_under(&prefix).await;
            }
            // Everything: list the top level, then each folder (a rendition,
            // schedule/…) concurrently, so a big station lists in the time of
            // its largest folder rather than of all of them.
            let (mut all, folders) = inner.list_top().await?;
            let mut tasks = tokio::task::JoinSet::new();
            for folder in folders {
                let inner = inner.clone();
                tasks.spawn(async move { inner.list_under(&folder).await });
            }
            while let Some(done) = tasks.join_next().await {
                let part = done.map_err(|e| inner.error("listing", e.to_string()))??;
                all.extend(part);
            }
            Ok(all)
        })
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let inner = self.inner.clone();
        self.rt.block_on(async move { inner.get(key).await })
    }

    fn put(&self, object: &PutObject<'_>) -> Result<()> {
        let inner = self.inner.clone();
        self.rt.block_on(async move { inner.put(object).await })
    }

    fn delete(&self, keys: &[String]) -> Result<u64> {
        let inner = self.inner.clone();
        self.rt.block_on(async move {
            let mut deleted = 0;
            for batch in keys.chunks(DELETE_BATCH) {
                inner.delete_batch(batch).await?;
                deleted += batch.len() as u64;
            }
            Ok(deleted)
        })
    }

    fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    fn put_if_absent(&self, object: &PutObject<'_>) -> Result<Option<String>> {
        let inner = self.inner.clone();
        self.rt
            .block_on(async move { inner.put_conditional(object, Condition::Absent).await })
    }

    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        let inner = self.inner.clone();
        self.rt
            .block_on(async move { inner.get_versioned(key).await })
    }

    fn put_if_version(&self, object: &PutObject<'_>, version: &str) -> Result<Option<String>> {
        let inner = self.inner.clone();
        self.rt.block_on(async move {
            inner
                .put_conditional(object, Condition::Version(version))
                .await
        })
    }

    fn delete_if_version(&self, key: &str, version: &str) -> Result<bool> {
        let inner = self.inner.clone();
        self.rt
            .block_on(async move { inner.delete_if_version(key, version).await })
    }
}

/// The precondition of a conditional PutObject.
#[derive(Debug, Clone, Copy)]
enum Condition<'a> {
    /// `If-None-Match: *`: only if the key does not exist.
    Absent,
    /// `If-Match: <ETag>`: only if the object is still this version.
    Version(&'a str),
}

/// Whether an SDK error is a failed precondition (HTTP 412): the answer
/// "no" to a conditional request, not a failure.
fn precondition_failed<E>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(s) if s.raw().status().as_u16() == 412)
}

impl Inner {
    fn error(&self, what: &str, message: String) -> Error {
        Error::Publish {
            target: self.url.clone(),
            message: format!("{what}: {message}"),
        }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `op` until it succeeds, fails for good, or runs out of attempts.
    async fn retry<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(f) if f.retryable && attempt < self.backoff.attempts => {
                    let wait = self.backoff.delay(attempt, jitter_seed());
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        "{}: {what}: {}; retry {attempt} in {} ms",
                        self.url,
                        f.message,
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(f) if f.retryable => {
                    return Err(self.error(
                        what,
                        format!(
                            "{} (gave up after {attempt} attempts in {:.1} s)",
                            f.message,
                            started.elapsed().as_secs_f64()
                        ),
                    ))
                }
                Err(f) => return Err(self.error(what, f.message)),
            }
        }
    }

    /// Maps an SDK error to a retry decision and one line for people.
    fn classify<E>(&self, err: &SdkError<E>, key: Option<&str>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let retry = |message: String| Failure {
            retryable: true,
            message,
        };
        let fatal = |message: String| Failure {
            retryable: false,
            message,
        };
        let endpoint = &self.endpoint;
        let bucket = &self.bucket;
        if !matches!(err, SdkError::ServiceError(_)) && is_credentials_problem(err) {
            return fatal(format!(
                "no AWS credentials found (looked in the environment, the AWS config and \
                 credentials files, web identity, container and instance metadata{}); set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
                unreadable_config_files()
            ));
        }
        match err {
            SdkError::TimeoutError(_) => retry(format!("no answer from {endpoint} in time")),
            SdkError::DispatchFailure(d) if d.is_user() => {
                fatal(format!("cannot send to {endpoint}: {}", root_cause(err)))
            }
            SdkError::DispatchFailure(_) => {
                retry(format!("cannot reach {endpoint} ({})", root_cause(err)))
            }
            SdkError::ResponseError(_) => retry(format!(
                "unreadable response from {endpoint} ({})",
                root_cause(err)
            )),
            SdkError::ServiceError(s) => {
                let status = s.raw().status().as_u16();
                let code = err.code().unwrap_or("");
                let detail = err.message().unwrap_or("").trim();
                let what = if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("{code}, HTTP {status}")
                };
                match code {
                    "NoSuchBucket" => fatal(format!(
                        "bucket {bucket:?} does not exist at {endpoint}; create it, or run \
                         `lofiever publish --setup-bucket`"
                    )),
                    "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "InvalidToken"
                    | "ExpiredToken"
                    | "TokenRefreshRequired"
                    | "InvalidSecurity" => fatal(format!(
                        "{endpoint} rejected the credentials ({code}); check the AWS credentials \
                         in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
                         AWS_SESSION_TOKEN) or the AWS profile"
                    )),
                    "AccessDenied" | "AllAccessDisabled" => fatal(format!(
                        "access denied to bucket {bucket:?} at {endpoint} ({what}); the \
                         credentials work but lack permission (s3:ListBucket, s3:GetObject, \
                         s3:PutObject, s3:DeleteObject are needed)"
                    )),
                    "SlowDown"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequests"
                    | "RequestTimeout"
                    | "InternalError"
                    | "ServiceUnavailable" => retry(format!("{endpoint} answered {what}")),
                    _ if status == 429 || status >= 500 => {
                        retry(format!("{endpoint} answered {what}"))
                    }
                    _ if status == 403 => fatal(format!(
                        "access denied by {endpoint} ({what}); check the AWS credentials and \
                         their permissions on bucket {bucket:?}"
                    )),
                    _ if status == 404 && key.is_none() => fatal(format!(
                        "bucket {bucket:?} was not found at {endpoint} ({what}); check \
                         publish.target and publish.endpoint, or run `lofiever publish \
                         --setup-bucket`"
                    )),
                    _ => fatal(format!(
                        "{endpoint} refused the request ({what}{})",
                        if detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", one_line(detail))
                        }
                    )),
                }
            }
            SdkError::ConstructionFailure(_) => {
                fatal(format!("cannot build the request ({})", root_cause(err)))
            }
            _ => retry(format!(
                "request to {endpoint} failed ({})",
                root_cause(err)
            )),
        }
    }

    async fn list_page(
        &self,
        prefix: &str,
        delimiter: bool,
        token: Option<String>,
    ) -> Result<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output> {
        let what = if prefix.is_empty() {
            "listing the bucket".to_string()
        } else {
            format!("listing {prefix}")
        };
        self.retry(&what, || {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(1000);
            if delimiter {
                req = req.delimiter("/");
            }
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            async move { req.send().await.map_err(|e| self.classify(&e, None)) }
        })
        .await
    }

    /// Adds one listing page's objects to `out` (keys relative to the prefix).
    fn collect_page(
        &self,
        page: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output,
        out: &mut BTreeMap<String, ObjectInfo>,
    ) {
        for o in page.contents() {
            let Some(key) = o.key().and_then(|k| k.strip_prefix(self.prefix.as_str())) else {
                continue;
            };
            if key.is_empty() || key.ends_with('/') {
                continue; // folder markers some tools create
            }
            if key
                .rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with('.'))
            {
                continue; // the station lock; dot-names are never published
            }
            out.insert(
                key.to_string(),
                ObjectInfo {
                    size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                    md5: o.e_tag().and_then(etag_md5),
                },
            );
        }
    }

    /// Every object whose key (relative to the target's prefix) starts with
    /// `prefix`.
    async fn list_under(&self, prefix: &str) -> Result<BTreeMap<String, ObjectInfo>> {
        let full = self.full_key(prefix);
        let mut out = BTreeMap::new();
        let mut token = None;
        loop {
            let page = self.list_page(&full, false, token).await?;
            self.collect_page(&page, &mut out);
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || page.is_truncated() != Some(true) {
                return Ok(out);
            }
        }
    }

    /// The objects at the top level and the folders below it (relative).
    async fn list_top(&self) -> Result<(BTreeMap<String, ObjectInfo>, Vec<String>)> {
        let mut out = BTreeMap::new();
        let mut folders = Vec::new();
        let mut token = None;
        loop {
            let page = self.list_page(&self.prefix, true, token).await?;
            self.collect_page(&page, &mut out);
            for p in page.common_prefixes() {
                if let Some(rel) = p
                    .prefix()
                    .and_then(|k| k.strip_prefix(self.prefix.as_str()))
                {
                    if !rel.is_empty() {
                        folders.push(rel.to_string());
                    }
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || page.is_truncated() != Some(true) {
                return Ok((out, folders));
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(key).await?.map(|(bytes, _)| bytes))
    }

    async fn put(&self, object: &PutObject<'_>) -> Result<()> {
        let full = self.full_key(object.key);
        let md5 = base64(&object.md5);
        self.retry(object.key, || {
            let req = self.put_request(
                &full,
                object,
                &md5,
                object.content_type,
                object.cache_control,
            );
            async move {
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.classify(&e, Some(object.key)))
            }
        })
        .await
    }

    /// A PutObject request for `object` at the full key `full`, with its
    /// Content-MD5 (`md5`, base64) and the given headers.
    fn put_request(
        &self,
        full: &str,
        object: &PutObject<'_>,
        md5: &str,
        content_type: &str,
        cache_control: &str,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(full)
            .content_type(content_type)
            .cache_control(cache_control)
            .content_md5(md5)
            .body(ByteStream::from(object.bytes.to_vec()))
    }

    /// PutObject with a precondition: the new ETag, or `None` when the
    /// store answers 412 Precondition Failed. A 409 (a conflicting write in
    /// flight) is retried like throttling.
    async fn put_conditional(
        &self,
        object: &PutObject<'_>,
        condition: Condition<'_>,
    ) -> Result<Option<String>> {
        let full = self.full_key(object.key);
        let md5 = base64(&object.md5);
        self.retry(object.key, || {
            // Conditional objects are state (the lock): never cached.
            let req = self.put_request(&full, object, &md5, "application/json", "no-store");
            let req = match condition {
                Condition::Absent => req.if_none_match("*"),
                Condition::Version(etag) => req.if_match(etag),
            };
            async move {
                match req.send().await {
                    Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
                    Err(e) if precondition_failed(&e) => Ok(None),
                    Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 409) => {
                        Err(Failure {
                            retryable: true,
                            message: "a conflicting write is in progress (HTTP 409)".into(),
                        })
                    }
                    Err(e) => Err(self.classify(&e, Some(object.key))),
                }
            }
        })
        .await
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        let full = self.full_key(key);
        self.retry(key, || async {
            match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&full)
                .send()
                .await
            {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    match out.body.collect().await {
                        Ok(b) => Ok(Some((b.into_bytes().to_vec(), etag))),
                        Err(e) => Err(Failure {
                            retryable: true,
                            message: format!("download broke off ({e})"),
                        }),
                    }
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) => Err(self.classify(&e, Some(key))),
            }
        })
        .await
    }

    /// DeleteObject with `If-Match`; `false` on 412 (the object changed).
    /// A store that ignores `If-Match` on delete deletes unconditionally.
    async fn delete_if_version(&self, key: &str, version: &str) -> Result<bool> {
        let full = self.full_key(key);
        self.retry(key, || async {
            match self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&full)
                .if_match(version)
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if precondition_failed(&e) => Ok(false),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
                Err(e) => Err(self.classify(&e, Some(key))),
            }
        })
        .await
    }

    async fn delete_batch(&self, keys: &[String]) -> Result<()> {
        let Some(first) = keys.first() else {
            return Ok(());
        };
        let what = format!("deleting {} objects from {first}", keys.len());
        let ids = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(self.full_key(k)).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.error(&what, e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| self.error(&what, e.to_string()))?;
        let out = self
            .retry(&what, || {
                let req = self
                    .client
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete.clone())
                    .customize()
                    .mutate_request(add_content_md5);
                async move { req.send().await.map_err(|e| self.classify(&e, None)) }
            })
            .await?;
        if let Some(e) = out.errors().first() {
            let key = e.key().unwrap_or("?");
            let key = key.strip_prefix(self.prefix.as_str()).unwrap_or(key);
            return Err(self.error(
                key,
                format!(
                    "could not be deleted ({}{}); {} of {} in this batch failed",
                    e.code().unwrap_or("error"),
                    e.message()
                        .map(|m| format!(": {}", one_line(m)))
                        .unwrap_or_default(),
                    out.errors().len(),
                    keys.len()
                ),
            ));
        }
        Ok(())
    }

    /// Creates the bucket; `false` if it already existed and is ours.
    async fn create_bucket_if_missing(&self) -> Result<bool> {
        let what = format!("creating bucket {:?}", self.bucket);
        let res = self
            .retry(&what, || {
                let mut req = self.client.create_bucket().bucket(&self.bucket);
                // AWS wants a location constraint outside us-east-1; other
                // stores often refuse one they do not know.
                if !self.custom_endpoint && self.region != FALLBACK_REGION {
                    req = req.create_bucket_configuration(
                        CreateBucketConfiguration::builder()
                            .location_constraint(BucketLocationConstraint::from(
                                self.region.as_str(),
                            ))
                            .build(),
                    );
                }
                async move {
                    match req.send().await {
                        Ok(_) => Ok(true),
                        // "Exists" may be someone else's bucket (or ours, on
                        // stores that say so): the CORS request that follows
                        // tells which, with an access-denied error.
                        Err(e)
                            if matches!(
                                e.code(),
                                Some("BucketAlreadyOwnedByYou") | Some("BucketAlreadyExists")
                            ) =>
                        {
                            Ok(false)
                        }
                        Err(e) => Err(self.classify(&e, None)),
                    }
                }
            })
            .await?;
        Ok(res)
    }

    async fn put_cors(&self, origins: &[String]) -> Result<()> {
        let what = format!("setting the CORS rule of bucket {:?}", self.bucket);
        let rule = CorsRule::builder()
            .set_allowed_origins(Some(origins.to_vec()))
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_headers("*")
            // What players and the page read: the Date header (clock sync,
            // `urn:mpeg:dash:utc:http-head:2014`) and Age (to refuse a Date that
            // a cache kept), lengths and validators.
            .expose_headers("Date")
            .expose_headers("Age")
            .expose_headers("ETag")
            .expose_headers("Content-Length")
            .expose_headers("Content-Type")
            .expose_headers("Last-Modified")
            .max_age_seconds(3600)
            .build()
            .map_err(|e| self.error(&what, e.to_string()))?;
        let cors = CorsConfiguration::builder()
            .cors_rules(rule)
            .build()
            .map_err(|e| self.error(&what, e.to_string()))?;
        self.retry(&what, || {
            let req = self
                .client
                .put_bucket_cors()
                .bucket(&self.bucket)
                .cors_configuration(cors.clone())
                .customize()
                .mutate_request(add_content_md5);
            async move {
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.classify(&e, None))
            }
        })
        .await
    }
}

/// Adds `Content-MD5` to a request with an in-memory body: S3 requires an
/// integrity header on DeleteObjects and PutBucketCors, and many
/// S3-compatible stores accept only this one (not the newer CRC headers).
fn add_content_md5(req: &mut aws_sdk_s3::config::http::HttpRequest) {
    if let Some(body) = req.body().bytes() {
        let md5 = base64(&super::md5(body));
        req.headers_mut().insert("Content-MD5", md5);
    }
}

/// The content MD5 (lowercase hex) of a single-part upload's ETag; `None`
/// for multipart or otherwise opaque ETags.
fn etag_md5(etag: &str) -> Option<String> {
    let e = etag.trim().trim_matches('"');
    (e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit())).then(|| e.to_ascii_lowercase())
}

/// The innermost cause of an error, on one line.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() {
            last = s;
        }
        cur = e.source();
    }
    one_line(&last)
}

fn is_credentials_problem(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.to_string().to_ascii_lowercase().contains("credential") {
            return true;
        }
        cur = e.source();
    }
    false
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Standard base64 (RFC 4648) with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The AWS config files the environment names that cannot be read, as
/// "; AWS_CONFIG_FILE names /x, which cannot be read: …" (empty if none):
/// the SDK's own warnings about them are not shown (see the CLI's logging
/// set-up), so the credentials error says it.
fn unreadable_config_files() -> String {
    ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]
        .iter()
        .filter_map(|var| {
            let path = std::path::PathBuf::from(std::env::var_os(var)?);
            let e = std::fs::File::open(&path).err()?;
            Some(format!(
                "; {var} names {}, which cannot be read: {e}",
                path.display()
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::md5_hex;
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        // Content-MD5 of "hello\n" as S3 expects it.
        assert_eq!(
            base64(&super::super::md5(b"hello\n")),
            "sZRqySSS0jR8YjW00mERhA=="
        );
    }

    #[test]
    fn etags_of_single_part_uploads_are_md5s_and_others_are_not() {
        assert_eq!(
            etag_md5("\"b1946ac92492d2347c6235b4d2611184\"").as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
        assert_eq!(md5_hex(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(etag_md5("\"b1946ac92492d2347c6235b4d2611184-3\""), None);
        assert_eq!(etag_md5("W/\"x\""), None);
    }

    #[test]
    fn the_policy_grants_read_on_the_prefix_only() {
        let p: serde_json::Value =
            serde_json::from_str(&public_read_policy("radio", "live/")).expect("JSON");
        assert_eq!(p["Statement"][0]["Resource"], "arn:aws:s3:::radio/live/*");
        assert_eq!(p["Statement"][0]["Action"], "s3:GetObject");
    }
}

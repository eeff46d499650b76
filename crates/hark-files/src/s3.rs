//! S3-compatible object stores: their settings (a `[... .s3]` table) and a client builder.

use std::time::Duration;

use object_store::RetryConfig;
use object_store::aws::AmazonS3Builder;
use serde::Deserialize;

/// Settings of an S3-compatible store that cannot work, with the key named as written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct S3ConfigError(String);

/// The `[recording.s3]` table: an S3-compatible object store.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Config {
    /// Endpoint URL for S3-compatible stores (MinIO, Ceph, ...); AWS when absent.
    pub endpoint: Option<String>,
    /// Region [default: us-east-1].
    pub region: Option<String>,
    /// Access key id [default: the standard AWS chain — `AWS_*` variables, web identity,
    /// instance role].
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Secret access key (with `access_key_id`).
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Allow a plain-http endpoint (implied by an `http://` endpoint).
    #[serde(default)]
    pub allow_http: bool,
}

impl S3Config {
    /// Whether plain HTTP may be used: asked for, or an `http://` endpoint written out.
    pub fn allows_http(&self) -> bool {
        self.allow_http
            || self
                .endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://"))
    }

    /// Refuses settings that cannot work, naming the key as written in `table`: an endpoint
    /// that is not a URL, keys that are empty or still a placeholder (such as the README's
    /// `…`).
    pub fn check(&self, table: &str) -> Result<(), S3ConfigError> {
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(S3ConfigError(format!(
                "{table} endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(S3ConfigError(format!(
                "{table} access_key_id and secret_access_key go together (or leave both out to use the AWS credential chain)"
            )));
        }
        for (key, value) in [
            ("access_key_id", &self.access_key_id),
            ("secret_access_key", &self.secret_access_key),
        ] {
            let Some(value) = value else { continue };
            let usable = !value.trim().is_empty()
                && value.chars().all(|c| c.is_ascii_graphic())
                && !value.chars().all(|c| c == '.');
            if !usable {
                return Err(S3ConfigError(format!(
                    "{table} {key} is empty or a placeholder: set the store's real key"
                )));
            }
        }
        Ok(())
    }
}

/// A client builder for `bucket` of the configured store. Keys from the configuration when
/// given; otherwise object_store's standard chain (`AWS_*` variables, web identity, ECS and EC2
/// instance roles), so IAM roles work without static keys.
pub fn s3_builder(
    config: &S3Config,
    bucket: &str,
    max_retries: usize,
    retry_timeout: Duration,
) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(config.allows_http())
        .with_retry(RetryConfig {
            max_retries,
            retry_timeout,
            ..RetryConfig::default()
        });
    builder = builder.with_region(
        config
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_owned()),
    );
    if let (Some(key), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
        builder = builder
            .with_access_key_id(key)
            .with_secret_access_key(secret);
    }
    if let Some(endpoint) = &config.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_settings_are_checked_and_http_endpoints_just_work() {
        let s3 = |endpoint: Option<&str>, key: &str| S3Config {
            endpoint: endpoint.map(str::to_owned),
            region: None,
            access_key_id: Some(key.into()),
            secret_access_key: Some("secret".into()),
            allow_http: false,
        };
        assert!(s3(Some("http://127.0.0.1:9000"), "AK").allows_http());
        assert!(!s3(Some("https://s3.example"), "AK").allows_http());
        assert!(
            s3(Some("https://s3.example"), "AK")
                .check("[recording.s3]")
                .is_ok()
        );
        let e = s3(None, "…")
            .check("[recording.s3]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[recording.s3] access_key_id"), "{e}");
        assert!(s3(None, "").check("[x]").is_err());
        assert!(s3(Some("s3.example"), "AK").check("[x]").is_err());
        // No keys at all: the AWS credential chain (an IAM role) is used.
        let role = S3Config {
            access_key_id: None,
            secret_access_key: None,
            ..s3(None, "AK")
        };
        assert!(role.check("[x]").is_ok());
        let half = S3Config {
            secret_access_key: None,
            ..s3(None, "AK")
        };
        assert!(
            half.check("[x]")
                .unwrap_err()
                .to_string()
                .contains("go together")
        );
    }
}

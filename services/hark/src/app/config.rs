//! Service configuration: defaults, `hark.toml`, `HARK_*` variables and flags, merged in that
//! order of increasing precedence.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

/// The default listen address: loopback only, so a fresh install exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "hark-data";
/// The configuration file read when present and no other is named.
pub const DEFAULT_CONFIG_FILE: &str = "hark.toml";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// a flag beats the variable, which beats the file, which beats the default.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Configuration file [default: ./hark.toml when present].
    #[arg(long, env = "HARK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "HARK_LISTEN")]
    pub listen: Option<String>,
    /// Directory for the database, recordings and generated credentials [default: ./hark-data].
    #[arg(long, env = "HARK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format [default: text].
    #[arg(long, env = "HARK_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `warn,hark=debug` [default: info].
    #[arg(long, env = "HARK_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// PostgreSQL database shared by several instances, `postgres://user:password@host/db`
    /// [default: SQLite in the data directory].
    #[arg(long, env = "HARK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where recordings started by policy or on demand go: a directory or `s3://bucket/prefix`
    /// (with `[recording.s3]` for the endpoint and keys) [default: DATA_DIR/recordings].
    #[arg(long, env = "HARK_RECORDINGS_URL")]
    pub recordings_url: Option<String>,
    /// Seconds live calls may go on after SIGTERM/SIGINT before they are asked to end
    /// [default: 300].
    #[arg(long, env = "HARK_DRAIN_SECONDS")]
    pub drain_seconds: Option<u64>,
}

/// Where the database is: the same options as `hark serve`.
#[derive(Debug, Default, Args)]
pub struct DatabaseLocation {
    /// Configuration file [default: ./hark.toml when present].
    #[arg(long, env = "HARK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./hark-data].
    #[arg(long, env = "HARK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database URL [default: SQLite in the data directory].
    #[arg(long, env = "HARK_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseLocation {
    /// The configuration `hark serve` would run with from here, with these options.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        Config::resolve(ServeArgs {
            config: self.config,
            data_dir: self.data_dir,
            database_url: self.database_url,
            ..ServeArgs::default()
        })
    }
}

/// The resolved configuration of `hark serve`.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Address the HTTP and WebSocket server listens on.
    pub listen: SocketAddr,
    /// Directory for persistent state.
    pub data_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter directive.
    pub log_level: String,
    /// AudioHook credential pairs accepted besides the generated one.
    pub audiohook_credentials: Vec<AudioHookCredential>,
    /// Recording policy and defaults.
    pub recording: hark_recording::runtime::RecordingSettings,
    /// Monitor integrations and streaming.
    pub monitor: hark_monitor::net::MonitorSettings,
    /// The Voice ID API.
    pub voiceid: VoiceIdConfig,
    /// The shared PostgreSQL database (`postgres://`); SQLite in the data directory when absent.
    pub database_url: Option<String>,
    /// PEM certificates trusted, besides the Mozilla roots, for a `database_url` with
    /// `sslmode=require` (a private CA).
    pub database_ca_file: Option<PathBuf>,
    /// Listener limits and timeouts.
    pub http: HttpConfig,
    /// Operational routes: who may read them, and where.
    pub admin: AdminConfig,
    /// Seconds live calls may go on after SIGTERM before they are asked to end.
    pub drain_seconds: u64,
}

/// The default of `drain_seconds`: five minutes, enough for most calls to end on their own.
pub const DEFAULT_DRAIN_SECONDS: u64 = 300;

/// The `[http]` table: limits and timeouts of the listener (see docs/SECURITY.md).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's headers [default: 10].
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's body [default: 10].
    pub body_timeout_seconds: u64,
    /// Seconds a connection may stay open with no request in flight [default: 30].
    pub idle_timeout_seconds: u64,
    /// Connections open at once, AudioHook sessions included [default: 3/4 of the process's
    /// descriptor limit].
    pub max_connections: Option<usize>,
    /// Places under the cap kept for `/healthz`, `/readyz` and `/metrics` [default: 32].
    pub health_reserve: usize,
    /// Largest request body of hark's own JSON APIs, in bytes [default: 65536]. Voice ID
    /// bodies are capped at the largest request the AWS model allows.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout_seconds: 10,
            body_timeout_seconds: 10,
            idle_timeout_seconds: 30,
            max_connections: None,
            health_reserve: 32,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// The `[admin]` table: `/v1/interactions`, `/v1/cluster` and `/metrics` need the admin
/// bearer token (generated into credentials.toml); `listen` serves `/metrics`, `/healthz` and
/// `/readyz` without a token on a separate, private address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// A second address for metrics and health only, e.g. `127.0.0.1:9090` (no token there).
    pub listen: Option<String>,
}

/// The `[voiceid]` table: ARN parts, extra access keys, keyring keys, quotas, rate limits.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceIdConfig {
    /// The 12-digit account id in domain ARNs [default: 000000000000].
    pub account_id: String,
    /// The region in domain ARNs [default: us-east-1].
    pub region: String,
    /// Access key pairs accepted besides the generated one.
    pub access_keys: Vec<VoiceIdAccessKey>,
    /// Keyring keys: key id (what `KmsKeyId` names) → base64 of 32 bytes. `alias/hark-default`
    /// is generated into DATA_DIR/voiceid-keyring.toml on first start.
    pub keys: std::collections::BTreeMap<String, crate::app::credentials::Secret>,
    /// Quotas (AWS defaults).
    pub quotas: VoiceIdQuotas,
    /// Requests per second per operation, e.g. `ListSpeakers = 5`; unlimited when absent.
    pub rate_limits: std::collections::BTreeMap<String, f64>,
    /// Seconds between maintenance passes (expiry, purge, re-encryption) [default: 60].
    pub maintenance_interval_seconds: u64,
    /// Directories batch jobs may read and write as `file:///…` URIs
    /// [default: DATA_DIR/voiceid-batch].
    pub batch_file_roots: Vec<PathBuf>,
    /// The S3-compatible store batch jobs' `s3://` URIs live in [default: `[recording.s3]`].
    pub s3: Option<hark_files::s3::S3Config>,
    /// `Host` values signed Voice ID requests may carry, e.g. `["voiceid.example.com"]`; any
    /// when empty [default: any].
    pub allowed_hosts: Vec<String>,
}

impl Default for VoiceIdConfig {
    fn default() -> Self {
        VoiceIdConfig {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            access_keys: Vec::new(),
            keys: std::collections::BTreeMap::new(),
            quotas: VoiceIdQuotas::default(),
            rate_limits: std::collections::BTreeMap::new(),
            maintenance_interval_seconds: 60,
            batch_file_roots: Vec::new(),
            s3: None,
            allowed_hosts: Vec::new(),
        }
    }
}

/// An extra Voice ID access key pair from `[[voiceid.access_keys]]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceIdAccessKey {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: crate::app::credentials::Secret,
}

/// `[voiceid.quotas]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceIdQuotas {
    /// Domains per account [default: 3].
    pub domains: u64,
    /// Speakers per domain [default: 100000].
    pub speakers_per_domain: u64,
    /// Watchlists per domain, default included [default: 3].
    pub watchlists_per_domain: u64,
    /// Fraudsters per watchlist [default: 500].
    pub fraudsters_per_watchlist: u64,
    /// Sessions per domain that have not ended [default: 50].
    pub sessions_per_domain: u64,
}

impl Default for VoiceIdQuotas {
    fn default() -> Self {
        let q = hark_voiceid::Quotas::default();
        VoiceIdQuotas {
            domains: q.domains,
            speakers_per_domain: q.speakers_per_domain,
            watchlists_per_domain: q.watchlists_per_domain,
            fraudsters_per_watchlist: q.fraudsters_per_watchlist,
            sessions_per_domain: q.sessions_per_domain,
        }
    }
}

/// An API key (and optional base64 client secret) that AudioHook clients may present.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioHookCredential {
    /// The `X-API-KEY` value.
    pub api_key: String,
    /// The base64 client secret; without one, the key is accepted unsigned.
    pub client_secret: Option<String>,
}

/// The `[audiohook]` table of `hark.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AudioHookFileConfig {
    #[serde(default)]
    credentials: Vec<AudioHookCredential>,
}

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// A listen address that is not `IP:PORT`.
    #[error("invalid listen address {0:?}: expected IP:PORT, e.g. 127.0.0.1:8080")]
    Listen(String),
}

/// The keys `hark.toml` may hold; unknown keys are an error so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    #[serde(default)]
    audiohook: AudioHookFileConfig,
    #[serde(default)]
    recording: hark_recording::runtime::RecordingSettings,
    #[serde(default)]
    monitor: hark_monitor::net::MonitorSettings,
    #[serde(default)]
    voiceid: VoiceIdConfig,
    database_url: Option<String>,
    database_ca_file: Option<PathBuf>,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    admin: AdminConfig,
    drain_seconds: Option<u64>,
}

impl Config {
    /// Merges flags and environment (already combined by clap in `args`) over the config file
    /// over the defaults.
    pub fn resolve(args: ServeArgs) -> Result<Config, ConfigError> {
        Self::resolve_with(args, std::env::vars())
    }

    /// [`Config::resolve`] with the given environment: `HARK_SECTION__KEY` variables (and
    /// `HARK__KEY` for top-level keys) set any key of `hark.toml`, over the file; a `_FILE` suffix
    /// reads the value from that file (for secrets).
    pub fn resolve_with(
        args: ServeArgs,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (origin, mut table) = match &args.config {
            Some(path) => (path.clone(), read_table(path)?),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => (
                PathBuf::from(DEFAULT_CONFIG_FILE),
                read_table(Path::new(DEFAULT_CONFIG_FILE))?,
            ),
            None => (PathBuf::from("(no config file)"), toml::Table::new()),
        };
        let overlaid = overlay_env(&mut table, env)?;
        Self::from_table(args, &origin, &overlaid, table)
    }

    /// `hark serve`'s built-in defaults with `data_dir`, listening on `listen`: no configuration
    /// file and no environment are read (for embedders and tests).
    pub fn defaults(data_dir: PathBuf, listen: SocketAddr) -> Result<Config, ConfigError> {
        let args = ServeArgs {
            data_dir: Some(data_dir),
            listen: Some(listen.to_string()),
            ..ServeArgs::default()
        };
        Self::from_table(args, Path::new("(defaults)"), &[], toml::Table::new())
    }

    /// Flags over the file's table (already overlaid with `overlaid` variables) over defaults.
    fn from_table(
        args: ServeArgs,
        origin: &Path,
        overlaid: &[String],
        table: toml::Table,
    ) -> Result<Config, ConfigError> {
        let file: FileConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: if overlaid.is_empty() {
                        origin.to_owned()
                    } else {
                        PathBuf::from(format!("{} with {}", origin.display(), overlaid.join(", ")))
                    },
                    message: e.to_string(),
                })?;
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        Ok(Config {
            listen: listen
                .parse()
                .map_err(|_| ConfigError::Listen(listen.clone()))?,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_owned()),
            audiohook_credentials: file.audiohook.credentials,
            recording: {
                let mut recording = file.recording;
                recording.url = args.recordings_url.or(recording.url);
                recording
            },
            monitor: file.monitor,
            voiceid: file.voiceid,
            database_url: args.database_url.or(file.database_url),
            database_ca_file: file.database_ca_file,
            http: file.http,
            admin: file.admin,
            drain_seconds: args
                .drain_seconds
                .or(file.drain_seconds)
                .unwrap_or(DEFAULT_DRAIN_SECONDS),
        })
    }
}

fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The key path a variable names: `HARK_RECORDING__S3__ENDPOINT` → `recording.s3.endpoint`,
/// `HARK__DRAIN_SECONDS` → `drain_seconds`; `None` for other variables (`HARK_LISTEN` and the
/// like are flags' variables, read by clap).
fn key_path(name: &str) -> Option<Vec<String>> {
    let rest = match name.strip_prefix("HARK__") {
        Some(top) => top,
        None => name.strip_prefix("HARK_").filter(|r| r.contains("__"))?,
    };
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    path.iter().all(|p| !p.is_empty()).then_some(path)
}

/// A variable's value as TOML: a number, boolean or array when it reads as one, else a string.
fn env_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

/// Sets every key named by a `HARK_…__…` variable; returns the variables used.
fn overlay_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, ConfigError> {
    let mut used = Vec::new();
    let mut vars: Vec<(String, String)> = env.into_iter().collect();
    vars.sort();
    for (name, value) in vars {
        // `KEY_FILE` reads KEY's value from a file — except for keys whose own name ends in
        // `_file` (`[monitor] ca_file` is a path, taken as it is).
        let literal = ["__CA_FILE", "__DATABASE_CA_FILE"]
            .iter()
            .any(|k| name.ends_with(k));
        let from_file = if literal {
            None
        } else {
            name.strip_suffix("_FILE").and_then(key_path)
        };
        let (path, value) = match from_file {
            // A secret from a file: its content, one trailing newline dropped.
            Some(path) => {
                let text = std::fs::read_to_string(&value).map_err(|source| ConfigError::Read {
                    path: PathBuf::from(format!("{value} (from {name})")),
                    source,
                })?;
                (
                    path,
                    toml::Value::String(text.trim_end_matches(['\n', '\r']).to_owned()),
                )
            }
            None => match key_path(&name) {
                Some(path) => (path, env_value(&value)),
                None => continue,
            },
        };
        let (last, parents) = path.split_last().ok_or_else(|| ConfigError::Parse {
            path: PathBuf::from(&name),
            message: "names no key".into(),
        })?;
        let mut at = &mut *table;
        for part in parents {
            let entry = at
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = entry.as_table_mut().ok_or_else(|| ConfigError::Parse {
                path: PathBuf::from(&name),
                message: format!("{part} is not a table"),
            })?;
        }
        at.insert(last.clone(), value);
        used.push(name);
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_file(text: &str) -> (tempfile::TempDir, ServeArgs) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.toml");
        std::fs::write(&path, text).unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        (dir, args)
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let (_dir, mut args) = with_file("");
        args.config = None;
        // No hark.toml in the crate directory where tests run.
        let config = Config::resolve(args).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("hark-data"));
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.log_level, "info");
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let (_dir, mut args) = with_file(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/hark\"\nlog_format = \"json\"\n",
        );
        args.data_dir = Some(PathBuf::from("/flag/dir"));
        let config = Config::resolve(args).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/flag/dir"));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn recording_policy_is_configurable() {
        let (_dir, args) = with_file(
            "[recording]\npolicy = \"matching\"\ntrack = \"INCOMING\"\npause_behavior = \"skip\"\n\n[[recording.rules]]\ncustom_config = { queue = \"vip\" }\n",
        );
        let r = Config::resolve(args).unwrap().recording;
        assert_eq!(r.policy, hark_recording::policy::PolicyScope::Matching);
        assert_eq!(r.track, Some(hark_recording::Track::Incoming));
        assert_eq!(r.pause_behavior, hark_recording::PauseBehavior::Skip);
        assert_eq!(r.rules[0].custom_config["queue"], "vip");
        let (_dir, args) = with_file("[recording]\npolicy = \"sometimes\"\n");
        assert!(
            Config::resolve(args)
                .unwrap_err()
                .to_string()
                .contains("unknown variant")
        );
    }

    #[test]
    fn monitors_can_be_configured() {
        let (_dir, args) = with_file(
            "[monitor]\nauto_start = false\nqueue_seconds = 1.5\n\n[[monitor.integrations]]\nname = \"analytics\"\nuri = \"wss://a.example.com/ws\"\napi_key = \"k\"\nclient_secret = \"c2VjcmV0\"\ncalls = { queue = \"vip\", custom_config = { lang = \"de\" } }\ncustom_config = { agentassist = true, kb = { id = 7 } }\n",
        );
        let m = Config::resolve(args).unwrap().monitor;
        assert!(!m.auto_start);
        assert_eq!(m.queue_seconds, Some(1.5));
        assert_eq!(m.integrations[0].calls.queue.as_deref(), Some("vip"));
        assert_eq!(m.integrations[0].calls.custom_config["lang"], "de");
        let custom = m.integrations[0].custom_config.as_ref().unwrap();
        assert_eq!(
            serde_json::Value::Object(custom.clone()),
            serde_json::json!({"agentassist": true, "kb": {"id": 7}})
        );
        let (_dir, args) = with_file("[[monitor.integrations]]\nname = \"a\"\nurl = \"x\"\n");
        assert!(Config::resolve(args).is_err());
        let (_dir, mut args) = with_file("");
        args.config = None;
        assert!(Config::resolve(args).unwrap().monitor.auto_start);
    }

    #[test]
    fn several_audiohook_credentials_can_be_configured() {
        let (_dir, args) = with_file(
            "[[audiohook.credentials]]\napi_key = \"a\"\nclient_secret = \"c2VjcmV0\"\n\n[[audiohook.credentials]]\napi_key = \"b\"\n",
        );
        let config = Config::resolve(args).unwrap();
        assert_eq!(config.audiohook_credentials.len(), 2);
        assert_eq!(
            config.audiohook_credentials[1],
            AudioHookCredential {
                api_key: "b".into(),
                client_secret: None
            }
        );
    }

    #[test]
    fn voiceid_settings_are_configurable() {
        let (_dir, args) = with_file(
            "[voiceid]\naccount_id = \"123456789012\"\n[voiceid.keys]\n\"alias/mine\" = \"AAAA\"\n[voiceid.quotas]\ndomains = 5\n[voiceid.rate_limits]\nListSpeakers = 5\n[[voiceid.access_keys]]\naccess_key_id = \"AK\"\nsecret_access_key = \"s\"\n",
        );
        let v = Config::resolve(args).unwrap().voiceid;
        assert_eq!(v.account_id, "123456789012");
        assert_eq!(v.region, "us-east-1");
        assert_eq!(v.quotas.domains, 5);
        assert_eq!(v.quotas.speakers_per_domain, 100_000);
        assert_eq!(v.rate_limits["ListSpeakers"], 5.0);
        assert_eq!(v.keys["alias/mine"].expose(), "AAAA");
        assert_eq!(v.access_keys[0].access_key_id, "AK");
        assert_eq!(v.maintenance_interval_seconds, 60);
    }

    #[test]
    fn every_key_can_come_from_the_environment_and_secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t\n").unwrap();
        let (_d, args) =
            with_file("[recording.s3]\naccess_key_id = \"from-file\"\nsecret_access_key = \"x\"\n");
        let env = [
            ("HARK_RECORDING__S3__ENDPOINT", "http://127.0.0.1:9000"),
            (
                "HARK_RECORDING__S3__SECRET_ACCESS_KEY_FILE",
                secret.to_str().unwrap(),
            ),
            ("HARK_HTTP__MAX_CONNECTIONS", "500"),
            ("HARK_VOICEID__ALLOWED_HOSTS", "[\"voiceid.example\"]"),
            ("HARK__DRAIN_SECONDS", "30"),
            ("HARK_MONITOR__CA_FILE", "/etc/ssl/private-ca.pem"),
            ("HARK__DATABASE_CA_FILE", "/etc/hark/db-ca.pem"),
            ("HARK_LISTEN", "ignored here: clap's"),
            ("HARK_TEST_PYTHON", "/usr/bin/python3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let c = Config::resolve_with(args, env).unwrap();
        let s3 = c.recording.s3.unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            s3.access_key_id.as_deref(),
            Some("from-file"),
            "the file's keys stay"
        );
        assert_eq!(s3.secret_access_key.as_deref(), Some("s3cr3t"));
        assert_eq!(c.http.max_connections, Some(500));
        assert_eq!(c.voiceid.allowed_hosts, vec!["voiceid.example"]);
        assert_eq!(c.drain_seconds, 30);
        assert_eq!(
            c.database_ca_file.as_deref(),
            Some(Path::new("/etc/hark/db-ca.pem")),
            "a path, not the file's content"
        );
        assert_eq!(
            c.monitor.ca_file.as_deref(),
            Some(Path::new("/etc/ssl/private-ca.pem")),
            "a key named *_file is a path, not a secret file"
        );
        // A typo names the variable.
        let (_d, args) = with_file("");
        let e = Config::resolve_with(args, [("HARK_RECORDNG__URL".to_owned(), "x".to_owned())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("HARK_RECORDNG__URL") && e.contains("recordng"),
            "{e}"
        );
    }

    #[test]
    fn bad_files_and_addresses_are_explained() {
        let (_dir, args) = with_file("listen = 8080\n");
        let e = Config::resolve(args).unwrap_err().to_string();
        assert!(
            e.contains("invalid config file") && e.contains("listen"),
            "{e}"
        );
        let (_dir, args) = with_file("lisen = \"127.0.0.1:1\"\n");
        assert!(
            Config::resolve(args)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        let (_dir, mut args) = with_file("");
        args.listen = Some("localhost".into());
        assert!(matches!(Config::resolve(args), Err(ConfigError::Listen(_))));
        let args = ServeArgs {
            config: Some("/nonexistent/hark.toml".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Config::resolve(args),
            Err(ConfigError::Read { .. })
        ));
    }
}

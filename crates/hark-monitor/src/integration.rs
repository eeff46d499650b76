//! A monitor integration: where a monitor service listens, how hark authenticates to it, which
//! calls it takes, and the `customConfig` its sessions' `open` carries. Validated on the way in;
//! secrets never leave through [`MonitorView`] or `Debug`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::MonitorError;
use crate::filter::CallFilter;

/// The most monitor integrations hark runs; fixed, like Genesys Cloud's AudioHook Monitor.
pub const MAX_MONITORS: usize = 5;

const MAX_NAME_LEN: usize = 64;
const MAX_URI_LEN: usize = 2048;
const MAX_KEY_LEN: usize = 256;
/// The largest `customConfig`, serialized as JSON.
pub const MAX_CUSTOM_CONFIG_BYTES: usize = 16 * 1024;

/// One monitor service that live calls are streamed to over AudioHook.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitorIntegration {
    /// Unique name (letters, digits, `.`, `_`, `-`; at most 64); used in URLs and metrics.
    pub name: String,
    /// `wss://` (or, for testing, `ws://`) URI of the monitor's AudioHook endpoint.
    pub uri: String,
    /// The `X-API-KEY` hark presents.
    #[serde(alias = "api_key")]
    pub api_key: String,
    /// Base64 client secret; when set, hark signs its upgrade requests.
    #[serde(
        default,
        alias = "client_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_secret: Option<String>,
    /// Disabled integrations take no calls.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Which calls it takes (all when empty).
    #[serde(default, skip_serializing_if = "CallFilter::is_all")]
    pub calls: CallFilter,
    /// A JSON object sent as `customConfig` in the `open` of every session to this monitor
    /// (monitor services such as agent assist are switched on by it); at most
    /// [`MAX_CUSTOM_CONFIG_BYTES`] serialized.
    #[serde(
        default,
        alias = "custom_config",
        deserialize_with = "json_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_config: Option<Map<String, Value>>,
}

fn enabled_by_default() -> bool {
    true
}

/// `customConfig`: a JSON object, or absent (`null` counts as absent).
fn json_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Map<String, Value>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(D::Error::custom("customConfig must be a JSON object")),
    }
}

impl fmt::Debug for MonitorIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorIntegration")
            .field("name", &self.name)
            .field("uri", &self.uri)
            .field("api_key", &"<redacted>")
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("enabled", &self.enabled)
            .field("calls", &self.calls)
            .field(
                "custom_config",
                &self
                    .custom_config
                    .as_ref()
                    .map(|c| c.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl MonitorIntegration {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), MonitorError> {
        validate_name(&self.name)
            .and_then(|()| validate_uri(&self.uri))
            .and_then(|()| validate_api_key(&self.api_key))
            .and_then(|()| match &self.client_secret {
                Some(secret) => validate_secret(secret),
                None => Ok(()),
            })
            .and_then(|()| self.calls.validate())
            .and_then(|()| match &self.custom_config {
                Some(config) => validate_custom_config(config),
                None => Ok(()),
            })
            .map_err(MonitorError::Invalid)
    }

    /// What may be shown: everything but the secrets.
    pub fn view(&self) -> MonitorView {
        MonitorView {
            name: self.name.clone(),
            uri: self.uri.clone(),
            api_key_hint: key_hint(&self.api_key),
            has_client_secret: self.client_secret.is_some(),
            enabled: self.enabled,
            calls: self.calls.clone(),
            custom_config: self.custom_config.clone(),
        }
    }
}

/// An integration as the API shows it: the API key as a hint, the secret as a flag.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorView {
    /// Name.
    pub name: String,
    /// AudioHook URI.
    pub uri: String,
    /// The last four characters of the API key, masked (`…abcd`).
    pub api_key_hint: String,
    /// Whether a client secret is set.
    pub has_client_secret: bool,
    /// Whether it takes calls.
    pub enabled: bool,
    /// Which calls it takes.
    pub calls: CallFilter,
    /// The `customConfig` sent in `open`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_config: Option<Map<String, Value>>,
}

/// A partial update: the fields present replace the integration's; the name cannot change.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitorUpdate {
    /// New URI.
    pub uri: Option<String>,
    /// New API key.
    #[serde(alias = "api_key")]
    pub api_key: Option<String>,
    /// New client secret; an empty string removes it.
    #[serde(alias = "client_secret")]
    pub client_secret: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New call filter.
    pub calls: Option<CallFilter>,
    /// New `customConfig`; an empty object removes it.
    #[serde(default, alias = "custom_config", deserialize_with = "json_object")]
    pub custom_config: Option<Map<String, Value>>,
}

impl MonitorUpdate {
    /// The integration with this update applied (not yet validated).
    pub fn apply(self, mut to: MonitorIntegration) -> MonitorIntegration {
        if let Some(uri) = self.uri {
            to.uri = uri;
        }
        if let Some(key) = self.api_key {
            to.api_key = key;
        }
        if let Some(secret) = self.client_secret {
            to.client_secret = Some(secret).filter(|s| !s.is_empty());
        }
        if let Some(enabled) = self.enabled {
            to.enabled = enabled;
        }
        if let Some(calls) = self.calls {
            to.calls = calls;
        }
        if let Some(config) = self.custom_config {
            to.custom_config = Some(config).filter(|c| !c.is_empty());
        }
        to
    }
}

fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

fn validate_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(format!(
            "name must be 1-{MAX_NAME_LEN} letters, digits, '.', '_' or '-' (got {name:?})"
        ));
    }
    Ok(())
}

fn validate_uri(uri: &str) -> Result<(), String> {
    let rest = uri
        .strip_prefix("wss://")
        .or_else(|| uri.strip_prefix("ws://"))
        .ok_or("uri must start with wss:// (or ws:// for testing)")?;
    if uri.len() > MAX_URI_LEN || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "uri must be at most {MAX_URI_LEN} characters without spaces"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') {
        return Err("uri has no host".into());
    }
    if authority.contains('@') {
        return Err(
            "uri must not carry credentials (user@host); use apiKey and clientSecret".into(),
        );
    }
    if uri.contains('#') {
        return Err("uri must not have a fragment".into());
    }
    Ok(())
}

/// The reference client's pattern for `X-API-KEY`: `^[a-zA-Z0-9+/_-]+={0,2}$`.
fn validate_api_key(key: &str) -> Result<(), String> {
    let body = key.trim_end_matches('=');
    let padding = key.len() - body.len();
    let ok = !body.is_empty()
        && key.len() <= MAX_KEY_LEN
        && padding <= 2
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "apiKey must be 1-{MAX_KEY_LEN} characters of [A-Za-z0-9+/_-] with at most two '=' at the end"
        ))
    }
}

fn validate_custom_config(config: &Map<String, Value>) -> Result<(), String> {
    let len = serde_json::to_string(config).map_or(usize::MAX, |json| json.len());
    if len > MAX_CUSTOM_CONFIG_BYTES {
        return Err(format!(
            "customConfig must be at most {MAX_CUSTOM_CONFIG_BYTES} bytes as JSON (got {len})"
        ));
    }
    Ok(())
}

fn validate_secret(secret: &str) -> Result<(), String> {
    match STANDARD.decode(secret) {
        Ok(bytes) if !bytes.is_empty() && bytes.len() <= 1024 => Ok(()),
        _ => Err(
            "clientSecret must be non-empty base64 (as entered in an AudioHook integration)".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn monitor() -> MonitorIntegration {
        serde_json::from_value(json!({
            "name": "speech-analytics",
            "uri": "wss://analytics.example.com/audiohook?tenant=1",
            "apiKey": "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh",
            "clientSecret": "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=",
        }))
        .unwrap()
    }

    #[test]
    fn a_complete_integration_is_valid_and_enabled_by_default() {
        let m = monitor();
        assert!(m.enabled);
        assert!(m.calls.is_all());
        m.validate().unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        type Spoil = fn(&mut MonitorIntegration);
        let cases: [(&str, Spoil); 8] = [
            ("name", |m| m.name = "has space".into()),
            ("name", |m| m.name = "x".repeat(65)),
            ("uri must start", |m| m.uri = "https://x".into()),
            ("no host", |m| m.uri = "ws:///path".into()),
            ("credentials", |m| m.uri = "wss://u:p@host/".into()),
            ("apiKey", |m| m.api_key = "bad key".into()),
            ("apiKey", |m| m.api_key = "abc===".into()),
            ("clientSecret", |m| {
                m.client_secret = Some("not base64!".into())
            }),
        ];
        for (expected, spoil) in cases {
            let mut m = monitor();
            spoil(&mut m);
            let e = m.validate().unwrap_err().to_string();
            assert!(e.contains(expected), "{expected}: {e}");
        }
    }

    #[test]
    fn secrets_stay_out_of_views_and_debug() {
        let m = monitor();
        let view = serde_json::to_string(&m.view()).unwrap();
        let debug = format!("{m:?}");
        for shown in [&view, &debug] {
            assert!(!shown.contains(&m.api_key), "{shown}");
            assert!(
                !shown.contains(m.client_secret.as_deref().unwrap()),
                "{shown}"
            );
        }
        assert!(view.contains("\"hasClientSecret\":true"), "{view}");
        assert!(view.contains("\"apiKeyHint\":\"…ZXkh\""), "{view}");
    }

    #[test]
    fn updates_replace_given_fields_and_an_empty_secret_removes_it() {
        let update: MonitorUpdate =
            serde_json::from_value(json!({"enabled": false, "clientSecret": ""})).unwrap();
        let m = update.apply(monitor());
        assert!(!m.enabled && m.client_secret.is_none());
        assert_eq!(m.uri, monitor().uri);
        assert!(serde_json::from_value::<MonitorUpdate>(json!({"name": "x"})).is_err());
    }

    #[test]
    fn custom_config_must_be_an_object_of_bounded_size() {
        let mut with = serde_json::to_value(monitor()).unwrap();
        with["customConfig"] = json!({"agentassist": true, "queue": "vip"});
        let m: MonitorIntegration = serde_json::from_value(with.clone()).unwrap();
        m.validate().unwrap();
        assert_eq!(m.custom_config.as_ref().unwrap()["agentassist"], true);
        // Shown (it is no secret), and it survives a round trip.
        let view = serde_json::to_value(m.view()).unwrap();
        assert_eq!(view["customConfig"], with["customConfig"]);
        let again: MonitorIntegration =
            serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(again, m);
        // Not an object: refused while parsing, with a message that says so.
        for bad in [json!("agentassist"), json!([1]), json!(3)] {
            with["customConfig"] = bad;
            let e = serde_json::from_value::<MonitorIntegration>(with.clone()).unwrap_err();
            assert!(
                e.to_string().contains("customConfig must be a JSON object"),
                "{e}"
            );
        }
        with["customConfig"] = Value::Null;
        let none: MonitorIntegration = serde_json::from_value(with.clone()).unwrap();
        assert!(none.custom_config.is_none());
        // Too large.
        let mut big = monitor();
        big.custom_config = Some(Map::from_iter([(
            "notes".to_owned(),
            json!("x".repeat(MAX_CUSTOM_CONFIG_BYTES)),
        )]));
        let e = big.validate().unwrap_err().to_string();
        assert!(
            e.contains("customConfig must be at most 16384 bytes"),
            "{e}"
        );
    }

    #[test]
    fn an_update_replaces_custom_config_and_an_empty_object_removes_it() {
        let set: MonitorUpdate =
            serde_json::from_value(json!({"customConfig": {"agentassist": true}})).unwrap();
        let m = set.apply(monitor());
        assert_eq!(m.custom_config.as_ref().unwrap()["agentassist"], true);
        let untouched: MonitorUpdate = serde_json::from_value(json!({"enabled": true})).unwrap();
        let m = untouched.apply(m);
        assert!(m.custom_config.is_some());
        let remove: MonitorUpdate = serde_json::from_value(json!({"customConfig": {}})).unwrap();
        assert!(remove.apply(m).custom_config.is_none());
        assert!(serde_json::from_value::<MonitorUpdate>(json!({"customConfig": "x"})).is_err());
    }

    #[test]
    fn snake_case_keys_are_accepted_for_config_files() {
        let m: MonitorIntegration = serde_json::from_value(json!({
            "name": "a", "uri": "ws://127.0.0.1:9/ws", "api_key": "k", "client_secret": "c2VjcmV0",
            "calls": {"custom_config": {"monitor": true}},
            "custom_config": {"agentassist": true}
        }))
        .unwrap();
        m.validate().unwrap();
        assert_eq!(m.calls.custom_config["monitor"], true);
        assert_eq!(m.custom_config.unwrap()["agentassist"], true);
    }
}

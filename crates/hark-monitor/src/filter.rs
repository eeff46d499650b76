//! Which calls a monitor takes: all of them, or those matching an instance, a queue and
//! `customConfig` values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `customConfig` keys a queue may be named by (the AudioHook `open` has no queue field, so
/// the flow that starts the stream passes it there).
pub const QUEUE_KEYS: [&str; 3] = ["queue", "queueName", "queueId"];

/// What a call offers for matching: who it belongs to and how it was configured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallInfo {
    /// The contact-center instance: the AudioHook organization id.
    pub instance: String,
    /// The queue, if the call's `customConfig` names one.
    pub queue: Option<String>,
    /// The call's `customConfig`.
    pub custom_config: Map<String, Value>,
}

impl CallInfo {
    /// The matching view of a call from its `open`: organization and `customConfig`.
    pub fn new(instance: &str, custom_config: Map<String, Value>) -> Self {
        let queue = QUEUE_KEYS
            .iter()
            .find_map(|k| custom_config.get(*k).and_then(Value::as_str))
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
        CallInfo {
            instance: instance.to_owned(),
            queue,
            custom_config,
        }
    }
}

/// A filter on calls; every criterion given must hold, and an empty filter takes every call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallFilter {
    /// The instance (AudioHook organization id) the call must belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The queue the call must be in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Keys and values the call's `customConfig` must hold.
    #[serde(
        default,
        alias = "custom_config",
        skip_serializing_if = "Map::is_empty"
    )]
    pub custom_config: Map<String, Value>,
}

impl CallFilter {
    /// True when the filter takes every call.
    pub fn is_all(&self) -> bool {
        self.instance.is_none() && self.queue.is_none() && self.custom_config.is_empty()
    }

    /// Whether the filter takes this call.
    pub fn matches(&self, call: &CallInfo) -> bool {
        self.instance.as_deref().is_none_or(|i| i == call.instance)
            && self
                .queue
                .as_deref()
                .is_none_or(|q| call.queue.as_deref() == Some(q))
            && self
                .custom_config
                .iter()
                .all(|(k, v)| call.custom_config.get(k) == Some(v))
    }

    /// Checks the criteria are usable (no empty names).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.instance.as_deref() == Some("") || self.queue.as_deref() == Some("") {
            return Err("calls: instance and queue must not be empty when given".into());
        }
        if self.custom_config.keys().any(String::is_empty) {
            return Err("calls: customConfig keys must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(instance: &str, config: Value) -> CallInfo {
        CallInfo::new(instance, config.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn empty_filter_takes_every_call() {
        let all = CallFilter::default();
        assert!(all.is_all());
        assert!(all.matches(&call("org", json!({}))));
    }

    #[test]
    fn every_given_criterion_must_hold() {
        let f: CallFilter = serde_json::from_value(
            json!({"instance": "org-a", "queue": "vip", "customConfig": {"lang": "de"}}),
        )
        .unwrap();
        assert!(f.matches(&call(
            "org-a",
            json!({"queue": "vip", "lang": "de", "x": 1})
        )));
        assert!(f.matches(&call("org-a", json!({"queueName": "vip", "lang": "de"}))));
        assert!(!f.matches(&call("org-b", json!({"queue": "vip", "lang": "de"}))));
        assert!(!f.matches(&call("org-a", json!({"queue": "std", "lang": "de"}))));
        assert!(!f.matches(&call("org-a", json!({"queue": "vip", "lang": "fr"}))));
        assert!(!f.matches(&call("org-a", json!({"lang": "de"}))));
    }

    #[test]
    fn queue_comes_from_the_first_named_key_and_empty_is_none() {
        assert_eq!(
            call("o", json!({"queueId": "q1"})).queue.as_deref(),
            Some("q1")
        );
        assert_eq!(call("o", json!({"queue": ""})).queue, None);
        assert_eq!(call("o", json!({"queue": 7})).queue, None);
    }

    #[test]
    fn unknown_filter_keys_and_empty_names_are_refused() {
        assert!(serde_json::from_value::<CallFilter>(json!({"quue": "x"})).is_err());
        let f = CallFilter {
            queue: Some(String::new()),
            ..CallFilter::default()
        };
        assert!(f.validate().is_err());
    }
}

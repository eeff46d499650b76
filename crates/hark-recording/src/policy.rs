//! The recording policy: which calls are recorded automatically when they start — the
//! equivalent of returning `StartCallRecording` in reply to a new-call event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::spec::RecordingSpec;

/// Which calls a policy records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyScope {
    /// No call is recorded automatically (recording only on request).
    #[default]
    None,
    /// Every call.
    Every,
    /// Calls matching one of the rules.
    Matching,
}

/// One rule: every field given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// The contact-center instance (AudioHook organization id or configured instance name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Keys and values that must be present in the call's `customConfig`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub custom_config: Map<String, Value>,
}

/// The automatic recording policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingPolicy {
    /// Which calls.
    pub scope: PolicyScope,
    /// The rules for [`PolicyScope::Matching`].
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    /// How matching calls are recorded.
    pub spec: RecordingSpec,
}

impl RecordingPolicy {
    /// The spec to record a call with, if the policy selects it.
    pub fn select(
        &self,
        instance: Option<&str>,
        custom_config: &Map<String, Value>,
    ) -> Option<&RecordingSpec> {
        let selected = match self.scope {
            PolicyScope::None => false,
            PolicyScope::Every => true,
            PolicyScope::Matching => self.rules.iter().any(|rule| {
                rule.instance.as_deref().is_none_or(|i| Some(i) == instance)
                    && rule
                        .custom_config
                        .iter()
                        .all(|(k, v)| custom_config.get(k) == Some(v))
            }),
        };
        selected.then_some(&self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Destination, DestinationType, PauseBehavior, Track};
    use serde_json::json;

    fn policy(scope: PolicyScope, rules: Vec<PolicyRule>) -> RecordingPolicy {
        RecordingPolicy {
            scope,
            rules,
            spec: RecordingSpec {
                track: Track::Both,
                destination: Destination {
                    kind: DestinationType::File,
                    location: "rec".into(),
                },
                pause_behavior: PauseBehavior::Silence,
            },
        }
    }

    fn config(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn scopes_and_rules() {
        let none = Map::new();
        assert!(
            policy(PolicyScope::None, vec![])
                .select(Some("org"), &none)
                .is_none()
        );
        assert!(
            policy(PolicyScope::Every, vec![])
                .select(None, &none)
                .is_some()
        );
        let rules = vec![
            PolicyRule {
                instance: Some("sales".into()),
                custom_config: Map::new(),
            },
            PolicyRule {
                instance: None,
                custom_config: config(json!({"record": true, "queue": "vip"})),
            },
        ];
        let p = policy(PolicyScope::Matching, rules);
        assert!(p.select(Some("sales"), &none).is_some());
        assert!(p.select(Some("support"), &none).is_none());
        assert!(
            p.select(
                Some("support"),
                &config(json!({"record": true, "queue": "vip", "x": 1}))
            )
            .is_some()
        );
        assert!(
            p.select(Some("support"), &config(json!({"record": true})))
                .is_none()
        );
        assert!(
            p.select(None, &config(json!({"record": "true", "queue": "vip"})))
                .is_none(),
            "types must match"
        );
    }
}

//! Which live calls Voice ID hears, and in which session: the rule the ingest side applies to
//! each call that opens, without I/O.
//!
//! A call whose `customConfig` carries `{"voiceId": {"domainId": …, "speakerId": …,
//! "watchlistId": …}}` is bound to that domain explicitly; any other call is bound to whatever
//! domain its organization (contact-center instance) is associated with, if any — that is
//! looked up when the session opens. Either way the session is named by the conversation id.

use serde_json::{Map, Value};

use crate::live::StreamRequest;

/// How a call is bound to Voice ID.
#[derive(Debug, Clone, PartialEq)]
pub enum CallBinding {
    /// `customConfig.voiceId` names the domain (and optionally the speaker and watchlist).
    Explicit(StreamRequest),
    /// The domain associated with the organization, if one is.
    Instance {
        /// The call's organization (the contact-center instance).
        organization_id: String,
        /// The session name: the conversation id.
        session_name: String,
    },
}

/// Why a call's `customConfig.voiceId` was not usable (the call then gets no Voice ID session).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// `voiceId` is present without a `domainId` string.
    #[error("customConfig.voiceId without a domainId string: no Voice ID session")]
    NoDomainId,
}

impl CallBinding {
    /// The binding of a call of `organization_id` in `conversation_id` with `custom_config`.
    pub fn for_call(
        organization_id: &str,
        conversation_id: &str,
        custom_config: Option<&Map<String, Value>>,
    ) -> Result<CallBinding, BindingError> {
        let Some(v) = custom_config.and_then(|c| c.get("voiceId")) else {
            return Ok(CallBinding::Instance {
                organization_id: organization_id.to_owned(),
                session_name: conversation_id.to_owned(),
            });
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let domain_id = text("domainId").ok_or(BindingError::NoDomainId)?;
        Ok(CallBinding::Explicit(StreamRequest {
            domain_id,
            session_name: conversation_id.to_owned(),
            speaker_id: text("speakerId"),
            watchlist_id: text("watchlistId"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_call_without_voice_id_config_follows_its_instance() {
        let b = CallBinding::for_call("org", "conv", None).unwrap();
        assert_eq!(
            b,
            CallBinding::Instance {
                organization_id: "org".into(),
                session_name: "conv".into()
            }
        );
        let other = config(json!({"agentId": "a"}));
        assert!(matches!(
            CallBinding::for_call("org", "conv", Some(&other)).unwrap(),
            CallBinding::Instance { .. }
        ));
    }

    #[test]
    fn custom_config_binds_domain_speaker_and_watchlist() {
        let c = config(json!({"voiceId": {"domainId": "d", "speakerId": "s", "watchlistId": "w"}}));
        let CallBinding::Explicit(r) = CallBinding::for_call("org", "conv", Some(&c)).unwrap()
        else {
            panic!("explicit binding expected");
        };
        assert_eq!(r.domain_id, "d");
        assert_eq!(r.session_name, "conv");
        assert_eq!(r.speaker_id.as_deref(), Some("s"));
        assert_eq!(r.watchlist_id.as_deref(), Some("w"));
    }

    #[test]
    fn voice_id_config_without_a_domain_is_refused() {
        for bad in [
            json!({"voiceId": {}}),
            json!({"voiceId": {"domainId": 5}}),
            json!({"voiceId": "d"}),
        ] {
            let c = config(bad);
            assert_eq!(
                CallBinding::for_call("org", "conv", Some(&c)),
                Err(BindingError::NoDomainId)
            );
        }
    }
}

//! The JSON request decoder: `X-Amz-Target` operation name + body bytes → a typed [`Request`],
//! validated against the model first. Faces the network, so it is fuzzed
//! (`fuzz/fuzz_targets/voiceid_request.rs`): any input gives a request or an [`Error`].

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::model::{TARGET_PREFIX, model};
use crate::records::Tag;

/// The prefix of hark's own operations (instance association), outside the AWS model.
pub const HARK_TARGET_PREFIX: &str = "HarkVoiceID";

/// `ServerSideEncryptionConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SseConfig {
    /// The keyring key id.
    pub kms_key_id: String,
}

/// `CreateDomain` input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDomain {
    /// Idempotency token.
    pub client_token: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Name.
    pub name: String,
    /// The key.
    pub server_side_encryption_configuration: SseConfig,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// `UpdateDomain` input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDomain {
    /// The domain.
    pub domain_id: String,
    /// New description; absent clears it.
    pub description: Option<String>,
    /// New name.
    pub name: String,
    /// New (or unchanged) key.
    pub server_side_encryption_configuration: SseConfig,
}

/// `CreateWatchlist` input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateWatchlist {
    /// Idempotency token.
    pub client_token: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The domain.
    pub domain_id: String,
    /// Name.
    pub name: String,
}

/// `UpdateWatchlist` input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateWatchlist {
    /// New description (absent: unchanged).
    pub description: Option<String>,
    /// The domain.
    pub domain_id: String,
    /// New name (absent: unchanged).
    pub name: Option<String>,
    /// The watchlist.
    pub watchlist_id: String,
}

/// `MaxResults` and `NextToken` of a list call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Page {
    /// Page size.
    pub max_results: Option<u32>,
    /// Resume token.
    pub next_token: Option<String>,
}

/// `AuthenticationConfiguration` of a session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthenticationConfiguration {
    /// Score at or above which authentication accepts.
    pub acceptance_threshold: u8,
}

/// `FraudDetectionConfiguration` of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FraudDetectionConfiguration {
    /// Risk at or above which a caller is `HIGH_RISK`.
    pub risk_threshold: Option<u8>,
    /// The watchlist to screen against.
    pub watchlist_id: Option<String>,
}

/// `StreamingConfiguration` of a session (hark extension, after the internal session object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamingConfiguration {
    /// Net speech, 5..10 s, before authentication and fraud detection decide.
    pub authentication_minimum_speech_in_seconds: u8,
}

/// The settable parts of a session, shared by `StartSession` and `UpdateSession`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionChanges {
    /// The claimed speaker (customer or generated id).
    pub speaker_id: Option<String>,
    /// Authentication settings.
    pub authentication_configuration: Option<AuthenticationConfiguration>,
    /// Fraud-detection settings.
    pub fraud_detection_configuration: Option<FraudDetectionConfiguration>,
    /// Streaming settings.
    pub streaming_configuration: Option<StreamingConfiguration>,
}

/// `HarkVoiceID.StartSession` input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartSession {
    /// Idempotency token.
    pub client_token: Option<String>,
    /// The domain.
    pub domain_id: String,
    /// The session name (contact or conversation id).
    pub session_name: String,
    /// Speaker and settings.
    #[serde(flatten)]
    pub changes: SessionChanges,
}

/// `HarkVoiceID.UpdateSession` input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSession {
    /// The domain.
    pub domain_id: String,
    /// Session name or `id#…` id.
    pub session_name_or_id: String,
    /// Speaker and settings to change.
    #[serde(flatten)]
    pub changes: SessionChanges,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SessionInput {
    domain_id: String,
    session_name_or_id: String,
    existing_enrollment_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DomainOnly {
    domain_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpeakerInput {
    domain_id: String,
    speaker_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FraudsterInput {
    domain_id: String,
    fraudster_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WatchlistInput {
    domain_id: String,
    watchlist_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationInput {
    domain_id: String,
    fraudster_id: String,
    watchlist_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    domain_id: String,
    max_results: Option<u32>,
    next_token: Option<String>,
    watchlist_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArnInput {
    resource_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceInput {
    instance_id: String,
    domain_id: Option<String>,
}

/// A decoded, validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CreateDomain`.
    CreateDomain(CreateDomain),
    /// `DescribeDomain`.
    DescribeDomain {
        /// The domain.
        domain_id: String,
    },
    /// `UpdateDomain`.
    UpdateDomain(UpdateDomain),
    /// `DeleteDomain`.
    DeleteDomain {
        /// The domain.
        domain_id: String,
    },
    /// `ListDomains`.
    ListDomains(Page),
    /// `DescribeSpeaker`.
    DescribeSpeaker {
        /// The domain.
        domain_id: String,
        /// Customer or generated id.
        speaker_id: String,
    },
    /// `DeleteSpeaker`.
    DeleteSpeaker {
        /// The domain.
        domain_id: String,
        /// Customer or generated id.
        speaker_id: String,
    },
    /// `OptOutSpeaker`.
    OptOutSpeaker {
        /// The domain.
        domain_id: String,
        /// Customer or generated id.
        speaker_id: String,
    },
    /// `ListSpeakers`.
    ListSpeakers {
        /// The domain.
        domain_id: String,
        /// Paging.
        page: Page,
    },
    /// `DescribeFraudster`.
    DescribeFraudster {
        /// The domain.
        domain_id: String,
        /// The fraudster.
        fraudster_id: String,
    },
    /// `DeleteFraudster`.
    DeleteFraudster {
        /// The domain.
        domain_id: String,
        /// The fraudster.
        fraudster_id: String,
    },
    /// `ListFraudsters`.
    ListFraudsters {
        /// The domain.
        domain_id: String,
        /// Only this watchlist's fraudsters.
        watchlist_id: Option<String>,
        /// Paging.
        page: Page,
    },
    /// `CreateWatchlist`.
    CreateWatchlist(CreateWatchlist),
    /// `DescribeWatchlist`.
    DescribeWatchlist {
        /// The domain.
        domain_id: String,
        /// The watchlist.
        watchlist_id: String,
    },
    /// `UpdateWatchlist`.
    UpdateWatchlist(UpdateWatchlist),
    /// `DeleteWatchlist`.
    DeleteWatchlist {
        /// The domain.
        domain_id: String,
        /// The watchlist.
        watchlist_id: String,
    },
    /// `ListWatchlists`.
    ListWatchlists {
        /// The domain.
        domain_id: String,
        /// Paging.
        page: Page,
    },
    /// `AssociateFraudster`.
    AssociateFraudster {
        /// The domain.
        domain_id: String,
        /// The fraudster.
        fraudster_id: String,
        /// The watchlist to add it to.
        watchlist_id: String,
    },
    /// `DisassociateFraudster`.
    DisassociateFraudster {
        /// The domain.
        domain_id: String,
        /// The fraudster.
        fraudster_id: String,
        /// The watchlist to remove it from.
        watchlist_id: String,
    },
    /// `TagResource`.
    TagResource {
        /// Domain ARN.
        resource_arn: String,
        /// Tags to add or overwrite.
        tags: Vec<Tag>,
    },
    /// `UntagResource`.
    UntagResource {
        /// Domain ARN.
        resource_arn: String,
        /// Keys to remove.
        tag_keys: Vec<String>,
    },
    /// `ListTagsForResource`.
    ListTagsForResource {
        /// Domain ARN.
        resource_arn: String,
    },
    /// `EvaluateSession`.
    EvaluateSession {
        /// The domain.
        domain_id: String,
        /// Session name or `id#…` id.
        session_name_or_id: String,
    },
    /// `HarkVoiceID.StartSession`.
    StartSession(Box<StartSession>),
    /// `HarkVoiceID.UpdateSession`.
    UpdateSession(Box<UpdateSession>),
    /// `HarkVoiceID.DescribeSession`.
    DescribeSession {
        /// The domain.
        domain_id: String,
        /// Session name or `id#…` id.
        session_name_or_id: String,
    },
    /// `HarkVoiceID.EnrollBySession`.
    EnrollBySession {
        /// The domain.
        domain_id: String,
        /// Session name or `id#…` id.
        session_name_or_id: String,
        /// Re-enroll an enrolled speaker (`OVERWRITE`, the default) or leave it (`SKIP`).
        overwrite: bool,
    },
    /// `HarkVoiceID.EndSession`.
    EndSession {
        /// The domain.
        domain_id: String,
        /// Session name or `id#…` id.
        session_name_or_id: String,
    },
    /// A model operation served elsewhere (batch jobs); validated, and answered by the
    /// service with the model's error for its state.
    Other {
        /// The operation name.
        operation: String,
        /// Its `DomainId`.
        domain_id: String,
        /// The validated body.
        body: Value,
    },
    /// `HarkVoiceID.AssociateInstance`: the instance uses this domain from now on.
    AssociateInstance {
        /// The contact-center instance.
        instance_id: String,
        /// The domain.
        domain_id: String,
    },
    /// `HarkVoiceID.DisassociateInstance`.
    DisassociateInstance {
        /// The contact-center instance.
        instance_id: String,
    },
    /// `HarkVoiceID.DescribeInstance`.
    DescribeInstance {
        /// The contact-center instance.
        instance_id: String,
    },
    /// `HarkVoiceID.ListInstances` of a domain.
    ListInstances {
        /// The domain.
        domain_id: String,
    },
}

impl Request {
    /// The operation name (without prefix).
    pub fn operation(&self) -> &str {
        match self {
            Request::CreateDomain(_) => "CreateDomain",
            Request::DescribeDomain { .. } => "DescribeDomain",
            Request::UpdateDomain(_) => "UpdateDomain",
            Request::DeleteDomain { .. } => "DeleteDomain",
            Request::ListDomains(_) => "ListDomains",
            Request::DescribeSpeaker { .. } => "DescribeSpeaker",
            Request::DeleteSpeaker { .. } => "DeleteSpeaker",
            Request::OptOutSpeaker { .. } => "OptOutSpeaker",
            Request::ListSpeakers { .. } => "ListSpeakers",
            Request::DescribeFraudster { .. } => "DescribeFraudster",
            Request::DeleteFraudster { .. } => "DeleteFraudster",
            Request::ListFraudsters { .. } => "ListFraudsters",
            Request::CreateWatchlist(_) => "CreateWatchlist",
            Request::DescribeWatchlist { .. } => "DescribeWatchlist",
            Request::UpdateWatchlist(_) => "UpdateWatchlist",
            Request::DeleteWatchlist { .. } => "DeleteWatchlist",
            Request::ListWatchlists { .. } => "ListWatchlists",
            Request::AssociateFraudster { .. } => "AssociateFraudster",
            Request::DisassociateFraudster { .. } => "DisassociateFraudster",
            Request::TagResource { .. } => "TagResource",
            Request::UntagResource { .. } => "UntagResource",
            Request::ListTagsForResource { .. } => "ListTagsForResource",
            Request::Other { operation, .. } => operation,
            Request::EvaluateSession { .. } => "EvaluateSession",
            Request::StartSession(_) => "StartSession",
            Request::UpdateSession(_) => "UpdateSession",
            Request::DescribeSession { .. } => "DescribeSession",
            Request::EnrollBySession { .. } => "EnrollBySession",
            Request::EndSession { .. } => "EndSession",
            Request::AssociateInstance { .. } => "AssociateInstance",
            Request::DisassociateInstance { .. } => "DisassociateInstance",
            Request::DescribeInstance { .. } => "DescribeInstance",
            Request::ListInstances { .. } => "ListInstances",
        }
    }
}

/// Splits an `X-Amz-Target` value into prefix and operation.
pub fn split_target(target: &str) -> Result<(&str, &str), Error> {
    match target.split_once('.') {
        Some((prefix, op))
            if (prefix == TARGET_PREFIX || prefix == HARK_TARGET_PREFIX) && !op.is_empty() =>
        {
            Ok((prefix, op))
        }
        _ => Err(Error::UnknownOperation(format!(
            "Unknown operation {target:?}: X-Amz-Target must be {TARGET_PREFIX}.<Operation>"
        ))),
    }
}

fn typed<T: DeserializeOwned>(body: &Value) -> Result<T, Error> {
    // The model check ran first, so this only fails on shapes it cannot see.
    T::deserialize(body).map_err(|e| Error::Validation(format!("Invalid request body: {e}")))
}

/// Parses the body bytes as a JSON object (an empty body counts as `{}`).
pub fn parse_body(body: &[u8]) -> Result<Value, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::Validation(format!("The request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::Validation(
            "The request body must be a JSON object".into(),
        ));
    }
    Ok(value)
}

/// Decodes and validates one request: `target` is the `X-Amz-Target` header value.
pub fn decode(target: &str, body: &[u8]) -> Result<(Request, Value), Error> {
    let (prefix, op) = split_target(target)?;
    let value = parse_body(body)?;
    if SESSION_OPERATIONS.contains(&op) {
        return Ok((decode_session(op, &value)?, value));
    }
    if prefix == HARK_TARGET_PREFIX {
        return Ok((decode_hark(op, &value)?, value));
    }
    model().validate_input(op, &with_file_uris_as_s3(&value))?;
    let v = &value;
    let page = |v: &Value| -> Result<Page, Error> { typed(v) };
    let request = match op {
        "CreateDomain" => Request::CreateDomain(typed(v)?),
        "DescribeDomain" => Request::DescribeDomain {
            domain_id: typed::<DomainOnly>(v)?.domain_id,
        },
        "UpdateDomain" => Request::UpdateDomain(typed(v)?),
        "DeleteDomain" => Request::DeleteDomain {
            domain_id: typed::<DomainOnly>(v)?.domain_id,
        },
        "ListDomains" => Request::ListDomains(page(v)?),
        "DescribeSpeaker" | "DeleteSpeaker" | "OptOutSpeaker" => {
            let SpeakerInput {
                domain_id,
                speaker_id,
            } = typed(v)?;
            match op {
                "DescribeSpeaker" => Request::DescribeSpeaker {
                    domain_id,
                    speaker_id,
                },
                "DeleteSpeaker" => Request::DeleteSpeaker {
                    domain_id,
                    speaker_id,
                },
                _ => Request::OptOutSpeaker {
                    domain_id,
                    speaker_id,
                },
            }
        }
        "DescribeFraudster" | "DeleteFraudster" => {
            let FraudsterInput {
                domain_id,
                fraudster_id,
            } = typed(v)?;
            if op == "DescribeFraudster" {
                Request::DescribeFraudster {
                    domain_id,
                    fraudster_id,
                }
            } else {
                Request::DeleteFraudster {
                    domain_id,
                    fraudster_id,
                }
            }
        }
        "ListSpeakers" | "ListFraudsters" | "ListWatchlists" => {
            let ListInput {
                domain_id,
                max_results,
                next_token,
                watchlist_id,
            } = typed(v)?;
            let page = Page {
                max_results,
                next_token,
            };
            match op {
                "ListSpeakers" => Request::ListSpeakers { domain_id, page },
                "ListWatchlists" => Request::ListWatchlists { domain_id, page },
                _ => Request::ListFraudsters {
                    domain_id,
                    watchlist_id,
                    page,
                },
            }
        }
        "CreateWatchlist" => Request::CreateWatchlist(typed(v)?),
        "UpdateWatchlist" => Request::UpdateWatchlist(typed(v)?),
        "DescribeWatchlist" | "DeleteWatchlist" => {
            let WatchlistInput {
                domain_id,
                watchlist_id,
            } = typed(v)?;
            if op == "DescribeWatchlist" {
                Request::DescribeWatchlist {
                    domain_id,
                    watchlist_id,
                }
            } else {
                Request::DeleteWatchlist {
                    domain_id,
                    watchlist_id,
                }
            }
        }
        "AssociateFraudster" | "DisassociateFraudster" => {
            let AssociationInput {
                domain_id,
                fraudster_id,
                watchlist_id,
            } = typed(v)?;
            if op == "AssociateFraudster" {
                Request::AssociateFraudster {
                    domain_id,
                    fraudster_id,
                    watchlist_id,
                }
            } else {
                Request::DisassociateFraudster {
                    domain_id,
                    fraudster_id,
                    watchlist_id,
                }
            }
        }
        "TagResource" => {
            let TagInput { resource_arn, tags } = typed(v)?;
            Request::TagResource { resource_arn, tags }
        }
        "UntagResource" => {
            let UntagInput {
                resource_arn,
                tag_keys,
            } = typed(v)?;
            Request::UntagResource {
                resource_arn,
                tag_keys,
            }
        }
        "ListTagsForResource" => Request::ListTagsForResource {
            resource_arn: typed::<ArnInput>(v)?.resource_arn,
        },
        "EvaluateSession" => {
            let input: SessionInput = typed(v)?;
            Request::EvaluateSession {
                domain_id: input.domain_id,
                session_name_or_id: input.session_name_or_id,
            }
        }
        other => Request::Other {
            operation: other.to_owned(),
            domain_id: typed::<DomainOnly>(v)?.domain_id,
            body: value.clone(),
        },
    };
    Ok((request, value))
}

/// Batch jobs may name local files (`file:///…`) where the model allows only `s3://`: for the
/// model's check they stand in as an S3 URI; the shell decides which directories are allowed.
fn with_file_uris_as_s3(value: &Value) -> std::borrow::Cow<'_, Value> {
    let is_file = |v: &Value| v.as_str().is_some_and(|u| u.starts_with("file:///"));
    let members = ["InputDataConfig", "OutputDataConfig"];
    if !members.iter().any(|m| is_file(&value[*m]["S3Uri"])) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut copy = value.clone();
    for m in members {
        if is_file(&copy[m]["S3Uri"]) {
            copy[m]["S3Uri"] = Value::from("s3://local-file/path");
        }
    }
    std::borrow::Cow::Owned(copy)
}

/// Operations that act on a session already started: it lives on the instance holding its
/// call, so on several instances these are forwarded there (`StartSession` is not one).
pub const LIVE_SESSION_OPERATIONS: [&str; 5] = [
    "UpdateSession",
    "DescribeSession",
    "EnrollBySession",
    "EndSession",
    "EvaluateSession",
];

/// The operation of an `X-Amz-Target` value (`VoiceID.Op` or `HarkVoiceID.Op`).
fn operation_of(target: &str) -> Option<&str> {
    split_target(target).ok().map(|(_, op)| op)
}

/// Whether a target acts on a live session (see [`LIVE_SESSION_OPERATIONS`]).
pub fn targets_live_session(target: &str) -> bool {
    operation_of(target).is_some_and(|op| LIVE_SESSION_OPERATIONS.contains(&op))
}

/// Whether a target only reads (`Describe…`, `List…`): reads need no fleet-wide write lock.
pub fn is_read_only(target: &str) -> bool {
    operation_of(target).is_some_and(|op| op.starts_with("Describe") || op.starts_with("List"))
}

/// hark's session operations (spec §10.3), accepted under either target prefix.
pub const SESSION_OPERATIONS: [&str; 5] = [
    "StartSession",
    "UpdateSession",
    "DescribeSession",
    "EnrollBySession",
    "EndSession",
];

/// The model shapes of the session operations' members.
const SESSION_CHANGE_MEMBERS: [(&str, &str, bool); 3] = [
    ("SpeakerId", "SpeakerId", false),
    (
        "AuthenticationConfiguration",
        "AuthenticationConfiguration",
        false,
    ),
    (
        "FraudDetectionConfiguration",
        "FraudDetectionConfiguration",
        false,
    ),
];

fn decode_session(op: &str, value: &Value) -> Result<Request, Error> {
    let mut members = vec![("DomainId", "DomainId", true)];
    match op {
        "StartSession" => {
            members.push(("SessionName", "SessionName", true));
            members.push(("ClientToken", "ClientTokenString", false));
        }
        _ => members.push(("SessionNameOrId", "SessionNameOrId", true)),
    }
    if matches!(op, "StartSession" | "UpdateSession") {
        members.extend(SESSION_CHANGE_MEMBERS);
        check_streaming_configuration(value)?;
    }
    if op == "EnrollBySession" {
        members.push((
            "ExistingEnrollmentAction",
            "ExistingEnrollmentAction",
            false,
        ));
    }
    model().validate_members(&members, value)?;
    Ok(match op {
        "StartSession" => Request::StartSession(Box::new(typed(value)?)),
        "UpdateSession" => Request::UpdateSession(Box::new(typed(value)?)),
        _ => {
            let SessionInput {
                domain_id,
                session_name_or_id,
                existing_enrollment_action,
            } = typed(value)?;
            match op {
                "DescribeSession" => Request::DescribeSession {
                    domain_id,
                    session_name_or_id,
                },
                "EnrollBySession" => Request::EnrollBySession {
                    domain_id,
                    session_name_or_id,
                    overwrite: existing_enrollment_action.as_deref() != Some("SKIP"),
                },
                _ => Request::EndSession {
                    domain_id,
                    session_name_or_id,
                },
            }
        }
    })
}

/// `StreamingConfiguration` is not in the model: its one member must be 5..10 seconds.
fn check_streaming_configuration(value: &Value) -> Result<(), Error> {
    let Some(config) = value.get("StreamingConfiguration").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let seconds = config
        .get("AuthenticationMinimumSpeechInSeconds")
        .and_then(Value::as_u64);
    match seconds {
        Some(5..=10) => Ok(()),
        _ => Err(Error::Validation(format!(
            "1 validation error detected: Value {} at 'streamingConfiguration.authenticationMinimumSpeechInSeconds' failed to satisfy constraint: Member must be an integer between 5 and 10",
            config
                .get("AuthenticationMinimumSpeechInSeconds")
                .unwrap_or(&Value::Null)
        ))),
    }
}

fn decode_hark(op: &str, value: &Value) -> Result<Request, Error> {
    let input: InstanceInput = match op {
        "AssociateInstance" | "DisassociateInstance" | "DescribeInstance" => {
            typed(value).map_err(|_| {
                Error::Validation(format!(
                    "1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null ({HARK_TARGET_PREFIX}.{op} takes InstanceId)"
                ))
            })?
        }
        "ListInstances" => {
            let domain_id = typed::<DomainOnly>(value)?.domain_id;
            check_domain_id(&domain_id)?;
            return Ok(Request::ListInstances { domain_id });
        }
        _ => {
            return Err(Error::UnknownOperation(format!(
                "Unknown operation {HARK_TARGET_PREFIX}.{op}"
            )));
        }
    };
    let instance_id = input.instance_id;
    let ok = (1..=256).contains(&instance_id.chars().count())
        && instance_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '/' | '.'));
    if !ok {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value '{instance_id}' at 'instanceId' failed to satisfy constraint: Member must have length 1..256 and contain only [a-zA-Z0-9-_:/.]"
        )));
    }
    Ok(match op {
        "AssociateInstance" => {
            let Some(domain_id) = input.domain_id else {
                return Err(Error::Validation(
                    "1 validation error detected: Value null at 'domainId' failed to satisfy constraint: Member must not be null".into(),
                ));
            };
            check_domain_id(&domain_id)?;
            Request::AssociateInstance {
                instance_id,
                domain_id,
            }
        }
        "DisassociateInstance" => Request::DisassociateInstance { instance_id },
        _ => Request::DescribeInstance { instance_id },
    })
}

fn check_domain_id(domain_id: &str) -> Result<(), Error> {
    if domain_id.len() == 22 && domain_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "1 validation error detected: Value '{domain_id}' at 'domainId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]{{22}}$"
        )))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn live_session_and_read_only_targets() {
        assert!(targets_live_session("VoiceID.EvaluateSession"));
        assert!(targets_live_session("HarkVoiceID.UpdateSession"));
        assert!(!targets_live_session("HarkVoiceID.StartSession"));
        assert!(!targets_live_session("Other.EvaluateSession"));
        assert!(!targets_live_session("EvaluateSession"));
        assert!(is_read_only("VoiceID.ListSpeakers"));
        assert!(is_read_only("HarkVoiceID.DescribeSession"));
        assert!(
            !is_read_only("VoiceID.EvaluateSession"),
            "evaluation refreshes last access"
        );
        assert!(!is_read_only("VoiceID.DeleteSpeaker"));
    }

    use super::*;

    #[test]
    fn targets_bodies_and_shapes_decode() {
        let (r, _) = decode("VoiceID.ListDomains", b"").unwrap();
        assert_eq!(r, Request::ListDomains(Page::default()));
        let (r, _) = decode("VoiceID.ListDomains", br#"{"MaxResults": 5}"#).unwrap();
        assert_eq!(
            r,
            Request::ListDomains(Page {
                max_results: Some(5),
                next_token: None
            })
        );
        let body = br#"{"Name":"demo","ServerSideEncryptionConfiguration":{"KmsKeyId":"alias/hark-default"},"Tags":[{"Key":"a","Value":""}]}"#;
        let (r, _) = decode("VoiceID.CreateDomain", body).unwrap();
        let Request::CreateDomain(c) = r else {
            panic!("{r:?}")
        };
        assert_eq!(c.tags.len(), 1);
        assert!(matches!(
            decode("VoiceID.Nope", b"{}"),
            Err(Error::UnknownOperation(_))
        ));
        assert!(matches!(
            decode("Other.ListDomains", b"{}"),
            Err(Error::UnknownOperation(_))
        ));
        assert!(matches!(
            decode("VoiceID.ListDomains", b"{"),
            Err(Error::Validation(_))
        ));
        assert!(matches!(
            decode("VoiceID.ListDomains", b"[1]"),
            Err(Error::Validation(_))
        ));
        let (r, _) = decode(
            "VoiceID.EvaluateSession",
            format!(
                r#"{{"DomainId":"{}","SessionNameOrId":"call-1"}}"#,
                "a".repeat(22)
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(r.operation(), "EvaluateSession");
        let (r, _) = decode(
            "HarkVoiceID.AssociateInstance",
            format!(
                r#"{{"InstanceId":"inst-1","DomainId":"{}"}}"#,
                "a".repeat(22)
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(r.operation(), "AssociateInstance");
        assert!(decode("HarkVoiceID.AssociateInstance", br#"{"InstanceId":"x"}"#).is_err());
        assert!(decode("HarkVoiceID.DescribeInstance", br#"{"InstanceId":"a b"}"#).is_err());
    }
}

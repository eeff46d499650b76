//! AudioHook messages: the envelope every text frame carries, and typed parameters per type.
//!
//! Parsing reads the envelope first (`version`, `id`, `type`, `seq`, the peer's sequence echo,
//! `position`, `parameters`), then the parameters of known types. A type this crate does not know
//! parses as `Unknown` with its raw parameters, so the session decides what to do with it.
//! Serializing always writes `"version": "2"`, `id`, `type`, `seq`, the echo, and `parameters`
//! (as `{}` when empty — a missing `parameters` breaks Genesys' own client).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::entities::Entity;
use super::position::Position;

/// The protocol version every message carries.
pub const PROTOCOL_VERSION: &str = "2";
/// The longest text message accepted, in characters.
pub const MAX_TEXT_LEN: usize = 65_535;
/// The nil UUID, which marks a connection probe.
pub const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Why a text frame is not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Longer than [`MAX_TEXT_LEN`] characters.
    #[error("text message too large ({0} characters, limit 65535)")]
    TooLarge(usize),
    /// Not a JSON object.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A required envelope field is missing or has the wrong type.
    #[error("envelope field {field}: {reason}")]
    Envelope {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The parameters do not fit the message type.
    #[error("invalid parameters for {kind}: {reason}")]
    Parameters {
        /// The message type.
        kind: String,
        /// What is wrong.
        reason: String,
    },
}

/// True for a UUID as AudioHook's reference validates it (versions 1–5, RFC variant) or the nil UUID.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if s == NIL_UUID {
        return true;
    }
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && (b'1'..=b'5').contains(&b[14])
        && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}

/// True for a language code such as `en-US` or `cmn-CN`.
pub fn is_language(s: &str) -> bool {
    let Some((lang, region)) = s.split_once('-') else {
        return false;
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|c| c.is_ascii_lowercase())
        && (2..=3).contains(&region.len())
        && region.bytes().all(|c| c.is_ascii_alphabetic())
}

/// Who the call is with, as `open` describes the participant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// Participant UUID (nil in a probe).
    pub id: String,
    /// Caller number, e.g. `+1-555-555-1234`.
    pub ani: String,
    /// Caller name.
    pub ani_name: String,
    /// Dialled number.
    pub dnis: String,
}

/// Parameters of `open`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenParameters {
    /// Genesys organization UUID; must equal the `Audiohook-Organization-Id` header.
    pub organization_id: String,
    /// The conversation (contact) UUID; nil in a probe.
    pub conversation_id: String,
    /// The participant.
    pub participant: Participant,
    /// Offered media entries, in preference order, as received.
    pub media: Vec<Value>,
    /// Language of the conversation (Transcription Connector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Whether `opened` must list the supported languages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_languages: Option<bool>,
    /// Sessions this one continues (reconnection; unused by Genesys today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_sessions: Option<Vec<Value>>,
    /// Free-form per-integration configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_config: Option<Map<String, Value>>,
    /// Audio Connector: Architect flow input variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_variables: Option<Map<String, Value>>,
}

impl OpenParameters {
    /// True for a connection probe: nil conversation and participant ids.
    pub fn is_probe(&self) -> bool {
        self.conversation_id == NIL_UUID && self.participant.id == NIL_UUID
    }

    fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("organizationId", &self.organization_id),
            ("conversationId", &self.conversation_id),
            ("participant.id", &self.participant.id),
        ] {
            if !is_uuid(value) {
                return Err(format!("{field} is not a UUID"));
            }
        }
        if let Some(language) = &self.language
            && !is_language(language)
        {
            return Err(format!("language {language:?} is not a language code"));
        }
        Ok(())
    }
}

/// Parameters of `opened`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenedParameters {
    /// The selected media: one offered entry verbatim, or none.
    pub media: Vec<Value>,
    /// Whether the client must start paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_paused: Option<bool>,
    /// Audio before this position is to be skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard_to: Option<Position>,
    /// Languages the server supports (required when `open.supportedLanguages` was true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_languages: Option<Vec<String>>,
}

/// Why the client closes (`close.parameters.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseReason {
    /// Normal end of the stream.
    End,
    /// The server asked with `disconnect`.
    Disconnect,
    /// The client detected an error.
    Error,
    /// The client closes to reconnect.
    Reconnect,
}

/// Why the server ends the session (`disconnect.parameters.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisconnectReason {
    /// The server is done.
    Completed,
    /// Authentication or authorization failed.
    Unauthorized,
    /// A protocol violation or internal error.
    Error,
}

/// Parameters of `disconnect`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisconnectParameters {
    /// Why.
    pub reason: DisconnectReason,
    /// A human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// Audio Connector: variables returned to the Architect flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_variables: Option<Map<String, Value>>,
}

/// Parameters of the client's `error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorParameters {
    /// An HTTP-like code (400, 405, 408, 409, 413, 415, 429, 500, 503).
    pub code: u16,
    /// What went wrong.
    pub message: String,
    /// For 429: when to retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Position>,
}

/// A gap in the client's stream: `start` and how much was skipped (`resumed`, `discarded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Where the gap began.
    pub start: Position,
    /// How long it is.
    pub discarded: Position,
}

/// What a client message says, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientBody {
    /// Start of the session.
    Open(Box<OpenParameters>),
    /// End of the session.
    Close {
        /// Why.
        reason: CloseReason,
    },
    /// Keep-alive, with the previous round-trip time.
    Ping {
        /// Round-trip time of the previous ping.
        rtt: Option<Position>,
    },
    /// The client stopped sending audio.
    Paused,
    /// The client sends audio again after a gap.
    Resumed(Gap),
    /// The client skipped audio.
    Discarded(Gap),
    /// The conversation's language changed.
    Update {
        /// The new language.
        language: Option<String>,
    },
    /// The client reports an error.
    Error(ErrorParameters),
    /// Audio Connector: a DTMF digit.
    Dtmf {
        /// The digit.
        digit: String,
    },
    /// Audio Connector: playback of server audio started.
    PlaybackStarted,
    /// Audio Connector: playback of server audio completed.
    PlaybackCompleted,
    /// A type this crate does not know.
    Unknown {
        /// The `type` field.
        kind: String,
        /// The raw parameters.
        parameters: Map<String, Value>,
    },
}

/// What a server message says, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerBody {
    /// Answer to `open`.
    Opened(OpenedParameters),
    /// Answer to `close`.
    Closed,
    /// Answer to `ping`.
    Pong,
    /// Asks the client to pause.
    Pause,
    /// Asks the client to resume.
    Resume,
    /// Events (transcripts, agent assist, ...).
    Event {
        /// The entities.
        entities: Vec<Entity>,
    },
    /// Asks the client to end the session.
    Disconnect(DisconnectParameters),
    /// Asks the client to reconnect.
    Reconnect {
        /// Why.
        info: Option<String>,
    },
    /// Answer to `update`.
    Updated,
    /// A type this crate does not know.
    Unknown {
        /// The `type` field.
        kind: String,
        /// The raw parameters.
        parameters: Map<String, Value>,
    },
}

/// A client→server message with its envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientMessage {
    /// The session id.
    pub id: String,
    /// The client's sequence number.
    pub seq: u64,
    /// The highest server `seq` the client had received.
    pub serverseq: u64,
    /// The client's stream position.
    pub position: Position,
    /// Type and parameters.
    pub body: ClientBody,
}

/// A server→client message with its envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerMessage {
    /// The session id.
    pub id: String,
    /// The server's sequence number.
    pub seq: u64,
    /// The highest client `seq` the server had received.
    pub clientseq: u64,
    /// Type and parameters.
    pub body: ServerBody,
}

/// The envelope fields common to both directions.
struct Envelope {
    id: String,
    kind: String,
    seq: u64,
    object: Map<String, Value>,
    parameters: Map<String, Value>,
}

fn read_envelope(text: &str) -> Result<Envelope, MessageError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_LEN {
        return Err(MessageError::TooLarge(chars));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| MessageError::Json(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(MessageError::Json("not a JSON object".into()));
    };
    let bad = |field, reason: &str| MessageError::Envelope {
        field,
        reason: reason.to_owned(),
    };
    match object.get("version") {
        Some(Value::String(v)) if v == PROTOCOL_VERSION => {}
        Some(v) => return Err(bad("version", &format!("{v} is not \"2\""))),
        None => return Err(bad("version", "missing")),
    }
    let id = string_field(&object, "id")?;
    if !is_uuid(&id) {
        return Err(bad("id", "not a UUID"));
    }
    let kind = string_field(&object, "type")?;
    let seq = integer_field(&object, "seq")?;
    let parameters = match object.remove("parameters") {
        Some(Value::Object(p)) => p,
        Some(_) => return Err(bad("parameters", "not an object")),
        None => return Err(bad("parameters", "missing")),
    };
    Ok(Envelope {
        id,
        kind,
        seq,
        object,
        parameters,
    })
}

fn string_field(object: &Map<String, Value>, field: &'static str) -> Result<String, MessageError> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(MessageError::Envelope {
            field,
            reason: "not a string".into(),
        }),
        None => Err(MessageError::Envelope {
            field,
            reason: "missing".into(),
        }),
    }
}

fn integer_field(object: &Map<String, Value>, field: &'static str) -> Result<u64, MessageError> {
    match object.get(field) {
        Some(v) => v.as_u64().ok_or_else(|| MessageError::Envelope {
            field,
            reason: format!("{v} is not a non-negative integer"),
        }),
        None => Err(MessageError::Envelope {
            field,
            reason: "missing".into(),
        }),
    }
}

fn params<T: DeserializeOwned>(
    kind: &str,
    parameters: Map<String, Value>,
) -> Result<T, MessageError> {
    serde_json::from_value(Value::Object(parameters)).map_err(|e| MessageError::Parameters {
        kind: kind.to_owned(),
        reason: e.to_string(),
    })
}

#[derive(Deserialize)]
struct ReasonParams<R> {
    reason: R,
}

#[derive(Deserialize)]
struct PingParams {
    rtt: Option<Position>,
}

#[derive(Deserialize)]
struct LanguageParams {
    language: Option<String>,
}

#[derive(Deserialize)]
struct DtmfParams {
    digit: String,
}

#[derive(Deserialize)]
struct EventParams {
    entities: Vec<Entity>,
}

#[derive(Deserialize)]
struct InfoParams {
    info: Option<String>,
}

impl ClientMessage {
    /// Parses a text frame sent by a client.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        let env = read_envelope(text)?;
        let serverseq = integer_field(&env.object, "serverseq")?;
        let position = string_field(&env.object, "position")?.parse().map_err(
            |e: super::position::PositionError| MessageError::Envelope {
                field: "position",
                reason: e.to_string(),
            },
        )?;
        let kind = env.kind.as_str();
        let p = env.parameters;
        let body = match kind {
            "open" => {
                let open: OpenParameters = params(kind, p)?;
                open.validate().map_err(|reason| MessageError::Parameters {
                    kind: kind.into(),
                    reason,
                })?;
                ClientBody::Open(Box::new(open))
            }
            "close" => ClientBody::Close {
                reason: params::<ReasonParams<CloseReason>>(kind, p)?.reason,
            },
            "ping" => ClientBody::Ping {
                rtt: params::<PingParams>(kind, p)?.rtt,
            },
            "paused" => ClientBody::Paused,
            "resumed" => ClientBody::Resumed(params(kind, p)?),
            "discarded" => ClientBody::Discarded(params(kind, p)?),
            "update" => ClientBody::Update {
                language: params::<LanguageParams>(kind, p)?.language,
            },
            "error" => ClientBody::Error(params(kind, p)?),
            "dtmf" => ClientBody::Dtmf {
                digit: params::<DtmfParams>(kind, p)?.digit,
            },
            "playback_started" => ClientBody::PlaybackStarted,
            "playback_completed" => ClientBody::PlaybackCompleted,
            other => ClientBody::Unknown {
                kind: other.to_owned(),
                parameters: p,
            },
        };
        Ok(ClientMessage {
            id: env.id,
            seq: env.seq,
            serverseq,
            position,
            body,
        })
    }

    /// The message as a text frame.
    pub fn to_json(&self) -> String {
        let (kind, parameters) = match &self.body {
            ClientBody::Open(p) => ("open", to_value(p)),
            ClientBody::Close { reason } => ("close", json!({ "reason": reason })),
            ClientBody::Ping { rtt: Some(rtt) } => ("ping", json!({ "rtt": rtt })),
            ClientBody::Ping { rtt: None } => ("ping", json!({})),
            ClientBody::Paused => ("paused", json!({})),
            ClientBody::Resumed(gap) => ("resumed", to_value(gap)),
            ClientBody::Discarded(gap) => ("discarded", to_value(gap)),
            ClientBody::Update { language } => ("update", json!({ "language": language })),
            ClientBody::Error(e) => ("error", to_value(e)),
            ClientBody::Dtmf { digit } => ("dtmf", json!({ "digit": digit })),
            ClientBody::PlaybackStarted => ("playback_started", json!({})),
            ClientBody::PlaybackCompleted => ("playback_completed", json!({})),
            ClientBody::Unknown { kind, parameters } => {
                (kind.as_str(), Value::Object(parameters.clone()))
            }
        };
        write(&Wire {
            version: PROTOCOL_VERSION,
            id: &self.id,
            kind,
            seq: self.seq,
            clientseq: None,
            serverseq: Some(self.serverseq),
            position: Some(self.position),
            parameters,
        })
    }
}

impl ServerMessage {
    /// Parses a text frame sent by a server.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        let env = read_envelope(text)?;
        let clientseq = integer_field(&env.object, "clientseq")?;
        let kind = env.kind.as_str();
        let p = env.parameters;
        let body = match kind {
            "opened" => ServerBody::Opened(params(kind, p)?),
            "closed" => ServerBody::Closed,
            "pong" => ServerBody::Pong,
            "pause" => ServerBody::Pause,
            "resume" => ServerBody::Resume,
            "event" => ServerBody::Event {
                entities: params::<EventParams>(kind, p)?.entities,
            },
            "disconnect" => ServerBody::Disconnect(params(kind, p)?),
            "reconnect" => ServerBody::Reconnect {
                info: params::<InfoParams>(kind, p)?.info,
            },
            "updated" => ServerBody::Updated,
            other => ServerBody::Unknown {
                kind: other.to_owned(),
                parameters: p,
            },
        };
        Ok(ServerMessage {
            id: env.id,
            seq: env.seq,
            clientseq,
            body,
        })
    }

    /// The message as a text frame.
    pub fn to_json(&self) -> String {
        let (kind, parameters) = match &self.body {
            ServerBody::Opened(p) => ("opened", to_value(p)),
            ServerBody::Closed => ("closed", json!({})),
            ServerBody::Pong => ("pong", json!({})),
            ServerBody::Pause => ("pause", json!({})),
            ServerBody::Resume => ("resume", json!({})),
            ServerBody::Event { entities } => ("event", json!({ "entities": entities })),
            ServerBody::Disconnect(p) => ("disconnect", to_value(p)),
            ServerBody::Reconnect { info: Some(info) } => ("reconnect", json!({ "info": info })),
            ServerBody::Reconnect { info: None } => ("reconnect", json!({})),
            ServerBody::Updated => ("updated", json!({})),
            ServerBody::Unknown { kind, parameters } => {
                (kind.as_str(), Value::Object(parameters.clone()))
            }
        };
        write(&Wire {
            version: PROTOCOL_VERSION,
            id: &self.id,
            kind,
            seq: self.seq,
            clientseq: Some(self.clientseq),
            serverseq: None,
            position: None,
            parameters,
        })
    }
}

/// The envelope as written, in a readable field order.
#[derive(Serialize)]
struct Wire<'a> {
    version: &'static str,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    clientseq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serverseq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<Position>,
    parameters: Value,
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Our parameter types are plain structs of strings, numbers and JSON values: serializing them
    // to a Value cannot fail.
    serde_json::to_value(value).unwrap_or_else(|_| json!({}))
}

fn write(wire: &Wire<'_>) -> String {
    serde_json::to_string(wire).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_examples() {
        let open = r#"{"version":"2","type":"open","id":"939656b2-1d96-47da-962a-86a73cb06e1c","seq":1,"serverseq":0,"position":"PT0S","parameters":{"organizationId":"34e80ec9-a57e-4a06-be8b-b1f2567df796","conversationId":"75b48018-1edd-4484-be2f-be322c0a1750","participant":{"id":"c83b92b3-7cae-4bdf-a65d-d7f3f9c86042","ani":"+1-555-555-1234","aniName":"John Doe","dnis":"+1-800-555-6789"},"media":[{"type":"audio","format":"PCMU","channels":["external","internal"],"rate":8000}],"customConfig":{"agentassist":true},"language":"en-US","supportedLanguages":false}}"#;
        let m = ClientMessage::parse(open).unwrap();
        let ClientBody::Open(p) = &m.body else {
            panic!()
        };
        assert_eq!(p.participant.ani_name, "John Doe");
        assert_eq!(p.supported_languages, Some(false));
        assert!(!p.is_probe());
        let resumed = r#"{"version":"2","type":"resumed","id":"ad9981af-4d26-4fd3-9bfb-553e92de7c1b","seq":7,"serverseq":4,"position":"PT10S","parameters":{"start":"PT0.2S","discarded":"PT9.8S"}}"#;
        assert!(
            matches!(ClientMessage::parse(resumed).unwrap().body, ClientBody::Resumed(g) if g.discarded.to_string() == "PT9.8S")
        );
        let disconnect = r#"{"version":"2","type":"disconnect","id":"e9558d73-a562-4de9-ae6b-e4601ee7e861","seq":1,"clientseq":1,"parameters":{"reason":"unauthorized","info":"FAILED: Signatures do not match"}}"#;
        assert!(
            matches!(ServerMessage::parse(disconnect).unwrap().body, ServerBody::Disconnect(p) if p.reason == DisconnectReason::Unauthorized)
        );
        // The LCA-94 report carries a redacted id: not a UUID.
        let redacted = r#"{"version":"2","id":"dummy","type":"error","seq":2,"position":"PT0.0S","parameters":{"code":408,"message":"Timed out waiting for opened response"},"serverseq":0}"#;
        assert!(matches!(
            ClientMessage::parse(redacted),
            Err(MessageError::Envelope { field: "id", .. })
        ));
    }

    #[test]
    fn envelope_errors_name_the_field() {
        let base = |extra: &str| {
            format!(
                r#"{{"version":"2","type":"ping","id":"939656b2-1d96-47da-962a-86a73cb06e1c",{extra}}}"#
            )
        };
        let cases = [
            (
                base(r#""seq":1,"serverseq":0,"position":"PT0S""#),
                "parameters",
            ),
            (
                base(r#""seq":-1,"serverseq":0,"position":"PT0S","parameters":{}"#),
                "seq",
            ),
            (
                base(r#""seq":1,"position":"PT0S","parameters":{}"#),
                "serverseq",
            ),
            (
                base(r#""seq":1,"serverseq":0,"position":"1.5","parameters":{}"#),
                "position",
            ),
            (
                base(r#""seq":1,"serverseq":0,"position":"PT0S","parameters":[]"#),
                "parameters",
            ),
        ];
        for (text, field) in cases {
            match ClientMessage::parse(&text) {
                Err(MessageError::Envelope { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            ClientMessage::parse("[1]"),
            Err(MessageError::Json(_))
        ));
    }

    #[test]
    fn unknown_parameters_round_trip_exactly() {
        // Found by the audiohook_message fuzzer: a huge number must survive parse and write.
        let text = r#"{"version":"2","type":"future","id":"939656b2-1d96-47da-962a-86a73cb06e1c","seq":1,"serverseq":0,"position":"PT0S","parameters":{"rate":66666666666666666666666666666666666668000,"x":[0.1,1e-7]}}"#;
        let m = ClientMessage::parse(text).unwrap();
        assert_eq!(ClientMessage::parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn uuid_and_language_rules() {
        assert!(is_uuid("939656b2-1d96-47da-962a-86a73cb06e1c"));
        assert!(is_uuid(NIL_UUID));
        assert!(
            !is_uuid("939656b2-1d96-07da-962a-86a73cb06e1c"),
            "version 0"
        );
        assert!(
            !is_uuid("939656b2-1d96-47da-c62a-86a73cb06e1c"),
            "variant c"
        );
        assert!(!is_uuid("939656b21d9647da962a86a73cb06e1c"));
        assert!(is_language("en-US") && is_language("cmn-CN"));
        assert!(!is_language("english") && !is_language("EN-us") && !is_language("en_US"));
    }
}

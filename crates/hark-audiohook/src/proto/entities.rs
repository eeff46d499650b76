//! Entities a server sends in `event` messages: transcripts, agent-assist results and the Audio
//! Connector's bot signals. An [`Entity`] carries its `type` and raw `data`; the typed structs
//! here build and read the data of the known types.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::position::Position;

/// One entity of an `event`: `{"type": ..., "data": ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// `transcript`, `agentassist`, `barge_in`, `bot_turn_response`, or another type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entity's data.
    pub data: Value,
}

impl Entity {
    /// A transcript entity.
    pub fn transcript(t: &Transcript) -> Self {
        Self::of("transcript", t)
    }

    /// An agent-assist entity.
    pub fn agent_assist(a: &AgentAssist) -> Self {
        Self::of("agentassist", a)
    }

    /// Audio Connector: stop playing queued bot audio.
    pub fn barge_in() -> Self {
        Entity {
            kind: "barge_in".into(),
            data: Value::Object(Default::default()),
        }
    }

    fn of<T: Serialize>(kind: &str, data: &T) -> Self {
        Entity {
            kind: kind.into(),
            data: serde_json::to_value(data).unwrap_or(Value::Null),
        }
    }

    /// The data as a transcript, if this is one.
    pub fn as_transcript(&self) -> Option<Transcript> {
        (self.kind == "transcript")
            .then(|| serde_json::from_value(self.data.clone()).ok())
            .flatten()
    }

    /// The data as agent-assist results, if this is one.
    pub fn as_agent_assist(&self) -> Option<AgentAssist> {
        (self.kind == "agentassist")
            .then(|| serde_json::from_value(self.data.clone()).ok())
            .flatten()
    }
}

/// A transcript of one utterance on one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    /// Utterance UUID.
    pub id: String,
    /// Index into the negotiated channel list (0 or 1).
    pub channel_id: u8,
    /// Whether this is the final version of the utterance.
    pub is_final: bool,
    /// Start of the utterance on the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Position>,
    /// Length of the utterance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Position>,
    /// Recognition alternatives, best first.
    pub alternatives: Vec<TranscriptAlternative>,
}

/// One recognition alternative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptAlternative {
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Languages detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<String>>,
    /// Interpretations (the `display` one carries the text).
    pub interpretations: Vec<TranscriptInterpretation>,
}

/// One interpretation of an alternative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptInterpretation {
    /// `display`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    pub transcript: String,
    /// Word tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<TranscriptToken>>,
}

/// One word of a transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptToken {
    /// `word`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The word.
    pub value: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Start on the stream.
    pub offset: Position,
    /// Length.
    pub duration: Position,
    /// Language of the word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Agent-assist results: utterances and suggestions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentAssist {
    /// Result UUID.
    pub id: String,
    /// Recognised utterances (each sent once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utterances: Option<Vec<AgentAssistUtterance>>,
    /// Suggestions (`faq` or `article` objects, kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<Value>>,
}

/// One utterance recognised for agent assist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentAssistUtterance {
    /// Utterance UUID.
    pub id: String,
    /// Start on the stream.
    pub position: Position,
    /// Length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Position>,
    /// The text.
    pub text: String,
    /// Language code.
    pub language: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// `external` or `internal`.
    pub channel: String,
    /// Whether this is final.
    pub is_final: bool,
}

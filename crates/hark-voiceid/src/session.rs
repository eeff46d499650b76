//! One live Voice ID session (spec §9.3, hark extension §10.3): a contact's customer audio
//! turned into voiceprints while the call runs, the claimed speaker, the thresholds, and the
//! enrollment request. Plain state: the service ([`crate::live`]) resolves speakers and
//! watchlists against the store and decides.
//!
//! Audio is listened to until it has served everything a session can ask of it: the voiceprint
//! for authentication and fraud detection is frozen when the net speech reaches the session's
//! minimum (5–10 s), the enrollment voiceprint when it reaches 30 s; then the embedder is
//! dropped, so a long call costs no more CPU than its first 30 s of speech.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hark_voiceprint::PartialBatcher;
use hark_voiceprint::{EmbedderConfig, StreamingEmbedder, Voiceprint, VoiceprintError};
use serde_json::Value;

use crate::records::wire_enum;

/// Default `AcceptanceThreshold` (AWS's recommendation).
pub const DEFAULT_ACCEPTANCE_THRESHOLD: u8 = 90;
/// Default `RiskThreshold`.
pub const DEFAULT_RISK_THRESHOLD: u8 = 50;
/// Default net speech before authentication and fraud detection decide, in seconds.
pub const DEFAULT_MINIMUM_SPEECH_SECONDS: u8 = 10;
/// The allowed range of that minimum ("authentication response time").
pub const MINIMUM_SPEECH_RANGE: std::ops::RangeInclusive<u8> = 5..=10;
/// Net speech an enrollment needs.
pub const ENROLLMENT_SPEECH: Duration = Duration::from_secs(30);

wire_enum!(
    /// `StreamingStatus` of a session.
    StreamingStatus {
        /// The session exists; no audio stream has started.
        PendingConfiguration = "PENDING_CONFIGURATION",
        /// Audio is streaming.
        Ongoing = "ONGOING",
        /// The stream ended.
        Ended = "ENDED",
    }
);

wire_enum!(
    /// `EnrollmentRequestDetails.Status` (the agent application's enum).
    EnrollmentStatus {
        /// Less than 30 s of net speech so far (final once streaming ended).
        NotEnoughSpeech = "NOT_ENOUGH_SPEECH",
        /// Enough audio; the voiceprint is being stored.
        InProgress = "IN_PROGRESS",
        /// The speaker is enrolled.
        Completed = "COMPLETED",
        /// Enrollment failed; the message says why.
        Failed = "FAILED",
    }
);

/// The configuration a session evaluates with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSettings {
    /// Score at or above which authentication accepts.
    pub acceptance_threshold: u8,
    /// Risk at or above which fraud detection says `HIGH_RISK`.
    pub risk_threshold: u8,
    /// The watchlist screened; the domain's default one when `None`.
    pub watchlist_id: Option<String>,
    /// Net speech, in seconds, before authentication and fraud detection decide.
    pub minimum_speech_seconds: u8,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            acceptance_threshold: DEFAULT_ACCEPTANCE_THRESHOLD,
            risk_threshold: DEFAULT_RISK_THRESHOLD,
            watchlist_id: None,
            minimum_speech_seconds: DEFAULT_MINIMUM_SPEECH_SECONDS,
        }
    }
}

/// A voiceprint frozen from the session's audio, with the audio it rests on.
#[derive(Debug, Clone)]
pub struct FrozenVoiceprint {
    /// The voiceprint.
    pub voiceprint: Voiceprint,
    /// Net speech in it.
    pub speech: Duration,
    /// When the first audio of the session arrived.
    pub started_at: DateTime<Utc>,
    /// When the audio that completed it arrived.
    pub ended_at: DateTime<Utc>,
}

/// An enrollment requested on the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRequest {
    /// Where it stands.
    pub status: EnrollmentStatus,
    /// Why it failed.
    pub message: Option<String>,
}

/// A result handed out by EvaluateSession, kept so that an unchanged result keeps its id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CachedResult {
    /// The result id.
    pub id: String,
    /// The result without its id.
    pub body: Value,
}

/// What a [`Session::push`] completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// The evaluation voiceprint was frozen by this audio.
    pub evaluation_ready: bool,
    /// The enrollment voiceprint was frozen by this audio.
    pub enrollment_ready: bool,
}

/// The session's audio pipeline.
#[derive(Debug, Default)]
struct SessionAudio {
    embedder: Option<StreamingEmbedder>,
    started_at: Option<DateTime<Utc>>,
    last_at: Option<DateTime<Utc>>,
    speech: Duration,
    evaluation: Option<FrozenVoiceprint>,
    enrollment: Option<FrozenVoiceprint>,
}

/// One Voice ID session.
#[derive(Debug)]
pub struct Session {
    /// `id#` + 22 alphanumerics.
    pub session_id: String,
    /// The name (the contact or conversation id).
    pub session_name: String,
    /// Its domain.
    pub domain_id: String,
    /// The claimed speaker as given (customer or generated id).
    pub speaker_id: Option<String>,
    /// The claimed speaker's generated id, once the speaker exists.
    pub generated_speaker_id: Option<String>,
    /// Thresholds, watchlist and speech minimum.
    pub settings: SessionSettings,
    /// Where the audio stream is.
    pub streaming: StreamingStatus,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The enrollment request, if any.
    pub enrollment: Option<EnrollmentRequest>,
    audio: SessionAudio,
    pub(crate) authentication_result: Option<CachedResult>,
    pub(crate) fraud_result: Option<CachedResult>,
}

impl Session {
    /// A new session waiting for its audio stream.
    pub fn new(
        session_id: String,
        session_name: String,
        domain_id: String,
        settings: SessionSettings,
        now: DateTime<Utc>,
    ) -> Self {
        Session {
            session_id,
            session_name,
            domain_id,
            speaker_id: None,
            generated_speaker_id: None,
            settings,
            streaming: StreamingStatus::PendingConfiguration,
            created_at: now,
            updated_at: now,
            enrollment: None,
            audio: SessionAudio::default(),
            authentication_result: None,
            fraud_result: None,
        }
    }

    /// Starts the audio stream: customer audio at `rate` Hz from now on.
    pub fn start_streaming(
        &mut self,
        batcher: Arc<PartialBatcher>,
        rate: u32,
        now: DateTime<Utc>,
    ) -> Result<(), VoiceprintError> {
        let mut config = EmbedderConfig::default();
        config.min_speech = Duration::from_secs(1);
        self.audio.embedder = Some(StreamingEmbedder::batched(batcher, config, rate)?);
        self.streaming = StreamingStatus::Ongoing;
        self.updated_at = now;
        Ok(())
    }

    /// Ends the audio stream; nothing more is heard.
    pub fn end_streaming(&mut self, now: DateTime<Utc>) {
        self.audio.embedder = None;
        if self.streaming != StreamingStatus::Ended {
            self.streaming = StreamingStatus::Ended;
            self.updated_at = now;
        }
        if let Some(e) = &mut self.enrollment
            && e.status == EnrollmentStatus::NotEnoughSpeech
        {
            e.message = Some(format!(
                "The call ended after {:.1} s of net speech; enrollment needs {} s",
                self.audio.speech.as_secs_f64(),
                ENROLLMENT_SPEECH.as_secs()
            ));
        }
    }

    /// Whether the session still listens to audio.
    pub fn is_listening(&self) -> bool {
        self.audio.embedder.is_some()
    }

    /// Hears customer audio (mono samples in [-1, 1] at the stream's rate), freezing the
    /// evaluation and enrollment voiceprints when their speech is reached.
    pub fn push(
        &mut self,
        samples: &[f32],
        now: DateTime<Utc>,
    ) -> Result<PushOutcome, VoiceprintError> {
        let audio = &mut self.audio;
        let Some(embedder) = audio.embedder.as_mut() else {
            return Ok(PushOutcome::default());
        };
        embedder.push(samples)?;
        let started_at = *audio.started_at.get_or_insert(now);
        audio.last_at = Some(now);
        audio.speech = embedder.speech_duration();
        let mut outcome = PushOutcome::default();
        let minimum = Duration::from_secs(self.settings.minimum_speech_seconds.into());
        let freeze = |embedder: &mut StreamingEmbedder| -> Result<_, VoiceprintError> {
            let u = embedder.snapshot()?;
            Ok(FrozenVoiceprint {
                voiceprint: u.voiceprint,
                speech: u.speech,
                started_at,
                ended_at: now,
            })
        };
        if audio.evaluation.is_none() && audio.speech >= minimum {
            audio.evaluation = Some(freeze(embedder)?);
            outcome.evaluation_ready = true;
        }
        if audio.enrollment.is_none() && audio.speech >= ENROLLMENT_SPEECH {
            audio.enrollment = Some(freeze(embedder)?);
            outcome.enrollment_ready = true;
            // Everything a session can ask of its audio is frozen: stop listening.
            audio.embedder = None;
        }
        Ok(outcome)
    }

    /// Net speech heard so far.
    pub fn speech(&self) -> Duration {
        self.audio.speech
    }

    /// When the first and the latest audio arrived.
    pub fn audio_window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((self.audio.started_at?, self.audio.last_at?))
    }

    /// The voiceprint authentication and fraud detection use, once there is enough speech.
    pub fn evaluation_voiceprint(&self) -> Option<&FrozenVoiceprint> {
        self.audio.evaluation.as_ref()
    }

    /// The voiceprint an enrollment uses, once there are 30 s of speech.
    pub fn enrollment_voiceprint(&self) -> Option<&FrozenVoiceprint> {
        self.audio.enrollment.as_ref()
    }

    /// Whether the session is over and can hear nothing more.
    pub fn has_ended(&self) -> bool {
        self.streaming == StreamingStatus::Ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f64) -> Vec<f32> {
        (0..(seconds * 8000.0) as usize)
            .map(|i| 0.3 * (i as f32 * 0.2).sin())
            .collect()
    }

    #[test]
    fn a_session_listens_only_while_streaming() {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let mut s = Session::new(
            "id#a".into(),
            "call".into(),
            "d".into(),
            SessionSettings::default(),
            now,
        );
        assert_eq!(s.streaming, StreamingStatus::PendingConfiguration);
        assert_eq!(s.push(&tone(1.0), now).unwrap(), PushOutcome::default());
        assert!(
            s.audio_window().is_none(),
            "audio before streaming is not heard"
        );
        let encoder = hark_voiceprint::Embedder::embedded()
            .unwrap()
            .encoder()
            .clone();
        s.start_streaming(Arc::new(PartialBatcher::new(encoder)), 8000, now)
            .unwrap();
        assert!(s.is_listening());
        s.push(&tone(1.0), now).unwrap();
        assert!(s.audio_window().is_some());
        s.enrollment = Some(EnrollmentRequest {
            status: EnrollmentStatus::NotEnoughSpeech,
            message: None,
        });
        s.end_streaming(now);
        assert!(s.has_ended() && !s.is_listening());
        let message = s.enrollment.as_ref().unwrap().message.clone().unwrap();
        assert!(message.contains("needs 30 s"), "{message}");
    }
}

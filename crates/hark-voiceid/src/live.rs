//! Live sessions on the service: the session operations (StartSession, UpdateSession,
//! DescribeSession, EnrollBySession, EndSession — hark extensions after spec §10.3 — and the
//! model's EvaluateSession), and the audio streams that feed sessions.
//!
//! Locks are taken in one order: the session registry, then one session. A session's lock is
//! held while its audio is embedded (a few ms per partial), never across the registry.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::api::{SessionChanges, StartSession, UpdateSession};
use crate::error::Error;
use crate::events::{Event, EventAction};
use crate::ids;
use crate::records::{ConflictType, ResourceType, SpeakerRecord, SpeakerRef, SpeakerStatus};
use crate::service::VoiceId;
use crate::session::{EnrollmentRequest, EnrollmentStatus, Session, SessionSettings};
use crate::session_registry::{SharedSession, lock};

/// What a call asks of Voice ID when its audio stream opens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamRequest {
    /// The domain.
    pub domain_id: String,
    /// The session name: the conversation (contact) id.
    pub session_name: String,
    /// The claimed speaker, if the call names one.
    pub speaker_id: Option<String>,
    /// The watchlist to screen against, if not the default.
    pub watchlist_id: Option<String>,
}

/// Customer audio of one call feeding one session.
#[derive(Debug, Clone)]
pub struct SessionStream {
    session: SharedSession,
    /// The session's id.
    pub session_id: String,
}

impl VoiceId {
    pub(crate) fn find_session(
        &self,
        domain_id: &str,
        name_or_id: &str,
    ) -> Result<SharedSession, Error> {
        self.sessions.find(domain_id, name_or_id).ok_or_else(|| {
            Error::not_found(
                ResourceType::Session,
                format!("Session {name_or_id} not found in domain {domain_id}"),
            )
        })
    }

    fn new_session(
        &self,
        domain_id: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<SharedSession, Error> {
        let limit = self.settings.quotas.sessions_per_domain;
        if self.sessions.active_in(domain_id) >= limit {
            return Err(Error::QuotaExceeded(format!(
                "The domain already has {limit} active sessions, its quota"
            )));
        }
        let session = Session::new(
            ids::generated_id()?,
            name.to_owned(),
            domain_id.to_owned(),
            SessionSettings::default(),
            now,
        );
        Ok(self.sessions.insert(session))
    }

    /// `StartSession`: a session waiting for its audio (or the live one of that name).
    pub(crate) fn start_session(&self, r: StartSession) -> Result<Value, Error> {
        self.active_domain(&r.domain_id)?;
        let now = self.now();
        let shared = match self.sessions.find(&r.domain_id, &r.session_name) {
            Some(s) if !lock(&s).has_ended() => s,
            _ => self.new_session(&r.domain_id, &r.session_name, now)?,
        };
        let mut session = lock(&shared);
        self.apply_changes(&mut session, &r.changes, now)?;
        self.publish_session(&session, EventAction::StartSession);
        Ok(json!({ "Session": self.session_json(&session) }))
    }

    /// `UpdateSession`: the claimed speaker or the settings change.
    pub(crate) fn update_session(&self, r: UpdateSession) -> Result<Value, Error> {
        self.active_domain(&r.domain_id)?;
        let shared = self.find_session(&r.domain_id, &r.session_name_or_id)?;
        let mut session = lock(&shared);
        self.apply_changes(&mut session, &r.changes, self.now())?;
        self.publish_session(&session, EventAction::UpdateSession);
        Ok(json!({ "Session": self.session_json(&session) }))
    }

    /// `DescribeSession`.
    pub(crate) fn describe_session(&self, domain_id: &str, name: &str) -> Result<Value, Error> {
        self.active_domain(domain_id)?;
        let shared = self.find_session(domain_id, name)?;
        let session = lock(&shared);
        Ok(json!({ "Session": self.session_json(&session) }))
    }

    /// `EndSession`: no more audio is heard (the stream, if any, is ignored from now on).
    pub(crate) fn end_session(&self, domain_id: &str, name: &str) -> Result<Value, Error> {
        self.active_domain(domain_id)?;
        let shared = self.find_session(domain_id, name)?;
        let mut session = lock(&shared);
        self.finish(&mut session)?;
        Ok(json!({ "Session": self.session_json(&session) }))
    }

    /// Validates and applies speaker and settings changes (all or nothing).
    fn apply_changes(
        &self,
        session: &mut Session,
        changes: &SessionChanges,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut settings = session.settings.clone();
        if let Some(a) = &changes.authentication_configuration {
            settings.acceptance_threshold = a.acceptance_threshold;
        }
        if let Some(f) = &changes.fraud_detection_configuration {
            if let Some(w) = &f.watchlist_id {
                self.find_watchlist(&session.domain_id, w)?;
                settings.watchlist_id = Some(w.clone());
            }
            if let Some(r) = f.risk_threshold {
                settings.risk_threshold = r;
            }
        }
        if let Some(s) = &changes.streaming_configuration {
            settings.minimum_speech_seconds = s.authentication_minimum_speech_in_seconds;
        }
        if let Some(speaker) = &changes.speaker_id
            && session.speaker_id.as_ref() != Some(speaker)
        {
            let requested = session
                .enrollment
                .as_ref()
                .is_some_and(|e| e.status != EnrollmentStatus::Failed);
            if requested {
                return Err(Error::conflict(
                    ConflictType::CannotChangeSpeakerAfterEnrollment,
                    "The session's speaker cannot change after enrollment was requested",
                ));
            }
            let known = self
                .store
                .speaker(&session.domain_id, SpeakerRef::of(speaker))?;
            session.generated_speaker_id = known.map(|s| s.generated_id);
            session.speaker_id = Some(speaker.clone());
        }
        session.settings = settings;
        session.updated_at = now;
        Ok(())
    }

    // ---- audio streams -------------------------------------------------------------------

    /// Attaches a call's customer audio (at `rate` Hz) to the session named by the request,
    /// creating it if needed. A second stream for a live session → 409 ANOTHER_ACTIVE_STREAM.
    pub fn open_stream(&self, request: &StreamRequest, rate: u32) -> Result<SessionStream, Error> {
        crate::model::model().validate_members(
            &[
                ("DomainId", "DomainId", true),
                ("SessionName", "SessionName", true),
                ("SpeakerId", "SpeakerId", false),
                ("WatchlistId", "WatchlistId", false),
            ],
            &json!({
                "DomainId": request.domain_id,
                "SessionName": request.session_name,
                "SpeakerId": request.speaker_id,
                "WatchlistId": request.watchlist_id,
            }),
        )?;
        self.active_domain(&request.domain_id)?;
        let now = self.now();
        let shared = match self
            .sessions
            .find(&request.domain_id, &request.session_name)
        {
            Some(s) if !lock(&s).has_ended() => s,
            _ => self.new_session(&request.domain_id, &request.session_name, now)?,
        };
        let mut session = lock(&shared);
        if session.is_listening() {
            return Err(Error::conflict(
                ConflictType::AnotherActiveStream,
                format!("Session {} already has an audio stream", session.session_id),
            ));
        }
        let changes = SessionChanges {
            // A speaker set through the API (the agent application) wins over the call's.
            speaker_id: request
                .speaker_id
                .clone()
                .filter(|_| session.speaker_id.is_none()),
            fraud_detection_configuration: request.watchlist_id.as_ref().map(|w| {
                crate::api::FraudDetectionConfiguration {
                    risk_threshold: None,
                    watchlist_id: Some(w.clone()),
                }
            }),
            ..SessionChanges::default()
        };
        self.apply_changes(&mut session, &changes, now)?;
        session
            .start_streaming(self.batcher()?, rate, now)
            .map_err(|e| Error::Internal(format!("cannot start the session's audio: {e}")))?;
        self.publish_session(&session, EventAction::StartSession);
        Ok(SessionStream {
            session: Arc::clone(&shared),
            session_id: session.session_id.clone(),
        })
    }

    /// Hears customer audio: mono samples in [-1, 1] at the stream's rate. Decides as soon as
    /// there is enough speech, and completes a waiting enrollment at 30 s.
    pub fn hear(&self, stream: &SessionStream, samples: &[f32]) -> Result<(), Error> {
        let mut session = lock(&stream.session);
        let outcome = session
            .push(samples, self.now())
            .map_err(|e| Error::Internal(format!("session audio: {e}")))?;
        if outcome.evaluation_ready {
            self.evaluate_locked(&mut session)?;
        }
        if outcome.enrollment_ready && Self::enrollment_waits(&session) {
            self.complete_enrollment(&mut session)?;
        }
        Ok(())
    }

    /// The call's audio stream ended.
    pub fn close_stream(&self, stream: &SessionStream) -> Result<(), Error> {
        let mut session = lock(&stream.session);
        self.finish(&mut session)
    }

    /// Ends a session's streaming; reports what it never had enough speech for.
    fn finish(&self, session: &mut Session) -> Result<(), Error> {
        if session.has_ended() {
            return Ok(());
        }
        let streamed = session.audio_window().is_some();
        session.end_streaming(self.now());
        if Self::enrollment_waits(session) {
            let message = session.enrollment.as_ref().and_then(|e| e.message.clone());
            self.publish_enrollment(session, "FAILURE", message);
        }
        if streamed && session.evaluation_voiceprint().is_none() {
            // The final NOT_ENOUGH_SPEECH outcome, so event consumers need not poll.
            self.evaluate_locked(session)?;
        }
        Ok(())
    }

    // ---- enrollment ----------------------------------------------------------------------

    fn enrollment_waits(session: &Session) -> bool {
        session
            .enrollment
            .as_ref()
            .is_some_and(|e| e.status == EnrollmentStatus::NotEnoughSpeech)
    }

    /// `EnrollBySession`: enrolls the session's speaker from 30 s of its net speech — now if
    /// the session has heard them, else as soon as it has.
    pub(crate) fn enroll_by_session(
        &self,
        domain_id: &str,
        name: &str,
        overwrite: bool,
    ) -> Result<Value, Error> {
        self.active_domain(domain_id)?;
        let shared = self.find_session(domain_id, name)?;
        let mut session = lock(&shared);
        let retryable = match &session.enrollment {
            None => true,
            Some(e) => {
                e.status == EnrollmentStatus::Failed
                    || e.status == EnrollmentStatus::NotEnoughSpeech && session.has_ended()
            }
        };
        if !retryable {
            return Err(Error::conflict(
                ConflictType::EnrollmentAlreadyExists,
                "An enrollment was already requested on this session",
            ));
        }
        let Some(claim) = session.speaker_id.clone() else {
            return Err(Error::conflict(
                ConflictType::SpeakerNotSet,
                "Set the session's speaker (UpdateSession SpeakerId) before enrolling",
            ));
        };
        let speaker = self.speaker_for_enrollment(domain_id, &claim)?;
        session.generated_speaker_id = Some(speaker.generated_id.clone());
        if speaker.status == SpeakerStatus::Enrolled && !overwrite {
            return Ok(json!({ "Status": EnrollmentStatus::Completed.as_str() }));
        }
        session.enrollment = Some(EnrollmentRequest {
            status: EnrollmentStatus::NotEnoughSpeech,
            message: None,
        });
        if session.enrollment_voiceprint().is_some() {
            self.complete_enrollment(&mut session)?;
        } else if session.has_ended() {
            session.end_streaming(self.now()); // sets the final message
            let message = session.enrollment.as_ref().and_then(|e| e.message.clone());
            self.publish_enrollment(&session, "FAILURE", message);
        } else {
            self.publish_enrollment(&session, "IN_PROGRESS", None);
        }
        let status = session
            .enrollment
            .as_ref()
            .map_or(EnrollmentStatus::NotEnoughSpeech, |e| e.status);
        Ok(json!({ "Status": status.as_str() }))
    }

    /// The speaker an enrollment is for: refused when opted out; a new customer id becomes a
    /// `PENDING` speaker (counted against the quota) until its voiceprint exists.
    fn speaker_for_enrollment(&self, domain_id: &str, claim: &str) -> Result<SpeakerRecord, Error> {
        let _w = self.write();
        match self.store.speaker(domain_id, SpeakerRef::of(claim))? {
            Some(s) if s.status == SpeakerStatus::OptedOut => Err(Error::conflict(
                ConflictType::SpeakerOptedOut,
                "The speaker opted out; delete the speaker before enrolling again",
            )),
            Some(mut s) => {
                s.status = self.speaker_status(&s);
                Ok(s)
            }
            None => {
                let SpeakerRef::Customer(customer) = SpeakerRef::of(claim) else {
                    return Err(Error::not_found(
                        ResourceType::Speaker,
                        format!("Speaker {claim} not found"),
                    ));
                };
                let s = self.new_speaker(domain_id, customer, SpeakerStatus::Pending)?;
                self.store.put_speaker(&s)?;
                Ok(s)
            }
        }
    }

    /// Stores the session's 30 s voiceprint as its speaker's; the request completes or fails.
    fn complete_enrollment(&self, session: &mut Session) -> Result<(), Error> {
        let (Some(frozen), Some(claim)) = (session.enrollment_voiceprint(), &session.speaker_id)
        else {
            return Ok(());
        };
        let (bytes, claim) = (frozen.voiceprint.to_bytes(), claim.clone());
        if let Some(e) = &mut session.enrollment {
            e.status = EnrollmentStatus::InProgress;
        }
        let outcome = self.enroll_speaker(&session.domain_id, &claim, &bytes);
        let request = match &outcome {
            Ok(speaker) => {
                session.generated_speaker_id = Some(speaker.generated_id.clone());
                EnrollmentRequest {
                    status: EnrollmentStatus::Completed,
                    message: None,
                }
            }
            Err(Error::Internal(detail)) => return Err(Error::Internal(detail.clone())),
            Err(e) => EnrollmentRequest {
                status: EnrollmentStatus::Failed,
                message: Some(e.to_string()),
            },
        };
        let (status, message) = match request.status {
            EnrollmentStatus::Completed => ("SUCCESS", None),
            _ => ("FAILURE", request.message.clone()),
        };
        session.enrollment = Some(request);
        session.updated_at = self.now();
        self.publish_enrollment(session, status, message);
        Ok(())
    }

    // ---- events --------------------------------------------------------------------------

    fn session_event_detail(session: &Session) -> Value {
        let mut s = json!({
            "sessionId": session.session_id,
            "sessionName": session.session_name,
            "streamingStatus": session.streaming.as_str(),
        });
        if let Some(g) = &session.generated_speaker_id {
            s["generatedSpeakerId"] = json!(g);
        }
        json!({ "session": s })
    }

    fn publish_session(&self, session: &Session, action: EventAction) {
        self.publish(Event {
            action,
            status: "SUCCESS",
            domain_id: session.domain_id.clone(),
            source_id: session.session_id.clone(),
            detail: Self::session_event_detail(session),
            error: None,
        });
    }

    fn publish_enrollment(&self, session: &Session, status: &'static str, error: Option<String>) {
        self.counters.enrolment(status);
        self.publish(Event {
            action: EventAction::SessionEnrollmentRequest,
            status,
            domain_id: session.domain_id.clone(),
            source_id: session.session_id.clone(),
            detail: Self::session_event_detail(session),
            error: error.map(|m| ("ENROLLMENT_FAILED".to_owned(), 400, m)),
        });
    }

    pub(crate) fn publish_evaluation(&self, session: &Session, auth: &Value, fraud: &Value) {
        let mut detail = Self::session_event_detail(session);
        let mut auth = lower_camel_keys(auth);
        if let Some(a) = auth.as_object_mut() {
            a.remove("customerSpeakerId");
        }
        detail["authenticationResult"] = auth;
        detail["fraudDetectionResult"] = lower_camel_keys(fraud);
        self.publish(Event {
            action: EventAction::EvaluateSession,
            status: "SUCCESS",
            domain_id: session.domain_id.clone(),
            source_id: session.session_id.clone(),
            detail,
            error: None,
        });
    }
}

/// `{"AuthenticationResultId": …}` → `{"authenticationResultId": …}`, recursively (events use
/// EventBridge's lower camel case).
fn lower_camel_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = chars
                        .next()
                        .map(|c| c.to_lowercase().chain(chars).collect())
                        .unwrap_or_default();
                    (key, lower_camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lower_camel_keys).collect()),
        other => other.clone(),
    }
}

//! EvaluateSession's decisions (spec §9.3): authentication of the claimed speaker and fraud
//! detection against a watchlist, from the session's frozen voiceprint; result ids that change
//! only when a result does; and the `Session` JSON.

use hark_voiceprint::{Voiceprint, VoiceprintIndex};
use serde_json::{Value, json};

use crate::error::Error;
use crate::ids;
use crate::records::{BlobKey, BlobKind, DomainRecord, SpeakerRef, SpeakerStatus};
use crate::service::{VoiceId, ts};
use crate::session::{CachedResult, EnrollmentStatus, Session, StreamingStatus};
use crate::watchlist_index::SharedIndex;

/// Both results of one evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation {
    pub authentication: Value,
    pub fraud: Value,
}

impl VoiceId {
    /// `EvaluateSession`.
    pub(crate) fn evaluate_session(&self, domain_id: &str, name: &str) -> Result<Value, Error> {
        self.active_domain(domain_id)?;
        let shared = self.find_session(domain_id, name)?;
        let mut session = shared.lock().unwrap_or_else(|p| p.into_inner());
        let e = self.evaluate_locked(&mut session)?;
        Ok(json!({
            "DomainId": session.domain_id,
            "SessionId": session.session_id,
            "SessionName": session.session_name,
            "StreamingStatus": session.streaming.as_str(),
            "AuthenticationResult": e.authentication,
            "FraudDetectionResult": e.fraud,
        }))
    }

    /// Computes both results; a result equal to the last one keeps its id, a new one gets a
    /// new id and is published.
    pub(crate) fn evaluate_locked(&self, session: &mut Session) -> Result<Evaluation, Error> {
        let domain = self.active_domain(&session.domain_id)?;
        let authentication = self.authentication_body(session)?;
        let accepted = authentication["Decision"] == "ACCEPT";
        // A first decision is one about the claimed speaker: accepted or rejected.
        let decisive =
            |body: &Value| matches!(body["Decision"].as_str(), Some("ACCEPT" | "REJECT"));
        let first_decisive = decisive(&authentication)
            && session
                .authentication_result
                .as_ref()
                .is_none_or(|previous| !decisive(&previous.body));
        let (authentication, auth_new) = issue(
            &mut session.authentication_result,
            authentication,
            "AuthenticationResultId",
        )?;
        if auth_new
            && accepted
            && let Some(speaker) = &session.generated_speaker_id
        {
            // A successful authentication counts as access: the 3-year expiry restarts.
            self.record_authentication(&session.domain_id, speaker)?;
        }
        let fraud = self.fraud_body(&domain, session)?;
        let (fraud, fraud_new) = issue(&mut session.fraud_result, fraud, "FraudDetectionResultId")?;
        let decision = |body: &Value| body["Decision"].as_str().unwrap_or_default().to_owned();
        if auth_new {
            self.counters
                .decision("authentication", &decision(&authentication));
            if first_decisive {
                let after = (self.now() - session.created_at).num_milliseconds();
                self.counters.first_decision(after as f64 / 1000.0);
            }
        }
        if fraud_new {
            self.counters.decision("fraud", &decision(&fraud));
        }
        if auth_new || fraud_new {
            self.publish_evaluation(session, &authentication, &fraud);
        }
        Ok(Evaluation {
            authentication,
            fraud,
        })
    }

    /// The audio a result rests on: the frozen window, else everything heard so far.
    fn aggregation(session: &Session, body: &mut Value) {
        let window = match session.evaluation_voiceprint() {
            Some(f) => Some((f.started_at, f.ended_at)),
            None => session.audio_window(),
        };
        if let Some((started, ended)) = window {
            body["AudioAggregationStartedAt"] = ts(started);
            body["AudioAggregationEndedAt"] = ts(ended);
        }
    }

    fn authentication_body(&self, session: &mut Session) -> Result<Value, Error> {
        let threshold = session.settings.acceptance_threshold;
        let mut body = json!({ "Configuration": { "AcceptanceThreshold": threshold } });
        Self::aggregation(session, &mut body);
        let Some(claim) = session.speaker_id.clone() else {
            body["Decision"] = json!("SPEAKER_ID_NOT_PROVIDED");
            return Ok(body);
        };
        let speaker = self
            .store
            .speaker(&session.domain_id, SpeakerRef::of(&claim))?;
        let customer = match (&speaker, SpeakerRef::of(&claim)) {
            (Some(s), _) => s.customer_id.clone(),
            (None, SpeakerRef::Customer(c)) => Some(c.to_owned()),
            (None, SpeakerRef::Generated(_)) => None,
        };
        if let Some(c) = customer {
            body["CustomerSpeakerId"] = json!(c);
        }
        let Some(speaker) = speaker else {
            session.generated_speaker_id = None;
            body["Decision"] = json!("SPEAKER_NOT_ENROLLED");
            return Ok(body);
        };
        body["GeneratedSpeakerId"] = json!(speaker.generated_id);
        session.generated_speaker_id = Some(speaker.generated_id.clone());
        let decision = match self.speaker_status(&speaker) {
            SpeakerStatus::OptedOut => "SPEAKER_OPTED_OUT",
            SpeakerStatus::Expired => "SPEAKER_EXPIRED",
            SpeakerStatus::Pending => "SPEAKER_NOT_ENROLLED",
            SpeakerStatus::Enrolled => {
                let stored = self.stored_voiceprint(&session.domain_id, &speaker.generated_id)?;
                match (session.evaluation_voiceprint(), stored) {
                    (None, _) => "NOT_ENOUGH_SPEECH",
                    (Some(_), None) => "SPEAKER_NOT_ENROLLED",
                    (Some(frozen), Some(stored)) => {
                        let score = self
                            .calibration
                            .score(frozen.voiceprint.similarity(&stored));
                        body["Score"] = json!(score);
                        if score >= threshold {
                            "ACCEPT"
                        } else {
                            "REJECT"
                        }
                    }
                }
            }
        };
        body["Decision"] = json!(decision);
        Ok(body)
    }

    fn fraud_body(&self, domain: &DomainRecord, session: &Session) -> Result<Value, Error> {
        let threshold = session.settings.risk_threshold;
        let watchlist_id = session
            .settings
            .watchlist_id
            .clone()
            .unwrap_or_else(|| domain.default_watchlist_id.clone());
        let mut body = json!({
            "Configuration": { "RiskThreshold": threshold, "WatchlistId": watchlist_id },
        });
        Self::aggregation(session, &mut body);
        let Some(frozen) = session.evaluation_voiceprint() else {
            body["Decision"] = json!("NOT_ENOUGH_SPEECH");
            return Ok(body);
        };
        let index = self.watchlist_index(&domain.domain_id, &watchlist_id)?;
        let closest = index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .closest(&frozen.voiceprint)
            .map(|m| (m.id.clone(), m.similarity));
        let risk = closest
            .as_ref()
            .map_or(0, |(_, similarity)| self.calibration.score(*similarity));
        let mut known = json!({ "RiskScore": risk });
        if let Some((id, _)) = closest.filter(|_| risk > 0) {
            known["GeneratedFraudsterId"] = json!(id);
        }
        body["RiskDetails"] = json!({
            "KnownFraudsterRisk": known,
            // hark has no anti-spoofing model: the risk is reported as nil, never as a reason.
            "VoiceSpoofingRisk": { "RiskScore": 0 },
        });
        if risk >= threshold {
            body["Decision"] = json!("HIGH_RISK");
            body["Reasons"] = json!(["KNOWN_FRAUDSTER"]);
        } else {
            body["Decision"] = json!("LOW_RISK");
        }
        Ok(body)
    }

    /// A speaker's or fraudster's stored voiceprint.
    pub(crate) fn stored_voiceprint(
        &self,
        domain_id: &str,
        owner_id: &str,
    ) -> Result<Option<Voiceprint>, Error> {
        let key = BlobKey {
            domain_id: domain_id.to_owned(),
            owner_id: owner_id.to_owned(),
            kind: BlobKind::Voiceprint,
        };
        match self.get_sealed(&key)? {
            None => Ok(None),
            Some(bytes) => Voiceprint::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| Error::Internal(format!("stored voiceprint of {owner_id}: {e}"))),
        }
    }

    /// A watchlist's fraudster voiceprints, from the cache or decrypted from the store.
    pub(crate) fn watchlist_index(
        &self,
        domain_id: &str,
        watchlist_id: &str,
    ) -> Result<SharedIndex, Error> {
        self.find_watchlist(domain_id, watchlist_id)?;
        self.watchlist_indexes
            .get_or_build(domain_id, watchlist_id, || {
                self.fraudster_voiceprints(domain_id, Some(watchlist_id))
            })
    }

    /// The voiceprints of a domain's fraudsters (of one watchlist, or all), decrypted.
    pub(crate) fn fraudster_voiceprints(
        &self,
        domain_id: &str,
        watchlist_id: Option<&str>,
    ) -> Result<VoiceprintIndex<String>, Error> {
        let mut index = VoiceprintIndex::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .fraudsters(domain_id, watchlist_id, after.as_deref(), 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.generated_id.clone());
            for f in &page {
                if let Some(vp) = self.stored_voiceprint(domain_id, &f.generated_id)? {
                    index.insert(f.generated_id.clone(), &vp);
                }
            }
        }
        Ok(index)
    }

    /// Builds the fraudster index of every watchlist of every usable domain that is not cached
    /// yet, so that no session's first decision waits for decryption (seconds at 100 000
    /// fraudsters). A watchlist that cannot be read is left for the session to report.
    pub fn warm_watchlists(&self) -> Result<u64, Error> {
        let mut built = 0;
        let mut after: Option<String> = None;
        loop {
            let domains = self.store.domains(after.as_deref(), 100, false)?;
            let Some(last) = domains.last() else { break };
            after = Some(last.domain_id.clone());
            for d in domains
                .iter()
                .filter(|d| self.active_domain(&d.domain_id).is_ok())
            {
                let watchlists = self.store.watchlists(&d.domain_id, None, 1000)?;
                for w in watchlists {
                    if !self
                        .watchlist_indexes
                        .is_cached(&d.domain_id, &w.watchlist_id)
                        && self.watchlist_index(&d.domain_id, &w.watchlist_id).is_ok()
                    {
                        built += 1;
                    }
                }
            }
        }
        Ok(built)
    }

    /// The `Session` structure (spec §10.3).
    pub(crate) fn session_json(&self, s: &Session) -> Value {
        let watchlist = s.settings.watchlist_id.clone().or_else(|| {
            self.store
                .domain(&s.domain_id)
                .ok()
                .flatten()
                .map(|d| d.default_watchlist_id)
        });
        let mut v = json!({
            "SessionId": s.session_id,
            "SessionName": s.session_name,
            "DomainId": s.domain_id,
            "StreamingStatus": s.streaming.as_str(),
            "AuthenticationConfiguration": { "AcceptanceThreshold": s.settings.acceptance_threshold },
            "FraudDetectionConfiguration": { "RiskThreshold": s.settings.risk_threshold, "WatchlistId": watchlist },
            "StreamingConfiguration": { "AuthenticationMinimumSpeechInSeconds": s.settings.minimum_speech_seconds },
            "NetSpeechSeconds": (s.speech().as_secs_f64() * 10.0).round() / 10.0,
            "CreatedAt": ts(s.created_at),
            "UpdatedAt": ts(s.updated_at),
        });
        if let Some(claim) = &s.speaker_id
            && !claim.starts_with("id#")
        {
            v["CustomerSpeakerId"] = json!(claim);
        }
        if let Some(g) = &s.generated_speaker_id {
            v["GeneratedSpeakerId"] = json!(g);
        }
        if let Some(e) = &s.enrollment {
            v["EnrollmentRequestDetails"] = json!({ "Status": e.status.as_str() });
            if let Some(m) = &e.message {
                v["EnrollmentRequestDetails"]["Message"] = json!(m);
            }
        }
        let evaluation = s
            .evaluation_voiceprint()
            .map(|f| (f.started_at, f.ended_at));
        let enrollment = s
            .enrollment_voiceprint()
            .map(|f| (f.started_at, f.ended_at));
        let progress = |frozen: Option<_>| {
            let (status, window) = match (frozen, s.audio_window()) {
                (Some(w), _) => ("COMPLETED", Some(w)),
                (None, None) => ("NOT_STARTED", None),
                (None, Some(w)) if s.streaming == StreamingStatus::Ended => ("INCOMPLETE", Some(w)),
                (None, Some(w)) => ("IN_PROGRESS", Some(w)),
            };
            let mut p = json!({ "AudioAggregationStatus": status });
            if let Some((a, b)) = window {
                p["AudioAggregationStartedAt"] = ts(a);
                p["AudioAggregationEndedAt"] = ts(b);
            }
            p
        };
        v["AuthenticationAudioProgress"] = progress(evaluation);
        v["FraudDetectionAudioProgress"] = progress(evaluation);
        if s.enrollment
            .as_ref()
            .is_some_and(|e| e.status != EnrollmentStatus::Failed)
        {
            v["EnrollmentAudioProgress"] = progress(enrollment);
        }
        v
    }
}

/// Keeps a result's id while the result stays the same; a changed result gets a new id.
/// Returns the result with its id and whether it is new.
fn issue(
    slot: &mut Option<CachedResult>,
    body: Value,
    id_member: &str,
) -> Result<(Value, bool), Error> {
    let fresh = slot.as_ref().is_none_or(|c| c.body != body);
    if fresh {
        *slot = Some(CachedResult {
            id: ids::unique_id()?,
            body,
        });
    }
    let cached = slot
        .as_ref()
        .ok_or_else(|| Error::Internal("result slot empty".into()))?;
    let mut out = cached.body.clone();
    out[id_member] = json!(cached.id);
    Ok((out, fresh))
}

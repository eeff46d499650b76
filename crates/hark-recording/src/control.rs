//! The recording-control model: contacts, legs, agents, and the rules of who may record.
//!
//! Rules, from the peers hark emulates (see `shared/specs/recording.md`):
//! - **Call-leg actions** (Amazon Chime): `StartCallRecording` and `StopCallRecording` at most once
//!   per leg; a stopped leg never records again; pause and resume insert a tone; the recording
//!   stops by itself when the call ends. Outcomes are `ACTION_SUCCESSFUL` or `ACTION_FAILED` with
//!   an `ErrorType` and `ErrorMessage`.
//! - **Record on demand** (NICE CXone), addressed by the agent's user id: start overrides the
//!   policy; after a stop on demand only another start on demand records again (as a new file).
//! - **Do not record** (the customer refused consent): latched for the whole contact — every leg,
//!   transfers, consults and conferences included — stopping what is being recorded (the part
//!   already recorded is kept) and refusing every later start; a new contact is unaffected.
//! - **Policy**: calls matching the recording policy start recording when they start.
//!
//! The model answers each request at once and queues [`Effect`]s (start, pause, resume, stop a
//! recorder; persist a latch) for the shell to carry out. Time is always passed in.

use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::policy::RecordingPolicy;
use crate::spec::RecordingSpec;

/// Where a leg's recording is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingState {
    /// Not recording, never started or waiting for a start.
    Idle,
    /// Recording audio.
    Recording,
    /// Recording, with the audio replaced by silence (or skipped).
    Paused,
    /// Stopped.
    Stopped,
}

/// Who started a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartedBy {
    /// The recording policy, when the call started.
    Policy,
    /// A `StartCallRecording` action.
    CallAction,
    /// A start-recording-on-demand request.
    OnDemand,
}

/// Why a recording stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A `StopCallRecording` action.
    CallAction,
    /// A stop-recording-on-demand request.
    OnDemand,
    /// The customer refused consent.
    DoNotRecord,
    /// The call ended.
    CallEnded,
}

/// One recording: a leg's audio from one start to its stop (a leg may have several on demand).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// Unique id: `<call id>-<start, Unix ms>-<segment>`.
    pub id: String,
    /// The leg.
    pub call_id: String,
    /// The contact the leg belongs to.
    pub contact_id: String,
    /// 1 for the leg's first recording, 2 for the next, ...
    pub segment: u32,
    /// What and where.
    pub spec: RecordingSpec,
    /// Who started it.
    pub started_by: StartedBy,
    /// When.
    pub started_at: DateTime<Utc>,
    /// Agents on the leg when it started.
    pub agents: Vec<String>,
}

/// Work for the recorder and the store, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Open a recorder for this recording.
    Start(Recording),
    /// Insert the pause tone, then silence (or nothing) until resumed.
    Pause {
        /// The recording.
        recording_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Insert the resume tone, then audio again.
    Resume {
        /// The recording.
        recording_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Finalize the file and deliver it.
    Stop {
        /// The recording.
        recording_id: String,
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: StopReason,
    },
    /// Persist the contact's do-not-record latch (it must survive restarts).
    LatchDoNotRecord {
        /// The contact.
        contact_id: String,
        /// When the customer refused.
        at: DateTime<Utc>,
    },
}

/// A new call leg (an AudioHook session opening).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallStarted {
    /// The leg's id (the AudioHook session id).
    pub call_id: String,
    /// The contact (the AudioHook conversation id).
    pub contact_id: String,
    /// The contact-center instance, for policy rules.
    pub instance: Option<String>,
    /// The call's `customConfig`, for policy rules.
    pub custom_config: Map<String, Value>,
    /// Agents already on the leg.
    pub agents: Vec<String>,
}

impl CallStarted {
    /// A leg opening with `custom_config`: the agents already on it are the ones its
    /// `customConfig` names as `agentId` or `userId` (how contact centers pass the agent to
    /// AudioHook; record on demand finds the leg by them).
    pub fn from_custom_config(
        call_id: &str,
        contact_id: &str,
        instance: Option<&str>,
        custom_config: Map<String, Value>,
    ) -> Self {
        let agents = ["agentId", "userId"]
            .iter()
            .filter_map(|k| custom_config.get(*k).and_then(Value::as_str))
            .filter(|agent| !agent.is_empty())
            .map(str::to_owned)
            .collect();
        CallStarted {
            call_id: call_id.to_owned(),
            contact_id: contact_id.to_owned(),
            instance: instance.map(str::to_owned),
            custom_config,
            agents,
        }
    }
}

/// A Chime-style call-leg action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallAction {
    /// `StartCallRecording`.
    Start {
        /// The leg.
        call_id: String,
        /// Tracks and destination (pause behaviour from configuration).
        spec: RecordingSpec,
    },
    /// `PauseCallRecording`.
    Pause {
        /// The leg.
        call_id: String,
    },
    /// `ResumeCallRecording`.
    Resume {
        /// The leg.
        call_id: String,
    },
    /// `StopCallRecording`.
    Stop {
        /// The leg.
        call_id: String,
    },
}

impl CallAction {
    /// The leg addressed.
    pub fn call_id(&self) -> &str {
        match self {
            CallAction::Start { call_id, .. }
            | CallAction::Pause { call_id }
            | CallAction::Resume { call_id }
            | CallAction::Stop { call_id } => call_id,
        }
    }
}

/// Chime's `ErrorType` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionErrorType {
    /// A parameter is invalid, including a call id that cannot take the action now.
    InvalidActionParameter,
    /// Something failed inside hark.
    SystemException,
    /// The destination cannot be written.
    NoAccessToDestination,
}

/// Why a call-leg action failed (`ACTION_FAILED`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error_type:?}: {message}")]
pub struct ActionError {
    /// The `ErrorType`.
    pub error_type: ActionErrorType,
    /// The `ErrorMessage`.
    pub message: String,
}

impl ActionError {
    fn invalid(message: impl Into<String>) -> Self {
        ActionError {
            error_type: ActionErrorType::InvalidActionParameter,
            message: message.into(),
        }
    }
}

/// The answer to a record-on-demand request, with CXone's status codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnDemandOutcome {
    /// 200 done, 404 no active interaction for the user, 409 not possible in the current state.
    #[serde(skip)]
    pub status: u16,
    /// The contact concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// What happened, for the caller.
    pub description: String,
}

impl OnDemandOutcome {
    fn new(status: u16, contact_id: Option<&str>, description: impl Into<String>) -> Self {
        OnDemandOutcome {
            status,
            contact_id: contact_id.map(str::to_owned),
            description: description.into(),
        }
    }
}

/// Media a start-on-demand request asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MediaType {
    /// The call's audio.
    #[default]
    Voice,
    /// Audio and the agent's screen (hark records the voice and says screen capture is unavailable).
    VoiceAndScreen,
}

/// Why a leg is (not) recording, as the status API reports it (CXone's reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// Nothing has asked for a recording.
    NotRequested,
    /// The policy started it.
    Policy,
    /// A call action started (or paused/resumed) it.
    CallAction,
    /// Start on demand.
    OnDemand,
    /// Stopped by a call action.
    CallActionStop,
    /// Stopped on demand.
    StopOnDemand,
    /// The customer refused consent.
    CustomerDisconsent,
    /// The call ended.
    CallEnded,
}

/// A leg's recording status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LegStatus {
    /// The leg.
    pub call_id: String,
    /// Its contact.
    pub contact_id: String,
    /// Agents on it.
    pub agents: Vec<String>,
    /// Recording state.
    pub state: RecordingState,
    /// Why.
    pub reason: StatusReason,
    /// The recording in progress, if any.
    pub recording_id: Option<String>,
    /// Seconds of enabled recording so far, pauses included (what is billed).
    pub billable_seconds: f64,
    /// Whether the contact is latched do-not-record.
    pub do_not_record: bool,
}

#[derive(Debug)]
struct Leg {
    contact_id: String,
    agents: BTreeSet<String>,
    state: RecordingState,
    reason: StatusReason,
    current: Option<Recording>,
    segments: u32,
    /// A call action started a recording: Chime allows that once per leg.
    action_started: bool,
    /// Stopped by a call action: final, nothing restarts it.
    final_stop: bool,
    billed: TimeDelta,
    enabled_since: Option<DateTime<Utc>>,
    /// Order of arrival, to find an agent's most recent leg.
    arrival: u64,
}

#[derive(Debug, Default)]
struct Contact {
    legs: BTreeSet<String>,
    do_not_record: Option<DateTime<Utc>>,
}

/// Recording control for every live call.
#[derive(Debug)]
pub struct RecordingControl {
    policy: RecordingPolicy,
    arrivals: u64,
    contacts: HashMap<String, Contact>,
    legs: HashMap<String, Leg>,
    effects: VecDeque<Effect>,
}

impl RecordingControl {
    /// A model with this policy; its spec is also how recordings started on demand are made.
    pub fn new(policy: RecordingPolicy) -> Self {
        RecordingControl {
            policy,
            arrivals: 0,
            contacts: HashMap::new(),
            legs: HashMap::new(),
            effects: VecDeque::new(),
        }
    }

    /// The next effect to carry out.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Restores a do-not-record latch persisted before a restart.
    pub fn restore_do_not_record(&mut self, contact_id: &str, at: DateTime<Utc>) {
        self.contacts
            .entry(contact_id.to_owned())
            .or_default()
            .do_not_record = Some(at);
    }

    /// Whether a contact is latched do-not-record.
    pub fn is_do_not_record(&self, contact_id: &str) -> bool {
        self.contacts
            .get(contact_id)
            .is_some_and(|c| c.do_not_record.is_some())
    }

    /// A leg starts; the policy may start recording it.
    pub fn call_started(
        &mut self,
        now: DateTime<Utc>,
        call: CallStarted,
    ) -> Result<(), ActionError> {
        if self.legs.contains_key(&call.call_id) {
            return Err(ActionError::invalid(format!(
                "call {} is already known",
                call.call_id
            )));
        }
        self.contacts
            .entry(call.contact_id.clone())
            .or_default()
            .legs
            .insert(call.call_id.clone());
        let dnr = self.is_do_not_record(&call.contact_id);
        self.arrivals += 1;
        self.legs.insert(
            call.call_id.clone(),
            Leg {
                contact_id: call.contact_id.clone(),
                agents: call.agents.into_iter().collect(),
                state: RecordingState::Idle,
                reason: if dnr {
                    StatusReason::CustomerDisconsent
                } else {
                    StatusReason::NotRequested
                },
                current: None,
                segments: 0,
                action_started: false,
                final_stop: false,
                billed: TimeDelta::zero(),
                enabled_since: None,
                arrival: self.arrivals,
            },
        );
        if !dnr
            && let Some(spec) = self
                .policy
                .select(call.instance.as_deref(), &call.custom_config)
                .cloned()
        {
            self.start(now, &call.call_id, spec, StartedBy::Policy);
        }
        Ok(())
    }

    /// A leg ends: its recording stops and is delivered; the leg is forgotten (its contact is not).
    pub fn call_ended(&mut self, now: DateTime<Utc>, call_id: &str) -> Option<LegStatus> {
        if self.legs.get(call_id).is_some_and(|l| l.current.is_some()) {
            self.stop(now, call_id, StopReason::CallEnded);
        }
        let status = self.status(now, call_id);
        if let Some(leg) = self.legs.remove(call_id)
            && let Some(contact) = self.contacts.get_mut(&leg.contact_id)
        {
            contact.legs.remove(call_id);
        }
        status
    }

    /// Forgets a contact whose interaction is over (its latch should already be persisted).
    pub fn forget_contact(&mut self, contact_id: &str) {
        if self
            .contacts
            .get(contact_id)
            .is_some_and(|c| c.legs.is_empty())
        {
            self.contacts.remove(contact_id);
        }
    }

    /// An agent joins a leg (answers, is transferred in, joins a conference); false if the leg
    /// is unknown.
    pub fn agent_joined(&mut self, call_id: &str, user_id: &str) -> bool {
        match self.legs.get_mut(call_id) {
            Some(leg) => {
                leg.agents.insert(user_id.to_owned());
                true
            }
            None => false,
        }
    }

    /// An agent leaves a leg.
    pub fn agent_left(&mut self, call_id: &str, user_id: &str) -> bool {
        self.legs
            .get_mut(call_id)
            .is_some_and(|l| l.agents.remove(user_id))
    }

    /// Moves a leg into another contact (a consult or transfer that arrived as its own
    /// conversation). The contact's latch then applies to it.
    pub fn link_call(&mut self, now: DateTime<Utc>, call_id: &str, contact_id: &str) -> bool {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return false;
        };
        let old = std::mem::replace(&mut leg.contact_id, contact_id.to_owned());
        if let Some(c) = self.contacts.get_mut(&old) {
            c.legs.remove(call_id);
        }
        self.contacts
            .entry(contact_id.to_owned())
            .or_default()
            .legs
            .insert(call_id.to_owned());
        if self.is_do_not_record(contact_id) {
            self.apply_latch(now, call_id);
        }
        true
    }

    /// Carries out a call-leg action (Chime semantics).
    pub fn call_action(
        &mut self,
        now: DateTime<Utc>,
        action: &CallAction,
    ) -> Result<(), ActionError> {
        let call_id = action.call_id();
        let Some(leg) = self.legs.get(call_id) else {
            return Err(ActionError::invalid(
                "`CallId` parameter for action is invalid",
            ));
        };
        let dnr = self.is_do_not_record(&leg.contact_id);
        match action {
            CallAction::Start { spec, .. } => {
                spec.destination.validate().map_err(|why| {
                    ActionError::invalid(format!(
                        "`Destination` parameter for action is invalid: {why}"
                    ))
                })?;
                if dnr {
                    return Err(ActionError::invalid(
                        "Recording is not allowed: the customer declined consent for this contact",
                    ));
                }
                if leg.action_started || leg.final_stop {
                    return Err(ActionError::invalid(
                        "Recording can be started only once per call leg",
                    ));
                }
                if leg.current.is_some() {
                    return Err(ActionError::invalid(
                        "The call leg is already being recorded",
                    ));
                }
                self.start(now, call_id, spec.clone(), StartedBy::CallAction);
                if let Some(leg) = self.legs.get_mut(call_id) {
                    leg.action_started = true;
                }
            }
            CallAction::Pause { .. } => match leg.state {
                RecordingState::Recording => self.pause(now, call_id),
                RecordingState::Paused => {
                    return Err(ActionError::invalid("The recording is already paused"));
                }
                _ => return Err(ActionError::invalid("The call leg is not being recorded")),
            },
            CallAction::Resume { .. } => match leg.state {
                RecordingState::Paused => self.resume(now, call_id),
                RecordingState::Recording => {
                    return Err(ActionError::invalid("The recording is not paused"));
                }
                _ => return Err(ActionError::invalid("The call leg is not being recorded")),
            },
            CallAction::Stop { .. } => {
                if leg.current.is_none() {
                    return Err(ActionError::invalid("The call leg is not being recorded"));
                }
                self.stop(now, call_id, StopReason::CallAction);
                if let Some(leg) = self.legs.get_mut(call_id) {
                    leg.final_stop = true;
                }
            }
        }
        Ok(())
    }

    /// Starts recording the agent's active call (CXone start-recording-on-demand).
    pub fn start_on_demand(
        &mut self,
        now: DateTime<Utc>,
        user_id: &str,
        media: MediaType,
    ) -> OnDemandOutcome {
        let (call_id, contact) = match self.agent_call(user_id) {
            Ok(found) => found,
            Err(not_found) => return not_found,
        };
        let leg = &self.legs[&call_id];
        if self.is_do_not_record(&contact) {
            return OnDemandOutcome::new(
                409,
                Some(&contact),
                "the customer declined consent: this contact cannot be recorded",
            );
        }
        if leg.current.is_some() {
            return OnDemandOutcome::new(
                409,
                Some(&contact),
                "the interaction is already being recorded",
            );
        }
        if leg.final_stop {
            return OnDemandOutcome::new(
                409,
                Some(&contact),
                "recording of this call leg was stopped by a call action and cannot restart",
            );
        }
        self.start(now, &call_id, self.policy.spec.clone(), StartedBy::OnDemand);
        let note = match media {
            MediaType::Voice => "voice recording started",
            MediaType::VoiceAndScreen => {
                "voice recording started; screen capture is not available in hark"
            }
        };
        OnDemandOutcome::new(200, Some(&contact), note)
    }

    /// Stops recording the agent's active call (CXone stop-recording-on-demand); only another
    /// start on demand records it again.
    pub fn stop_on_demand(&mut self, now: DateTime<Utc>, user_id: &str) -> OnDemandOutcome {
        let (call_id, contact) = match self.agent_call(user_id) {
            Ok(found) => found,
            Err(not_found) => return not_found,
        };
        if self.legs[&call_id].current.is_none() {
            return OnDemandOutcome::new(
                409,
                Some(&contact),
                "the interaction is not being recorded",
            );
        }
        self.stop(now, &call_id, StopReason::OnDemand);
        OnDemandOutcome::new(200, Some(&contact), "recording stopped")
    }

    /// The customer refused consent on the agent's active call: latch the whole contact.
    pub fn do_not_record(&mut self, now: DateTime<Utc>, user_id: &str) -> OnDemandOutcome {
        let (_, contact) = match self.agent_call(user_id) {
            Ok(found) => found,
            Err(not_found) => return not_found,
        };
        self.latch_contact(now, &contact);
        OnDemandOutcome::new(
            200,
            Some(&contact),
            "do-not-record set for the whole contact; recordings in progress stopped and kept",
        )
    }

    /// Latches do-not-record on a contact directly (contacts API).
    pub fn latch_contact(&mut self, now: DateTime<Utc>, contact_id: &str) {
        let contact = self.contacts.entry(contact_id.to_owned()).or_default();
        if contact.do_not_record.is_none() {
            contact.do_not_record = Some(now);
            self.effects.push_back(Effect::LatchDoNotRecord {
                contact_id: contact_id.to_owned(),
                at: now,
            });
        }
        let legs: Vec<String> = contact.legs.iter().cloned().collect();
        for call_id in legs {
            self.apply_latch(now, &call_id);
        }
    }

    /// The status of a leg at `now`.
    pub fn status(&self, now: DateTime<Utc>, call_id: &str) -> Option<LegStatus> {
        let leg = self.legs.get(call_id)?;
        let running = leg
            .enabled_since
            .map_or(TimeDelta::zero(), |since| now - since);
        Some(LegStatus {
            call_id: call_id.to_owned(),
            contact_id: leg.contact_id.clone(),
            agents: leg.agents.iter().cloned().collect(),
            state: leg.state,
            reason: leg.reason,
            recording_id: leg.current.as_ref().map(|r| r.id.clone()),
            billable_seconds: (leg.billed + running).as_seconds_f64().max(0.0),
            do_not_record: self.is_do_not_record(&leg.contact_id),
        })
    }

    /// The agent's active leg and its contact, or the 404 answer.
    fn agent_call(&self, user_id: &str) -> Result<(String, String), OnDemandOutcome> {
        let call_id = self.active_call_of(user_id).ok_or_else(|| {
            OnDemandOutcome::new(
                404,
                None,
                format!("no active interaction for user {user_id}"),
            )
        })?;
        let contact = self.legs[&call_id].contact_id.clone();
        Ok((call_id, contact))
    }

    /// The leg an agent is on: the most recently started active leg with that agent.
    fn active_call_of(&self, user_id: &str) -> Option<String> {
        self.legs
            .iter()
            .filter(|(_, leg)| leg.agents.contains(user_id))
            .max_by_key(|(_, leg)| leg.arrival)
            .map(|(id, _)| id.clone())
    }

    fn apply_latch(&mut self, now: DateTime<Utc>, call_id: &str) {
        if self.legs.get(call_id).is_some_and(|l| l.current.is_some()) {
            self.stop(now, call_id, StopReason::DoNotRecord);
        }
        if let Some(leg) = self.legs.get_mut(call_id) {
            leg.reason = StatusReason::CustomerDisconsent;
        }
    }

    fn start(
        &mut self,
        now: DateTime<Utc>,
        call_id: &str,
        spec: RecordingSpec,
        started_by: StartedBy,
    ) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        leg.segments += 1;
        let recording = Recording {
            // Unique even if a call id is ever reused: the start time is part of the id.
            id: format!("{call_id}-{}-{}", now.timestamp_millis(), leg.segments),
            call_id: call_id.to_owned(),
            contact_id: leg.contact_id.clone(),
            segment: leg.segments,
            spec,
            started_by,
            started_at: now,
            agents: leg.agents.iter().cloned().collect(),
        };
        leg.state = RecordingState::Recording;
        leg.reason = match started_by {
            StartedBy::Policy => StatusReason::Policy,
            StartedBy::CallAction => StatusReason::CallAction,
            StartedBy::OnDemand => StatusReason::OnDemand,
        };
        leg.enabled_since = Some(now);
        leg.current = Some(recording.clone());
        self.effects.push_back(Effect::Start(recording));
    }

    fn pause(&mut self, now: DateTime<Utc>, call_id: &str) {
        if let Some(leg) = self.legs.get_mut(call_id)
            && let Some(r) = &leg.current
        {
            leg.state = RecordingState::Paused;
            self.effects.push_back(Effect::Pause {
                recording_id: r.id.clone(),
                at: now,
            });
        }
    }

    fn resume(&mut self, now: DateTime<Utc>, call_id: &str) {
        if let Some(leg) = self.legs.get_mut(call_id)
            && let Some(r) = &leg.current
        {
            leg.state = RecordingState::Recording;
            self.effects.push_back(Effect::Resume {
                recording_id: r.id.clone(),
                at: now,
            });
        }
    }

    fn stop(&mut self, now: DateTime<Utc>, call_id: &str, reason: StopReason) {
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let Some(recording) = leg.current.take() else {
            return;
        };
        if let Some(since) = leg.enabled_since.take() {
            leg.billed += now - since;
        }
        leg.state = RecordingState::Stopped;
        leg.reason = match reason {
            StopReason::CallAction => StatusReason::CallActionStop,
            StopReason::OnDemand => StatusReason::StopOnDemand,
            StopReason::DoNotRecord => StatusReason::CustomerDisconsent,
            StopReason::CallEnded => StatusReason::CallEnded,
        };
        self.effects.push_back(Effect::Stop {
            recording_id: recording.id,
            at: now,
            reason,
        });
    }
}

#[cfg(test)]
mod tests;

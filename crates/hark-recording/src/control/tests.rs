//! Every recording-control rule as a deterministic test, plus a property test over random
//! request sequences.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::policy::{PolicyScope, RecordingPolicy};
use crate::spec::{Destination, DestinationType, PauseBehavior, RecordingSpec, Track};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .unwrap()
}

fn spec() -> RecordingSpec {
    RecordingSpec {
        track: Track::Both,
        destination: Destination {
            kind: DestinationType::S3,
            location: "recordings/calls".into(),
        },
        pause_behavior: PauseBehavior::Silence,
    }
}

fn control(scope: PolicyScope) -> RecordingControl {
    RecordingControl::new(RecordingPolicy {
        scope,
        rules: vec![],
        spec: spec(),
    })
}

fn call(c: &mut RecordingControl, call_id: &str, contact_id: &str, agent: &str, at: i64) {
    let started = CallStarted {
        call_id: call_id.into(),
        contact_id: contact_id.into(),
        agents: vec![agent.into()],
        ..Default::default()
    };
    c.call_started(t(at), started).unwrap();
}

fn effects(c: &mut RecordingControl) -> Vec<Effect> {
    std::iter::from_fn(|| c.poll_effect()).collect()
}

/// The id of the recording of `call_id` started at `t(at)` as segment `segment`.
fn rid(call_id: &str, at: i64, segment: u32) -> String {
    format!("{call_id}-{}-{segment}", t(at).timestamp_millis())
}

fn start(call_id: &str) -> CallAction {
    CallAction::Start {
        call_id: call_id.into(),
        spec: spec(),
    }
}

fn stop_reasons(effects: &[Effect]) -> Vec<(String, StopReason)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Stop {
                recording_id,
                reason,
                ..
            } => Some((recording_id.clone(), *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn call_actions_start_pause_resume_stop_once_per_leg() {
    let mut c = control(PolicyScope::None);
    call(&mut c, "leg1", "contact1", "agent1", 0);
    assert!(effects(&mut c).is_empty(), "no policy: nothing recorded");
    c.call_action(t(1), &start("leg1")).unwrap();
    c.call_action(
        t(2),
        &CallAction::Pause {
            call_id: "leg1".into(),
        },
    )
    .unwrap();
    c.call_action(
        t(3),
        &CallAction::Resume {
            call_id: "leg1".into(),
        },
    )
    .unwrap();
    c.call_action(
        t(4),
        &CallAction::Stop {
            call_id: "leg1".into(),
        },
    )
    .unwrap();
    let e = effects(&mut c);
    let id = rid("leg1", 1, 1);
    assert!(
        matches!(&e[0], Effect::Start(r) if r.id == id && r.started_by == StartedBy::CallAction && r.started_at == t(1))
    );
    assert_eq!(
        e[1],
        Effect::Pause {
            recording_id: id.clone(),
            at: t(2)
        }
    );
    assert_eq!(
        e[2],
        Effect::Resume {
            recording_id: id.clone(),
            at: t(3)
        }
    );
    assert_eq!(
        e[3],
        Effect::Stop {
            recording_id: id,
            at: t(4),
            reason: StopReason::CallAction
        }
    );
    // Stop is final: no start again, by action or on demand.
    let err = c.call_action(t(5), &start("leg1")).unwrap_err();
    assert_eq!(err.error_type, ActionErrorType::InvalidActionParameter);
    assert_eq!(
        err.message,
        "Recording can be started only once per call leg"
    );
    assert_eq!(
        c.start_on_demand(t(5), "agent1", MediaType::Voice).status,
        409
    );
    assert!(
        c.call_action(
            t(5),
            &CallAction::Stop {
                call_id: "leg1".into()
            }
        )
        .is_err(),
        "stop twice"
    );
}

#[test]
fn double_start_and_wrong_states_fail_with_chime_errors() {
    let mut c = control(PolicyScope::None);
    call(&mut c, "leg1", "contact1", "agent1", 0);
    let unknown = c.call_action(t(1), &start("nope")).unwrap_err();
    assert_eq!(unknown.message, "`CallId` parameter for action is invalid");
    assert!(
        c.call_action(
            t(1),
            &CallAction::Pause {
                call_id: "leg1".into()
            }
        )
        .is_err(),
        "pause when not recording"
    );
    c.call_action(t(1), &start("leg1")).unwrap();
    assert_eq!(
        c.call_action(t(2), &start("leg1")).unwrap_err().message,
        "Recording can be started only once per call leg"
    );
    assert!(
        c.call_action(
            t(2),
            &CallAction::Resume {
                call_id: "leg1".into()
            }
        )
        .is_err(),
        "resume when recording"
    );
    c.call_action(
        t(2),
        &CallAction::Pause {
            call_id: "leg1".into(),
        },
    )
    .unwrap();
    assert!(
        c.call_action(
            t(2),
            &CallAction::Pause {
                call_id: "leg1".into()
            }
        )
        .is_err(),
        "pause when paused"
    );
    let bad = CallAction::Start {
        call_id: "leg1".into(),
        spec: RecordingSpec {
            destination: Destination {
                kind: DestinationType::S3,
                location: "Bad_Bucket".into(),
            },
            ..spec()
        },
    };
    assert!(
        c.call_action(t(3), &bad)
            .unwrap_err()
            .message
            .starts_with("`Destination` parameter for action is invalid")
    );
}

#[test]
fn policy_records_calls_when_they_start_and_call_end_stops_them() {
    let mut c = control(PolicyScope::Every);
    call(&mut c, "leg1", "contact1", "agent1", 0);
    c.call_action(
        t(10),
        &CallAction::Pause {
            call_id: "leg1".into(),
        },
    )
    .unwrap();
    let status = c.call_ended(t(30), "leg1").unwrap();
    let e = effects(&mut c);
    assert!(matches!(&e[0], Effect::Start(r) if r.started_by == StartedBy::Policy));
    assert_eq!(
        e.last(),
        Some(&Effect::Stop {
            recording_id: rid("leg1", 0, 1),
            at: t(30),
            reason: StopReason::CallEnded
        })
    );
    assert_eq!(status.billable_seconds, 30.0, "paused time is billed");
    assert_eq!(status.reason, StatusReason::CallEnded);
    assert!(
        c.status(t(31), "leg1").is_none(),
        "ended legs are forgotten"
    );
    // A policy-started leg may still take one StartCallRecording? No: it is already recording.
    call(&mut c, "leg2", "contact2", "agent1", 40);
    assert_eq!(
        c.call_action(t(41), &start("leg2")).unwrap_err().message,
        "The call leg is already being recorded"
    );
}

#[test]
fn record_on_demand_by_agent() {
    let mut c = control(PolicyScope::None);
    assert_eq!(
        c.start_on_demand(t(0), "agent1", MediaType::Voice).status,
        404,
        "unknown user"
    );
    call(&mut c, "leg1", "contact1", "agent1", 0);
    let started = c.start_on_demand(t(1), "agent1", MediaType::VoiceAndScreen);
    assert_eq!(
        (started.status, started.contact_id.as_deref()),
        (200, Some("contact1"))
    );
    assert!(
        started
            .description
            .contains("screen capture is not available")
    );
    assert_eq!(
        c.start_on_demand(t(2), "agent1", MediaType::Voice).status,
        409,
        "already recording"
    );
    assert_eq!(c.stop_on_demand(t(3), "agent1").status, 200);
    assert_eq!(
        c.stop_on_demand(t(4), "agent1").status,
        409,
        "not recording"
    );
    assert_eq!(
        c.status(t(4), "leg1").unwrap().reason,
        StatusReason::StopOnDemand
    );
    // After a stop on demand only a start on demand records again: a new file.
    assert_eq!(
        c.start_on_demand(t(5), "agent1", MediaType::Voice).status,
        200
    );
    let e = effects(&mut c);
    let starts: Vec<&str> = e
        .iter()
        .filter_map(|e| match e {
            Effect::Start(r) => Some(r.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![rid("leg1", 1, 1), rid("leg1", 5, 2)]);
    assert_eq!(c.status(t(7), "leg1").unwrap().billable_seconds, 2.0 + 2.0);
    c.call_ended(t(8), "leg1");
    assert_eq!(
        c.start_on_demand(t(9), "agent1", MediaType::Voice).status,
        404,
        "no active call"
    );
}

#[test]
fn on_demand_follows_the_agent_to_their_newest_leg() {
    let mut c = control(PolicyScope::None);
    call(&mut c, "zzz-first", "contact1", "agent1", 0);
    call(&mut c, "aaa-second", "contact2", "agent1", 1);
    let outcome = c.start_on_demand(t(2), "agent1", MediaType::Voice);
    assert_eq!(outcome.contact_id.as_deref(), Some("contact2"));
    assert!(c.agent_left("aaa-second", "agent1"));
    assert_eq!(
        c.stop_on_demand(t(3), "agent1").status,
        409,
        "now on the first leg, which is not recording"
    );
    assert!(!c.agent_joined("missing", "agent1"));
}

#[test]
fn do_not_record_latches_the_contact_across_conference_and_transfer() {
    let mut c = control(PolicyScope::Every);
    // A conference: two legs of one contact, both recording.
    call(&mut c, "leg1", "contact1", "agent1", 0);
    call(&mut c, "leg2", "contact1", "agent2", 1);
    effects(&mut c);
    let outcome = c.do_not_record(t(10), "agent2");
    assert_eq!(
        (outcome.status, outcome.contact_id.as_deref()),
        (200, Some("contact1"))
    );
    let e = effects(&mut c);
    assert_eq!(
        e[0],
        Effect::LatchDoNotRecord {
            contact_id: "contact1".into(),
            at: t(10)
        }
    );
    let mut stopped = stop_reasons(&e);
    stopped.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        stopped,
        vec![
            (rid("leg1", 0, 1), StopReason::DoNotRecord),
            (rid("leg2", 1, 1), StopReason::DoNotRecord)
        ]
    );
    // Nothing may start again anywhere in the contact.
    assert_eq!(
        c.start_on_demand(t(11), "agent1", MediaType::Voice).status,
        409
    );
    assert!(c.call_action(t(11), &start("leg1")).is_err());
    // A transfer: leg1 ends, a new leg of the same contact arrives; the policy must not record it.
    c.call_ended(t(12), "leg1");
    call(&mut c, "leg3", "contact1", "agent3", 13);
    assert!(
        effects(&mut c)
            .iter()
            .all(|e| !matches!(e, Effect::Start(_)))
    );
    let status = c.status(t(14), "leg3").unwrap();
    assert_eq!(
        (status.state, status.reason, status.do_not_record),
        (RecordingState::Idle, StatusReason::CustomerDisconsent, true)
    );
    assert_eq!(c.do_not_record(t(15), "agent3").status, 200, "idempotent");
    assert!(effects(&mut c).is_empty(), "the latch is persisted once");
    // A new contact is unaffected.
    call(&mut c, "leg4", "contact2", "agent1", 20);
    assert!(matches!(effects(&mut c)[..], [Effect::Start(_)]));
}

#[test]
fn a_consult_linked_into_a_refused_contact_stops_recording() {
    let mut c = control(PolicyScope::Every);
    call(&mut c, "leg1", "contact1", "agent1", 0);
    call(&mut c, "consult", "contact-consult", "agent2", 1);
    c.latch_contact(t(2), "contact1");
    effects(&mut c);
    assert!(c.link_call(t(3), "consult", "contact1"));
    assert_eq!(
        stop_reasons(&effects(&mut c)),
        vec![(rid("consult", 1, 1), StopReason::DoNotRecord)]
    );
    assert!(!c.link_call(t(3), "missing", "contact1"));
}

#[test]
fn latches_survive_a_restart() {
    let mut c = control(PolicyScope::Every);
    c.restore_do_not_record("contact1", t(0));
    call(&mut c, "leg1", "contact1", "agent1", 1);
    assert!(effects(&mut c).is_empty());
    assert!(c.is_do_not_record("contact1"));
    c.forget_contact("contact1");
    assert!(
        c.is_do_not_record("contact1"),
        "a contact with live legs is kept"
    );
    c.call_ended(t(2), "leg1");
    c.forget_contact("contact1");
    assert!(!c.is_do_not_record("contact1"));
}

#[test]
fn duplicate_call_ids_are_refused() {
    let mut c = control(PolicyScope::None);
    call(&mut c, "leg1", "contact1", "agent1", 0);
    let again = CallStarted {
        call_id: "leg1".into(),
        contact_id: "contact1".into(),
        ..Default::default()
    };
    assert!(c.call_started(t(1), again).is_err());
}

#[derive(Clone, Debug)]
enum Op {
    Action(u8, u8),
    OnDemand(u8, u8),
    DoNotRecord(u8),
    End(u8),
    Start(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, 0u8..3).prop_map(|(k, l)| Op::Action(k, l)),
        (0u8..2, 0u8..3).prop_map(|(k, a)| Op::OnDemand(k, a)),
        (0u8..3).prop_map(Op::DoNotRecord),
        (0u8..3).prop_map(Op::End),
        (0u8..3, 0u8..2).prop_map(|(l, c)| Op::Start(l, c)),
    ]
}

proptest! {
    /// Whatever the requests: each recording's effects go Start, then alternating Pause/Resume,
    /// then at most one Stop; nothing starts in a latched contact; billing never decreases.
    #[test]
    fn effects_follow_the_state_machine(ops in proptest::collection::vec(op(), 1..60), scope in 0u8..2) {
        let mut c = control(if scope == 0 { PolicyScope::None } else { PolicyScope::Every });
        let mut states: HashMap<String, RecordingState> = HashMap::new();
        let mut contact_of: HashMap<String, String> = HashMap::new();
        let mut latched: BTreeSet<String> = BTreeSet::new();
        let mut billed: HashMap<String, f64> = HashMap::new();
        for (i, op) in ops.into_iter().enumerate() {
            let now = t(i as i64);
            let leg = |l: u8| format!("leg{l}");
            match op {
                Op::Start(l, contact) => {
                    let started = CallStarted { call_id: leg(l), contact_id: format!("contact{contact}"), agents: vec![format!("agent{l}")], ..Default::default() };
                    if c.call_started(now, started).is_ok() {
                        contact_of.insert(leg(l), format!("contact{contact}"));
                    }
                }
                Op::Action(k, l) => {
                    let call_id = leg(l);
                    let action = match k { 0 => start(&call_id), 1 => CallAction::Pause { call_id }, 2 => CallAction::Resume { call_id }, _ => CallAction::Stop { call_id } };
                    let _ = c.call_action(now, &action);
                }
                Op::OnDemand(k, a) => {
                    let user = format!("agent{a}");
                    let outcome = if k == 0 { c.start_on_demand(now, &user, MediaType::Voice) } else { c.stop_on_demand(now, &user) };
                    prop_assert!([200, 404, 409].contains(&outcome.status));
                }
                Op::DoNotRecord(a) => {
                    let _ = c.do_not_record(now, &format!("agent{a}"));
                }
                Op::End(l) => {
                    let _ = c.call_ended(now, &leg(l));
                }
            }
            for e in std::iter::from_fn(|| c.poll_effect()) {
                match e {
                    Effect::Start(r) => {
                        prop_assert!(!latched.contains(&r.contact_id), "started in a latched contact");
                        prop_assert!(states.insert(r.id.clone(), RecordingState::Recording).is_none(), "started twice");
                    }
                    Effect::Pause { recording_id, .. } => {
                        prop_assert_eq!(states.insert(recording_id, RecordingState::Paused), Some(RecordingState::Recording));
                    }
                    Effect::Resume { recording_id, .. } => {
                        prop_assert_eq!(states.insert(recording_id, RecordingState::Recording), Some(RecordingState::Paused));
                    }
                    Effect::Stop { recording_id, .. } => {
                        let before = states.insert(recording_id, RecordingState::Stopped);
                        prop_assert!(matches!(before, Some(RecordingState::Recording | RecordingState::Paused)), "stop of {before:?}");
                    }
                    Effect::LatchDoNotRecord { contact_id, .. } => {
                        prop_assert!(latched.insert(contact_id), "latched twice");
                    }
                }
            }
            for l in 0..3u8 {
                if let Some(status) = c.status(now, &leg(l)) {
                    let previous = billed.insert(leg(l), status.billable_seconds).unwrap_or(0.0);
                    prop_assert!(status.billable_seconds >= previous);
                    if let Some(contact) = contact_of.get(&leg(l)) {
                        prop_assert_eq!(status.do_not_record, latched.contains(contact));
                    }
                } else {
                    billed.remove(&leg(l));
                }
            }
        }
        let _ = TimeDelta::zero();
    }
}

#[test]
fn the_agents_on_a_leg_come_from_its_custom_config() {
    let config = serde_json::json!({"agentId": "a-1", "userId": "u-2", "queue": "vip"});
    let started = CallStarted::from_custom_config(
        "call",
        "contact",
        Some("org"),
        config.as_object().unwrap().clone(),
    );
    assert_eq!(started.agents, vec!["a-1", "u-2"]);
    assert_eq!(started.instance.as_deref(), Some("org"));
    let empty = serde_json::json!({"agentId": "", "userId": 7});
    let started = CallStarted::from_custom_config(
        "call",
        "contact",
        None,
        empty.as_object().unwrap().clone(),
    );
    assert!(
        started.agents.is_empty(),
        "blank or non-string ids name nobody"
    );
}

//! Recording at run time: calls feed the control model, every active recording is written by
//! the writer pool behind a bounded backlog (disk writes and fsyncs never stall a call), and
//! finished files are delivered to their destination.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::control::{CallStarted, Effect, LegStatus, MediaType, OnDemandOutcome, Recording};
use crate::key::recording_location;
use crate::policy::RecordingPolicy;
use crate::recorder::ToneConfig;
use crate::store::{RecordingMetadata, RecordingStore, RecordingStoreError};
use crate::{
    ActionError, ActionErrorType, CallAction, Destination, DestinationType, RecordingControl,
    RecordingSpec, Track,
};
use chrono::Utc;
use hark_audio::AudioFrame;

use hark_files::ConfinedRoots;

use super::completion::Completion;
use super::outbox::RowOutbox;
use super::settings::RecordingSettings;
use super::upload::S3Uploads;
use super::writers::{WriterPool, WriterSlot};
use super::{RecordingObserver, SetupError};

/// Where policy and on-demand recordings go: `[recording] url` (`--recordings-url`), a
/// directory or `s3://bucket/prefix`, else `directory`.
fn default_destination(
    config: &RecordingSettings,
    directory: &Path,
) -> Result<Destination, SetupError> {
    let Some(url) = config.url.as_deref() else {
        return Ok(Destination {
            kind: DestinationType::File,
            location: directory.display().to_string(),
        });
    };
    if let Some(location) = url.strip_prefix("s3://") {
        if location.trim_matches('/').is_empty() {
            return Err(SetupError::NoBucket(url.to_owned()));
        }
        if config.s3.is_none() {
            return Err(SetupError::NoS3Store(url.to_owned()));
        }
        return Ok(Destination {
            kind: DestinationType::S3,
            location: location.to_owned(),
        });
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if url.contains("://") && !url.starts_with("file://") {
        return Err(SetupError::NotADestination(url.to_owned()));
    }
    Ok(Destination {
        kind: DestinationType::File,
        location: path.to_owned(),
    })
}

/// Recording control for the whole service.
#[derive(Debug)]
pub struct RecordingService {
    control: Mutex<RecordingControl>,
    recorders: Mutex<HashMap<String, Active>>,
    store: Arc<dyn RecordingStore>,
    spool: PathBuf,
    observer: Arc<dyn RecordingObserver>,
    completion: Completion,
    /// The threads that write every recording in progress.
    writers: WriterPool,
}

/// The delivery backlog of the spool (see [`RecordingService::spool_backlog`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SpoolBacklog {
    /// Finished recordings waiting for delivery.
    pub files: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Age of the oldest, seconds.
    pub oldest_seconds: f64,
    /// Rows waiting for the database.
    pub rows_pending: i64,
}

#[derive(Debug)]
struct Active {
    recording_id: String,
    started_at: chrono::DateTime<Utc>,
    slot: WriterSlot,
}

impl RecordingService {
    /// Recording under `data_dir` with the configured policy: spool in `recordings/.spool`,
    /// files in `recordings/` unless configured elsewhere.
    pub fn new(
        data_dir: &Path,
        config: &RecordingSettings,
        observer: Arc<dyn RecordingObserver>,
        store: Arc<dyn RecordingStore>,
    ) -> Result<Self, SetupError> {
        let spool = data_dir.join("recordings").join(".spool");
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&spool)
            .map_err(|source| SetupError::Spool {
                path: spool.clone(),
                source,
            })?;
        let directory = config
            .directory
            .clone()
            .unwrap_or_else(|| data_dir.join("recordings"));
        let destination = default_destination(config, &directory)?;
        // `File` destinations stay inside these; the default destination is always one.
        let mut root_list = Vec::new();
        if destination.kind == DestinationType::File {
            root_list.push(PathBuf::from(&destination.location));
        }
        root_list.push(directory.clone());
        root_list.extend(config.destination_roots.iter().cloned());
        let roots = ConfinedRoots::new(&root_list).map_err(SetupError::Roots)?;
        // A destination that cannot take files is found now, not at the first call's end.
        if destination.kind == DestinationType::File {
            let dir = std::path::absolute(&destination.location)
                .unwrap_or_else(|_| PathBuf::from(&destination.location));
            roots
                .writable_directory(&dir)
                .map_err(|source| SetupError::Unusable { path: dir, source })?;
        }

        let policy = RecordingPolicy {
            scope: config.policy,
            rules: config.rules.clone(),
            spec: RecordingSpec {
                track: config.track.unwrap_or(Track::Both),
                destination,
                pause_behavior: config.pause_behavior,
            },
        };
        // Latches survive restarts: a contact that refused stays unrecorded.
        let mut control = RecordingControl::new(policy);
        for (contact, at) in store.do_not_record_latches()? {
            control.restore_do_not_record(&contact, at);
        }
        if let Some(s3) = &config.s3 {
            s3.check("[recording.s3]")?;
        }
        let rows = RowOutbox::new(Arc::clone(&store), &spool);
        let s3 = config
            .s3
            .clone()
            .map(|c| Arc::new(S3Uploads::new(c, rows.clone(), Arc::clone(&observer))));
        let completion = Completion {
            rows,
            runtime: tokio::runtime::Handle::current(),
            observer: Arc::clone(&observer),
            s3,
            roots,
        };
        let writers = WriterPool::start(&spool, ToneConfig::default(), completion.clone())
            .map_err(SetupError::Writers)?;
        Ok(RecordingService {
            control: Mutex::new(control),
            recorders: Mutex::new(HashMap::new()),
            completion,
            store,
            spool,
            observer,
            writers,
        })
    }

    fn control(&self) -> MutexGuard<'_, RecordingControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recorders(&self) -> MutexGuard<'_, HashMap<String, Active>> {
        self.recorders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Latches every contact the store says refused consent that this instance has not
    /// latched yet: their recordings in progress stop (and are kept). Returns how many.
    pub fn apply_stored_latches(&self) -> Result<usize, RecordingStoreError> {
        let stored = self.store.do_not_record_latches()?;
        let mut control = self.control();
        let mut applied = 0;
        let now = Utc::now();
        for (contact, _) in stored {
            if !control.is_do_not_record(&contact) {
                // Learned late: what was recorded until now is kept; nothing more is.
                control.latch_contact(now, &contact);
                applied += 1;
            }
        }
        self.apply(&mut control)?;
        Ok(applied)
    }

    /// An AudioHook session opened.
    pub fn call_started(&self, call: CallStarted) {
        let mut control = self.control();
        if let Err(e) = control.call_started(Utc::now(), call) {
            tracing::warn!(error = %e, "recording: call not registered");
        }
        self.apply_logged(&mut control);
    }

    /// An AudioHook session ended.
    pub fn call_ended(&self, call_id: &str) {
        let mut control = self.control();
        control.call_ended(Utc::now(), call_id);
        self.apply_logged(&mut control);
    }

    /// Audio of a call at `timeline` (samples since the call began): queued for its recorder,
    /// if the call is being recorded. Called for every frame of every call, so the lock is held
    /// only to find the queue; a call that is not recorded costs one map lookup and never asks
    /// `frame` to decode.
    pub fn audio(
        &self,
        call_id: &str,
        timeline: u64,
        frame: impl FnOnce() -> Option<Arc<AudioFrame>>,
    ) {
        let Some(slot) = self.recorders().get(call_id).map(|a| a.slot.clone()) else {
            return;
        };
        let Some(frame) = frame() else {
            return;
        };
        self.writers.audio(&slot, frame, timeline);
    }

    /// A `File` destination resolved inside the destination roots and writable now; the
    /// action fails here, not silently at delivery.
    fn checked_destination(&self, destination: &Destination) -> Result<Destination, ActionError> {
        let no_access = |message: String| ActionError {
            error_type: ActionErrorType::NoAccessToDestination,
            message,
        };
        match destination.kind {
            DestinationType::S3 if self.completion.s3.is_none() => Err(no_access(
                "S3 destinations are not configured on this hark instance".into(),
            )),
            DestinationType::S3 => Ok(destination.clone()),
            DestinationType::File => {
                let dir = self
                    .completion
                    .roots
                    .writable_directory(Path::new(&destination.location))
                    .map_err(|e| {
                        no_access(format!("`Destination` {e} ([recording] destination_roots)"))
                    })?;
                Ok(Destination {
                    kind: DestinationType::File,
                    location: dir.display().to_string(),
                })
            }
        }
    }

    /// A Chime call-leg action; for a start, also where the file will be delivered.
    pub fn call_action(&self, action: &CallAction) -> Result<Option<Destination>, ActionError> {
        let checked;
        let action = match action {
            CallAction::Start { call_id, spec } => {
                checked = CallAction::Start {
                    call_id: call_id.clone(),
                    spec: RecordingSpec {
                        destination: self.checked_destination(&spec.destination)?,
                        ..spec.clone()
                    },
                };
                &checked
            }
            other => other,
        };
        let mut control = self.control();
        let now = Utc::now();
        control.call_action(now, action)?;
        let location = match action {
            CallAction::Start { call_id, spec } => control.status(now, call_id).map(|s| {
                let loc = recording_location(&spec.destination, now, &s.contact_id, call_id);
                Destination {
                    kind: spec.destination.kind,
                    location: loc.full(),
                }
            }),
            _ => None,
        };
        self.apply_logged(&mut control);
        Ok(location)
    }

    /// A CXone record-on-demand request.
    pub fn on_demand_request(&self, request: &crate::cxone::OnDemandRequest) -> OnDemandOutcome {
        self.on_demand(|c| request.apply(c, Utc::now()))
    }

    /// CXone start-recording-on-demand.
    pub fn start_on_demand(&self, user_id: &str, media: MediaType) -> OnDemandOutcome {
        self.on_demand(|c| c.start_on_demand(Utc::now(), user_id, media))
    }

    /// CXone stop-recording-on-demand.
    pub fn stop_on_demand(&self, user_id: &str) -> OnDemandOutcome {
        self.on_demand(|c| c.stop_on_demand(Utc::now(), user_id))
    }

    /// CXone do-not-record.
    pub fn do_not_record(&self, user_id: &str) -> OnDemandOutcome {
        self.on_demand(|c| c.do_not_record(Utc::now(), user_id))
    }

    fn on_demand(
        &self,
        f: impl FnOnce(&mut RecordingControl) -> OnDemandOutcome,
    ) -> OnDemandOutcome {
        let mut control = self.control();
        let outcome = f(&mut control);
        match self.apply(&mut control) {
            Ok(()) => outcome,
            // The refusal could not be made durable: do not acknowledge it.
            Err(e) => OnDemandOutcome {
                status: 503,
                contact_id: outcome.contact_id,
                description: format!("the request took effect but could not be stored: {e}"),
            },
        }
    }

    /// Runs `f` on the control model and carries out its effects (contacts API); an error
    /// when a do-not-record latch it set could not be stored (the request must not be
    /// acknowledged: it took effect here but would not survive a restart).
    pub fn with_control<T>(
        &self,
        f: impl FnOnce(&mut RecordingControl) -> T,
    ) -> Result<T, RecordingStoreError> {
        let mut control = self.control();
        let result = f(&mut control);
        self.apply(&mut control)?;
        Ok(result)
    }

    fn apply_logged(&self, control: &mut RecordingControl) {
        if let Err(e) = self.apply(control) {
            tracing::error!(error = %e, "recording state could not be stored");
        }
    }

    /// A leg's status.
    pub fn status(&self, call_id: &str) -> Option<LegStatus> {
        self.control().status(Utc::now(), call_id)
    }

    /// Every finished recording, oldest first; an error when the database cannot be read
    /// (never an empty list in its place).
    pub fn finished(&self) -> Result<Vec<RecordingMetadata>, RecordingStoreError> {
        self.store.recordings()
    }

    /// Recordings still being written, finalized, delivered or uploaded (a drain waits for
    /// none).
    pub fn deliveries_in_progress(&self) -> usize {
        self.writers.in_progress() + self.completion.s3.as_ref().map_or(0, |s3| s3.in_flight())
    }

    /// What waits in the spool for delivery: finished files, their bytes and the age of the
    /// oldest, and rows waiting for the database.
    pub fn spool_backlog(&self) -> SpoolBacklog {
        let mut backlog = SpoolBacklog {
            rows_pending: i64::try_from(self.completion.rows.pending()).unwrap_or(i64::MAX),
            ..SpoolBacklog::default()
        };
        let Ok(entries) = std::fs::read_dir(&self.spool) else {
            return backlog;
        };
        let now = std::time::SystemTime::now();
        for entry in entries.flatten() {
            let path = entry.path();
            // Finished files only: `.wav.part` files are recordings in progress.
            if path.extension().is_some_and(|e| e == "wav")
                && let Ok(meta) = entry.metadata()
            {
                backlog.files += 1;
                backlog.bytes += i64::try_from(meta.len()).unwrap_or(i64::MAX);
                if let Some(age) = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                {
                    backlog.oldest_seconds = backlog.oldest_seconds.max(age.as_secs_f64());
                }
            }
        }
        backlog
    }

    /// The S3 store uploads go to, if configured.
    pub fn s3(&self) -> Option<&Arc<S3Uploads>> {
        self.completion.s3.as_ref()
    }

    /// Repairs and delivers recordings a crash left in the spool (`.part` files with a journal).
    pub fn recover(&self) -> usize {
        let queued = self.completion.rows.resume();
        if queued > 0 {
            tracing::info!(
                rows = queued,
                "recording metadata queued by an earlier run is being stored"
            );
        }
        let orphans = match hark_audio::wav::find_orphans(&self.spool) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the recording spool");
                return 0;
            }
        };
        let mut repaired = Vec::new();
        for part in orphans {
            let Some(id) = part
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".wav.part"))
                .map(str::to_owned)
            else {
                continue;
            };
            let journal = self.spool.join(format!("{id}.json"));
            let recording: Recording = match std::fs::read(&journal)
                .ok()
                .and_then(|j| serde_json::from_slice(&j).ok())
            {
                Some(r) => r,
                None => {
                    tracing::warn!(part = %part.display(), "orphaned recording without a journal left in the spool");
                    continue;
                }
            };
            match hark_audio::wav::repair(&part) {
                Ok(report) => {
                    tracing::info!(recording = %id, seconds = report.duration.as_secs_f64(), "recovered a recording after a crash");
                    self.completion.complete(
                        &recording,
                        &report.path,
                        report.duration,
                        0,
                        None,
                        true,
                    );
                    repaired.push(report.path);
                }
                Err(e) => tracing::error!(recording = %id, error = %e, "cannot repair a recording"),
            }
        }
        // A repaired file waiting for its upload is in the spool too: not a second time.
        repaired.len() + self.resume_pending(&repaired)
    }

    /// Finished files still in the spool (an upload that was pending, or a crash between
    /// finalizing and delivering) are delivered or uploaded now.
    fn resume_pending(&self, already: &[PathBuf]) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.spool) else {
            return 0;
        };
        let mut resumed = 0;
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            if path.extension().and_then(|e| e.to_str()) != Some("wav") || already.contains(&path) {
                continue;
            }
            let journal = path.with_extension("json");
            let Some(recording) = std::fs::read(&journal)
                .ok()
                .and_then(|j| serde_json::from_slice::<Recording>(&j).ok())
            else {
                continue;
            };
            let channels: u64 = if recording.spec.track == Track::Both {
                2
            } else {
                1
            };
            let bytes = std::fs::metadata(&path)
                .map_or(0, |m| m.len())
                .saturating_sub(44);
            let duration = hark_audio::frame::frames_to_duration(
                bytes / (2 * channels),
                crate::recorder::RECORDING_RATE,
            );
            tracing::info!(recording = %recording.id, "resuming the delivery of a finished recording");
            self.completion
                .complete(&recording, &path, duration, 0, None, false);
            resumed += 1;
        }
        resumed
    }

    /// Carries out the model's effects, in order; fails if a latch could not be stored.
    fn apply(&self, control: &mut RecordingControl) -> Result<(), RecordingStoreError> {
        let mut result = Ok(());
        while let Some(effect) = control.poll_effect() {
            match effect {
                Effect::Start(recording) => self.start_recorder(recording),
                Effect::Pause { recording_id, .. } => {
                    if let Some(slot) = self.slot(&recording_id) {
                        self.writers.pause(&slot);
                    }
                }
                Effect::Resume { recording_id, .. } => {
                    if let Some(slot) = self.slot(&recording_id) {
                        self.writers.resume(&slot);
                    }
                }
                Effect::Stop {
                    recording_id, at, ..
                } => {
                    if let Some(slot) = self.slot(&recording_id) {
                        self.writers.finish(&slot);
                    }
                    let mut recorders = self.recorders();
                    if let Some(active) =
                        recorders.values().find(|a| a.recording_id == recording_id)
                    {
                        let enabled = (at - active.started_at).as_seconds_f64().max(0.0);
                        self.observer.stopped(enabled);
                    }
                    recorders.retain(|_, a| a.recording_id != recording_id);
                }
                Effect::LatchDoNotRecord { contact_id, at } => {
                    tracing::info!(contact = %contact_id, "do-not-record latched for the contact");
                    if let Err(e) = self.store.latch_do_not_record(&contact_id, at) {
                        tracing::error!(contact = %contact_id, error = %e, "cannot store a do-not-record latch");
                        result = Err(e);
                    }
                }
            }
        }
        result
    }

    /// Where recording `recording_id` is written, if it is in progress.
    fn slot(&self, recording_id: &str) -> Option<WriterSlot> {
        self.recorders()
            .values()
            .find(|a| a.recording_id == recording_id)
            .map(|a| a.slot.clone())
    }

    /// Starts writing a recording; its files are created on its writer, so a call's session
    /// task never waits on the disk, and audio sent meanwhile waits in the writer's queue.
    fn start_recorder(&self, recording: Recording) {
        let (recording_id, started_at) = (recording.id.clone(), recording.started_at);
        let call_id = recording.call_id.clone();
        let slot = self.writers.open(recording);
        self.recorders().insert(
            call_id,
            Active {
                recording_id,
                started_at,
                slot,
            },
        );
        self.observer.started();
    }
}

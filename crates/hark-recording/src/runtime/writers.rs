//! The writer pool: a few threads write every recording in progress, each recording always on
//! the same thread (its blocks stay in order), instead of a thread per recorded call.
//!
//! A call's audio path never waits on the disk: it counts the block against the recording's
//! bound and hands it to the writer's queue; past [`QUEUE_DEPTH`] blocks waiting, new blocks are
//! dropped and counted, as the per-call queue did. Control commands (pause, resume, finish) are
//! never dropped. Creating files (two fsyncs) happens on the writer, and a finished file goes to
//! a delivery thread, so a slow cross-filesystem copy never holds up anyone's audio.
//!
//! Durability: each file's header is checkpointed every second of audio, as before, but the
//! fsync per file per second is replaced by one `syncfs` of the spool's filesystem a second,
//! made by a sync thread whenever a writer wrote since the last one: a writer's own fsyncs run
//! one after another, and with one per recording per second the pool fell behind from 2000
//! recorded calls (docs/BENCHMARKS.md). A machine crash still loses at most about a second of
//! any recording; a killed process loses none of what the writers handed to the kernel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use hark_audio::AudioFrame;
use hark_audio::wav::Durability;

use super::completion::{Completion, failed};
use crate::control::Recording;
use crate::recorder::{CallRecorder, ToneConfig};

/// Audio blocks a recording may have waiting before new ones are dropped: 10 s of 20 ms
/// frames, 100 s of Genesys' 200 ms frames.
pub(super) const QUEUE_DEPTH: usize = 512;

/// Writer threads when the machine's parallelism is unknown; otherwise one per core, 2 to 8
/// (several, so creating one recording's files never holds up many others' audio).
const DEFAULT_WRITERS: usize = 4;

/// How often the spool's filesystem is synced while recordings are written: the longest a
/// machine crash can take from a recording.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Counts a recording as working (being written, finalized or delivered) until dropped.
pub(super) struct Working(Arc<AtomicUsize>);

impl Working {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Working(Arc::clone(counter))
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A recording's blocks in flight, shared by the call's audio path and its writer.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    /// Audio blocks queued and not yet written.
    queued: AtomicUsize,
    /// Audio blocks dropped because [`QUEUE_DEPTH`] were waiting.
    dropped: AtomicU64,
}

/// Where a recording is written: its writer and its key there.
#[derive(Clone, Debug)]
pub(super) struct WriterSlot {
    writer: usize,
    key: Arc<str>,
    backlog: Arc<Backlog>,
}

enum Job {
    Open {
        recording: Box<Recording>,
        backlog: Arc<Backlog>,
        working: Working,
    },
    Audio {
        key: Arc<str>,
        frame: Arc<AudioFrame>,
        timeline: u64,
    },
    Pause(Arc<str>),
    Resume(Arc<str>),
    Finish(Arc<str>),
}

/// A recording's outcome on its way to the delivery thread.
struct Finished {
    recording: Box<Recording>,
    /// The finished file and its length, or `None` when nothing could be written (the
    /// recording failed to open or to finalize; `error` says why).
    file: Option<(PathBuf, std::time::Duration)>,
    dropped: u64,
    error: Option<String>,
    _working: Working,
}

/// The writer threads and the delivery thread behind them.
#[derive(Debug)]
pub(super) struct WriterPool {
    writers: Vec<Sender<Job>>,
    next: AtomicUsize,
    working: Arc<AtomicUsize>,
    /// Dropped with the pool, which stops the sync thread.
    _stop_sync: Sender<()>,
}

impl WriterPool {
    /// Starts the writers (one per core, 2 to 8) and the delivery thread.
    pub(super) fn start(
        spool: &Path,
        tone: ToneConfig,
        completion: Completion,
    ) -> std::io::Result<Self> {
        let count =
            std::thread::available_parallelism().map_or(DEFAULT_WRITERS, |n| n.get().clamp(2, 8));
        let (deliveries, finished) = channel::<Finished>();
        std::thread::Builder::new()
            .name("recording-delivery".into())
            .spawn(move || deliver_all(&finished, &completion))?;
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop_sync, stop) = channel::<()>();
        let spool_dir = std::fs::File::open(spool)?;
        let flag = Arc::clone(&dirty);
        std::thread::Builder::new()
            .name("recording-sync".into())
            .spawn(move || sync_while_written(&spool_dir, &flag, &stop))?;
        let mut writers = Vec::with_capacity(count);
        for index in 0..count {
            let (jobs, queue) = channel::<Job>();
            let writer = Writer {
                spool: spool.to_owned(),
                tone,
                deliveries: deliveries.clone(),
                dirty: Arc::clone(&dirty),
                recordings: HashMap::new(),
            };
            std::thread::Builder::new()
                .name(format!("recording-writer-{index}"))
                .spawn(move || writer.run(&queue))?;
            writers.push(jobs);
        }
        Ok(WriterPool {
            writers,
            next: AtomicUsize::new(0),
            working: Arc::new(AtomicUsize::new(0)),
            _stop_sync: stop_sync,
        })
    }

    /// Starts writing `recording` on the next writer in turn; the file is created there.
    pub(super) fn open(&self, recording: Recording) -> WriterSlot {
        let writer = self.next.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        let slot = WriterSlot {
            writer,
            key: Arc::from(recording.id.as_str()),
            backlog: Arc::new(Backlog::default()),
        };
        self.send(
            &slot,
            Job::Open {
                recording: Box::new(recording),
                backlog: Arc::clone(&slot.backlog),
                working: Working::new(&self.working),
            },
        );
        slot
    }

    /// Queues a block of audio at `timeline` frames, or drops and counts it when the recording
    /// already has [`QUEUE_DEPTH`] blocks waiting.
    pub(super) fn audio(&self, slot: &WriterSlot, frame: Arc<AudioFrame>, timeline: u64) {
        if slot.backlog.queued.fetch_add(1, Ordering::AcqRel) >= QUEUE_DEPTH {
            slot.backlog.queued.fetch_sub(1, Ordering::AcqRel);
            slot.backlog.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let key = Arc::clone(&slot.key);
        self.send(
            slot,
            Job::Audio {
                key,
                frame,
                timeline,
            },
        );
    }

    /// Pauses the recording (silence and a tone, or nothing, as its spec says).
    pub(super) fn pause(&self, slot: &WriterSlot) {
        self.send(slot, Job::Pause(Arc::clone(&slot.key)));
    }

    /// Resumes the recording.
    pub(super) fn resume(&self, slot: &WriterSlot) {
        self.send(slot, Job::Resume(Arc::clone(&slot.key)));
    }

    /// Finishes the recording once the blocks queued before this are written; then delivers it.
    pub(super) fn finish(&self, slot: &WriterSlot) {
        self.send(slot, Job::Finish(Arc::clone(&slot.key)));
    }

    /// Recordings being written, finalized or delivered.
    pub(super) fn in_progress(&self) -> usize {
        self.working.load(Ordering::SeqCst)
    }

    fn send(&self, slot: &WriterSlot, job: Job) {
        // A writer only stops when the pool is dropped, so a send cannot fail while `self` lives.
        let _ = self.writers[slot.writer].send(job);
    }
}

/// A recording being written on a writer thread.
struct InProgress {
    recording: Box<Recording>,
    recorder: CallRecorder,
    backlog: Arc<Backlog>,
    working: Working,
}

/// One writer thread's recordings.
struct Writer {
    spool: PathBuf,
    tone: ToneConfig,
    deliveries: Sender<Finished>,
    /// Set after every write, for the sync thread.
    dirty: Arc<AtomicBool>,
    recordings: HashMap<Arc<str>, InProgress>,
}

impl Writer {
    /// Serves jobs until the pool is dropped, then finishes what is still open.
    fn run(mut self, queue: &Receiver<Job>) {
        for job in queue.iter() {
            self.handle(job);
        }
        let keys: Vec<Arc<str>> = self.recordings.keys().cloned().collect();
        for key in keys {
            self.finish(&key, None);
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Open {
                recording,
                backlog,
                working,
            } => self.open(recording, backlog, working),
            Job::Audio {
                key,
                frame,
                timeline,
            } => {
                let Some(entry) = self.recordings.get_mut(&key) else {
                    return; // the recording failed to open or to write; its blocks are moot
                };
                entry.backlog.queued.fetch_sub(1, Ordering::AcqRel);
                let written = entry.recorder.write(&frame, timeline);
                self.dirty.store(true, Ordering::Release);
                if let Err(e) = written {
                    self.finish(&key, Some(e.to_string()));
                }
            }
            Job::Pause(key) => self.control(&key, CallRecorder::pause),
            Job::Resume(key) => self.control(&key, CallRecorder::resume),
            Job::Finish(key) => self.finish(&key, None),
        }
    }

    /// Pauses or resumes a recording; a failure ends it with the error.
    fn control(
        &mut self,
        key: &str,
        change: fn(&mut CallRecorder) -> Result<(), hark_audio::AudioError>,
    ) {
        let Some(entry) = self.recordings.get_mut(key) else {
            return;
        };
        if let Err(e) = change(&mut entry.recorder) {
            self.finish(key, Some(e.to_string()));
        }
    }

    fn open(&mut self, recording: Box<Recording>, backlog: Arc<Backlog>, working: Working) {
        match open_recorder(&self.spool, &recording, self.tone) {
            Ok(mut recorder) => {
                recorder.set_durability(Durability::SyncedByOwner);
                let key = Arc::from(recording.id.as_str());
                let entry = InProgress {
                    recording,
                    recorder,
                    backlog,
                    working,
                };
                self.recordings.insert(key, entry);
            }
            Err(e) => {
                tracing::error!(recording = %recording.id, error = %e, "cannot start the recorder");
                // Reported by the delivery thread, in order with the other recordings' outcomes.
                let _ = self.deliveries.send(Finished {
                    recording,
                    file: None,
                    dropped: 0,
                    error: Some(e.to_string()),
                    _working: working,
                });
            }
        }
    }

    /// Finalizes a recording (header, fsync, rename) and hands the file to the delivery thread.
    fn finish(&mut self, key: &str, error: Option<String>) {
        let Some(entry) = self.recordings.remove(key) else {
            return;
        };
        let dropped = entry.backlog.dropped.load(Ordering::Relaxed);
        let (file, error) = match entry.recorder.finish() {
            Ok(done) => {
                tracing::info!(recording = %entry.recording.id, seconds = done.duration.as_secs_f64(), "recording finished");
                (Some((done.path, done.duration)), error)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        let _ = self.deliveries.send(Finished {
            recording: entry.recording,
            file,
            dropped,
            error,
            _working: entry.working,
        });
    }
}

/// The sync thread: once per [`SYNC_INTERVAL`], if any writer wrote since the last sync, makes
/// the spool's whole filesystem durable; ends when the pool is dropped.
fn sync_while_written(spool: &std::fs::File, dirty: &AtomicBool, stop: &Receiver<()>) {
    loop {
        match stop.recv_timeout(SYNC_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if dirty.swap(false, Ordering::AcqRel)
            && let Err(e) = rustix::fs::syncfs(spool)
        {
            tracing::error!(error = %e, "cannot sync the recording spool");
        }
    }
}

/// The delivery thread: moves or uploads finished files and stores their rows, in the order
/// they finished.
fn deliver_all(finished: &Receiver<Finished>, completion: &Completion) {
    for outcome in finished.iter() {
        let Finished {
            recording,
            file,
            dropped,
            error,
            _working,
        } = outcome;
        match file {
            Some((path, duration)) => {
                completion.complete(&recording, &path, duration, dropped, error, false);
            }
            None => {
                let info = failed(&recording, dropped, error.unwrap_or_default());
                completion.observer.finished(&info);
                completion.rows.save(&info);
            }
        }
    }
}

/// Writes the recording's journal (what it is, so a crash can be recovered) and opens its
/// `.part` in the spool.
fn open_recorder(
    spool: &Path,
    recording: &Recording,
    tone: ToneConfig,
) -> Result<CallRecorder, hark_audio::AudioError> {
    let journal = spool.join(format!("{}.json", recording.id));
    let bytes = serde_json::to_vec(recording).map_err(std::io::Error::other)?;
    std::fs::write(&journal, bytes)?;
    let path = spool.join(format!("{}.wav", recording.id));
    CallRecorder::create(
        &path,
        recording.spec.track,
        recording.spec.pause_behavior,
        tone,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hark_audio::ChannelLayout;

    use super::super::{RecordingService, RecordingSettings, Unobserved};
    use crate::control::CallStarted;
    use crate::policy::PolicyScope;
    use crate::store::{MemoryRecordingStore, RecordingStore};

    fn threads() -> usize {
        std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
    }

    /// Stereo blocks whose samples say which call and block they belong to.
    fn block(call: usize, index: usize) -> std::sync::Arc<hark_audio::AudioFrame> {
        let value = (call * 100 + index) as i16;
        let samples = vec![value; 1600 * 2];
        std::sync::Arc::new(
            hark_audio::AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, samples).unwrap(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_recordings_share_a_few_writers_and_each_file_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let settings = RecordingSettings {
            policy: PolicyScope::Every,
            ..RecordingSettings::default()
        };
        let store = std::sync::Arc::new(MemoryRecordingStore::default());
        let service = RecordingService::new(
            dir.path(),
            &settings,
            std::sync::Arc::new(Unobserved),
            store.clone(),
        )
        .unwrap();
        let before = threads();
        const CALLS: usize = 60;
        const BLOCKS: usize = 10; // 2 s of audio each
        for call in 0..CALLS {
            service.call_started(CallStarted::from_custom_config(
                &format!("call-{call}"),
                &format!("contact-{call}"),
                None,
                serde_json::Map::new(),
            ));
        }
        for index in 0..BLOCKS {
            for call in 0..CALLS {
                let timeline = (index * 1600) as u64;
                service.audio(&format!("call-{call}"), timeline, || {
                    Some(block(call, index))
                });
            }
        }
        // A recording per call, and not a thread per recording (the margin is for the async
        // runtime's own blocking threads, which come and go).
        assert!(
            threads() < before + CALLS / 4,
            "{} threads, {before} before",
            threads()
        );
        for call in 0..CALLS {
            service.call_ended(&format!("call-{call}"));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while store.recordings().unwrap().len() < CALLS || service.deliveries_in_progress() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "recordings not delivered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for row in store.recordings().unwrap() {
            assert_eq!(row.error, None);
            assert_eq!(row.dropped_blocks, 0);
            let call: usize = row.call_id.trim_start_matches("call-").parse().unwrap();
            let samples: Vec<i16> = hound::WavReader::open(&row.location)
                .unwrap()
                .into_samples::<i16>()
                .map(Result::unwrap)
                .collect();
            assert_eq!(samples.len(), BLOCKS * 1600 * 2, "call {call}");
            for (index, chunk) in samples.chunks(1600 * 2).enumerate() {
                let expected = (call * 100 + index) as i16;
                assert!(
                    chunk.iter().all(|&s| s == expected),
                    "call {call} block {index}"
                );
            }
        }
    }
}

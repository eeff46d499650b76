//! Many client sessions at once, against any AudioHook server: the load generator behind
//! `hark stream`, and a harness for tests that need calls. Sessions start at a steady rate, each
//! streams a looped file or a tone, and the reports add up to a [`LoadSummary`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hark_audio::AudioError;
use hark_audio::decode::{DecodeOptions, decode_file};
use hark_audio::resample::StreamResampler;
use serde::Serialize;

use super::{
    AudioLoop, AudioSource, ClientOptions, ClientReport, LoopedAudio, StreamScript, ToneSource,
    run_client,
};
use crate::proto::message::NIL_UUID;

/// The rate of looped audio: telephone 8 kHz.
const RATE: u32 = 8000;

/// What to run: `sessions` sessions started `rate` per second, each a copy of `template` with
/// fresh ids.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Connection, credentials and the `open` every session sends.
    pub template: ClientOptions,
    /// Pacing, frame size and scripted pauses.
    pub script: StreamScript,
    /// Number of sessions.
    pub sessions: u32,
    /// Sessions started per second.
    pub rate: f64,
    /// Connection probes (nil conversation and participant, no audio) instead of calls.
    pub probe: bool,
    /// One conversation id for every session (legs of one contact) instead of one each.
    pub conversation_id: Option<String>,
    /// Audio per session.
    pub duration: Duration,
    /// 8 kHz stereo (customer left) audio to loop; a two-tone signal when absent.
    pub audio: Option<Arc<AudioLoop>>,
}

/// Decodes a file (WAV, FLAC, Ogg Vorbis, MP3) to 8 kHz interleaved stereo, customer left (the
/// file's left or only channel), agent right.
pub fn telephone_stereo(path: &Path) -> Result<Vec<i16>, AudioError> {
    let decoded = decode_file(path, DecodeOptions::default())?;
    let mut resampler = StreamResampler::new(decoded.rate, RATE, decoded.channels)?;
    let mut samples = resampler.process(&decoded.samples)?;
    samples.extend(resampler.finish()?);
    let pcm = hark_audio::resample::to_i16(&samples);
    let ch = decoded.channels;
    Ok(pcm
        .chunks_exact(ch)
        .flat_map(|f| [f[0], if ch > 1 { f[1] } else { 0 }])
        .collect())
}

impl LoadPlan {
    /// The options and audio of session `i`'s client: fresh session, correlation, participant
    /// and (unless one is given) conversation ids.
    fn session(&self) -> (ClientOptions, Box<dyn AudioSource>) {
        let mut options = self.template.clone();
        options.session.session_id = uuid::Uuid::new_v4().to_string();
        options.correlation_id = uuid::Uuid::new_v4().to_string();
        if self.probe {
            options.session.participant.id = NIL_UUID.into();
        } else {
            options.session.conversation_id = self
                .conversation_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            options.session.participant.id = uuid::Uuid::new_v4().to_string();
        }
        let source: Box<dyn AudioSource> = match (&self.audio, self.probe) {
            (_, true) => Box::new(ToneSource::new(Duration::ZERO)),
            (Some(samples), false) => Box::new(LoopedAudio::new(
                Arc::clone(samples),
                hark_audio::frame::duration_to_frames(self.duration, RATE),
            )),
            (None, false) => Box::new(ToneSource::new(self.duration)),
        };
        (options, source)
    }
}

/// Runs every session of `plan` and summarises them; `done` counts finished sessions as they
/// finish (for a progress display).
pub async fn run_load(plan: &LoadPlan, done: &Arc<AtomicU64>) -> LoadSummary {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / plan.rate.max(0.001));
    let mut tasks = Vec::with_capacity(plan.sessions as usize);
    for i in 0..plan.sessions {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started) + interval * i).await;
        let (options, mut source) = plan.session();
        let (script, done) = (plan.script.clone(), Arc::clone(done));
        tasks.push(tokio::spawn(async move {
            let result = run_client(&options, source.as_mut(), &script).await;
            done.fetch_add(1, Ordering::Relaxed);
            result.map_err(|e| e.to_string())
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(
            task.await
                .unwrap_or_else(|e| Err(format!("session task failed: {e}"))),
        );
    }
    LoadSummary::new(&results, started.elapsed())
}

/// What a load run amounted to.
#[derive(Debug, Serialize)]
pub struct LoadSummary {
    /// Sessions that opened, streamed and closed without any error.
    pub ok: u64,
    /// Sessions that did not.
    pub failed: u64,
    /// Wall-clock time of the run, seconds.
    pub elapsed_seconds: f64,
    /// `open` → `opened`, milliseconds: p50, p99, max.
    pub open_latency_ms: [f64; 3],
    /// Ping round trips, milliseconds: p50, p99, max.
    pub rtt_ms: [f64; 3],
    /// Binary messages sent.
    pub frames: u64,
    /// Audio bytes sent.
    pub bytes: u64,
    /// Frames sent more than one frame length behind schedule.
    pub late_frames: u64,
    /// The largest delay of any frame behind schedule, milliseconds.
    pub max_lateness_ms: f64,
    /// Errors by kind (`error 408`, `HTTP 401`, `connection`, ...) and count.
    pub errors: Vec<(String, u64)>,
}

impl LoadSummary {
    /// Adds up the sessions' reports (or why a session could not run).
    pub fn new(results: &[Result<ClientReport, String>], elapsed: Duration) -> Self {
        let (mut opens, mut rtts) = (Vec::new(), Vec::new());
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut s = LoadSummary {
            ok: 0,
            failed: 0,
            elapsed_seconds: elapsed.as_secs_f64(),
            open_latency_ms: [0.0; 3],
            rtt_ms: [0.0; 3],
            frames: 0,
            bytes: 0,
            late_frames: 0,
            max_lateness_ms: 0.0,
            errors: Vec::new(),
        };
        for result in results {
            let report = match result {
                Ok(report) => report,
                Err(e) => {
                    s.failed += 1;
                    let kind = match e.strip_prefix("server answered ") {
                        // "HTTP 401", without the server's reason: one count per status.
                        Some(status) if e.starts_with("server answered HTTP") => {
                            status.split(':').next().unwrap_or(status).to_owned()
                        }
                        _ => "connection".to_owned(),
                    };
                    *errors.entry(kind).or_default() += 1;
                    continue;
                }
            };
            if report.is_clean() {
                s.ok += 1;
            } else {
                s.failed += 1;
            }
            opens.extend(report.open_latency);
            rtts.extend(&report.rtts);
            s.frames += report.frames_sent;
            s.bytes += report.bytes_sent;
            s.late_frames += report.late_frames;
            s.max_lateness_ms = s.max_lateness_ms.max(ms(report.max_lateness));
            for code in &report.errors_sent {
                *errors.entry(format!("error {code}")).or_default() += 1;
            }
            if report.open_latency.is_none() {
                *errors.entry("never opened".into()).or_default() += 1;
            } else if !matches!(report.closed, Some((_, true))) {
                *errors.entry("no closed".into()).or_default() += 1;
            }
        }
        s.open_latency_ms = percentiles(&mut opens);
        s.rtt_ms = percentiles(&mut rtts);
        s.errors = errors.into_iter().collect();
        s
    }
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sessions: {} ok, {} failed in {:.1} s",
            self.ok, self.failed, self.elapsed_seconds
        )?;
        let [p50, p99, max] = self.open_latency_ms;
        writeln!(
            f,
            "open latency: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
        )?;
        let [p50, p99, max] = self.rtt_ms;
        writeln!(f, "rtt: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms")?;
        writeln!(
            f,
            "frames: {}, bytes: {}, late frames: {}, max lateness {:.1} ms",
            self.frames, self.bytes, self.late_frames, self.max_lateness_ms
        )?;
        if self.errors.is_empty() {
            return write!(f, "errors: none");
        }
        let list: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        write!(f, "errors: {}", list.join(", "))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50, p99 and max of `values`, in milliseconds (zeros when empty).
fn percentiles(values: &mut [Duration]) -> [f64; 3] {
    if values.is_empty() {
        return [0.0; 3];
    }
    values.sort();
    let at = |q: f64| ms(values[((values.len() - 1) as f64 * q).round() as usize]);
    [at(0.5), at(0.99), ms(values[values.len() - 1])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentiles(&mut v), [51.0, 99.0, 100.0]);
        assert_eq!(percentiles(&mut []), [0.0; 3]);
    }

    #[test]
    fn failures_are_grouped_by_kind() {
        let results = vec![
            Err("server answered HTTP 401".to_owned()),
            Err("server answered HTTP 401".to_owned()),
            Err("connection refused".to_owned()),
        ];
        let s = LoadSummary::new(&results, Duration::from_secs(1));
        assert_eq!((s.ok, s.failed), (0, 3));
        assert_eq!(
            s.errors,
            vec![("HTTP 401".to_owned(), 2), ("connection".to_owned(), 1)]
        );
        assert!(s.to_string().contains("errors: HTTP 401 x2, connection x1"));
    }
}

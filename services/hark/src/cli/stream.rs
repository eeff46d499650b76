//! `hark stream`: the AudioHook client as a command — stream a file or a tone to any AudioHook
//! server, one session or thousands, and summarise what happened.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use hark_audio::decode::{DecodeOptions, decode_file};
use hark_audio::resample::StreamResampler;
use hark_audio::{AudioFrame, ChannelLayout, Encoding};
use hark_audiohook::net::{
    AudioSource, ClientOptions, ClientReport, StreamScript, ToneSource, run_client,
};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::message::NIL_UUID;
use hark_audiohook::proto::{MediaFormat, Position};
use serde::Serialize;

/// Options of `hark stream`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// AudioHook server URL.
    #[arg(default_value = "ws://127.0.0.1:8080/audiohook/ws")]
    pub url: String,
    /// API key [default: `[audiohook] api_key` from DATA_DIR/credentials.toml].
    #[arg(long, env = "HARK_AUDIOHOOK_API_KEY")]
    pub api_key: Option<String>,
    /// Base64 client secret [default: from DATA_DIR/credentials.toml along with the key].
    #[arg(long, env = "HARK_AUDIOHOOK_CLIENT_SECRET")]
    pub client_secret: Option<String>,
    /// Where to find credentials.toml when no key is given [default: `data_dir` of the
    /// configuration `hark serve` would read (./hark.toml or HARK_CONFIG), else ./hark-data].
    #[arg(long, env = "HARK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Audio file to stream (WAV, FLAC, Ogg Vorbis, MP3); left/mono = customer, right = agent.
    /// Without it, a two-tone test signal is streamed.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// JSON object sent as `customConfig` in `open`.
    #[arg(long)]
    pub custom_config: Option<String>,
    /// Conversation language sent in `open`, e.g. en-US.
    #[arg(long)]
    pub language: Option<String>,
    /// Conversation id for every session [default: a new one per session]; several sessions of
    /// one conversation are legs of one contact (a transfer, a conference).
    #[arg(long)]
    pub conversation_id: Option<String>,
    /// Organization id sent in the headers and `open`.
    #[arg(long, default_value = "34e80ec9-a57e-4a06-be8b-b1f2567df796")]
    pub organization_id: String,
    /// Number of sessions.
    #[arg(long, default_value_t = 1)]
    pub sessions: u32,
    /// Sessions started per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Audio per session (e.g. 30s, 1.5m); a shorter file is looped [default: the file, or 10s].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Audio per binary message.
    #[arg(long, value_parser = parse_duration, default_value = "200ms")]
    pub frame: Duration,
    /// Run connection probes (nil conversation, no audio) instead of calls.
    #[arg(long)]
    pub probe: bool,
    /// Stream positions at which to pause (secure pause), e.g. 5s,20s.
    #[arg(long, value_delimiter = ',', value_parser = parse_duration)]
    pub pause_at: Vec<Duration>,
    /// Stream positions at which to resume.
    #[arg(long, value_delimiter = ',', value_parser = parse_duration)]
    pub resume_at: Vec<Duration>,
    /// Audio seconds sent per second: 1 is real time, as Genesys streams; more replays a
    /// recording faster (tests, load generation).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses `200ms`, `30s`, `1.5s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "s"), |i| (&text[..i], &text[i..]));
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("invalid duration {text:?}"))
}

/// Runs `hark stream`.
pub fn main(args: StreamArgs) -> ExitCode {
    match run(args) {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hark stream: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: StreamArgs) -> Result<Summary, String> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(format!("--speed {} must be a positive number", args.speed));
    }
    let (api_key, client_secret) = credentials(&args)?;
    let custom_config = match &args.custom_config {
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => return Err("--custom-config must be a JSON object".into()),
        },
        None => None,
    };
    let audio = match &args.file {
        Some(path) => Some(Arc::new(load_file(path)?)),
        None => None,
    };
    let duration = args.duration.unwrap_or_else(|| match &audio {
        Some(samples) => hark_audio::frame::frames_to_duration((samples.len() / 2) as u64, 8000),
        None => Duration::from_secs(10),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let script = StreamScript {
        frame: args.frame,
        pause_at: args.pause_at.iter().map(|d| Position::from(*d)).collect(),
        resume_at: args.resume_at.iter().map(|d| Position::from(*d)).collect(),
        speed: args.speed,
    };
    let template = ClientOptions {
        url: args.url.clone(),
        api_key,
        client_secret,
        correlation_id: String::new(),
        session: ClientConfig {
            language: args.language.clone(),
            custom_config,
            ..ClientConfig::new(NIL_UUID, &args.organization_id, NIL_UUID, vec![stereo()])
        },
    };
    let summary = runtime.block_on(run_sessions(&args, template, script, audio, duration));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        summary.print();
    }
    Ok(summary)
}

fn stereo() -> MediaFormat {
    MediaFormat {
        encoding: Encoding::Pcmu,
        layout: ChannelLayout::CUSTOMER_LEFT,
        rate: 8000,
    }
}

/// The key and secret from the flags, or from `[audiohook]` in DATA_DIR/credentials.toml.
fn credentials(args: &StreamArgs) -> Result<(String, Option<String>), String> {
    if let Some(key) = &args.api_key {
        return Ok((key.clone(), args.client_secret.clone()));
    }
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        // The same data directory as `hark serve` started here would use.
        None => {
            crate::app::config::Config::resolve(crate::app::config::ServeArgs {
                config: std::env::var_os("HARK_CONFIG").map(PathBuf::from),
                ..crate::app::config::ServeArgs::default()
            })
            .map_err(|e| e.to_string())?
            .data_dir
        }
    };
    let path = data_dir.join(crate::app::credentials::FILE_NAME);
    let stored = crate::app::credentials::read(&data_dir)
        .map_err(|e| format!("no --api-key given and {}: {e}", path.display()))?;
    Ok((
        stored.audiohook.api_key.expose().to_owned(),
        Some(stored.audiohook.client_secret.expose().to_owned()),
    ))
}

/// Decodes a file to 8 kHz stereo, customer left.
fn load_file(path: &Path) -> Result<Vec<i16>, String> {
    let decoded = decode_file(path, DecodeOptions::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut resampler =
        StreamResampler::new(decoded.rate, 8000, decoded.channels).map_err(|e| e.to_string())?;
    let mut samples = resampler
        .process(&decoded.samples)
        .map_err(|e| e.to_string())?;
    samples.extend(resampler.finish().map_err(|e| e.to_string())?);
    let pcm = hark_audio::resample::to_i16(&samples);
    let ch = decoded.channels;
    Ok(pcm
        .chunks_exact(ch)
        .flat_map(|f| [f[0], if ch > 1 { f[1] } else { 0 }])
        .collect())
}

/// A file's audio, looped, for `frames` frames.
struct FileSource {
    samples: Arc<Vec<i16>>,
    position: usize,
    remaining: u64,
}

impl AudioSource for FileSource {
    fn read(&mut self, frames: usize) -> Option<AudioFrame> {
        let n = (frames as u64).min(self.remaining) as usize;
        let total = self.samples.len() / 2;
        if n == 0 || total == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(n * 2);
        for _ in 0..n {
            out.extend_from_slice(&self.samples[self.position * 2..self.position * 2 + 2]);
            self.position = (self.position + 1) % total;
        }
        self.remaining -= n as u64;
        AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, out).ok()
    }
}

async fn run_sessions(
    args: &StreamArgs,
    template: ClientOptions,
    script: StreamScript,
    audio: Option<Arc<Vec<i16>>>,
    duration: Duration,
) -> Summary {
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let progress = (std::io::stderr().is_terminal() && args.sessions > 1).then(|| {
        let (done, total) = (Arc::clone(&done), args.sessions);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let n = done.load(Ordering::Relaxed);
                let filled = (n * 30 / u64::from(total.max(1))) as usize;
                eprint!(
                    "\r[{}{}] {n}/{total} sessions done",
                    "#".repeat(filled),
                    " ".repeat(30 - filled)
                );
            }
        })
    });
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut tasks = Vec::with_capacity(args.sessions as usize);
    for i in 0..args.sessions {
        let at = tokio::time::Instant::from_std(started) + interval * i;
        tokio::time::sleep_until(at).await;
        let mut options = template.clone();
        options.session.session_id = uuid::Uuid::new_v4().to_string();
        options.correlation_id = uuid::Uuid::new_v4().to_string();
        if args.probe {
            options.session.participant.id = NIL_UUID.into();
        } else {
            options.session.conversation_id = args
                .conversation_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            options.session.participant.id = uuid::Uuid::new_v4().to_string();
        }
        let mut source: Box<dyn AudioSource> = match (&audio, args.probe) {
            (_, true) => Box::new(ToneSource::new(Duration::ZERO)),
            (Some(samples), false) => Box::new(FileSource {
                samples: Arc::clone(samples),
                position: 0,
                remaining: hark_audio::frame::duration_to_frames(duration, 8000),
            }),
            (None, false) => Box::new(ToneSource::new(duration)),
        };
        let (script, done) = (script.clone(), Arc::clone(&done));
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
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    Summary::new(&results, started.elapsed())
}

/// What a run of `hark stream` amounted to.
#[derive(Debug, Serialize)]
pub struct Summary {
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
    /// Errors by kind (`error 408`, `http 401`, `connection`, ...) and count.
    pub errors: Vec<(String, u64)>,
}

impl Summary {
    fn new(results: &[Result<ClientReport, String>], elapsed: Duration) -> Self {
        let mut opens = Vec::new();
        let mut rtts = Vec::new();
        let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
        let mut s = Summary {
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
            match result {
                Ok(report) => {
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
                Err(e) => {
                    s.failed += 1;
                    let kind = if e.starts_with("server answered HTTP") {
                        e.replace("server answered ", "")
                    } else {
                        "connection".into()
                    };
                    *errors.entry(kind).or_default() += 1;
                }
            }
        }
        s.open_latency_ms = percentiles(&mut opens);
        s.rtt_ms = percentiles(&mut rtts);
        s.errors = errors.into_iter().collect();
        s
    }

    fn print(&self) {
        println!(
            "sessions: {} ok, {} failed in {:.1} s",
            self.ok, self.failed, self.elapsed_seconds
        );
        let [p50, p99, max] = self.open_latency_ms;
        println!("open latency: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
        let [p50, p99, max] = self.rtt_ms;
        println!("rtt: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
        println!(
            "frames: {}, bytes: {}, late frames: {}, max lateness {:.1} ms",
            self.frames, self.bytes, self.late_frames, self.max_lateness_ms
        );
        if self.errors.is_empty() {
            println!("errors: none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect();
            println!("errors: {}", list.join(", "));
        }
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
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn percentiles_pick_ranks() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentiles(&mut v), [51.0, 99.0, 100.0]);
        assert_eq!(percentiles(&mut []), [0.0; 3]);
    }
}

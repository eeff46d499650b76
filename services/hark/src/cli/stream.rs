//! `hark stream`: the AudioHook client as a command — stream a file or a tone to any AudioHook
//! server, one session or thousands, and summarise what happened.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use hark_audio::{ChannelLayout, Encoding};
use hark_audiohook::net::load::{LoadPlan, LoadSummary, run_load, telephone_stereo};
use hark_audiohook::net::{AudioLoop, ClientOptions, StreamScript};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::message::NIL_UUID;
use hark_audiohook::proto::{MediaFormat, Position};

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

fn run(args: StreamArgs) -> Result<LoadSummary, String> {
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
        Some(path) => Some(Arc::new(AudioLoop::new(
            telephone_stereo(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ))),
        None => None,
    };
    let duration = args.duration.unwrap_or_else(|| match &audio {
        Some(audio) => hark_audio::frame::frames_to_duration(audio.frames() as u64, 8000),
        None => Duration::from_secs(10),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut script = StreamScript::default();
    script.frame = args.frame;
    script.pause_at = args.pause_at.iter().map(|d| Position::from(*d)).collect();
    script.resume_at = args.resume_at.iter().map(|d| Position::from(*d)).collect();
    script.speed = args.speed;
    let mut session = ClientConfig::new(NIL_UUID, &args.organization_id, NIL_UUID, vec![stereo()]);
    session.language = args.language.clone();
    session.custom_config = custom_config;
    let template = ClientOptions::new(args.url.clone(), api_key, client_secret, session);
    let plan = LoadPlan {
        template,
        script,
        sessions: args.sessions,
        rate: args.rate,
        probe: args.probe,
        conversation_id: args.conversation_id.clone(),
        duration,
        audio,
    };
    let summary = runtime.block_on(async {
        let done = Arc::new(AtomicU64::new(0));
        let progress = (std::io::stderr().is_terminal() && plan.sessions > 1)
            .then(|| tokio::spawn(show_progress(Arc::clone(&done), plan.sessions)));
        let summary = run_load(&plan, &done).await;
        if let Some(p) = progress {
            p.abort();
            eprintln!();
        }
        summary
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!("{summary}");
    }
    Ok(summary)
}

/// A progress bar on stderr, redrawn every second.
async fn show_progress(done: Arc<AtomicU64>, total: u32) {
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
}

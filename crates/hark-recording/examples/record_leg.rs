//! Records one call leg into a stereo WAV with a pause in the middle, as hark does for a secure
//! pause: the customer on the left, the agent on the right, silence while paused, a marker tone
//! at the pause and at the resume.
//!
//!   cargo run -p hark-recording --example record_leg -- /tmp/recordings
//!
//! (Without an argument it writes into a temporary directory and removes it.)

use std::time::Duration;

use hark_audio::tone::ToneGenerator;
use hark_audio::{AudioFrame, ChannelLayout};
use hark_recording::recorder::{CallRecorder, ToneConfig};
use hark_recording::{PauseBehavior, Track};

/// 20 ms of a two-tone call: customer 440 Hz (left), agent 1000 Hz (right).
fn call_audio(
    customer: &mut ToneGenerator,
    agent: &mut ToneGenerator,
) -> Result<AudioFrame, hark_audio::AudioError> {
    let (c, a) = (customer.take(160), agent.take(160));
    AudioFrame::merge(ChannelLayout::CUSTOMER_LEFT, 8000, &[&c, &a])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temporary = std::env::temp_dir().join(format!("record-leg-{}", std::process::id()));
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temporary.clone());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("contact-42_leg-1.wav");

    // Writes `contact-42_leg-1.wav.part` (crash-safe: checkpointed and fsynced every second of
    // audio) and renames it when finished.
    let mut recorder = CallRecorder::create(
        &path,
        Track::Both,
        PauseBehavior::Silence,
        ToneConfig::default(),
    )?;
    let (mut customer, mut agent) = (
        ToneGenerator::new(440.0, -6.0, 8000),
        ToneGenerator::new(1000.0, -6.0, 8000),
    );
    // `timeline` counts frames on the stream's clock; the recorder fills any gap with silence.
    let mut timeline = 0u64;
    let mut play =
        |recorder: &mut CallRecorder, seconds: u64| -> Result<(), Box<dyn std::error::Error>> {
            for _ in 0..seconds * 50 {
                recorder.write(&call_audio(&mut customer, &mut agent)?, timeline)?;
                timeline += 160;
            }
            Ok(())
        };
    play(&mut recorder, 2)?;
    recorder.pause()?; // the customer reads out a card number: nothing of it is kept
    play(&mut recorder, 1)?;
    recorder.resume()?;
    play(&mut recorder, 2)?;
    let duration = recorder.duration();
    let finished = recorder.finish()?;
    assert_eq!(
        duration,
        Duration::from_secs(5),
        "paused audio is replaced, not dropped"
    );
    println!("recorded {:?} of call into {finished:?}", duration);

    let wav = hound::WavReader::open(&path)?;
    println!(
        "{}: {} channels at {} Hz, {} frames",
        path.display(),
        wav.spec().channels,
        wav.spec().sample_rate,
        wav.duration()
    );
    if dir == temporary {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

//! A recording process killed with SIGKILL mid-stream loses at most the last second.
//!
//! The test re-runs its own binary as the child: with `HARK_CRASH_CHILD` set, the test
//! `child_writer` records a known pattern and reports progress on stdout; the parent kills it
//! and repairs the `.part` it left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use hark_audio::wav::{CrashSafeWavWriter, WavFormat, part_path, repair};

const CHILD_ENV: &str = "HARK_CRASH_CHILD";

/// The sample of frame `i`, channel `c`: a pattern any loss or shift would break.
fn pattern(i: u64, c: u64) -> i16 {
    ((i * 7 + c * 13) % 65_536) as u16 as i16
}

/// How the child behaves once it has written `stop_after` frames.
#[derive(Clone, Copy)]
enum ChildEnd {
    /// Stop writing and wait to be killed (the tail after the last checkpoint is on disk).
    Wait,
    /// Keep writing as fast as it can until killed.
    KeepWriting,
}

#[test]
fn child_writer() {
    // Runs only as the child process of the tests below.
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split(',');
    let path = parts.next().unwrap();
    let channels: u16 = parts.next().unwrap().parse().unwrap();
    let rate: u32 = parts.next().unwrap().parse().unwrap();
    let stop_after: u64 = parts.next().unwrap().parse().unwrap();
    let keep_writing = parts.next() == Some("keep");

    let mut w = CrashSafeWavWriter::create(
        Path::new(path),
        WavFormat {
            channels,
            sample_rate: rate,
        },
    )
    .unwrap();
    let chunk = u64::from(rate) / 50; // 20 ms, like a live stream
    let mut frame = 0u64;
    loop {
        let samples: Vec<i16> = (frame..frame + chunk)
            .flat_map(|i| (0..u64::from(channels)).map(move |c| pattern(i, c)))
            .collect();
        w.write(&samples).unwrap();
        frame += chunk;
        if frame.is_multiple_of(u64::from(rate)) || frame == stop_after {
            println!("written {frame}");
        }
        if frame >= stop_after && !keep_writing {
            break;
        }
        if frame > u64::from(rate) * 600 {
            break; // never run away if the parent died
        }
    }
    // Wait for the kill; the parent never writes to stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn crash_and_repair(channels: u16, rate: u32, stop_after: u64, end: ChildEnd) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    let keep = if matches!(end, ChildEnd::KeepWriting) {
        "keep"
    } else {
        "wait"
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_writer", "--exact", "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!("{},{channels},{rate},{stop_after},{keep}", path.display()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut reported = 0u64;
    while reported < stop_after {
        let line = lines.next().expect("child exited early").unwrap();
        if let Some(n) = line.strip_prefix("written ") {
            reported = n.parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no finalize
    child.wait().unwrap();

    let part = part_path(&path);
    assert!(
        part.exists() && !path.exists(),
        "a crash leaves only the .part"
    );
    let report = repair(&part).unwrap();
    let lost = reported.saturating_sub(report.frames);
    assert!(
        lost <= u64::from(rate),
        "lost {lost} frames (> 1 s) of {reported}"
    );
    assert!(report.checkpointed_frames + u64::from(rate) >= reported.min(report.frames));

    let mut reader = hound::WavReader::open(&report.path).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (channels, rate));
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(samples.len() as u64, report.frames * u64::from(channels));
    for (n, s) in samples.iter().enumerate() {
        let (i, c) = (
            n as u64 / u64::from(channels),
            n as u64 % u64::from(channels),
        );
        assert_eq!(*s, pattern(i, c), "frame {i} channel {c}");
    }
    // sox, an independent reader, agrees on the length when it is installed (CI installs it).
    if let Ok(out) = Command::new("soxi").arg("-s").arg(&report.path).output() {
        let sox_frames: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(sox_frames, report.frames);
    }
}

#[test]
fn sigkill_after_a_tail_past_the_checkpoint_stereo_8k() {
    // 3.5 s: the last checkpoint was at 3 s, half a second sits past it.
    crash_and_repair(2, 8000, 28_000, ChildEnd::Wait);
}

#[test]
fn sigkill_while_writing_mono_16k() {
    crash_and_repair(1, 16000, 48_000, ChildEnd::KeepWriting);
}

#[test]
fn sigkill_while_writing_stereo_16k() {
    crash_and_repair(2, 16000, 32_000, ChildEnd::KeepWriting);
}

#[test]
fn sigkill_mono_8k() {
    crash_and_repair(1, 8000, 20_000, ChildEnd::Wait);
}

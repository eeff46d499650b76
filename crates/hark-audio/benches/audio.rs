//! Throughput of the hot paths in hark-audio, each beside a baseline:
//! μ-law decode (table vs computing each sample), stereo 8 kHz crash-safe WAV writing (vs plain
//! hound without checkpoints), and 8 → 16 kHz streaming resampling (times faster than real time).
//!
//! Run: `cargo bench -p hark-audio --bench audio`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hark_audio::codec::mulaw;
use hark_audio::resample::StreamResampler;
use hark_audio::tone::ToneGenerator;
use hark_audio::wav::{CrashSafeWavWriter, WavFormat};

fn mulaw_decode(c: &mut Criterion) {
    let bytes: Vec<u8> = (0..1 << 20).map(|i| (i * 31 % 256) as u8).collect();
    let mut group = c.benchmark_group("mulaw_decode");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("table", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            mulaw::decode_into(black_box(&bytes), &mut out);
            black_box(&out);
        })
    });
    group.bench_function("baseline_per_sample_arithmetic", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            out.extend(
                black_box(&bytes)
                    .iter()
                    .map(|&x| mulaw::decode_sample(black_box(x))),
            );
            black_box(&out);
        })
    });
    group.finish();

    let samples: Vec<i16> = ToneGenerator::new(440.0, -3.0, 8000).take(1 << 20);
    let mut group = c.benchmark_group("mulaw_encode");
    group.throughput(Throughput::Bytes(samples.len() as u64 * 2));
    group.bench_function("table", |b| {
        let mut out = Vec::with_capacity(samples.len());
        b.iter(|| {
            out.clear();
            mulaw::encode_into(black_box(&samples), &mut out);
            black_box(&out);
        })
    });
    group.finish();
}

/// 60 s of 8 kHz stereo written in 20 ms frames, as a live call would arrive.
fn wav_write(c: &mut Criterion) {
    let seconds = 60;
    let frame: Vec<i16> = ToneGenerator::new(440.0, -6.0, 8000).take(320);
    let bytes = seconds * 8000 * 4;
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("wav_write_stereo_8k");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    let mut n = 0;
    group.bench_function("crash_safe_1s_checkpoints_fsync", |b| {
        b.iter(|| {
            n += 1;
            let path = dir.path().join(format!("safe-{n}.wav"));
            let mut w = CrashSafeWavWriter::create(
                &path,
                WavFormat {
                    channels: 2,
                    sample_rate: 8000,
                },
            )
            .unwrap();
            for _ in 0..seconds * 50 {
                w.write(&frame).unwrap();
            }
            w.finalize().unwrap();
            std::fs::remove_file(&path).unwrap();
        })
    });
    group.bench_function("baseline_hound_no_checkpoints", |b| {
        b.iter(|| {
            n += 1;
            let path = dir.path().join(format!("plain-{n}.wav"));
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for _ in 0..seconds * 50 {
                for &s in &frame {
                    w.write_sample(s).unwrap();
                }
            }
            w.finalize().unwrap();
            std::fs::remove_file(&path).unwrap();
        })
    });
    group.finish();
}

/// 10 s of 8 kHz mono resampled to 16 kHz in 20 ms chunks. Elements are input frames, so
/// elements per second ÷ 8000 is the factor faster than real time.
fn resample(c: &mut Criterion) {
    let input: Vec<f32> = ToneGenerator::new(440.0, -6.0, 8000)
        .take(80_000)
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    let mut group = c.benchmark_group("resample_8k_to_16k_mono");
    group.throughput(Throughput::Elements(input.len() as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("stream_20ms_chunks", |b| {
        b.iter(|| {
            let mut r = StreamResampler::new(8000, 16000, 1).unwrap();
            let mut frames = 0;
            for chunk in input.chunks(160) {
                frames += r.process(black_box(chunk)).unwrap().len();
            }
            frames += r.finish().unwrap().len();
            assert_eq!(frames, 160_000);
        })
    });
    group.finish();
}

criterion_group!(benches, mulaw_decode, wav_write, resample);
criterion_main!(benches);

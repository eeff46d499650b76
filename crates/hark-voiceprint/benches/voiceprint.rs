//! Embedder speed (times faster than real time, one thread), streaming snapshot latency, and
//! scoring one probe against 100 000 stored voiceprints.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hark_voiceprint::{Embedder, StreamingEmbedder, Voiceprint, VoiceprintIndex};

fn embedder(c: &mut Criterion) {
    let e = Embedder::embedded().unwrap();
    let audio = support::speech();
    let mut group = c.benchmark_group("embed");
    // Elements are seconds of audio ×1000: criterion's "Kelem/s" reads as "times real time".
    group.throughput(Throughput::Elements((audio.len() / 8) as u64));
    group.bench_function("utterance_9s_8khz", |b| {
        b.iter(|| e.embed(&audio, 8000).unwrap())
    });
    group.bench_function("stream_9s_8khz_in_20ms_chunks", |b| {
        b.iter(|| {
            let mut s = StreamingEmbedder::new(Arc::clone(e.encoder()), e.config(), 8000).unwrap();
            for chunk in audio.chunks(160) {
                s.push(chunk).unwrap();
            }
            s.finish().unwrap()
        })
    });
    group.finish();

    let mut s = StreamingEmbedder::new(Arc::clone(e.encoder()), e.config(), 8000).unwrap();
    for chunk in audio.chunks(160) {
        s.push(chunk).unwrap();
    }
    c.bench_function("stream_snapshot_after_9s", |b| {
        b.iter(|| s.snapshot().unwrap())
    });
}

fn index(c: &mut Criterion) {
    let mut index = VoiceprintIndex::new();
    let mut x = 0x2545_F491u32;
    for id in 0..100_000u32 {
        let v: Vec<f32> = (0..256)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 1000) as f32
            })
            .collect();
        index.insert(id, &Voiceprint::from_values(&v).unwrap());
    }
    let probe = Voiceprint::from_values(&[1.0; 256]).unwrap();
    c.bench_function("closest_of_100k_voiceprints", |b| {
        b.iter(|| index.closest(&probe).unwrap().similarity)
    });
}

criterion_group!(benches, embedder, index);
criterion_main!(benches);

//! Times faster than real time on one core, as the best and the median of 40 runs: criterion's
//! means swing ±15 % on a shared virtual machine, the best of many runs does not.
//!
//!   taskset -c 0 cargo bench -p hark-voiceprint --bench realtime
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hark_voiceprint::{Embedder, PartialBatcher, StreamingEmbedder};

const RUNS: usize = 40;

fn report(what: &str, seconds: f64, mut runs: Vec<Duration>) {
    runs.sort();
    let (best, median) = (runs[0].as_secs_f64(), runs[runs.len() / 2].as_secs_f64());
    println!(
        "{what}: best {:.1} ms = {:.0}x real time, median {:.1} ms = {:.0}x",
        best * 1e3,
        seconds / best,
        median * 1e3,
        seconds / median
    );
}

fn time(mut f: impl FnMut()) -> Vec<Duration> {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; nothing to list here
    }
    let audio = support::speech();
    let seconds = audio.len() as f64 / 8000.0;
    let e = Embedder::embedded().unwrap();
    let utterance = time(|| {
        std::hint::black_box(e.embed(&audio, 8000).unwrap());
    });
    report(
        &format!("embed a {seconds:.1} s utterance"),
        seconds,
        utterance,
    );
    let stream = |batcher: Option<&Arc<PartialBatcher>>| {
        let mut s = match batcher {
            Some(b) => StreamingEmbedder::batched(Arc::clone(b), e.config(), 8000).unwrap(),
            None => StreamingEmbedder::new(Arc::clone(e.encoder()), e.config(), 8000).unwrap(),
        };
        for chunk in audio.chunks(160) {
            s.push(chunk).unwrap();
        }
        std::hint::black_box(s.finish().unwrap());
    };
    report(
        "stream it in 20 ms chunks, partials one at a time",
        seconds,
        time(|| stream(None)),
    );
    let batcher = Arc::new(PartialBatcher::new(Arc::clone(e.encoder())));
    report(
        "stream it alone through a batcher (its own partials three at a time)",
        seconds,
        time(|| stream(Some(&batcher))),
    );
}

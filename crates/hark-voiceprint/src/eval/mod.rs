//! Measuring accuracy: equal error rate, minDCF and DET curves over a corpus of speakers.
//!
//! A corpus is a folder with one sub-folder per speaker, each holding that speaker's utterances
//! (any audio hark-audio decodes). Two protocols run on it:
//!
//! - **single**: every utterance against every other, all unordered pairs;
//! - **enrolled**: per split, each speaker is enrolled from `n` random utterances (mean
//!   voiceprint weighted by speech) and tested against every remaining utterance of every
//!   speaker; several seeded splits are pooled.

mod det;
mod glyphs;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::{Calibration, Embedder, Utterance, Voiceprint, VoiceprintError};

pub use det::render_det_png;
pub use metrics::{OperatingPoint, SystemMetrics, Trials};

/// Audio file extensions read from a corpus.
const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "ogg", "mp3"];

/// A corpus on disk: speakers and their utterance files, both sorted by name.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Speaker names (folder names) with their files.
    pub speakers: Vec<(String, Vec<PathBuf>)>,
}

impl Corpus {
    /// Lists a corpus folder.
    pub fn open(dir: &Path) -> Result<Self, VoiceprintError> {
        let mut speakers = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(VoiceprintError::file(dir))? {
            let path = entry.map_err(VoiceprintError::file(dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !path.is_dir() || name.starts_with('.') {
                continue;
            }
            let mut files = Vec::new();
            for file in std::fs::read_dir(&path).map_err(VoiceprintError::file(&path))? {
                let file = file.map_err(VoiceprintError::file(&path))?.path();
                let audio = file
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
                if audio {
                    files.push(file);
                }
            }
            files.sort();
            if !files.is_empty() {
                speakers.push((name.to_owned(), files));
            }
        }
        speakers.sort();
        if speakers.len() < 2 {
            return Err(VoiceprintError::Corpus(format!(
                "{} needs at least two speaker folders with audio, found {}",
                dir.display(),
                speakers.len()
            )));
        }
        Ok(Corpus { speakers })
    }

    /// Number of utterance files.
    pub fn files(&self) -> usize {
        self.speakers.iter().map(|(_, f)| f.len()).sum()
    }
}

/// Voiceprints of a corpus, and the files that could not be embedded.
#[derive(Clone, Debug)]
pub struct EmbeddedCorpus {
    /// Speaker names.
    pub speakers: Vec<String>,
    /// (speaker index, utterance) for every file that embedded.
    pub utterances: Vec<(usize, Utterance)>,
    /// Files that failed, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Seconds of audio the embedder read.
    pub audio_seconds: f64,
}

/// Embeds every file of a corpus on `threads` threads; `progress(done, total)` after each file.
pub fn embed_corpus(
    corpus: &Corpus,
    embedder: &Embedder,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> EmbeddedCorpus {
    let jobs: Vec<(usize, &PathBuf)> = corpus
        .speakers
        .iter()
        .enumerate()
        .flat_map(|(s, (_, files))| files.iter().map(move |f| (s, f)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, Embedded)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(_, path)) = jobs.get(i) else {
                            break;
                        };
                        mine.push((i, embed_one(embedder, path)));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        progress(n, jobs.len());
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(results) => results,
                // A bug, not bad input: surface it rather than drop the worker's files.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    let mut out = EmbeddedCorpus {
        speakers: corpus.speakers.iter().map(|(n, _)| n.clone()).collect(),
        utterances: Vec::new(),
        skipped: Vec::new(),
        audio_seconds: 0.0,
    };
    for (i, result) in results {
        match result {
            Ok((utterance, seconds)) => {
                out.audio_seconds += seconds;
                out.utterances.push((jobs[i].0, utterance));
            }
            Err(skip) => out.skipped.push(skip),
        }
    }
    out
}

/// One file's outcome: its utterance and audio seconds, or the file and why it failed.
type Embedded = Result<(Utterance, f64), (PathBuf, String)>;

fn embed_one(embedder: &Embedder, path: &Path) -> Embedded {
    let fail = |e: VoiceprintError| (path.to_path_buf(), e.to_string());
    let audio =
        hark_audio::decode::decode_file(path, Default::default()).map_err(|e| fail(e.into()))?;
    let seconds = audio.duration().as_secs_f64();
    let utterance = embedder.embed(&audio.to_mono(), audio.rate).map_err(fail)?;
    Ok((utterance, seconds))
}

/// All unordered pairs of utterances.
pub fn single_trials(corpus: &EmbeddedCorpus) -> Trials {
    let mut trials = Trials::default();
    let u = &corpus.utterances;
    for i in 0..u.len() {
        for j in i + 1..u.len() {
            let s = u[i].1.voiceprint.similarity(&u[j].1.voiceprint);
            trials.add(u[i].0 == u[j].0, s);
        }
    }
    trials
}

/// Enrolment from `enrol` utterances per speaker against single test utterances, pooled over
/// `splits` seeded random splits.
pub fn enrolled_trials(corpus: &EmbeddedCorpus, enrol: usize, splits: usize, seed: u64) -> Trials {
    let mut trials = Trials::default();
    let mut rng = SplitMix(seed);
    let speakers = corpus.speakers.len();
    for _ in 0..splits {
        let mut models: Vec<Option<Voiceprint>> = vec![None; speakers];
        let mut tests: Vec<(usize, &Voiceprint)> = Vec::new();
        for (s, model) in models.iter_mut().enumerate() {
            let mut mine: Vec<&Utterance> = corpus
                .utterances
                .iter()
                .filter(|(sp, _)| *sp == s)
                .map(|(_, u)| u)
                .collect();
            if mine.len() <= enrol {
                continue;
            }
            rng.shuffle(&mut mine);
            let enrolment: Vec<(Voiceprint, Duration)> = mine[..enrol]
                .iter()
                .map(|u| (u.voiceprint.clone(), u.speech))
                .collect();
            *model = Voiceprint::enrol(&enrolment).ok();
            tests.extend(mine[enrol..].iter().map(|u| (s, &u.voiceprint)));
        }
        for (s, model) in models.iter().enumerate() {
            let Some(model) = model else { continue };
            for (t, probe) in &tests {
                trials.add(s == *t, model.similarity(probe));
            }
        }
    }
    trials
}

/// A small deterministic generator for reproducible splits.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Everything `hark voiceprint eval` reports.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Speakers in the corpus.
    pub speakers: usize,
    /// Utterances embedded.
    pub utterances: usize,
    /// Files that could not be embedded, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Single utterance against single utterance.
    pub single: SystemMetrics,
    /// Multi-utterance enrolment against single utterances.
    pub enrolled: SystemMetrics,
    /// Utterances per enrolment in `enrolled`.
    pub enrol_utterances: usize,
    /// The logistic calibration fitted on the enrolled trials.
    pub calibration: Calibration,
}

impl Report {
    /// Computes the report of an embedded corpus.
    pub fn new(corpus: &EmbeddedCorpus, single: &Trials, enrolled: &Trials, enrol: usize) -> Self {
        let calibration =
            Calibration::fit(&enrolled.targets, &enrolled.non_targets).unwrap_or_default();
        Report {
            speakers: corpus.speakers.len(),
            utterances: corpus.utterances.len(),
            skipped: corpus
                .skipped
                .iter()
                .map(|(p, e)| (p.display().to_string(), e.clone()))
                .collect(),
            single: SystemMetrics::of(single, &calibration),
            enrolled: SystemMetrics::of(enrolled, &calibration),
            enrol_utterances: enrol,
            calibration,
        }
    }
}

//! `hark voiceprint …`: the weights converter, file embedding and the accuracy evaluation.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use hark_voiceprint::eval::{self, Corpus, Report, Trials};
use hark_voiceprint::weights::convert;
use hark_voiceprint::{Calibration, Embedder, VoiceprintError};

/// The voiceprint subcommands.
#[derive(Debug, Subcommand)]
pub enum VoiceprintCommand {
    /// Convert Resemblyzer 0.1.4's `pretrained.pt` into the safetensors file hark ships.
    Convert {
        /// The legacy PyTorch checkpoint (`resemblyzer/pretrained.pt` from the PyPI wheel).
        input: PathBuf,
        /// Where to write the safetensors file.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Embed audio files and print their net speech and pairwise scores.
    Embed {
        /// Audio files (any format hark decodes).
        files: Vec<PathBuf>,
        /// Print each voiceprint as `path<TAB>256 floats` instead of the score matrix.
        #[arg(long)]
        vectors: bool,
    },
    /// Measure EER and minDCF on a corpus (a folder per speaker) and draw the DET curve.
    Eval(EvalArgs),
}

/// Options of `hark voiceprint eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The corpus: one sub-folder per speaker holding that speaker's utterances.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Where to write `report.json`, `scores.json` and `det.png`.
    #[arg(long, default_value = "voiceprint-eval")]
    pub out: PathBuf,
    /// Utterances per enrolment in the multi-utterance protocol.
    #[arg(long, default_value_t = 3)]
    pub enrol: usize,
    /// Random enrolment splits pooled.
    #[arg(long, default_value_t = 20)]
    pub splits: usize,
    /// Embedding threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs a voiceprint subcommand.
pub fn main(command: VoiceprintCommand) -> ExitCode {
    let result = match command {
        VoiceprintCommand::Convert { input, output } => run_convert(&input, &output),
        VoiceprintCommand::Embed { files, vectors } => run_embed(&files, vectors),
        VoiceprintCommand::Eval(args) => run_eval(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark voiceprint: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, VoiceprintError> {
    std::fs::read(path).map_err(|source| VoiceprintError::File {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), VoiceprintError> {
    std::fs::write(path, bytes).map_err(|source| VoiceprintError::File {
        path: path.to_path_buf(),
        source,
    })
}

fn run_convert(input: &Path, output: &Path) -> Result<(), VoiceprintError> {
    let bytes = convert::resemblyzer_to_safetensors(&read(input)?)?;
    write(output, &bytes)?;
    println!(
        "{}  {} ({} bytes)",
        convert::sha256_hex(&bytes),
        output.display(),
        bytes.len()
    );
    Ok(())
}

fn run_embed(files: &[PathBuf], vectors: bool) -> Result<(), VoiceprintError> {
    let embedder = Embedder::embedded()?;
    let calibration = Calibration::default();
    let mut prints = Vec::new();
    for file in files {
        let started = Instant::now();
        // A file without enough speech is reported and skipped; the others are still compared.
        let utterance = match embedder.embed_file(file) {
            Err(VoiceprintError::NotEnoughSpeech { speech, required }) => {
                eprintln!(
                    "{}: skipped: {:.2} s of net speech, {:.2} s needed",
                    file.display(),
                    speech.as_secs_f64(),
                    required.as_secs_f64()
                );
                continue;
            }
            other => other?,
        };
        if vectors {
            let values: Vec<String> = utterance
                .voiceprint
                .values()
                .iter()
                .map(|v| format!("{v:.6}"))
                .collect();
            println!("{}\t{}", file.display(), values.join(" "));
            continue;
        }
        println!(
            "{}: {:.2} s of speech, {} partials, {:.1} ms",
            file.display(),
            utterance.speech.as_secs_f64(),
            utterance.partials,
            started.elapsed().as_secs_f64() * 1e3
        );
        prints.push(utterance.voiceprint);
    }
    if vectors {
        return Ok(());
    }
    for (i, a) in prints.iter().enumerate() {
        let row: Vec<String> = prints
            .iter()
            .map(|b| {
                let cos = a.similarity(b);
                format!("{cos:.3} ({:>3})", calibration.score(cos))
            })
            .collect();
        println!("{i:>3}  {}", row.join("  "));
    }
    Ok(())
}

/// Progress on stderr: a redrawn bar on a terminal, a line per tenth otherwise.
fn progress(started: Instant) -> impl Fn(usize, usize) + Sync {
    let tty = std::io::stderr().is_terminal();
    move |done: usize, total: usize| {
        let elapsed = started.elapsed().as_secs_f64();
        if tty {
            let filled = done * 30 / total.max(1);
            eprint!(
                "\r[{}{}] {done}/{total} files, {elapsed:.1} s",
                "#".repeat(filled),
                "-".repeat(30 - filled)
            );
            if done == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        } else if done == total || done * 10 / total.max(1) != (done - 1) * 10 / total.max(1) {
            eprintln!("embedded {done}/{total} files, {elapsed:.1} s");
        }
    }
}

fn run_eval(args: &EvalArgs) -> Result<(), VoiceprintError> {
    let corpus = Corpus::open(&args.corpus)?;
    let embedder = Embedder::embedded()?;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    eprintln!(
        "{} speakers, {} files, {threads} threads",
        corpus.speakers.len(),
        corpus.files()
    );
    let started = Instant::now();
    let embedded = eval::embed_corpus(&corpus, &embedder, threads, &progress(started));
    let seconds = started.elapsed().as_secs_f64();
    for (path, reason) in &embedded.skipped {
        eprintln!("skipped {}: {reason}", path.display());
    }
    let single = eval::single_trials(&embedded);
    let enrolled = eval::enrolled_trials(&embedded, args.enrol, args.splits, 1234);
    let report = Report::new(&embedded, &single, &enrolled, args.enrol);
    write_outputs(&args.out, &report, &single, &enrolled)?;
    print_report(&report, embedded.audio_seconds, seconds, threads);
    println!(
        "wrote {}/{{report.json,scores.json,det.png}}",
        args.out.display()
    );
    Ok(())
}

fn write_outputs(
    out: &Path,
    report: &Report,
    single: &Trials,
    enrolled: &Trials,
) -> Result<(), VoiceprintError> {
    std::fs::create_dir_all(out).map_err(|source| VoiceprintError::File {
        path: out.to_path_buf(),
        source,
    })?;
    let report_json = serde_json::to_string_pretty(report)
        .map_err(|e| VoiceprintError::Corpus(format!("cannot write the report: {e}")))?;
    write(&out.join("report.json"), report_json.as_bytes())?;
    let scores = serde_json::json!({ "single": single, "enrolled": enrolled });
    write(&out.join("scores.json"), scores.to_string().as_bytes())?;
    let single_name = "SINGLE";
    let enrolled_name = format!("ENROL {}", report.enrol_utterances);
    let png = eval::render_det_png(&[(single_name, single), (&enrolled_name, enrolled)])
        .map_err(|e| VoiceprintError::Corpus(format!("cannot draw the DET curve: {e}")))?;
    write(&out.join("det.png"), &png)
}

fn print_report(report: &Report, audio_seconds: f64, seconds: f64, threads: usize) {
    println!(
        "{} speakers, {} utterances ({:.0} s of audio) embedded in {seconds:.1} s on {threads} threads ({:.0}x real time)",
        report.speakers,
        report.utterances,
        audio_seconds,
        audio_seconds / seconds.max(1e-9)
    );
    for (name, m) in [
        ("single vs single", &report.single),
        (
            &*format!("{}-utterance enrolment vs single", report.enrol_utterances),
            &report.enrolled,
        ),
    ] {
        println!(
            "{name}: {} target / {} non-target trials, EER {:.2} % (cos {:.3}), minDCF(0.01) {:.3}, target mean {:.3}, non-target mean {:.3}",
            m.targets,
            m.non_targets,
            m.eer_percent,
            m.eer_cosine,
            m.min_dcf,
            m.target_mean,
            m.non_target_mean
        );
        println!(
            "    score >= 50: FRR {:.1} %, FAR {:.2} %; score >= 90: FRR {:.1} %, FAR {:.2} %",
            m.at_score_50.frr_percent,
            m.at_score_50.far_percent,
            m.at_score_90.frr_percent,
            m.at_score_90.far_percent
        );
    }
    println!(
        "calibration fitted on the enrolment trials: score = 100 * sigmoid({:.2} * cos {:+.2})",
        report.calibration.slope, report.calibration.offset
    );
}

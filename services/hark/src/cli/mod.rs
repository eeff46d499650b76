//! The `hark` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::config::Config;
use crate::app::config::ServeArgs;
use crate::app::server::{Server, ShutdownSignal};

pub mod operator;
pub mod stream;
pub mod voiceid;
pub mod voiceprint;

/// Self-hosted voice-interaction infrastructure for contact centers.
#[derive(Debug, Parser)]
#[command(name = "hark", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (HTTP API, AudioHook endpoint) until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Stream audio to an AudioHook server as Genesys Cloud would (test harness, load generator).
    Stream(Box<crate::cli::stream::StreamArgs>),
    /// Voiceprint tools: convert the model weights, embed files, evaluate accuracy on a corpus.
    #[command(subcommand)]
    Voiceprint(crate::cli::voiceprint::VoiceprintCommand),
    /// Voice ID operator commands: restore a deleted domain, register a fraudster.
    #[command(subcommand)]
    Voiceid(crate::cli::voiceid::VoiceIdCommand),
    /// Apply the database migrations (PostgreSQL or the embedded SQLite) and exit.
    Migrate(crate::cli::operator::MigrateArgs),
    /// Repair and deliver the partial recordings a crashed instance left in its data directory.
    Recover(crate::cli::operator::RecoverArgs),
    /// Print shell completions, e.g. `hark completions bash > /etc/bash_completion.d/hark`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `hark man > /usr/share/man/man1/hark.1`.
    Man,
}

/// Options of `hark serve`. Each may also come from a `HARK_*` variable or `hark.toml`;
/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Stream(args) => crate::cli::stream::main(*args),
        Command::Voiceprint(command) => crate::cli::voiceprint::main(command),
        Command::Voiceid(command) => crate::cli::voiceid::main(command),
        Command::Migrate(args) => crate::cli::operator::migrate(args),
        Command::Recover(args) => crate::cli::operator::recover(args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "hark", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let man = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            match man.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hark: cannot write the manual page: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match Config::resolve(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("hark: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::app::logging::init(config.log_format, &config.log_level) {
        eprintln!("hark: {e}");
        return ExitCode::from(2);
    }
    // Whatever the umask hark was started with, what it creates is for its own user only
    // (recordings, spool, database, keys); the explicit modes in the code say the same.
    crate::app::server::private_umask();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hark: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        // Handlers first: a signal that arrives while starting up still shuts down cleanly.
        let mut signals = ShutdownSignal::install()?;
        let server = Server::bind(config).await?;
        // The first signal drains, a second one ends the calls still live at once.
        let (first_tx, first) = tokio::sync::oneshot::channel::<()>();
        let (second_tx, second) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            signals.recv().await;
            let _ = first_tx.send(());
            signals.recv().await;
            let _ = second_tx.send(());
        });
        server
            .run_draining(
                async move {
                    let _ = first.await;
                },
                async move {
                    let _ = second.await;
                },
            )
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hark stopped with an error");
            eprintln!("hark: {e}");
            ExitCode::FAILURE
        }
    }
}

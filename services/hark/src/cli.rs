//! The `hark` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::server::{Server, ShutdownSignal};

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
    Stream(Box<crate::stream::StreamArgs>),
    /// Voiceprint tools: convert the model weights, embed files, evaluate accuracy on a corpus.
    #[command(subcommand)]
    Voiceprint(crate::voiceprint_cli::VoiceprintCommand),
    /// Voice ID operator commands: restore a deleted domain, register a fraudster.
    #[command(subcommand)]
    Voiceid(crate::voiceid::VoiceIdCommand),
    /// Apply the database migrations (PostgreSQL or the embedded SQLite) and exit.
    Migrate(crate::operator::MigrateArgs),
    /// Repair and deliver the partial recordings a crashed instance left in its data directory.
    Recover(crate::operator::RecoverArgs),
    /// Print shell completions, e.g. `hark completions bash > /etc/bash_completion.d/hark`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `hark man > /usr/share/man/man1/hark.1`.
    Man,
}

/// Options of `hark serve`. Each may also come from a `HARK_*` variable or `hark.toml`;
/// a flag beats the variable, which beats the file, which beats the default.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Configuration file [default: ./hark.toml when present].
    #[arg(long, env = "HARK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "HARK_LISTEN")]
    pub listen: Option<String>,
    /// Directory for the database, recordings and generated credentials [default: ./hark-data].
    #[arg(long, env = "HARK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format [default: text].
    #[arg(long, env = "HARK_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `warn,hark=debug` [default: info].
    #[arg(long, env = "HARK_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// PostgreSQL database shared by several instances, `postgres://user:password@host/db`
    /// [default: SQLite in the data directory].
    #[arg(long, env = "HARK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where recordings started by policy or on demand go: a directory or `s3://bucket/prefix`
    /// (with `[recording.s3]` for the endpoint and keys) [default: DATA_DIR/recordings].
    #[arg(long, env = "HARK_RECORDINGS_URL")]
    pub recordings_url: Option<String>,
    /// Seconds live calls may go on after SIGTERM/SIGINT before they are asked to end
    /// [default: 300].
    #[arg(long, env = "HARK_DRAIN_SECONDS")]
    pub drain_seconds: Option<u64>,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Stream(args) => crate::stream::main(*args),
        Command::Voiceprint(command) => crate::voiceprint_cli::main(command),
        Command::Voiceid(command) => crate::voiceid::main(command),
        Command::Migrate(args) => crate::operator::migrate(args),
        Command::Recover(args) => crate::operator::recover(args),
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
    if let Err(e) = crate::logging::init(config.log_format, &config.log_level) {
        eprintln!("hark: {e}");
        return ExitCode::from(2);
    }
    // Whatever the umask hark was started with, what it creates is for its own user only
    // (recordings, spool, database, keys); the explicit modes in the code say the same.
    crate::server::private_umask();
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

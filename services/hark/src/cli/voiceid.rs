//! `hark voiceid …`: operator commands on the data directory.

use std::process::ExitCode;

use std::sync::Arc;

use clap::Subcommand;
use hark_voiceid::{SystemClock, VoiceId};

use crate::app::config::DatabaseLocation;
use crate::app::voiceid::{load_keyring, settings};

/// `hark voiceid …`: operator commands that work on the data directory directly (also while
/// `hark serve` runs: SQLite lets both in).
#[derive(Debug, Subcommand)]
pub enum VoiceIdCommand {
    /// Restore a domain deleted with DeleteDomain, before it is purged (30 days after deletion).
    RestoreDomain {
        /// The domain id.
        domain_id: String,
        /// Where the data is.
        #[command(flatten)]
        location: DatabaseLocation,
    },
    /// Register a fraudster without a voiceprint in a watchlist (registration jobs do this
    /// with audio); prints the fraudster as JSON.
    AddFraudster {
        /// The domain id.
        #[arg(long)]
        domain_id: String,
        /// The watchlist [default: the domain's default watchlist].
        #[arg(long)]
        watchlist_id: Option<String>,
        /// Where the data is.
        #[command(flatten)]
        location: DatabaseLocation,
    },
    /// Mark a batch job that is no longer running (its instance died) FAILED, so the domain
    /// can start another job of its kind.
    FailJob {
        /// The domain id.
        #[arg(long)]
        domain_id: String,
        /// The job id.
        #[arg(long)]
        job_id: String,
        /// Where the data is.
        #[command(flatten)]
        location: DatabaseLocation,
    },
}

fn open_offline(location: DatabaseLocation) -> Result<VoiceId, String> {
    let config = location.resolve().map_err(|e| e.to_string())?;
    let db = config.data_dir.join(crate::app::server::DATABASE_FILE);
    if config.database_url.is_none() && !db.is_file() {
        return Err(format!("no hark database at {}", db.display()));
    }
    // The database `hark serve` uses: `database_url` from hark.toml, else the embedded file.
    let store = crate::app::stores::open(&config)
        .map_err(|e| e.to_string())?
        .voiceid;
    let (keyring, token_secret, _) = load_keyring(&config.data_dir, &config.voiceid, false)?;
    Ok(VoiceId::new(
        store,
        Arc::new(SystemClock),
        keyring,
        &token_secret,
        settings(&config.voiceid)?,
    ))
}

/// Runs a `hark voiceid` command.
pub fn main(command: VoiceIdCommand) -> ExitCode {
    let result = match command {
        VoiceIdCommand::RestoreDomain {
            domain_id,
            location,
        } => open_offline(location).and_then(|svc| {
            let d = svc.restore_domain(&domain_id).map_err(|e| e.to_string())?;
            println!("restored domain {} ({})", d.domain_id, d.name);
            Ok(())
        }),
        VoiceIdCommand::AddFraudster {
            domain_id,
            watchlist_id,
            location,
        } => open_offline(location).and_then(|svc| {
            let f = svc
                .register_fraudster(&domain_id, watchlist_id.as_deref(), None)
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({"GeneratedFraudsterId": f.generated_id, "DomainId": f.domain_id, "WatchlistIds": f.watchlist_ids})
            );
            Ok(())
        }),
        VoiceIdCommand::FailJob {
            domain_id,
            job_id,
            location,
        } => open_offline(location).and_then(|svc| {
            svc.fail_job(&domain_id, &job_id)
                .map_err(|e| e.to_string())?;
            println!("job {job_id} marked FAILED");
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark voiceid: {e}");
            ExitCode::FAILURE
        }
    }
}

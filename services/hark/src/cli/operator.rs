//! Operator commands for a fleet: `hark migrate` (bring the database schema up to date before
//! rolling out a new version) and `hark recover` (deliver what a crashed instance left in its
//! data directory when that instance is not coming back).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::app::config::{Config, DatabaseLocation};
use crate::app::metrics::Metrics;
use hark_recording::runtime::RecordingService;

/// Options of `hark migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database.
    #[command(flatten)]
    pub location: DatabaseLocation,
}

/// Options of `hark recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The database and the data directory whose spool is recovered.
    #[command(flatten)]
    pub location: DatabaseLocation,
    /// How long to wait for uploads to finish before giving up.
    #[arg(long, default_value_t = 300)]
    pub wait_seconds: u64,
    /// Recover even if an instance seems to use this data directory (its live recordings
    /// would be cut and delivered as fragments).
    #[arg(long)]
    pub force: bool,
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `hark migrate`.
pub fn migrate(args: MigrateArgs) -> ExitCode {
    finish(
        args.location
            .resolve()
            .map_err(|e| e.to_string())
            .and_then(|config| {
                std::fs::create_dir_all(&config.data_dir)
                    .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
                let stores = crate::app::stores::open(&config).map_err(|e| e.to_string())?;
                match &stores.postgres {
                    Some(pg) => println!(
                        "{}: schema version {}",
                        pg.redacted_url(),
                        pg.schema_version().map_err(|e| e.to_string())?
                    ),
                    None => println!(
                        "{}: up to date",
                        config
                            .data_dir
                            .join(crate::app::stores::DATABASE_FILE)
                            .display()
                    ),
                }
                Ok(())
            }),
    )
}

/// Runs `hark recover`: repairs the spool's partial recordings, delivers them (uploads
/// included) and records them in the database.
pub fn recover(args: RecoverArgs) -> ExitCode {
    let wait = Duration::from_secs(args.wait_seconds);
    let force = args.force;
    finish(
        args.location
            .resolve()
            .map_err(|e| e.to_string())
            .and_then(|config| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the async runtime: {e}"))?;
                runtime.block_on(recover_spool(config, wait, force))
            }),
    )
}

async fn recover_spool(config: Config, wait: Duration, force: bool) -> Result<(), String> {
    let spool = config.data_dir.join("recordings").join(".spool");
    if !spool.is_dir() {
        return Err(format!(
            "no recording spool in {}",
            config.data_dir.display()
        ));
    }
    // A live instance's spool holds recordings in progress: never take them from it.
    let _lock = match crate::app::data_lock::DataDirLock::acquire(&config.data_dir) {
        Ok(lock) => Some(lock),
        Err(e) if !force => return Err(format!("{e} (or pass --force)")),
        Err(_) => None,
    };
    let stores = crate::app::stores::open(&config).map_err(|e| e.to_string())?;
    if let (Some(pg), false) = (&stores.postgres, force) {
        let mine = crate::app::server::canonical_data_dir(&config.data_dir);
        let live = pg
            .live_instances(hark_cluster::DEAD_AFTER)
            .map_err(|e| e.to_string())?;
        if let Some(i) = live.iter().find(|i| i.data_dir == mine) {
            return Err(format!(
                "instance {} ({}) is alive in the fleet with the data directory {mine}; stop it first (or pass --force)",
                i.instance_id, i.address
            ));
        }
    }
    let recording = Arc::new(
        RecordingService::new(
            &config.data_dir,
            &config.recording,
            Arc::new(Metrics::new()),
            stores.recording,
        )
        .map_err(|e| e.to_string())?,
    );
    let service = Arc::clone(&recording);
    let recovered = tokio::task::spawn_blocking(move || service.recover())
        .await
        .map_err(|_| "recovery panicked".to_owned())?;
    // Uploads run in the background: wait until the spool holds no finished file.
    let deadline = Instant::now() + wait;
    while spool_has_files(&spool) {
        if Instant::now() >= deadline {
            return Err(format!(
                "{recovered} recordings recovered but some uploads are still pending after {} s; run again later",
                wait.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("{recovered} recordings recovered and delivered");
    Ok(())
}

fn spool_has_files(spool: &std::path::Path) -> bool {
    std::fs::read_dir(spool).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "wav"))
    })
}

//! A whole hark on a free local port, stopped when dropped.

use std::net::SocketAddr;

use hark::config::Config;
use hark::credentials::Credentials;
use hark::server::{ServeError, Server};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::TestkitError;
use crate::voiceid::VoiceIdClient;

/// A running hark: the reference service in this process, on 127.0.0.1, with its own temporary
/// data directory (SQLite, recordings, generated credentials).
///
/// Needs a tokio runtime with the `rt-multi-thread` flavour (`#[tokio::test(flavor =
/// "multi_thread")]`): the service runs blocking work on the runtime's blocking pool.
#[derive(Debug)]
pub struct Hark {
    addr: SocketAddr,
    credentials: Credentials,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    // Dropped last: the server has stopped using it by then (or was aborted).
    data: tempfile::TempDir,
}

impl Hark {
    /// Starts hark on its built-in defaults (policy recording off, no monitors, Voice ID on).
    pub async fn start() -> Result<Hark, TestkitError> {
        Self::start_with(|_| {}).await
    }

    /// Starts hark after `configure` has changed the defaults (recording policy, monitors,
    /// Voice ID quotas, limits…); the data directory and the listening address are the kit's.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Result<Hark, TestkitError> {
        let data = tempfile::Builder::new()
            .prefix("hark-testkit-")
            .tempdir()
            .map_err(TestkitError::TempDir)?;
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = Config::defaults(data.path().join("data"), listen)?;
        configure(&mut config);
        config.data_dir = data.path().join("data");
        config.listen = listen;
        // A test stops in an instant: don't let live calls hold the stop for minutes.
        config.drain_seconds = 0;
        let server = Server::bind(config).await?;
        let addr = server.local_addr();
        let credentials = server.credentials().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Hark {
            addr,
            credentials,
            stop: Some(stop),
            task: Some(task),
            data,
        })
    }

    /// The address the HTTP and WebSocket listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the base of every HTTP API, and the Voice ID endpoint URL to give
    /// an AWS SDK.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/audiohook/ws`: where AudioHook clients connect.
    pub fn audiohook_url(&self) -> String {
        format!("ws://{}/audiohook/ws", self.addr)
    }

    /// The data directory (database, recordings, `credentials.toml`); removed on drop.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.path().join("data")
    }

    /// Where recordings are delivered by default (`DATA_DIR/recordings`).
    pub fn recordings_dir(&self) -> std::path::PathBuf {
        self.data_dir().join("recordings")
    }

    /// The credentials hark generated: AudioHook key and secret, Voice ID access keys, the
    /// recording, monitor and admin tokens.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A Voice ID client signing with the generated access keys.
    pub fn voiceid(&self) -> VoiceIdClient {
        VoiceIdClient::new(
            self.addr,
            &self.credentials.voiceid.access_key_id,
            self.credentials.voiceid.secret_access_key.expose(),
        )
    }

    /// Stops hark as SIGTERM would (live calls are ended, recordings finalized and delivered)
    /// and waits until it has. The data directory stays until the `Hark` is dropped, so a test
    /// can look at what hark wrote.
    pub async fn stop(&mut self) -> Result<(), TestkitError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => Ok(task.await??),
            None => Ok(()),
        }
    }
}

impl Drop for Hark {
    fn drop(&mut self) {
        // Without an await there is no waiting for a graceful stop: signal it, then abort the task
        // so nothing writes into the data directory being removed.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

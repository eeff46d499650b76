//! The server side of a session, as a state machine fed bytes and time.
//!
//! One [`ServerSession`] per WebSocket. The shell feeds it text and binary frames and the
//! current time, and carries out the [`ServerAction`]s it queues: send this text, hand this audio
//! to the application, close the socket. The session answers `open` at once (Genesys drops a
//! session whose `opened` takes over 5 s), answers `ping` inline, enforces the envelope and
//! sequence rules, and turns every violation into a `disconnect` with reason `error`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::entities::Entity;
use super::media::{MediaFormat, MediaPolicy};
use super::message::{
    ClientBody, ClientMessage, CloseReason, DisconnectParameters, DisconnectReason,
    ErrorParameters, Gap, MessageError, OpenParameters, OpenedParameters, ServerBody,
    ServerMessage,
};
use super::position::Position;

/// What a server does with a client message type it does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownMessagePolicy {
    /// Report it to the application and carry on (future-proof; the default).
    #[default]
    Ignore,
    /// Treat it as a protocol violation, as Genesys' Monitor reference server does.
    Disconnect,
}

/// Settings of a server session.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Which offered formats are acceptable.
    pub media: MediaPolicy,
    /// Languages listed in `opened` when the client asks (`supportedLanguages: true`).
    pub supported_languages: Vec<String>,
    /// Ask the client to start paused.
    pub start_paused: bool,
    /// How long a connection may stay without `open` before the socket is closed.
    pub open_timeout: Duration,
    /// How long the client may send nothing at all before the session is ended.
    pub idle_timeout: Duration,
    /// How long after `close` the application may still send events before `closed` goes out.
    pub close_grace: Duration,
    /// How long to wait for the client to close the socket after `closed` or `disconnect`.
    pub socket_close_timeout: Duration,
    /// Unknown client message types.
    pub unknown_messages: UnknownMessagePolicy,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            media: MediaPolicy::default(),
            supported_languages: Vec::new(),
            start_paused: false,
            open_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            close_grace: Duration::ZERO,
            socket_close_timeout: Duration::from_secs(10),
            unknown_messages: UnknownMessagePolicy::Ignore,
        }
    }
}

/// Where a server session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// Connected, waiting for `open`.
    AwaitingOpen,
    /// Streaming.
    Active,
    /// The client paused the stream.
    Paused,
    /// `close` received; `closed` not yet sent (the application may send final events).
    Closing,
    /// `closed` sent; waiting for the client to close the socket.
    Closed,
    /// `disconnect` sent; only `close` is processed now.
    Disconnecting,
}

/// A block of audio the client sent, in the negotiated format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioChunk {
    /// The raw payload.
    pub payload: Vec<u8>,
    /// Its format.
    pub format: MediaFormat,
    /// Samples per channel received before this chunk.
    pub received_before: u64,
    /// Where the chunk starts on the client's timeline (received audio plus reported gaps).
    pub timeline_start: Position,
}

impl AudioChunk {
    /// The audio decoded to 16-bit samples in the negotiated channel order.
    pub fn decode(&self) -> Result<hark_audio::AudioFrame, hark_audio::AudioError> {
        hark_audio::AudioFrame::decode(
            self.format.encoding,
            self.format.layout,
            self.format.rate,
            &self.payload,
        )
    }

    /// Samples per channel in the chunk.
    pub fn frames(&self) -> u64 {
        (self.payload.len() / self.format.bytes_per_frame().max(1)) as u64
    }
}

/// Something the application learns about the session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// `opened` was sent.
    Opened {
        /// What the client sent in `open`.
        open: Box<OpenParameters>,
        /// The negotiated format (`None`: no audio will flow).
        media: Option<MediaFormat>,
        /// Whether this is a connection probe (no real call).
        probe: bool,
    },
    /// The client paused the stream (hold, secure pause, or our `pause`).
    Paused {
        /// Client position at the pause.
        position: Position,
    },
    /// The client resumed after a gap.
    Resumed(Gap),
    /// The client skipped audio.
    Discarded(Gap),
    /// The client changed the conversation language.
    Updated {
        /// The new language.
        language: Option<String>,
    },
    /// The client reported an error.
    ClientError(ErrorParameters),
    /// Audio Connector: DTMF digit.
    Dtmf(String),
    /// Audio Connector: playback started.
    PlaybackStarted,
    /// Audio Connector: playback completed.
    PlaybackCompleted,
    /// A message type this crate does not know (ignored under the default policy).
    UnknownMessage {
        /// Its type.
        kind: String,
    },
    /// The client is closing; `closed` follows (after the grace period, if any).
    Closing {
        /// Why.
        reason: CloseReason,
    },
    /// The server sent `disconnect` (reason and why, for logs).
    Disconnected {
        /// The reason sent.
        reason: DisconnectReason,
        /// Why, in detail (logged; the client gets a generic text for authorization failures).
        detail: String,
    },
    /// The session ended because a timer ran out.
    TimedOut(&'static str),
}

/// What the shell must do next.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerAction {
    /// Send this text frame.
    SendText(String),
    /// Audio for the application.
    Audio(AudioChunk),
    /// News for the application.
    Event(SessionEvent),
    /// Close the WebSocket now.
    CloseSocket,
}

/// Running totals of one session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Binary frames received.
    pub frames: u64,
    /// Audio bytes received.
    pub bytes: u64,
    /// Samples per channel received.
    pub samples: u64,
    /// Total length of pauses the client reported in `resumed`.
    pub paused: Position,
    /// Total audio the client reported discarding.
    pub discarded: Position,
}

/// The server side of one AudioHook session.
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    id: String,
    organization_id: String,
    state: ServerState,
    seq: u64,
    client_seq: u64,
    media: Option<MediaFormat>,
    stats: SessionStats,
    last_received: Instant,
    deadline: Option<(Instant, Timer)>,
    start_paused: bool,
    actions: VecDeque<ServerAction>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Open,
    CloseGrace,
    SocketClose,
}

impl ServerSession {
    /// A session for an upgrade request already authenticated, with its `Audiohook-Session-Id`
    /// and `Audiohook-Organization-Id` headers.
    pub fn new(
        config: ServerConfig,
        session_id: &str,
        organization_id: &str,
        now: Instant,
    ) -> Self {
        let deadline = Some((now + config.open_timeout, Timer::Open));
        ServerSession {
            start_paused: config.start_paused,
            config,
            id: session_id.to_owned(),
            organization_id: organization_id.to_owned(),
            state: ServerState::AwaitingOpen,
            seq: 0,
            client_seq: 0,
            media: None,
            stats: SessionStats::default(),
            last_received: now,
            deadline,
            actions: VecDeque::new(),
        }
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The negotiated media, once opened.
    pub fn media(&self) -> Option<MediaFormat> {
        self.media
    }

    /// Totals so far.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<ServerAction> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = matches!(self.state, ServerState::Active | ServerState::Paused)
            .then(|| self.last_received + self.config.idle_timeout);
        [self.deadline.map(|(at, _)| at), idle]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, ServerState::Active | ServerState::Paused)
            && now >= self.last_received + self.config.idle_timeout
        {
            self.event(SessionEvent::TimedOut("no message from the client"));
            self.fail(
                now,
                DisconnectReason::Error,
                "Client Error: no message within the idle timeout",
            );
            return;
        }
        let Some((at, timer)) = self.deadline else {
            return;
        };
        if now < at {
            return;
        }
        self.deadline = None;
        match timer {
            Timer::Open => {
                self.event(SessionEvent::TimedOut("no open message"));
                self.actions.push_back(ServerAction::CloseSocket);
            }
            Timer::CloseGrace => self.complete_close(now),
            Timer::SocketClose => {
                self.event(SessionEvent::TimedOut("client did not close the socket"));
                self.actions.push_back(ServerAction::CloseSocket);
            }
        }
    }

    /// Handles a text frame.
    pub fn handle_text(&mut self, now: Instant, text: &str) {
        self.last_received = now;
        let message = match ClientMessage::parse(text) {
            Ok(m) => m,
            Err(MessageError::TooLarge(_)) => {
                return self.violation(now, "Text message too large (>64K)".into());
            }
            Err(e) => return self.violation(now, format!("Invalid message: {e}")),
        };
        if message.id != self.id {
            return self.violation(now, "Session identifier mismatch".into());
        }
        if message.seq != self.client_seq + 1 {
            return self.violation(
                now,
                "Invalid seq value (not monotonically increasing)".into(),
            );
        }
        if message.serverseq > self.seq {
            return self.violation(now, "Invalid serverseq value".into());
        }
        self.client_seq = message.seq;
        self.dispatch(now, message);
    }

    /// Handles a binary frame.
    pub fn handle_binary(&mut self, now: Instant, payload: &[u8]) {
        self.last_received = now;
        match self.state {
            ServerState::Active => {}
            ServerState::AwaitingOpen | ServerState::Paused => {
                let state = format!("{:?}", self.state).to_uppercase();
                return self.violation(now, format!("Received audio in state {state}"));
            }
            // After close or disconnect, late audio is dropped without complaint.
            _ => return,
        }
        let Some(format) = self.media else {
            return self.violation(now, "Received audio but no media was negotiated".into());
        };
        if !payload.len().is_multiple_of(format.bytes_per_frame()) {
            return self.violation(
                now,
                format!(
                    "Audio frame of {} bytes is not whole samples",
                    payload.len()
                ),
            );
        }
        let frames = (payload.len() / format.bytes_per_frame()) as u64;
        let chunk = AudioChunk {
            payload: payload.to_vec(),
            format,
            received_before: self.stats.samples,
            timeline_start: Position::from_samples(self.stats.samples, format.rate)
                .saturating_add(self.stats.paused)
                .saturating_add(self.stats.discarded),
        };
        self.stats.frames += 1;
        self.stats.bytes += payload.len() as u64;
        self.stats.samples += frames;
        self.actions.push_back(ServerAction::Audio(chunk));
    }

    /// Asks the client to pause (before `opened`: start paused).
    pub fn pause(&mut self) {
        match self.state {
            ServerState::AwaitingOpen => self.start_paused = true,
            ServerState::Active | ServerState::Paused => self.send(ServerBody::Pause),
            _ => {}
        }
    }

    /// Asks the client to resume (before `opened`: do not start paused).
    pub fn resume(&mut self) {
        match self.state {
            ServerState::AwaitingOpen => self.start_paused = false,
            ServerState::Active | ServerState::Paused => self.send(ServerBody::Resume),
            _ => {}
        }
    }

    /// Sends event entities (transcripts, agent assist); allowed while streaming and closing.
    pub fn send_event(&mut self, entities: Vec<Entity>) -> bool {
        let allowed = matches!(
            self.state,
            ServerState::Active | ServerState::Paused | ServerState::Closing
        );
        if allowed {
            self.send(ServerBody::Event { entities });
        }
        allowed
    }

    /// Asks the client to reconnect elsewhere (a draining server); true if it was sent. The
    /// session goes on: clients that do not act on it (Genesys today) keep streaming until a
    /// [`ServerSession::disconnect`].
    pub fn reconnect(&mut self, info: Option<String>) -> bool {
        let allowed = matches!(self.state, ServerState::Active | ServerState::Paused);
        if allowed {
            self.send(ServerBody::Reconnect { info });
        }
        allowed
    }

    /// Asks the client to end the session.
    pub fn disconnect(
        &mut self,
        now: Instant,
        reason: DisconnectReason,
        info: Option<String>,
        output_variables: Option<Map<String, Value>>,
    ) {
        if !matches!(
            self.state,
            ServerState::AwaitingOpen | ServerState::Active | ServerState::Paused
        ) {
            return;
        }
        let detail = info.clone().unwrap_or_default();
        self.send(ServerBody::Disconnect(DisconnectParameters {
            reason,
            info,
            output_variables,
        }));
        self.state = ServerState::Disconnecting;
        self.deadline = Some((now + self.config.socket_close_timeout, Timer::SocketClose));
        self.event(SessionEvent::Disconnected { reason, detail });
    }

    /// Sends `closed` now, ending a close grace period early.
    pub fn complete_close(&mut self, now: Instant) {
        if self.state == ServerState::Closing {
            self.send(ServerBody::Closed);
            self.state = ServerState::Closed;
            self.deadline = Some((now + self.config.socket_close_timeout, Timer::SocketClose));
        }
    }

    fn dispatch(&mut self, now: Instant, message: ClientMessage) {
        use ServerState::*;
        let state = self.state;
        match (message.body, state) {
            (ClientBody::Close { reason }, AwaitingOpen | Active | Paused | Disconnecting) => {
                self.state = Closing;
                self.event(SessionEvent::Closing { reason });
                if self.config.close_grace.is_zero() {
                    self.complete_close(now);
                } else {
                    self.deadline = Some((now + self.config.close_grace, Timer::CloseGrace));
                }
            }
            (_, Disconnecting | Closing | Closed) => {}
            (ClientBody::Ping { .. }, _) => self.send(ServerBody::Pong),
            (ClientBody::Open(open), AwaitingOpen) => self.open(now, open),
            (ClientBody::Open(_), _) => {} // a second open is ignored
            (ClientBody::Error(e), _) => self.event(SessionEvent::ClientError(e)),
            (body, AwaitingOpen) => self.violation(
                now,
                format!("Message {} not valid before open", kind_of(&body)),
            ),
            (ClientBody::Paused, Active) => {
                self.state = Paused;
                self.event(SessionEvent::Paused {
                    position: message.position,
                });
            }
            (ClientBody::Paused, _) => {} // a duplicate pause is tolerated
            (ClientBody::Resumed(gap), Paused) => {
                self.state = Active;
                self.stats.paused = self.stats.paused.saturating_add(gap.discarded);
                self.event(SessionEvent::Resumed(gap));
            }
            (ClientBody::Resumed(_), _) => {}
            (ClientBody::Discarded(gap), _) => {
                self.stats.discarded = self.stats.discarded.saturating_add(gap.discarded);
                self.event(SessionEvent::Discarded(gap));
            }
            (ClientBody::Update { language }, _) => self.event(SessionEvent::Updated { language }),
            (ClientBody::Dtmf { digit }, _) => self.event(SessionEvent::Dtmf(digit)),
            (ClientBody::PlaybackStarted, _) => self.event(SessionEvent::PlaybackStarted),
            (ClientBody::PlaybackCompleted, _) => self.event(SessionEvent::PlaybackCompleted),
            (ClientBody::Unknown { kind, .. }, _) => match self.config.unknown_messages {
                UnknownMessagePolicy::Ignore => self.event(SessionEvent::UnknownMessage { kind }),
                UnknownMessagePolicy::Disconnect => self.violation(
                    now,
                    format!("Invalid Message: '{kind}' is not a supported client message"),
                ),
            },
        }
    }

    fn open(&mut self, now: Instant, open: Box<OpenParameters>) {
        if open.organization_id != self.organization_id {
            let detail = "open.organizationId differs from Audiohook-Organization-Id".to_owned();
            self.send(ServerBody::Disconnect(DisconnectParameters {
                reason: DisconnectReason::Unauthorized,
                info: None,
                output_variables: None,
            }));
            self.state = ServerState::Disconnecting;
            self.deadline = Some((now + self.config.socket_close_timeout, Timer::SocketClose));
            self.event(SessionEvent::Disconnected {
                reason: DisconnectReason::Unauthorized,
                detail,
            });
            return;
        }
        let selected = self.config.media.select(&open.media);
        self.media = selected.as_ref().map(|(_, format)| *format);
        let supported_languages = (open.supported_languages == Some(true))
            .then(|| self.config.supported_languages.clone());
        self.send(ServerBody::Opened(OpenedParameters {
            media: selected.into_iter().map(|(entry, _)| entry).collect(),
            start_paused: Some(self.start_paused),
            discard_to: None,
            supported_languages,
        }));
        self.state = ServerState::Active;
        self.deadline = None;
        let probe = open.is_probe();
        self.event(SessionEvent::Opened {
            open,
            media: self.media,
            probe,
        });
    }

    /// A protocol violation: `disconnect` with reason `error`, then only `close` is processed.
    fn violation(&mut self, now: Instant, info: String) {
        self.fail(now, DisconnectReason::Error, &info);
    }

    fn fail(&mut self, now: Instant, reason: DisconnectReason, info: &str) {
        if matches!(
            self.state,
            ServerState::AwaitingOpen | ServerState::Active | ServerState::Paused
        ) {
            self.disconnect(now, reason, Some(info.to_owned()), None);
        }
    }

    fn send(&mut self, body: ServerBody) {
        self.seq += 1;
        let message = ServerMessage {
            id: self.id.clone(),
            seq: self.seq,
            clientseq: self.client_seq,
            body,
        };
        self.actions
            .push_back(ServerAction::SendText(message.to_json()));
    }

    fn event(&mut self, event: SessionEvent) {
        self.actions.push_back(ServerAction::Event(event));
    }
}

fn kind_of(body: &ClientBody) -> &str {
    match body {
        ClientBody::Open(_) => "open",
        ClientBody::Close { .. } => "close",
        ClientBody::Ping { .. } => "ping",
        ClientBody::Paused => "paused",
        ClientBody::Resumed(_) => "resumed",
        ClientBody::Discarded(_) => "discarded",
        ClientBody::Update { .. } => "update",
        ClientBody::Error(_) => "error",
        ClientBody::Dtmf { .. } => "dtmf",
        ClientBody::PlaybackStarted => "playback_started",
        ClientBody::PlaybackCompleted => "playback_completed",
        ClientBody::Unknown { kind, .. } => kind,
    }
}

#[cfg(test)]
mod tests;

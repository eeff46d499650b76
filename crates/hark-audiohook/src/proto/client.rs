//! The client side of a session (what Genesys Cloud does), as a state machine fed bytes and time.
//!
//! The shell calls [`ClientSession::start`] once the WebSocket is up, feeds every frame the
//! server sends and the audio it wants to stream, calls [`ClientSession::handle_timeout`] when
//! [`ClientSession::poll_timeout`] says, and carries out the [`ClientAction`]s. The session sends
//! `open` and waits 5 s for `opened`, checks the selected media, pings on Genesys' schedule
//! (1 s after `opened`, again at the first `pong`, then every 5 s), obeys `pause`, `resume`,
//! `startPaused`, `discardTo` and `disconnect`, accounts for gaps on its timeline, and ends with
//! `close` → `closed` (10 s) → socket close.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hark_audio::{AudioError, AudioFrame};
use serde_json::{Map, Value};

use super::entities::Entity;
use super::media::MediaFormat;
use super::message::{
    ClientBody, ClientMessage, CloseReason, DisconnectParameters, ErrorParameters, Gap,
    MessageError, OpenParameters, OpenedParameters, Participant, ServerBody, ServerMessage,
};
use super::position::Position;

/// The largest binary message the client sends; longer audio is split.
pub const MAX_BINARY_LEN: usize = 64_000;

/// What the client announces in `open`, and its timers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Session id (also the `Audiohook-Session-Id` header).
    pub session_id: String,
    /// Organization id (also the `Audiohook-Organization-Id` header).
    pub organization_id: String,
    /// Conversation id (nil for a probe).
    pub conversation_id: String,
    /// The participant.
    pub participant: Participant,
    /// Formats offered, in preference order.
    pub media: Vec<MediaFormat>,
    /// Conversation language.
    pub language: Option<String>,
    /// Ask the server for its supported languages.
    pub supported_languages: Option<bool>,
    /// Free-form configuration for the server.
    pub custom_config: Option<Map<String, Value>>,
    /// How long to wait for `opened`.
    pub open_timeout: Duration,
    /// Delay of the first ping after `opened`.
    pub first_ping: Duration,
    /// Interval between later pings.
    pub ping_interval: Duration,
    /// How long to wait for `closed`.
    pub close_timeout: Duration,
}

impl ClientConfig {
    /// Genesys' timers with the given identity and offers.
    pub fn new(
        session_id: &str,
        organization_id: &str,
        conversation_id: &str,
        media: Vec<MediaFormat>,
    ) -> Self {
        ClientConfig {
            session_id: session_id.into(),
            organization_id: organization_id.into(),
            conversation_id: conversation_id.into(),
            participant: Participant {
                id: super::message::NIL_UUID.into(),
                ..Participant::default()
            },
            media,
            language: None,
            supported_languages: None,
            custom_config: None,
            open_timeout: Duration::from_secs(5),
            first_ping: Duration::from_secs(1),
            ping_interval: Duration::from_secs(5),
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Where a client session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Not started.
    Idle,
    /// `open` sent, waiting for `opened`.
    Opening,
    /// Streaming (possibly paused).
    Open,
    /// `close` sent, waiting for `closed`.
    Closing,
    /// Done; the socket is being closed.
    Closed,
}

/// News for the application.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientEvent {
    /// The server answered `open`.
    Opened {
        /// The selected format (`None`: no audio to send).
        media: Option<MediaFormat>,
        /// The whole answer.
        parameters: OpenedParameters,
    },
    /// The server paused the stream (`pause`, or `startPaused` in `opened`).
    PausedByServer,
    /// The server resumed the stream.
    ResumedByServer,
    /// The server asked to end the session; `close` has been sent.
    Disconnected(DisconnectParameters),
    /// Entities from an `event`.
    Entities(Vec<Entity>),
    /// The server asked to reconnect (logged; not acted upon, like Genesys).
    ReconnectRequested(Option<String>),
    /// The server answered `update`.
    Updated,
    /// A ping round trip completed.
    RoundTrip(Duration),
    /// We reported an error to the server (`error` message).
    ErrorSent(ErrorParameters),
    /// `closed` arrived, or the close timed out.
    Closed {
        /// The reason we closed with.
        reason: CloseReason,
        /// Whether the server answered with `closed` in time.
        acknowledged: bool,
    },
}

/// What the shell must do next.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientAction {
    /// Send this text frame.
    SendText(String),
    /// Send this binary frame (possibly a slice of audio encoded once for several sessions).
    SendBinary(Bytes),
    /// News for the application.
    Event(ClientEvent),
    /// Close the WebSocket now.
    CloseSocket,
}

/// Audio the client can stream: its rate and length, and its bytes in a negotiated format.
///
/// [`AudioFrame`] encodes on every call; a block shared by several sessions (a call's monitors)
/// can encode once per format and hand out the same bytes.
pub trait AudioBlock {
    /// Sample rate, Hz.
    fn rate(&self) -> u32;
    /// Frames (samples per channel).
    fn frames(&self) -> usize;
    /// The samples in `media`'s channel layout and encoding.
    fn encoded(&self, media: &MediaFormat) -> Result<Bytes, AudioError>;
}

impl AudioBlock for AudioFrame {
    fn rate(&self) -> u32 {
        AudioFrame::rate(self)
    }

    fn frames(&self) -> usize {
        AudioFrame::frames(self)
    }

    fn encoded(&self, media: &MediaFormat) -> Result<Bytes, AudioError> {
        if self.layout() == media.layout {
            return Ok(media.encoding.encode(self.samples()).into());
        }
        Ok(self.to_layout(media.layout)?.encode(media.encoding).into())
    }
}

/// What happened to audio handed to [`ClientSession::send_audio`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioOutcome {
    /// Sent to the server.
    Sent,
    /// Dropped because the stream is paused (counted in the gap).
    Paused,
    /// Dropped because the server asked to discard up to a later position.
    Discarded,
    /// Not sent: the session is not open, or no media was selected.
    NotStreaming,
}

/// The client side of one AudioHook session.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: ClientState,
    seq: u64,
    server_seq: u64,
    media: Option<MediaFormat>,
    /// Samples per channel sent or skipped since `opened`: the client's timeline.
    position_samples: u64,
    server_paused: bool,
    client_paused: bool,
    gap_start: Position,
    discard_to: Option<Position>,
    discard_start: Option<Position>,
    open_deadline: Option<Instant>,
    close_deadline: Option<Instant>,
    close_reason: Option<CloseReason>,
    next_ping: Option<Instant>,
    outstanding_ping: Option<(u64, Instant)>,
    pongs: u64,
    last_rtt: Option<Duration>,
    actions: VecDeque<ClientAction>,
}

impl ClientSession {
    /// A session that has not sent anything yet.
    pub fn new(config: ClientConfig) -> Self {
        ClientSession {
            config,
            state: ClientState::Idle,
            seq: 0,
            server_seq: 0,
            media: None,
            position_samples: 0,
            server_paused: false,
            client_paused: false,
            gap_start: Position::ZERO,
            discard_to: None,
            discard_start: None,
            open_deadline: None,
            close_deadline: None,
            close_reason: None,
            next_ping: None,
            outstanding_ping: None,
            pongs: 0,
            last_rtt: None,
            actions: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The selected media, once opened.
    pub fn media(&self) -> Option<MediaFormat> {
        self.media
    }

    /// The client's stream position (audio sent plus gaps).
    pub fn position(&self) -> Position {
        Position::from_samples(self.position_samples, self.rate())
    }

    /// Whether audio is currently withheld (by either side's pause).
    pub fn is_paused(&self) -> bool {
        self.server_paused || self.client_paused
    }

    /// The last measured ping round trip.
    pub fn rtt(&self) -> Option<Duration> {
        self.last_rtt
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.open_deadline, self.close_deadline, self.next_ping]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sends `open`; call once the WebSocket is connected.
    pub fn start(&mut self, now: Instant) {
        if self.state != ClientState::Idle {
            return;
        }
        let open = OpenParameters {
            organization_id: self.config.organization_id.clone(),
            conversation_id: self.config.conversation_id.clone(),
            participant: self.config.participant.clone(),
            media: self.config.media.iter().map(MediaFormat::to_json).collect(),
            language: self.config.language.clone(),
            supported_languages: self.config.supported_languages,
            continued_sessions: None,
            custom_config: self.config.custom_config.clone(),
            input_variables: None,
        };
        self.send(ClientBody::Open(Box::new(open)));
        self.state = ClientState::Opening;
        self.open_deadline = Some(now + self.config.open_timeout);
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.open_deadline.is_some_and(|at| now >= at) {
            self.open_deadline = None;
            self.fail(now, 408, "Open transaction timeout");
        }
        if self.close_deadline.is_some_and(|at| now >= at) {
            self.close_deadline = None;
            self.report(408, "Close transaction timeout");
            self.finish(false);
        }
        if self.next_ping.is_some_and(|at| now >= at) {
            if self.outstanding_ping.is_some() {
                self.next_ping = None;
                self.fail(now, 408, "Timeout waiting for pong");
            } else {
                self.ping(now);
                self.next_ping = Some(now + self.config.ping_interval);
            }
        }
    }

    /// Handles a text frame from the server.
    pub fn handle_text(&mut self, now: Instant, text: &str) {
        if matches!(self.state, ClientState::Idle | ClientState::Closed) {
            return;
        }
        let message = match ServerMessage::parse(text) {
            Ok(m) => m,
            Err(MessageError::TooLarge(_)) => return self.fail(now, 413, "Message too large"),
            Err(e) => return self.fail(now, 400, &format!("Malformed message: {e}")),
        };
        if message.id != self.config.session_id
            || message.seq != self.server_seq + 1
            || message.clientseq > self.seq
        {
            return self.fail(now, 500, "Internal client error");
        }
        self.server_seq = message.seq;
        self.dispatch(now, message);
    }

    /// A binary frame from the server: a Monitor client does not take audio.
    pub fn handle_binary(&mut self, _now: Instant, _payload: &[u8]) {
        if self.state == ClientState::Open {
            self.report(415, "Unexpected binary message");
        }
    }

    /// Streams a block of 8 kHz audio (any layout holding the negotiated channels); while
    /// paused or discarding it advances the timeline without sending, and nothing is encoded.
    pub fn send_audio<B>(&mut self, frame: &B) -> Result<AudioOutcome, AudioError>
    where
        B: AudioBlock + ?Sized,
    {
        let Some(media) = self.media.filter(|_| self.state == ClientState::Open) else {
            return Ok(AudioOutcome::NotStreaming);
        };
        if frame.rate() != media.rate {
            return Err(AudioError::UnsupportedRate(frame.rate()));
        }
        let frames = frame.frames() as u64;
        if let Some(to) = self.discard_to {
            // Skip whole frames that end at or before the discard position.
            let end = Position::from_samples(self.position_samples + frames, media.rate);
            if end <= to {
                let start = self.position();
                self.discard_start.get_or_insert(start);
                self.position_samples += frames;
                return Ok(AudioOutcome::Discarded);
            }
            // This frame is sent: the discard ends where it starts.
            self.end_discard();
        }
        self.position_samples += frames;
        if self.is_paused() {
            return Ok(AudioOutcome::Paused);
        }
        let bytes = frame.encoded(&media)?;
        let max = MAX_BINARY_LEN - MAX_BINARY_LEN % media.bytes_per_frame();
        let mut offset = 0;
        while offset < bytes.len() {
            let end = (offset + max).min(bytes.len());
            self.actions
                .push_back(ClientAction::SendBinary(bytes.slice(offset..end)));
            offset = end;
        }
        Ok(AudioOutcome::Sent)
    }

    /// Moves the timeline forward to `to` without sending audio, for audio the application
    /// never had or dropped (a late start, a backlog, a gap in its own source). Outside a pause
    /// the skipped span is reported with `discarded`; inside one it becomes part of the gap
    /// that `resumed` reports. Returns the length skipped (zero if `to` is not ahead).
    pub fn skip_to(&mut self, to: Position) -> Position {
        if self.state != ClientState::Open {
            return Position::ZERO;
        }
        let start = self.position();
        let target = to.to_samples(self.rate());
        if target <= self.position_samples {
            return Position::ZERO;
        }
        self.position_samples = target;
        let skipped = self.position().saturating_sub(start);
        if let Some(until) = self.discard_to {
            // Inside a discard the server asked for: the span joins it, reported once over.
            self.discard_start.get_or_insert(start);
            if self.position() >= until {
                self.end_discard();
            }
        } else if !self.is_paused() {
            self.send(ClientBody::Discarded(Gap {
                start,
                discarded: skipped,
            }));
        }
        skipped
    }

    /// The position up to which the server asked to discard audio (`opened.discardTo`), while
    /// the stream has not reached it yet.
    pub fn discarding_to(&self) -> Option<Position> {
        self.discard_to
    }

    /// A pause on the client's side (hold, secure pause): stops audio and sends `paused`.
    pub fn pause(&mut self) {
        if self.state != ClientState::Open || self.client_paused {
            return;
        }
        if !self.is_paused() {
            self.gap_start = self.position();
        }
        self.client_paused = true;
        self.send(ClientBody::Paused);
    }

    /// Ends the client's pause: sends `resumed` unless the server's pause still holds.
    pub fn resume(&mut self) {
        if self.state != ClientState::Open || !self.client_paused {
            return;
        }
        self.client_paused = false;
        if !self.server_paused {
            self.send_resumed();
        }
    }

    /// Sends `update` with a new language.
    pub fn update_language(&mut self, language: &str) {
        if self.state == ClientState::Open {
            self.send(ClientBody::Update {
                language: Some(language.to_owned()),
            });
        }
    }

    /// Ends the session: sends `close` and waits for `closed`.
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if !matches!(self.state, ClientState::Opening | ClientState::Open) {
            return;
        }
        self.send(ClientBody::Close { reason });
        self.state = ClientState::Closing;
        self.close_reason = Some(reason);
        self.open_deadline = None;
        self.next_ping = None;
        self.close_deadline = Some(now + self.config.close_timeout);
    }

    fn dispatch(&mut self, now: Instant, message: ServerMessage) {
        use ClientState::*;
        match (message.body, self.state) {
            (ServerBody::Closed, Closing) => self.finish(true),
            (ServerBody::Event { entities }, Open | Closing) => {
                self.event(ClientEvent::Entities(entities))
            }
            (_, Closing) => {}
            (ServerBody::Opened(parameters), Opening) => self.opened(now, parameters),
            (ServerBody::Pong, Open) => self.pong(now, message.clientseq),
            (ServerBody::Pause, Open) => {
                if !self.is_paused() {
                    self.gap_start = self.position();
                }
                self.server_paused = true;
                self.send(ClientBody::Paused);
                self.event(ClientEvent::PausedByServer);
            }
            (ServerBody::Resume, Open) => {
                if self.client_paused {
                    // The server's pause is over, ours is not: say we are still paused.
                    self.server_paused = false;
                    self.send(ClientBody::Paused);
                } else {
                    if !self.server_paused {
                        self.gap_start = self.position();
                    }
                    self.server_paused = false;
                    self.send_resumed();
                    self.event(ClientEvent::ResumedByServer);
                }
            }
            (ServerBody::Disconnect(p), Opening | Open) => {
                self.event(ClientEvent::Disconnected(p));
                self.close(now, CloseReason::Disconnect);
            }
            (ServerBody::Reconnect { info }, _) => {
                self.event(ClientEvent::ReconnectRequested(info))
            }
            (ServerBody::Updated, _) => self.event(ClientEvent::Updated),
            (ServerBody::Unknown { .. }, _) => self.fail(now, 500, "Internal client error"),
            (body, _) => self.fail(
                now,
                409,
                &format!(
                    "Message {} not valid in state {:?}",
                    server_kind(&body),
                    self.state
                ),
            ),
        }
    }

    fn opened(&mut self, now: Instant, parameters: OpenedParameters) {
        self.open_deadline = None;
        let media = match parameters.media.as_slice() {
            [] => None,
            [entry] => {
                let offered = self
                    .config
                    .media
                    .iter()
                    .find(|m| m.to_json() == *entry)
                    .copied();
                match offered {
                    Some(m) => Some(m),
                    None => return self.fail(now, 400, "Selected media not one of the offered"),
                }
            }
            _ => return self.fail(now, 400, "More than one media selected"),
        };
        if self.config.supported_languages == Some(true) && parameters.supported_languages.is_none()
        {
            return self.fail(now, 400, "supportedLanguages missing from opened");
        }
        self.media = media;
        self.state = ClientState::Open;
        self.next_ping = Some(now + self.config.first_ping);
        self.discard_to = parameters.discard_to.filter(|p| *p > Position::ZERO);
        let start_paused = parameters.start_paused == Some(true);
        self.event(ClientEvent::Opened { media, parameters });
        if start_paused {
            // A pause the server asked for, like `pause`: the application accounts for it.
            self.server_paused = true;
            self.gap_start = self.position();
            self.event(ClientEvent::PausedByServer);
            self.send(ClientBody::Paused);
        }
    }

    /// The server's discard is over at the current position: reports the span skipped since
    /// it began, with the message's `position` at the end of that span.
    fn end_discard(&mut self) {
        self.discard_to = None;
        if let Some(from) = self.discard_start.take() {
            let to = self.position();
            self.send(ClientBody::Discarded(Gap {
                start: from,
                discarded: to.saturating_sub(from),
            }));
        }
    }

    fn pong(&mut self, now: Instant, clientseq: u64) {
        let Some((ping_seq, sent_at)) = self.outstanding_ping.take() else {
            return self.report(409, "Unexpected pong");
        };
        if clientseq != ping_seq {
            self.report(400, "Pong clientseq does not match ping seq");
        }
        let rtt = now.saturating_duration_since(sent_at);
        self.last_rtt = Some(rtt);
        self.pongs += 1;
        self.event(ClientEvent::RoundTrip(rtt));
        if self.pongs == 1 {
            // A second ping right away delivers an initial rtt, as Genesys' client does.
            self.ping(now);
            self.next_ping = Some(now + self.config.ping_interval);
        }
    }

    fn ping(&mut self, now: Instant) {
        let rtt = self.last_rtt.map(Position::from);
        self.send(ClientBody::Ping { rtt });
        self.outstanding_ping = Some((self.seq, now));
    }

    fn send_resumed(&mut self) {
        let position = self.position();
        self.send(ClientBody::Resumed(Gap {
            start: self.gap_start,
            discarded: position.saturating_sub(self.gap_start),
        }));
    }

    /// Reports an error without ending the session (informational codes).
    fn report(&mut self, code: u16, message: &str) {
        let error = ErrorParameters {
            code,
            message: message.to_owned(),
            retry_after: None,
        };
        self.send(ClientBody::Error(error.clone()));
        self.event(ClientEvent::ErrorSent(error));
    }

    /// Reports an error and closes with reason `error`.
    fn fail(&mut self, now: Instant, code: u16, message: &str) {
        if matches!(self.state, ClientState::Opening | ClientState::Open) {
            self.report(code, message);
            self.close(now, CloseReason::Error);
        }
    }

    fn finish(&mut self, acknowledged: bool) {
        self.state = ClientState::Closed;
        self.close_deadline = None;
        let reason = self.close_reason.unwrap_or(CloseReason::End);
        self.event(ClientEvent::Closed {
            reason,
            acknowledged,
        });
        self.actions.push_back(ClientAction::CloseSocket);
    }

    fn send(&mut self, body: ClientBody) {
        self.seq += 1;
        let message = ClientMessage {
            id: self.config.session_id.clone(),
            seq: self.seq,
            serverseq: self.server_seq,
            position: self.position(),
            body,
        };
        self.actions
            .push_back(ClientAction::SendText(message.to_json()));
    }

    fn event(&mut self, event: ClientEvent) {
        self.actions.push_back(ClientAction::Event(event));
    }

    fn rate(&self) -> u32 {
        self.media.map_or(super::media::AUDIOHOOK_RATE, |m| m.rate)
    }
}

fn server_kind(body: &ServerBody) -> &str {
    match body {
        ServerBody::Opened(_) => "opened",
        ServerBody::Closed => "closed",
        ServerBody::Pong => "pong",
        ServerBody::Pause => "pause",
        ServerBody::Resume => "resume",
        ServerBody::Event { .. } => "event",
        ServerBody::Disconnect(_) => "disconnect",
        ServerBody::Reconnect { .. } => "reconnect",
        ServerBody::Updated => "updated",
        ServerBody::Unknown { kind, .. } => kind,
    }
}

#[cfg(test)]
mod tests;

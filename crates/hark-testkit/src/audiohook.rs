//! AudioHook calls into the test hark: ready client options and one-call helpers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hark_audio::{ChannelLayout, Encoding};
use hark_audiohook::net::load::telephone_stereo;
use hark_audiohook::net::{
    AudioLoop, AudioSource, ClientOptions, ClientReport, LoopedAudio, StreamScript, ToneSource,
    run_client,
};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::media::MediaFormat;

use crate::{Hark, TestkitError};

/// Test calls replay audio this many times faster than real time.
const TEST_SPEED: f64 = 20.0;

impl Hark {
    /// Client options for one call to this hark, signed with its generated AudioHook key and
    /// secret, offering stereo PCMU (customer left) as Genesys does; `conversation_id` (a UUID, as
    /// Genesys sends; anything else is refused by the server) names the call: it is the contact
    /// id recordings and Voice ID sessions are filed under. Change any
    /// field (custom config, language, timers) before [`Hark::stream`].
    pub fn audiohook_client(&self, conversation_id: &str) -> ClientOptions {
        let stereo = MediaFormat {
            encoding: Encoding::Pcmu,
            layout: ChannelLayout::CUSTOMER_LEFT,
            rate: 8000,
        };
        let session_id = uuid::Uuid::new_v4().to_string();
        let organization_id = uuid::Uuid::new_v4().to_string();
        let session =
            ClientConfig::new(&session_id, &organization_id, conversation_id, vec![stereo]);
        let secret = self
            .credentials()
            .audiohook
            .client_secret
            .expose()
            .to_owned();
        ClientOptions::new(
            self.audiohook_url(),
            self.credentials().audiohook.api_key.expose(),
            Some(secret),
            session,
        )
    }

    /// Streams `source` as one call with `options`, paced by `script`; returns what happened.
    pub async fn stream(
        &self,
        options: &ClientOptions,
        source: &mut dyn AudioSource,
        script: &StreamScript,
    ) -> Result<ClientReport, TestkitError> {
        Ok(run_client(options, source, script).await?)
    }

    /// One call of `duration` two-tone audio (customer 440 Hz, agent 1000 Hz), streamed 20×
    /// faster than real time in 200 ms frames.
    pub async fn stream_tone(
        &self,
        conversation_id: &str,
        duration: Duration,
    ) -> Result<ClientReport, TestkitError> {
        let options = self.audiohook_client(conversation_id);
        let mut tone = ToneSource::new(duration);
        self.stream(&options, &mut tone, &fast_script()).await
    }

    /// Client options for a call Voice ID listens to: `customConfig.voiceId` names the domain and,
    /// when given, the speaker the caller claims to be (customer or generated id), as a Genesys
    /// flow would set it. The session is named after `conversation_id`.
    pub fn voiceid_call(
        &self,
        conversation_id: &str,
        domain_id: &str,
        speaker_id: Option<&str>,
    ) -> ClientOptions {
        let mut voice_id = serde_json::Map::new();
        voice_id.insert("domainId".into(), domain_id.into());
        if let Some(speaker) = speaker_id {
            voice_id.insert("speakerId".into(), speaker.into());
        }
        let mut custom = serde_json::Map::new();
        custom.insert("voiceId".into(), voice_id.into());
        let mut options = self.audiohook_client(conversation_id);
        options.session.custom_config = Some(custom);
        options
    }

    /// Streams an audio file as one call with `options`, 20× faster than real time.
    pub async fn stream_file(
        &self,
        options: &ClientOptions,
        file: &Path,
    ) -> Result<ClientReport, TestkitError> {
        let audio = Arc::new(AudioLoop::new(telephone_stereo(file)?));
        let frames = audio.frames() as u64;
        let mut source = LoopedAudio::new(audio, frames);
        self.stream(options, &mut source, &fast_script()).await
    }

    /// One call playing an audio file (WAV, FLAC, Ogg Vorbis or MP3 at any rate; its left or
    /// only channel is the customer, its right the agent), streamed 20× faster than real time.
    pub async fn stream_wav(
        &self,
        conversation_id: &str,
        wav: &Path,
    ) -> Result<ClientReport, TestkitError> {
        let options = self.audiohook_client(conversation_id);
        self.stream_file(&options, wav).await
    }
}

/// 200 ms frames, no pauses, [`TEST_SPEED`]× real time.
fn fast_script() -> StreamScript {
    let mut script = StreamScript::default();
    script.speed = TEST_SPEED;
    script
}

//! What a monitor session says about the call in `open`, and the formats it offers.

use std::time::Duration;

use hark_audio::{Channel, ChannelLayout, Encoding};
use hark_audiohook::proto::client::ClientConfig;
use hark_audiohook::proto::media::{AUDIOHOOK_RATE, MediaFormat};
use hark_audiohook::proto::message::Participant;

/// The call being monitored, as the ingest session's `open` described it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallIdentity {
    /// The ingest AudioHook session id (hark's call id).
    pub call_id: String,
    /// The organization (instance) id.
    pub organization_id: String,
    /// The conversation (contact) id.
    pub conversation_id: String,
    /// The participant.
    pub participant: Participant,
    /// The conversation language, if known.
    pub language: Option<String>,
    /// The ingest's negotiated format: what the monitors' audio is taken from.
    pub media: MediaFormat,
}

impl CallIdentity {
    /// The `open` of one monitor session: the call's identity and the formats it can be sent
    /// in. `session_id` is new for every connection.
    pub fn client_config(&self, session_id: &str, open_timeout: Duration) -> ClientConfig {
        let mut config = ClientConfig::new(
            session_id,
            &self.organization_id,
            &self.conversation_id,
            offers_for(self.media),
        );
        config.participant = self.participant.clone();
        config.language = self.language.clone();
        config.open_timeout = open_timeout;
        config
    }
}

/// The formats a monitor may choose, best first: the ingest's own format (so audio passes
/// through unchanged), then Genesys' usual PCMU offers (stereo customer-first, either channel
/// alone), limited to the channels the ingest carries.
pub fn offers_for(ingest: MediaFormat) -> Vec<MediaFormat> {
    let pcmu = |layout| MediaFormat {
        encoding: Encoding::Pcmu,
        layout,
        rate: AUDIOHOOK_RATE,
    };
    let usual = [
        pcmu(ChannelLayout::CUSTOMER_LEFT),
        pcmu(ChannelLayout::mono(Channel::External)),
        pcmu(ChannelLayout::mono(Channel::Internal)),
    ];
    let mut offers = vec![ingest];
    for offer in usual {
        let carried = offer
            .layout
            .channels()
            .iter()
            .all(|c| ingest.layout.index_of(*c).is_some());
        if carried && !offers.contains(&offer) {
            offers.push(offer);
        }
    }
    offers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(encoding: Encoding, channels: &[Channel]) -> MediaFormat {
        MediaFormat {
            encoding,
            layout: ChannelLayout::new(channels).unwrap(),
            rate: 8000,
        }
    }

    #[test]
    fn the_ingest_format_comes_first_then_the_usual_offers_it_can_feed() {
        use Channel::{External, Internal};
        let inverted = format(Encoding::Pcmu, &[Internal, External]);
        let offers = offers_for(inverted);
        assert_eq!(offers.len(), 4);
        assert_eq!(offers[0], inverted);
        assert_eq!(offers[1], format(Encoding::Pcmu, &[External, Internal]));
        let l16 = format(Encoding::L16, &[External, Internal]);
        assert_eq!(offers_for(l16).len(), 4);
        let mono = format(Encoding::Pcmu, &[External]);
        assert_eq!(offers_for(mono), vec![mono]);
    }

    #[test]
    fn open_carries_the_calls_identity() {
        let call = CallIdentity {
            call_id: "c".into(),
            organization_id: "org".into(),
            conversation_id: "conv".into(),
            participant: Participant {
                id: "p".into(),
                ani: "+1".into(),
                ani_name: "A".into(),
                dnis: "+2".into(),
            },
            language: Some("de-DE".into()),
            media: format(Encoding::Pcmu, &[Channel::External, Channel::Internal]),
        };
        let c = call.client_config("s", Duration::from_secs(5));
        assert_eq!(
            (c.session_id.as_str(), c.conversation_id.as_str()),
            ("s", "conv")
        );
        assert_eq!(c.participant.ani, "+1");
        assert_eq!(c.language.as_deref(), Some("de-DE"));
    }
}

//! Media negotiation: the client offers formats in preference order, the server picks one and
//! answers with that entry copied verbatim (or none).

use hark_audio::{ChannelLayout, Encoding};
use serde_json::{Value, json};

/// The only sample rate AudioHook uses.
pub const AUDIOHOOK_RATE: u32 = 8000;

/// A concrete audio format: encoding, channel layout (in negotiated order) and rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    /// `PCMU` or `L16`.
    pub encoding: Encoding,
    /// The channels, in the order their samples are interleaved.
    pub layout: ChannelLayout,
    /// Sample rate in Hz (8000).
    pub rate: u32,
}

impl MediaFormat {
    /// The wire form of this format, as an `open.media` entry.
    pub fn to_json(&self) -> Value {
        let channels: Vec<&str> = self.layout.channels().iter().map(|c| c.name()).collect();
        json!({"type": "audio", "format": self.encoding.name(), "channels": channels, "rate": self.rate})
    }

    /// Reads one media entry; `Err` says why it is not a usable audio format.
    pub fn from_json(entry: &Value) -> Result<Self, MediaError> {
        let obj = entry.as_object().ok_or(MediaError::NotAnObject)?;
        if obj.get("type").and_then(Value::as_str) != Some("audio") {
            return Err(MediaError::NotAudio);
        }
        let encoding = match obj.get("format").and_then(Value::as_str) {
            Some("PCMU") => Encoding::Pcmu,
            Some("L16") => Encoding::L16,
            other => return Err(MediaError::Format(other.map(str::to_owned))),
        };
        let names: Vec<&str> = obj
            .get("channels")
            .and_then(Value::as_array)
            .ok_or(MediaError::NoChannels)?
            .iter()
            .map(|c| c.as_str().ok_or(MediaError::ChannelName))
            .collect::<Result<_, _>>()?;
        let layout = ChannelLayout::from_names(&names).map_err(MediaError::Channels)?;
        let rate = obj
            .get("rate")
            .and_then(Value::as_u64)
            .ok_or(MediaError::NoRate)?;
        if rate != u64::from(AUDIOHOOK_RATE) {
            return Err(MediaError::Rate(rate));
        }
        Ok(MediaFormat {
            encoding,
            layout,
            rate: AUDIOHOOK_RATE,
        })
    }

    /// Bytes one frame (all channels of one sample instant) takes.
    pub fn bytes_per_frame(&self) -> usize {
        self.encoding.bytes_per_sample() * self.layout.len()
    }
}

/// Why a media entry is not a usable audio format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Not a JSON object.
    #[error("media entry is not an object")]
    NotAnObject,
    /// `type` is not `audio`.
    #[error("media type is not \"audio\"")]
    NotAudio,
    /// A format other than PCMU or L16.
    #[error("media format {0:?} is not PCMU or L16")]
    Format(Option<String>),
    /// No `channels` array.
    #[error("media channels missing")]
    NoChannels,
    /// A channel that is not a string.
    #[error("media channel is not a string")]
    ChannelName,
    /// Channels that make no layout.
    #[error(transparent)]
    Channels(hark_audio::AudioError),
    /// No `rate`.
    #[error("media rate missing")]
    NoRate,
    /// A rate other than 8000.
    #[error("media rate {0} is not 8000")]
    Rate(u64),
}

/// Which offered formats a server accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPolicy {
    /// Encodings accepted, any order.
    pub encodings: Vec<Encoding>,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        MediaPolicy {
            encodings: vec![Encoding::Pcmu, Encoding::L16],
        }
    }
}

impl MediaPolicy {
    /// The first offered entry this policy accepts, with its verbatim wire form.
    pub fn select(&self, offers: &[Value]) -> Option<(Value, MediaFormat)> {
        offers.iter().find_map(|entry| {
            let format = MediaFormat::from_json(entry).ok()?;
            self.encodings
                .contains(&format.encoding)
                .then(|| (entry.clone(), format))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_audio::Channel;

    fn offers() -> Vec<Value> {
        vec![
            json!({"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": 8000}),
            json!({"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}),
        ]
    }

    #[test]
    fn first_acceptable_offer_is_copied_verbatim_in_its_channel_order() {
        let (entry, format) = MediaPolicy::default().select(&offers()).unwrap();
        assert_eq!(entry, offers()[0]);
        assert_eq!(
            format.layout.channels(),
            &[Channel::Internal, Channel::External]
        );
        assert_eq!(format.bytes_per_frame(), 2);
        assert_eq!(format.to_json(), offers()[0]);
    }

    #[test]
    fn unusable_entries_are_skipped() {
        let offers = vec![
            json!({"type": "video", "format": "PCMU", "channels": ["external"], "rate": 8000}),
            json!({"type": "audio", "format": "opus", "channels": ["external"], "rate": 8000}),
            json!({"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 16000}),
            json!({"type": "audio", "format": "PCMU", "channels": ["external", "external"], "rate": 8000}),
            json!({"type": "audio", "format": "L16", "channels": ["external"], "rate": 8000}),
        ];
        let (_, format) = MediaPolicy::default().select(&offers).unwrap();
        assert_eq!(format.encoding, Encoding::L16);
        let pcmu_only = MediaPolicy {
            encodings: vec![Encoding::Pcmu],
        };
        assert!(pcmu_only.select(&offers).is_none());
        assert!(MediaPolicy::default().select(&[]).is_none());
    }
}

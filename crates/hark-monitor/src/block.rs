//! A block of a call's audio as its monitors share it: decoded once by the ingest, encoded at
//! most once per wire format however many monitors asked for that format.
//!
//! Every monitor of a call used to re-encode every block (and copy it twice on the way); with
//! five monitors in one format that was five μ-law encodings and ten copies of the same bytes.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hark_audio::{AudioError, AudioFrame};
use hark_audiohook::proto::client::AudioBlock;
use hark_audiohook::proto::media::MediaFormat;

/// A decoded block and the encodings made of it so far.
#[derive(Debug)]
pub struct SharedBlock {
    frame: Arc<AudioFrame>,
    /// One entry per format asked for; a call has a handful of formats at most.
    encoded: Mutex<Vec<(MediaFormat, Bytes)>>,
}

impl SharedBlock {
    /// Shares `frame` with no encoding made yet.
    pub fn new(frame: Arc<AudioFrame>) -> Self {
        SharedBlock {
            frame,
            encoded: Mutex::new(Vec::new()),
        }
    }

    /// How many distinct formats this block has been encoded to.
    pub fn encodings(&self) -> usize {
        self.cache().len()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Vec<(MediaFormat, Bytes)>> {
        // The cache only ever holds finished encodings, so a panic elsewhere cannot leave it torn.
        self.encoded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl From<AudioFrame> for SharedBlock {
    fn from(frame: AudioFrame) -> Self {
        SharedBlock::new(Arc::new(frame))
    }
}

impl Deref for SharedBlock {
    type Target = AudioFrame;

    fn deref(&self) -> &AudioFrame {
        &self.frame
    }
}

impl PartialEq for SharedBlock {
    fn eq(&self, other: &Self) -> bool {
        self.frame == other.frame
    }
}

impl AudioBlock for SharedBlock {
    fn rate(&self) -> u32 {
        self.frame.rate()
    }

    fn frames(&self) -> usize {
        self.frame.frames()
    }

    fn encoded(&self, media: &MediaFormat) -> Result<Bytes, AudioError> {
        if let Some((_, bytes)) = self.cache().iter().find(|(format, _)| format == media) {
            return Ok(bytes.clone());
        }
        // Encode outside the lock; two monitors racing on a new format both encode, and the
        // bytes are identical, so the first stored wins.
        let bytes = self.frame.encoded(media)?;
        let mut cache = self.cache();
        match cache.iter().find(|(format, _)| format == media) {
            Some((_, stored)) => Ok(stored.clone()),
            None => {
                cache.push((*media, bytes.clone()));
                Ok(bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_audio::{Channel, ChannelLayout, Encoding};

    fn stereo() -> AudioFrame {
        let samples = (0..3200).map(|i| (i * 7 % 2000) as i16 - 1000).collect();
        AudioFrame::new(ChannelLayout::CUSTOMER_LEFT, 8000, samples).unwrap()
    }

    fn format(encoding: Encoding, layout: ChannelLayout) -> MediaFormat {
        MediaFormat {
            encoding,
            layout,
            rate: 8000,
        }
    }

    #[test]
    fn each_format_is_encoded_once_and_shared() {
        let block = SharedBlock::from(stereo());
        let pcmu = format(Encoding::Pcmu, ChannelLayout::CUSTOMER_LEFT);
        let first = block.encoded(&pcmu).unwrap();
        let second = block.encoded(&pcmu).unwrap();
        // The same bytes, not an equal copy.
        assert_eq!(first.as_ptr(), second.as_ptr());
        assert_eq!(block.encodings(), 1);
        let l16 = format(Encoding::L16, ChannelLayout::CUSTOMER_LEFT);
        block.encoded(&l16).unwrap();
        assert_eq!(block.encodings(), 2);
    }

    #[test]
    fn shared_encodings_equal_encoding_the_frame_itself() {
        let frame = stereo();
        let block = SharedBlock::from(frame.clone());
        let agent_left = ChannelLayout::new(&[Channel::Internal, Channel::External]).unwrap();
        for layout in [
            ChannelLayout::CUSTOMER_LEFT,
            agent_left,
            ChannelLayout::mono(Channel::External),
        ] {
            for encoding in [Encoding::Pcmu, Encoding::L16] {
                let media = format(encoding, layout);
                let expected = frame.to_layout(layout).unwrap().encode(encoding);
                assert_eq!(block.encoded(&media).unwrap(), expected);
                assert_eq!(block.encoded(&media).unwrap(), expected, "from the cache");
            }
        }
    }

    #[test]
    fn a_format_the_block_cannot_give_is_an_error_and_not_cached() {
        let mono =
            AudioFrame::new(ChannelLayout::mono(Channel::External), 8000, vec![0; 1600]).unwrap();
        let block = SharedBlock::from(mono);
        let stereo = format(Encoding::Pcmu, ChannelLayout::CUSTOMER_LEFT);
        assert!(block.encoded(&stereo).is_err());
        assert_eq!(block.encodings(), 0);
    }
}

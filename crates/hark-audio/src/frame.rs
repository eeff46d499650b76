//! Interleaved multichannel audio frames with a named channel layout.
//!
//! AudioHook names its channels `external` (the customer) and `internal` (the agent) and lets
//! the peers negotiate their order, so a frame always carries its [`ChannelLayout`]; code that
//! needs a fixed order (a stereo recording with the customer on the left) asks for it with
//! [`AudioFrame::to_layout`] instead of assuming one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{AudioError, Encoding};

/// One side of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// The customer: inbound audio, left channel of a stereo recording.
    External,
    /// The agent: outbound audio, right channel of a stereo recording.
    Internal,
}

impl Channel {
    /// The AudioHook name (`external`, `internal`).
    pub const fn name(self) -> &'static str {
        match self {
            Channel::External => "external",
            Channel::Internal => "internal",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Channel {
    type Err = AudioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "external" => Ok(Channel::External),
            "internal" => Ok(Channel::Internal),
            other => Err(AudioError::UnknownName {
                kind: "channel",
                name: other.to_owned(),
            }),
        }
    }
}

/// The ordered channels of an interleaved stream: one or two distinct [`Channel`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelLayout {
    channels: [Channel; 2],
    count: u8,
}

impl ChannelLayout {
    /// The layout of a recording: customer left, agent right.
    pub const CUSTOMER_LEFT: ChannelLayout = ChannelLayout {
        channels: [Channel::External, Channel::Internal],
        count: 2,
    };

    /// A layout with the given channels in the given order.
    pub fn new(channels: &[Channel]) -> Result<Self, AudioError> {
        match channels {
            [only] => Ok(Self::mono(*only)),
            [a, b] if a != b => Ok(ChannelLayout {
                channels: [*a, *b],
                count: 2,
            }),
            [_, _] => Err(AudioError::InvalidLayout(format!(
                "channel {} repeated",
                channels[0]
            ))),
            _ => Err(AudioError::InvalidLayout(format!(
                "{} channels; a layout has one or two",
                channels.len()
            ))),
        }
    }

    /// A one-channel layout.
    pub const fn mono(channel: Channel) -> Self {
        ChannelLayout {
            channels: [channel, channel],
            count: 1,
        }
    }

    /// Parses AudioHook channel names in order, e.g. `["internal", "external"]`.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, AudioError> {
        let channels = names
            .iter()
            .map(|n| n.as_ref().parse())
            .collect::<Result<Vec<Channel>, _>>()?;
        Self::new(&channels)
    }

    /// The channels in interleaving order.
    pub fn channels(&self) -> &[Channel] {
        &self.channels[..self.count as usize]
    }

    /// Number of channels (1 or 2).
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Always false: a layout has at least one channel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Position of `channel` within an interleaved frame, if present.
    pub fn index_of(&self, channel: Channel) -> Option<usize> {
        self.channels().iter().position(|c| *c == channel)
    }
}

/// Converts a frame count at `rate` Hz to a duration, exact to the nanosecond (rounded down).
pub fn frames_to_duration(frames: u64, rate: u32) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(frames) * 1_000_000_000 / u128::from(rate);
    Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    )
}

/// Converts a duration to a whole number of frames at `rate` Hz (rounded down).
pub fn duration_to_frames(duration: Duration, rate: u32) -> u64 {
    (duration.as_nanos() * u128::from(rate) / 1_000_000_000) as u64
}

/// A block of interleaved 16-bit audio with its layout and sample rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioFrame {
    layout: ChannelLayout,
    rate: u32,
    samples: Vec<i16>,
}

impl AudioFrame {
    /// Wraps interleaved samples; their count must be a multiple of the layout's channels.
    pub fn new(layout: ChannelLayout, rate: u32, samples: Vec<i16>) -> Result<Self, AudioError> {
        if rate == 0 {
            return Err(AudioError::UnsupportedRate(rate));
        }
        if !samples.len().is_multiple_of(layout.len()) {
            return Err(AudioError::PartialFrame {
                samples: samples.len(),
                channels: layout.len(),
            });
        }
        Ok(AudioFrame {
            layout,
            rate,
            samples,
        })
    }

    /// `frames` frames of digital silence.
    pub fn silence(layout: ChannelLayout, rate: u32, frames: usize) -> Result<Self, AudioError> {
        Self::new(layout, rate, vec![0; frames * layout.len()])
    }

    /// Decodes a payload in `encoding` (e.g. one AudioHook binary message).
    pub fn decode(
        encoding: Encoding,
        layout: ChannelLayout,
        rate: u32,
        bytes: &[u8],
    ) -> Result<Self, AudioError> {
        Self::new(layout, rate, encoding.decode(bytes)?)
    }

    /// Encodes the frame's interleaved samples in `encoding`.
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        encoding.encode(&self.samples)
    }

    /// Interleaves equally long per-channel sample blocks, given in the layout's order.
    pub fn merge(
        layout: ChannelLayout,
        rate: u32,
        channels: &[&[i16]],
    ) -> Result<Self, AudioError> {
        if channels.len() != layout.len() {
            return Err(AudioError::InvalidLayout(format!(
                "{} channel blocks for a {}-channel layout",
                channels.len(),
                layout.len()
            )));
        }
        let frames = channels[0].len();
        if channels.iter().any(|c| c.len() != frames) {
            return Err(AudioError::UnequalChannels(
                channels.iter().map(|c| c.len()).collect(),
            ));
        }
        let mut samples = Vec::with_capacity(frames * channels.len());
        for i in 0..frames {
            samples.extend(channels.iter().map(|c| c[i]));
        }
        Self::new(layout, rate, samples)
    }

    /// The samples of one channel, de-interleaved.
    pub fn channel(&self, channel: Channel) -> Result<Vec<i16>, AudioError> {
        let index = self
            .layout
            .index_of(channel)
            .ok_or(AudioError::MissingChannel(channel.name()))?;
        let step = self.layout.len();
        Ok(self
            .samples
            .iter()
            .skip(index)
            .step_by(step)
            .copied()
            .collect())
    }

    /// Every channel de-interleaved, in layout order.
    pub fn split(&self) -> Vec<(Channel, Vec<i16>)> {
        let step = self.layout.len();
        self.layout
            .channels()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    *c,
                    self.samples.iter().skip(i).step_by(step).copied().collect(),
                )
            })
            .collect()
    }

    /// The same audio in another layout: channels reordered, or one channel picked out.
    ///
    /// Every channel of `target` must be present in this frame.
    pub fn to_layout(&self, target: ChannelLayout) -> Result<Self, AudioError> {
        if target == self.layout {
            return Ok(self.clone());
        }
        let sources = target
            .channels()
            .iter()
            .map(|c| {
                self.layout
                    .index_of(*c)
                    .ok_or(AudioError::MissingChannel(c.name()))
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let step = self.layout.len();
        let mut samples = Vec::with_capacity(self.frames() * target.len());
        for frame in self.samples.chunks_exact(step) {
            samples.extend(sources.iter().map(|&i| frame[i]));
        }
        Self::new(target, self.rate, samples)
    }

    /// The channel layout.
    pub fn layout(&self) -> ChannelLayout {
        self.layout
    }

    /// Sample rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The interleaved samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Takes the interleaved samples out of the frame.
    pub fn into_samples(self) -> Vec<i16> {
        self.samples
    }

    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.layout.len()
    }

    /// Duration of the frame, exact to the nanosecond.
    pub fn duration(&self) -> Duration {
        frames_to_duration(self.frames() as u64, self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EI: ChannelLayout = ChannelLayout::CUSTOMER_LEFT;

    fn ie() -> ChannelLayout {
        ChannelLayout::from_names(&["internal", "external"]).unwrap()
    }

    #[test]
    fn layouts_validate() {
        assert_eq!(ie().channels(), &[Channel::Internal, Channel::External]);
        assert_eq!(ie().index_of(Channel::External), Some(1));
        assert!(ChannelLayout::new(&[]).is_err());
        assert!(ChannelLayout::new(&[Channel::External, Channel::External]).is_err());
        assert!(ChannelLayout::new(&[Channel::External; 3]).is_err());
        assert!(ChannelLayout::from_names(&["customer"]).is_err());
        assert_eq!(ChannelLayout::mono(Channel::Internal).len(), 1);
    }

    #[test]
    fn partial_frames_are_refused() {
        assert!(matches!(
            AudioFrame::new(EI, 8000, vec![0; 3]),
            Err(AudioError::PartialFrame {
                samples: 3,
                channels: 2
            })
        ));
        assert!(AudioFrame::new(EI, 0, vec![]).is_err());
    }

    #[test]
    fn internal_first_is_reordered_for_recording() {
        // Internal first, as a peer may negotiate it: [i0, e0, i1, e1].
        let frame = AudioFrame::new(ie(), 8000, vec![10, 20, 11, 21]).unwrap();
        assert_eq!(frame.channel(Channel::External).unwrap(), vec![20, 21]);
        assert_eq!(frame.channel(Channel::Internal).unwrap(), vec![10, 11]);
        let recorded = frame.to_layout(EI).unwrap();
        assert_eq!(recorded.samples(), &[20, 10, 21, 11]);
        let customer = frame
            .to_layout(ChannelLayout::mono(Channel::External))
            .unwrap();
        assert_eq!(customer.samples(), &[20, 21]);
    }

    #[test]
    fn missing_channel_is_an_error() {
        let frame = AudioFrame::new(ChannelLayout::mono(Channel::External), 8000, vec![1]).unwrap();
        assert!(matches!(
            frame.channel(Channel::Internal),
            Err(AudioError::MissingChannel("internal"))
        ));
        assert!(frame.to_layout(EI).is_err());
    }

    #[test]
    fn durations_are_sample_exact() {
        let frame = AudioFrame::silence(EI, 8000, 1600).unwrap();
        assert_eq!(frame.duration(), Duration::from_millis(200));
        assert_eq!(frames_to_duration(1, 8000), Duration::from_micros(125));
        assert_eq!(frames_to_duration(3, 44_100), Duration::from_nanos(68_027));
        assert_eq!(
            duration_to_frames(Duration::from_millis(1500), 8000),
            12_000
        );
        // 100 ms of stereo PCMU is 1600 bytes (the AudioHook spec's example).
        let bytes = AudioFrame::silence(EI, 8000, 800)
            .unwrap()
            .encode(Encoding::Pcmu);
        assert_eq!(bytes.len(), 1600);
        assert!(bytes.iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn merge_checks_shapes() {
        assert!(matches!(
            AudioFrame::merge(EI, 8000, &[&[1, 2], &[3]]),
            Err(AudioError::UnequalChannels(_))
        ));
        assert!(AudioFrame::merge(EI, 8000, &[&[1]]).is_err());
    }

    proptest! {
        #[test]
        fn split_then_merge_is_identity(
            samples in proptest::collection::vec(any::<i16>(), 0..64).prop_map(|mut v| { v.truncate(v.len() / 2 * 2); v }),
            internal_first in any::<bool>(),
        ) {
            let layout = if internal_first { ie() } else { EI };
            let frame = AudioFrame::new(layout, 8000, samples).unwrap();
            let parts = frame.split();
            let blocks: Vec<&[i16]> = parts.iter().map(|(_, s)| s.as_slice()).collect();
            prop_assert_eq!(AudioFrame::merge(layout, 8000, &blocks).unwrap(), frame.clone());
            let there_and_back = frame.to_layout(EI).unwrap().to_layout(layout).unwrap();
            prop_assert_eq!(there_and_back, frame);
        }

        #[test]
        fn codecs_round_trip_through_frames(samples in proptest::collection::vec(any::<i16>(), 0..64)) {
            let layout = ChannelLayout::mono(Channel::External);
            let frame = AudioFrame::new(layout, 8000, samples).unwrap();
            let l16 = AudioFrame::decode(Encoding::L16, layout, 8000, &frame.encode(Encoding::L16)).unwrap();
            prop_assert_eq!(&l16, &frame);
            // G.711 is lossy, but re-encoding its own output is exact.
            let once = AudioFrame::decode(Encoding::Pcmu, layout, 8000, &frame.encode(Encoding::Pcmu)).unwrap();
            let twice = AudioFrame::decode(Encoding::Pcmu, layout, 8000, &once.encode(Encoding::Pcmu)).unwrap();
            prop_assert_eq!(once, twice);
        }
    }
}

//! Cross-crate end-to-end tests for hark live in `tests/`; this library holds helpers they share
//! (also as a dev-dependency of the crates' own tests).

pub mod speech;

use hark_audio::tone::ToneGenerator;
use hark_audio::{AudioFrame, Channel, ChannelLayout};

/// A stereo call at 8 kHz in `layout`'s channel order: a 440 Hz tone for the customer
/// (`external`) and a 1000 Hz tone for the agent (`internal`), cut into 20 ms frames.
pub fn two_tone_call(layout: ChannelLayout, seconds: u32) -> Vec<AudioFrame> {
    let mut customer = ToneGenerator::new(440.0, -6.0, 8000);
    let mut agent = ToneGenerator::new(1000.0, -6.0, 8000);
    (0..seconds * 50)
        .map(|_| {
            let (c, a) = (customer.take(160), agent.take(160));
            let blocks: Vec<&[i16]> = layout
                .channels()
                .iter()
                .map(|ch| match ch {
                    Channel::External => c.as_slice(),
                    Channel::Internal => a.as_slice(),
                })
                .collect();
            // Both blocks are 160 samples and match the layout, so the merge cannot fail.
            AudioFrame::merge(layout, 8000, &blocks).unwrap_or_else(|e| unreachable!("{e}"))
        })
        .collect()
}

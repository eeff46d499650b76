//! Sample encodings used on telephone links: G.711 μ-law and A-law, and 16-bit linear PCM.
//!
//! Every codec converts between encoded bytes and `i16` linear samples. The G.711 codecs follow
//! the ITU-T G.711 reference algorithm (the same one as Sun's `g711.c`, sox and CPython's
//! `audioop`) and are checked bit for bit against an independent oracle in the tests.

pub mod alaw;
pub mod l16;
pub mod mulaw;

use std::fmt;
use std::str::FromStr;

use crate::AudioError;

/// An audio sample encoding, named as AudioHook and RTP name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// G.711 μ-law, one byte per sample (`PCMU`).
    Pcmu,
    /// G.711 A-law, one byte per sample (`PCMA`).
    Pcma,
    /// 16-bit signed linear PCM, little-endian as AudioHook sends it (`L16`).
    L16,
}

impl Encoding {
    /// Bytes one sample of one channel takes.
    pub const fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::Pcmu | Encoding::Pcma => 1,
            Encoding::L16 => 2,
        }
    }

    /// The name used on the wire (`PCMU`, `PCMA`, `L16`).
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::Pcmu => "PCMU",
            Encoding::Pcma => "PCMA",
            Encoding::L16 => "L16",
        }
    }

    /// Decodes `bytes` and appends the linear samples to `out`.
    pub fn decode_into(self, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), AudioError> {
        match self {
            Encoding::Pcmu => mulaw::decode_into(bytes, out),
            Encoding::Pcma => alaw::decode_into(bytes, out),
            Encoding::L16 => l16::decode_into(bytes, out)?,
        }
        Ok(())
    }

    /// Decodes `bytes` into a new vector of linear samples.
    pub fn decode(self, bytes: &[u8]) -> Result<Vec<i16>, AudioError> {
        let mut out = Vec::with_capacity(bytes.len() / self.bytes_per_sample());
        self.decode_into(bytes, &mut out)?;
        Ok(out)
    }

    /// Encodes `samples` and appends the bytes to `out`.
    pub fn encode_into(self, samples: &[i16], out: &mut Vec<u8>) {
        match self {
            Encoding::Pcmu => mulaw::encode_into(samples, out),
            Encoding::Pcma => alaw::encode_into(samples, out),
            Encoding::L16 => l16::encode_into(samples, out),
        }
    }

    /// Encodes `samples` into a new byte vector.
    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(samples.len() * self.bytes_per_sample());
        self.encode_into(samples, &mut out);
        out
    }

    /// Appends the encoding of `samples` zero-valued samples (digital silence) to `out`.
    pub fn encode_silence_into(self, samples: usize, out: &mut Vec<u8>) {
        let byte = match self {
            Encoding::Pcmu => mulaw::SILENCE,
            Encoding::Pcma => alaw::SILENCE,
            Encoding::L16 => 0,
        };
        out.resize(out.len() + samples * self.bytes_per_sample(), byte);
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = AudioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PCMU" => Ok(Encoding::Pcmu),
            "PCMA" => Ok(Encoding::Pcma),
            "L16" => Ok(Encoding::L16),
            other => Err(AudioError::UnknownName {
                kind: "encoding",
                name: other.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in [Encoding::Pcmu, Encoding::Pcma, Encoding::L16] {
            assert_eq!(e.name().parse::<Encoding>().unwrap(), e);
            assert_eq!(e.to_string(), e.name());
        }
        assert!(matches!(
            "pcmu".parse::<Encoding>(),
            Err(AudioError::UnknownName {
                kind: "encoding",
                ..
            })
        ));
    }

    #[test]
    fn silence_decodes_to_zero() {
        for e in [Encoding::Pcmu, Encoding::Pcma, Encoding::L16] {
            let mut bytes = Vec::new();
            e.encode_silence_into(160, &mut bytes);
            assert_eq!(bytes.len(), 160 * e.bytes_per_sample());
            // A-law has no exact zero: its smallest magnitude decodes to ±8.
            let max = e
                .decode(&bytes)
                .unwrap()
                .iter()
                .map(|s| s.unsigned_abs())
                .max();
            assert!(max.unwrap() <= 8, "{e}: {max:?}");
        }
    }

    #[test]
    fn odd_l16_is_an_error() {
        assert!(matches!(
            Encoding::L16.decode(&[1, 2, 3]),
            Err(AudioError::OddL16Length(3))
        ));
    }
}

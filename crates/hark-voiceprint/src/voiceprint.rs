//! A voiceprint: the 256-dimension unit vector that stands for a speaker.

use std::time::Duration;

use crate::VoiceprintError;
use crate::weights::HIDDEN;

/// Dimensions of a voiceprint.
pub const DIMENSIONS: usize = HIDDEN;
/// Bytes of a serialised voiceprint: 256 little-endian f32.
pub const BYTES: usize = DIMENSIONS * 4;

/// A speaker embedding: 256 non-negative floats of unit length.
#[derive(Clone, PartialEq)]
pub struct Voiceprint(Box<[f32; DIMENSIONS]>);

impl std::fmt::Debug for Voiceprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Biometric data stays out of logs: show only a short prefix.
        write!(f, "Voiceprint([{:.3}, {:.3}, …])", self.0[0], self.0[1])
    }
}

impl Voiceprint {
    /// The unit vector along `values`; refuses wrong lengths, non-finite values and zero.
    pub fn from_values(values: &[f32]) -> Result<Self, VoiceprintError> {
        if values.len() != DIMENSIONS {
            return Err(VoiceprintError::InvalidVoiceprint(format!(
                "{} values, expected {DIMENSIONS}",
                values.len()
            )));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(VoiceprintError::InvalidVoiceprint(
                "non-finite value".to_owned(),
            ));
        }
        let norm = values
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm < 1e-9 {
            return Err(VoiceprintError::InvalidVoiceprint("zero vector".to_owned()));
        }
        let mut out = Box::new([0.0f32; DIMENSIONS]);
        for (o, v) in out.iter_mut().zip(values) {
            *o = (f64::from(*v) / norm) as f32;
        }
        Ok(Voiceprint(out))
    }

    /// The 256 values.
    pub fn values(&self) -> &[f32; DIMENSIONS] {
        &self.0
    }

    /// Cosine similarity in [-1, 1] (0 to 1 for GE2E voiceprints, which are non-negative).
    pub fn similarity(&self, other: &Voiceprint) -> f32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| a * b).sum()
    }

    /// The 1 KiB little-endian serialisation.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Reads [`to_bytes`](Self::to_bytes) output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VoiceprintError> {
        if bytes.len() != BYTES {
            return Err(VoiceprintError::InvalidVoiceprint(format!(
                "{} bytes, expected {BYTES}",
                bytes.len()
            )));
        }
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Self::from_values(&values)
    }

    /// The speaker voiceprint of several utterances: their mean, each weighted by its net speech,
    /// normalised.
    pub fn enrol(utterances: &[(Voiceprint, Duration)]) -> Result<Self, VoiceprintError> {
        let mut sum = [0.0f64; DIMENSIONS];
        for (print, speech) in utterances {
            let weight = speech.as_secs_f64();
            for (s, v) in sum.iter_mut().zip(print.0.iter()) {
                *s += weight * f64::from(*v);
            }
        }
        let values: Vec<f32> = sum.iter().map(|&v| v as f32).collect();
        Self::from_values(&values).map_err(|_| {
            VoiceprintError::InvalidVoiceprint(
                "enrolment needs at least one utterance with speech".to_owned(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(i: usize) -> Voiceprint {
        let mut v = vec![0.0; DIMENSIONS];
        v[i] = 3.0;
        Voiceprint::from_values(&v).unwrap()
    }

    #[test]
    fn values_are_normalised_and_round_trip_through_bytes() {
        let a = axis(3);
        assert_eq!(a.values()[3], 1.0);
        assert_eq!(Voiceprint::from_bytes(&a.to_bytes()).unwrap(), a);
        assert!(Voiceprint::from_bytes(&[0; 10]).is_err());
        assert!(Voiceprint::from_values(&[0.0; DIMENSIONS]).is_err());
        assert!(Voiceprint::from_values(&[f32::NAN; DIMENSIONS]).is_err());
        assert!(!format!("{a:?}").contains("0.000, 0.000, 0.000"));
    }

    #[test]
    fn enrolment_weights_by_speech() {
        let e = Voiceprint::enrol(&[
            (axis(0), Duration::from_secs(30)),
            (axis(1), Duration::from_secs(10)),
        ])
        .unwrap();
        assert!((e.values()[0] / e.values()[1] - 3.0).abs() < 1e-5);
        assert!(Voiceprint::enrol(&[]).is_err());
    }
}

//! 16-bit linear PCM (`L16`) as AudioHook carries it: signed, little-endian.

use crate::AudioError;

/// Decodes little-endian 16-bit samples, appending them to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<i16>) -> Result<(), AudioError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(AudioError::OddL16Length(bytes.len()));
    }
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]])),
    );
    Ok(())
}

/// Encodes samples as little-endian 16-bit, appending the bytes to `out`.
pub fn encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_round_trip() {
        let samples = [0i16, 1, -1, i16::MAX, i16::MIN, 0x1234];
        let mut bytes = Vec::new();
        encode_into(&samples, &mut bytes);
        assert_eq!(&bytes[10..12], &[0x34, 0x12]);
        let mut back = Vec::new();
        decode_into(&bytes, &mut back).unwrap();
        assert_eq!(back, samples);
    }
}

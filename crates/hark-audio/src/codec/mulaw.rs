//! G.711 μ-law (`PCMU`).
//!
//! Encoding follows the G.711 reference: the 16-bit sample is reduced to 14 bits, clipped to
//! ±8159, biased by 33 and split into a 3-bit segment and a 4-bit mantissa; the byte is stored
//! inverted. Both directions go through tables built at compile time.

/// The μ-law byte for digital silence.
pub const SILENCE: u8 = 0xFF;

const BIAS: i32 = 0x84;
const CLIP: i32 = 8159;
/// Upper bounds of the eight segments for the biased 14-bit magnitude.
const SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];

/// Decodes one μ-law byte to a linear sample.
pub const fn decode_sample(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & 0x0F) as i32) << 3) + BIAS;
    t <<= (u & 0x70) >> 4;
    if u & 0x80 != 0 {
        (BIAS - t) as i16
    } else {
        (t - BIAS) as i16
    }
}

/// Encodes one 14-bit sample (the 16-bit sample shifted right by two).
const fn encode_14bit(sample: i32) -> u8 {
    let (mut pcm, mask) = if sample < 0 {
        (-sample, 0x7F)
    } else {
        (sample, 0xFF)
    };
    if pcm > CLIP {
        pcm = CLIP;
    }
    pcm += BIAS >> 2;
    let mut seg = 0;
    while seg < 8 && pcm > SEG_END[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let code = ((seg as i32) << 4) | ((pcm >> (seg + 1)) & 0x0F);
    (code as u8) ^ mask
}

/// Encodes one linear sample to μ-law.
#[inline]
pub fn encode_sample(sample: i16) -> u8 {
    ENCODE[((sample >> 2) as i32 + 8192) as usize]
}

static DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = decode_sample(i as u8);
        i += 1;
    }
    table
};

/// μ-law bytes indexed by the 14-bit sample plus 8192.
static ENCODE: [u8; 16384] = {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        table[i] = encode_14bit(i as i32 - 8192);
        i += 1;
    }
    table
};

/// Decodes μ-law bytes, appending the samples to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| DECODE[b as usize]));
}

/// Encodes samples, appending the μ-law bytes to `out`.
pub fn encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| encode_sample(s)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(decode_sample(SILENCE), 0);
        assert_eq!(decode_sample(0x7F), 0);
        assert_eq!(decode_sample(0x00), -32124);
        assert_eq!(decode_sample(0x80), 32124);
        assert_eq!(encode_sample(0), SILENCE);
        assert_eq!(encode_sample(i16::MAX), 0x80);
        assert_eq!(encode_sample(i16::MIN), 0x00);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        // Decoding gives the segment's reconstruction value, which must encode to the same code
        // (except negative zero, 0x7F, which G.711 folds into positive zero 0xFF).
        for code in 0..=255u8 {
            let back = encode_sample(decode_sample(code));
            if code == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }
}

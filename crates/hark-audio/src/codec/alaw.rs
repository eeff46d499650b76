//! G.711 A-law (`PCMA`).
//!
//! Encoding follows the G.711 reference: the 16-bit sample is reduced to 13 bits and split into
//! a 3-bit segment and a 4-bit mantissa; even bits are inverted (XOR 0x55) on the wire. Both
//! directions go through tables built at compile time.

/// The A-law byte for the smallest positive value, used as digital silence.
pub const SILENCE: u8 = 0xD5;

/// Upper bounds of the eight segments for the 13-bit magnitude.
const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

/// Decodes one A-law byte to a linear sample.
pub const fn decode_sample(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

/// Encodes one 13-bit sample (the 16-bit sample shifted right by three).
const fn encode_13bit(sample: i32) -> u8 {
    let (pcm, mask) = if sample >= 0 {
        (sample, 0xD5)
    } else {
        (-sample - 1, 0x55)
    };
    let mut seg = 0;
    while seg < 8 && pcm > SEG_END[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mantissa = if seg < 2 {
        (pcm >> 1) & 0x0F
    } else {
        (pcm >> seg) & 0x0F
    };
    (((seg as i32) << 4) | mantissa) as u8 ^ mask
}

/// Encodes one linear sample to A-law.
#[inline]
pub fn encode_sample(sample: i16) -> u8 {
    ENCODE[((sample >> 3) as i32 + 4096) as usize]
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

/// A-law bytes indexed by the 13-bit sample plus 4096.
static ENCODE: [u8; 8192] = {
    let mut table = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        table[i] = encode_13bit(i as i32 - 4096);
        i += 1;
    }
    table
};

/// Decodes A-law bytes, appending the samples to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| DECODE[b as usize]));
}

/// Encodes samples, appending the A-law bytes to `out`.
pub fn encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| encode_sample(s)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(decode_sample(SILENCE), 8);
        assert_eq!(decode_sample(0x55), -8);
        assert_eq!(decode_sample(0xAA), 32256);
        assert_eq!(decode_sample(0x2A), -32256);
        assert_eq!(encode_sample(0), SILENCE);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(encode_sample(decode_sample(code)), code, "code {code:#04x}");
        }
    }
}

//! G.711 bit-exactness against an independent oracle: CPython 3.11's `audioop`.
//!
//! The tables in `fixtures/g711/` were made by `scripts/g711-oracle.py` (see its header for the
//! command); they hold the decoding of all 256 codes and the encoding of every i16 sample.

use hark_audio::codec::{alaw, mulaw};

fn decode_table(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[test]
fn mulaw_matches_the_oracle_on_every_code_and_sample() {
    let decoded = decode_table(include_bytes!("fixtures/g711/ulaw_decode.bin"));
    for code in 0..=255u8 {
        assert_eq!(
            mulaw::decode_sample(code),
            decoded[code as usize],
            "decode {code:#04x}"
        );
    }
    let encoded = include_bytes!("fixtures/g711/ulaw_encode.bin");
    for (i, expected) in encoded.iter().enumerate() {
        let sample = (i as i32 - 32768) as i16;
        assert_eq!(mulaw::encode_sample(sample), *expected, "encode {sample}");
    }
    assert_eq!(mulaw::SILENCE, 0xFF);
    assert_eq!(mulaw::encode_sample(0), 0xFF);
}

#[test]
fn alaw_matches_the_oracle_on_every_code_and_sample() {
    let decoded = decode_table(include_bytes!("fixtures/g711/alaw_decode.bin"));
    for code in 0..=255u8 {
        assert_eq!(
            alaw::decode_sample(code),
            decoded[code as usize],
            "decode {code:#04x}"
        );
    }
    let encoded = include_bytes!("fixtures/g711/alaw_encode.bin");
    for (i, expected) in encoded.iter().enumerate() {
        let sample = (i as i32 - 32768) as i16;
        assert_eq!(alaw::encode_sample(sample), *expected, "encode {sample}");
    }
}

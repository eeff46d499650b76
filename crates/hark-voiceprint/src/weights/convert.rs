//! Converts Resemblyzer's `pretrained.pt` into the safetensors file hark ships.
//!
//! The output is a pure function of the input bytes: the same `pretrained.pt` always gives the
//! same file, byte for byte (`scripts/voiceprint-weights.sh` checks this against the committed
//! copy).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::VoiceprintError;

use super::{legacy_pt, safetensors};

/// SHA-256 of `resemblyzer/pretrained.pt` in the PyPI wheel `Resemblyzer-0.1.4-py3-none-any.whl`.
pub const RESEMBLYZER_PT_SHA256: &str =
    "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e";

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Converts the checkpoint to safetensors: the encoder's tensors (the GE2E training-only
/// `similarity_*` scalars dropped) with metadata naming the origin.
pub fn resemblyzer_to_safetensors(pt: &[u8]) -> Result<Vec<u8>, VoiceprintError> {
    let digest = sha256_hex(pt);
    if digest != RESEMBLYZER_PT_SHA256 {
        return Err(VoiceprintError::Checkpoint(format!(
            "SHA-256 {digest} is not Resemblyzer 0.1.4's pretrained.pt ({RESEMBLYZER_PT_SHA256})"
        )));
    }
    let state = legacy_pt::read_model_state(pt)?;
    let tensors: BTreeMap<String, legacy_pt::Tensor> = state
        .into_iter()
        .filter(|(name, _)| name.starts_with("lstm.") || name.starts_with("linear."))
        .collect();
    let metadata = BTreeMap::from([
        ("format".to_owned(), "pt".to_owned()),
        (
            "license".to_owned(),
            "Apache-2.0, Copyright 2019 Resemble.AI".to_owned(),
        ),
        (
            "model".to_owned(),
            "GE2E speaker encoder: LSTM(40, 256, 3 layers) + Linear(256, 256) + ReLU + L2"
                .to_owned(),
        ),
        (
            "source".to_owned(),
            "PyPI Resemblyzer 0.1.4, resemblyzer/pretrained.pt (model_state)".to_owned(),
        ),
        ("source_sha256".to_owned(), digest),
    ]);
    let bytes = safetensors::write(&tensors, &metadata);
    // Refuse to produce a file hark itself would not load.
    super::Ge2eWeights::from_safetensors(&bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_file_is_refused_by_checksum() {
        assert!(matches!(
            resemblyzer_to_safetensors(b"not a checkpoint"),
            Err(VoiceprintError::Checkpoint(m)) if m.contains("is not Resemblyzer")
        ));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

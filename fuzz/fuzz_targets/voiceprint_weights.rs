//! Weights files and legacy checkpoints: any bytes are read or refused, never a panic.
#![no_main]

use hark_voiceprint::weights::{Ge2eWeights, legacy_pt, safetensors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = legacy_pt::read_model_state(data);
    if let Ok(file) = safetensors::read(data) {
        // What was read writes back and reads again to the same tensors.
        let again = safetensors::read(&safetensors::write(&file.tensors, &file.metadata)).expect("rewrite");
        let bits = |f: &safetensors::SafeTensors| -> Vec<(String, Vec<usize>, Vec<u32>)> {
            f.tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.shape.clone(), t.data.iter().map(|v| v.to_bits()).collect()))
                .collect()
        };
        assert_eq!(bits(&again), bits(&file));
    }
    let _ = Ge2eWeights::from_safetensors(data);
});

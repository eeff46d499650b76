//! The GE2E encoder's weights: the committed safetensors file, its checks, and the converter
//! that reproduces it from Resemblyzer's legacy PyTorch checkpoint.

pub mod convert;
pub mod legacy_pt;
pub mod safetensors;

use std::collections::BTreeMap;

use crate::VoiceprintError;
use crate::frontend::N_MELS;

pub use legacy_pt::Tensor;

/// Hidden size of each LSTM layer and the embedding size.
pub const HIDDEN: usize = 256;
/// Number of stacked LSTM layers.
pub const LAYERS: usize = 3;
/// Rows of each gate matrix: the four gates i, f, g, o stacked.
pub const GATES: usize = 4 * HIDDEN;

/// The converted Resemblyzer 0.1.4 weights, compiled into the crate so hark works offline.
pub static EMBEDDED: &[u8] = include_bytes!("../../weights/ge2e-resemblyzer-0.1.4.safetensors");

/// One LSTM layer in PyTorch's layout.
#[derive(Clone, Debug)]
pub struct LstmLayer {
    /// Input weights, `GATES × input` row-major.
    pub weight_ih: Vec<f32>,
    /// Recurrent weights, `GATES × HIDDEN` row-major.
    pub weight_hh: Vec<f32>,
    /// `bias_ih + bias_hh`, `GATES` values.
    pub bias: Vec<f32>,
    /// Input width: 40 mel bands for layer 0, `HIDDEN` above.
    pub input: usize,
}

/// All weights of the GE2E encoder, checked for shape and finiteness.
#[derive(Clone, Debug)]
pub struct Ge2eWeights {
    /// The three LSTM layers, bottom first.
    pub layers: Vec<LstmLayer>,
    /// Projection weights, `HIDDEN × HIDDEN` row-major.
    pub linear_weight: Vec<f32>,
    /// Projection bias, `HIDDEN` values.
    pub linear_bias: Vec<f32>,
    /// The file's metadata (origin, version, source checksum).
    pub metadata: BTreeMap<String, String>,
}

impl Ge2eWeights {
    /// The weights compiled into the crate.
    pub fn embedded() -> Result<Self, VoiceprintError> {
        Self::from_safetensors(EMBEDDED)
    }

    /// Parses and checks a safetensors file holding the GE2E tensors.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, VoiceprintError> {
        let file = safetensors::read(bytes)?;
        let mut tensors = file.tensors;
        let mut take = |name: &str, shape: &[usize]| -> Result<Vec<f32>, VoiceprintError> {
            let t = tensors
                .remove(name)
                .ok_or_else(|| VoiceprintError::Weights(format!("missing tensor {name}")))?;
            if t.shape != shape {
                return Err(VoiceprintError::Weights(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    t.shape
                )));
            }
            if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
                return Err(VoiceprintError::Weights(format!(
                    "tensor {name} has a non-finite value at {i}"
                )));
            }
            Ok(t.data)
        };
        let mut layers = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let input = if l == 0 { N_MELS } else { HIDDEN };
            let weight_ih = take(&format!("lstm.weight_ih_l{l}"), &[GATES, input])?;
            let weight_hh = take(&format!("lstm.weight_hh_l{l}"), &[GATES, HIDDEN])?;
            let bias_ih = take(&format!("lstm.bias_ih_l{l}"), &[GATES])?;
            let bias_hh = take(&format!("lstm.bias_hh_l{l}"), &[GATES])?;
            let bias = bias_ih.iter().zip(&bias_hh).map(|(a, b)| a + b).collect();
            layers.push(LstmLayer {
                weight_ih,
                weight_hh,
                bias,
                input,
            });
        }
        Ok(Ge2eWeights {
            layers,
            linear_weight: take("linear.weight", &[HIDDEN, HIDDEN])?,
            linear_bias: take("linear.bias", &[HIDDEN])?,
            metadata: file.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_weights_load_and_name_their_origin() {
        let w = Ge2eWeights::embedded().unwrap();
        assert_eq!(w.layers.len(), 3);
        assert_eq!(w.layers[0].weight_ih.len(), GATES * N_MELS);
        assert_eq!(w.metadata["source_sha256"], convert::RESEMBLYZER_PT_SHA256);
        let params: usize = w
            .layers
            .iter()
            .map(|l| l.weight_ih.len() + l.weight_hh.len() + 2 * l.bias.len())
            .sum::<usize>()
            + w.linear_weight.len()
            + w.linear_bias.len();
        assert_eq!(params, 1_423_616);
    }

    #[test]
    fn a_missing_or_misshapen_tensor_is_refused() {
        let mut file = safetensors::read(EMBEDDED).unwrap();
        file.tensors.remove("linear.bias");
        let bytes = safetensors::write(&file.tensors, &file.metadata);
        assert!(matches!(
            Ge2eWeights::from_safetensors(&bytes),
            Err(VoiceprintError::Weights(m)) if m.contains("missing tensor linear.bias")
        ));
        file.tensors.insert(
            "linear.bias".into(),
            Tensor {
                shape: vec![255],
                data: vec![0.0; 255],
            },
        );
        let bytes = safetensors::write(&file.tensors, &file.metadata);
        assert!(Ge2eWeights::from_safetensors(&bytes).is_err());
    }
}

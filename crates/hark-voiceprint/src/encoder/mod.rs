//! The GE2E encoder: 3-layer LSTM(256) → linear → ReLU → L2 norm, run on partial windows of 160
//! mel frames.
//!
//! Partials are batched: every step of the recurrence multiplies all partials' hidden states by
//! the same recurrent weights, so each weight loaded from cache serves several partials. All
//! buffers live in an [`EncoderScratch`] the caller keeps, so nothing is allocated per frame.

mod activation;
pub mod kernel;

use crate::frontend::{N_MELS, PARTIAL_FRAMES};
use crate::weights::{GATES, Ge2eWeights, HIDDEN};
use activation::lstm_cell;
use kernel::{Isa, PackedMatrix};

/// One LSTM layer, packed for the kernel.
#[derive(Clone, Debug)]
struct PackedLayer {
    input: PackedMatrix,
    recurrent: PackedMatrix,
    bias: Vec<f32>,
}

/// The encoder network with its weights packed for fast inference.
#[derive(Clone, Debug)]
pub struct Encoder {
    layers: Vec<PackedLayer>,
    linear: PackedMatrix,
    linear_bias: Vec<f32>,
}

/// One forward pass, as a task for [`kernel::run`].
struct Forward<'a> {
    encoder: &'a Encoder,
    mels: &'a [f32],
    batch: usize,
    scratch: &'a mut EncoderScratch,
    out: &'a mut [f32],
}

impl kernel::Task for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn run<I: Isa>(self) {
        self.encoder
            .forward::<I>(self.mels, self.batch, self.scratch, self.out)
    }
}

/// Reusable buffers for [`Encoder::embed_partials`].
#[derive(Debug, Default)]
pub struct EncoderScratch {
    input: Vec<f32>,
    output: Vec<f32>,
    gates: Vec<f32>,
    hidden: Vec<f32>,
    cell: Vec<f32>,
    pack: Vec<f32>,
}

impl Encoder {
    /// Packs checked weights for inference.
    pub fn new(weights: &Ge2eWeights) -> Self {
        let layers = weights
            .layers
            .iter()
            .map(|l| PackedLayer {
                input: PackedMatrix::from_rows(&l.weight_ih, GATES, l.input),
                recurrent: PackedMatrix::from_rows(&l.weight_hh, GATES, HIDDEN),
                bias: l.bias.clone(),
            })
            .collect();
        Encoder {
            layers,
            linear: PackedMatrix::from_rows(&weights.linear_weight, HIDDEN, HIDDEN),
            linear_bias: weights.linear_bias.clone(),
        }
    }

    /// Embeds `batch` partials: `mels` holds them one after another, each
    /// `PARTIAL_FRAMES × N_MELS` row-major; `out` receives `batch × HIDDEN` unit vectors.
    pub fn embed_partials(
        &self,
        mels: &[f32],
        batch: usize,
        scratch: &mut EncoderScratch,
        out: &mut [f32],
    ) {
        debug_assert_eq!(mels.len(), batch * PARTIAL_FRAMES * N_MELS);
        debug_assert_eq!(out.len(), batch * HIDDEN);
        if batch == 0 {
            return;
        }
        kernel::run(Forward {
            encoder: self,
            mels,
            batch,
            scratch,
            out,
        });
    }

    #[inline(always)]
    fn forward<I: Isa>(
        &self,
        mels: &[f32],
        batch: usize,
        scratch: &mut EncoderScratch,
        out: &mut [f32],
    ) {
        let steps = PARTIAL_FRAMES;
        // Time-major input: row `t * batch + b` is frame t of partial b, so the rows one step
        // of the recurrence needs are contiguous.
        scratch.input.clear();
        scratch.input.resize(steps * batch * N_MELS, 0.0);
        for (b, partial) in mels.chunks_exact(steps * N_MELS).enumerate() {
            for (t, frame) in partial.chunks_exact(N_MELS).enumerate() {
                let row = (t * batch + b) * N_MELS;
                scratch.input[row..row + N_MELS].copy_from_slice(frame);
            }
        }
        for layer in &self.layers {
            self.run_layer::<I>(layer, batch, scratch);
            std::mem::swap(&mut scratch.input, &mut scratch.output);
        }
        // Projection of the last hidden state of the top layer, then ReLU and L2 norm.
        for row in out.chunks_exact_mut(HIDDEN) {
            row.copy_from_slice(&self.linear_bias);
        }
        kernel::gemm_acc::<I>(&scratch.hidden, &self.linear, out, &mut scratch.pack);
        for row in out.chunks_exact_mut(HIDDEN) {
            row.iter_mut().for_each(|v| *v = v.max(0.0));
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }

    /// Runs one LSTM layer over `scratch.input` (time-major) into `scratch.output`.
    #[inline(always)]
    fn run_layer<I: Isa>(&self, layer: &PackedLayer, batch: usize, scratch: &mut EncoderScratch) {
        let steps = PARTIAL_FRAMES;
        let rows = steps * batch;
        // Input projections for every step at once: one large, efficient product.
        scratch.gates.clear();
        for _ in 0..rows {
            scratch.gates.extend_from_slice(&layer.bias);
        }
        kernel::gemm_acc::<I>(
            &scratch.input,
            &layer.input,
            &mut scratch.gates,
            &mut scratch.pack,
        );
        scratch.hidden.clear();
        scratch.hidden.resize(batch * HIDDEN, 0.0);
        scratch.cell.clear();
        scratch.cell.resize(batch * HIDDEN, 0.0);
        scratch.output.clear();
        scratch.output.resize(rows * HIDDEN, 0.0);
        for t in 0..steps {
            let gates = &mut scratch.gates[t * batch * GATES..(t + 1) * batch * GATES];
            kernel::gemm_acc::<I>(&scratch.hidden, &layer.recurrent, gates, &mut scratch.pack);
            for b in 0..batch {
                let h = &mut scratch.hidden[b * HIDDEN..(b + 1) * HIDDEN];
                let c = &mut scratch.cell[b * HIDDEN..(b + 1) * HIDDEN];
                lstm_cell::<I>(&gates[b * GATES..(b + 1) * GATES], c, h);
            }
            scratch.output[t * batch * HIDDEN..(t + 1) * batch * HIDDEN]
                .copy_from_slice(&scratch.hidden);
        }
    }
}

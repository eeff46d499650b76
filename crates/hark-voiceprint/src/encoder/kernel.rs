//! Dense matrix products for the encoder: `C += A · Wᵀ` with `W` packed once into column panels.
//!
//! The encoder spends nearly all its time here (about 560 MFLOP per second of speech), so the
//! layout is chosen for the CPU, not for the reader of the weights file: `W` (`n × k`, one row
//! per output) is cut into panels of 16 outputs, each stored `k × 16` contiguously, so the inner
//! loop streams one panel while a few rows of `A` stay in registers. The loops are plain safe Rust
//! written so that LLVM turns the 16-wide steps into SIMD; [`Isa`] picks fused multiply-add
//! where the CPU has it.

/// Outputs per panel: two AVX registers, four NEON or SSE registers.
pub const PANEL: usize = 16;

/// How multiply-adds are done: fused (one rounding, FMA units) or as a multiply then an add.
pub trait Isa {
    /// Whether `a * b + c` is computed with one fused instruction.
    const FUSED: bool;

    /// `a * b + c`.
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        if Self::FUSED {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

/// Separate multiply and add: portable, used where FMA is not known to exist.
pub struct Portable;
impl Isa for Portable {
    const FUSED: bool = false;
}

/// Fused multiply-add: only used where the CPU has it (x86-64 with FMA, every aarch64).
pub struct Fused;
impl Isa for Fused {
    const FUSED: bool = true;
}

/// Work that runs with the best instruction set this CPU has; see [`run`].
pub trait Task {
    /// What the work returns.
    type Output;
    /// Does the work with multiply-adds of kind `I`.
    fn run<I: Isa>(self) -> Self::Output;
}

/// Runs `task` compiled for AVX2 + FMA when the CPU has them, portable code otherwise.
pub fn run<T: Task>(task: T) -> T::Output {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return run_avx2(task);
    }
    #[cfg(target_arch = "aarch64")]
    return task.run::<Fused>();
    #[allow(unreachable_code)]
    task.run::<Portable>()
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn run_avx2<T: Task>(task: T) -> T::Output {
    #[target_feature(enable = "avx2,fma")]
    fn with_avx2<T: Task>(task: T) -> T::Output {
        task.run::<Fused>()
    }
    // SAFETY: `with_avx2` needs only the AVX2 and FMA instructions, and `run` checked with
    // `is_x86_feature_detected!` that this CPU has both. This is the crate's only unsafe code.
    unsafe { with_avx2(task) }
}

/// `Σ a[i]·b[i]` over equal-length slices, in 16 independent lanes so that it vectorises.
#[inline(always)]
pub fn dot<I: Isa>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; PANEL];
    let (a_chunks, a_rest) = a.as_chunks::<PANEL>();
    let (b_chunks, b_rest) = b.as_chunks::<PANEL>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for j in 0..PANEL {
            acc[j] = I::mul_add(x[j], y[j], acc[j]);
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// A weight matrix packed into panels of [`PANEL`] outputs.
#[derive(Clone, Debug)]
pub struct PackedMatrix {
    /// Outputs (rows of the original matrix); a multiple of [`PANEL`].
    n: usize,
    /// Inputs (columns of the original matrix).
    k: usize,
    panels: Vec<f32>,
}

impl PackedMatrix {
    /// Packs a row-major `n × k` matrix; `n` must be a multiple of [`PANEL`].
    pub fn from_rows(rows: &[f32], n: usize, k: usize) -> Self {
        assert!(
            n.is_multiple_of(PANEL) && rows.len() == n * k,
            "packing needs whole panels"
        );
        let mut panels = vec![0.0; n * k];
        for (p, panel) in panels.chunks_exact_mut(k * PANEL).enumerate() {
            for (kk, out) in panel.chunks_exact_mut(PANEL).enumerate() {
                for (j, v) in out.iter_mut().enumerate() {
                    *v = rows[(p * PANEL + j) * k + kk];
                }
            }
        }
        PackedMatrix { n, k, panels }
    }

    /// Number of outputs.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of inputs.
    pub fn k(&self) -> usize {
        self.k
    }

    fn panel(&self, p: usize) -> &[[f32; PANEL]] {
        let size = self.k * PANEL;
        self.panels[p * size..(p + 1) * size].as_chunks::<PANEL>().0
    }
}

/// Rows of `A` per register block at most: `ROWS × PANEL` accumulators (12 AVX registers), one
/// panel row (2) and a broadcast fill the 16 AVX registers, and 12 independent sums keep both
/// multiply-add units busy through their 4-cycle latency.
const ROWS: usize = 6;

/// Rows of `A` packed per cache block: 128 rows of 256 inputs is 128 KiB, which stays in L2 while
/// every weight panel (16 KiB, in L1) passes over it once.
const BLOCK_ROWS: usize = 128;

/// `C += A · Wᵀ`: `a` is `m × k` row-major, `c` is `m × n` row-major.
///
/// The loops are ordered for the caches: a block of rows of `A` is packed once, then each weight
/// panel is loaded into L1 and applied to every row of the block before the next panel. So the
/// weights (1 MiB for a recurrent matrix, more than this machine's L2) stream from memory once
/// per block of rows, not once per four rows. One row alone is a matrix-vector product, done
/// without packing.
#[inline(always)]
pub fn gemm_acc<I: Isa>(a: &[f32], w: &PackedMatrix, c: &mut [f32], pack: &mut Vec<f32>) {
    let (k, n) = (w.k, w.n);
    let m = a.len() / k;
    debug_assert_eq!(c.len(), m * n);
    if m == 1 {
        return single_row::<I>(a, w, c);
    }
    for (a_block, c_block) in a.chunks(BLOCK_ROWS * k).zip(c.chunks_mut(BLOCK_ROWS * n)) {
        // Rows per register block: at most ROWS, spread evenly so no group is left with one or
        // two rows (too few independent sums to hide the multiply-add latency): 8 rows run as
        // 4 + 4, not 6 + 2.
        let rows = a_block.len() / k;
        let group_rows = ROWS.min(rows);
        pack_rows(a_block, k, group_rows, pack);
        let groups = pack.chunks(group_rows * k);
        for p in 0..n / PANEL {
            let panel = w.panel(p);
            for (g, packed) in groups.clone().enumerate() {
                let c_rows = &mut c_block[g * group_rows * n..];
                match packed.len() / k {
                    6 => rows_panel::<6, I>(packed, panel, c_rows, n, p),
                    5 => rows_panel::<5, I>(packed, panel, c_rows, n, p),
                    4 => rows_panel::<4, I>(packed, panel, c_rows, n, p),
                    3 => rows_panel::<3, I>(packed, panel, c_rows, n, p),
                    2 => rows_panel::<2, I>(packed, panel, c_rows, n, p),
                    _ => rows_panel::<1, I>(packed, panel, c_rows, n, p),
                }
            }
        }
    }
}

/// Packs the rows of `a` (`k` wide) in groups of `group_rows`, each group stored column by column
/// (`k × rows`), so the inner loop reads it sequentially; the last group may be shorter.
#[inline(always)]
fn pack_rows(a: &[f32], k: usize, group_rows: usize, pack: &mut Vec<f32>) {
    pack.clear();
    pack.reserve(a.len());
    for group in a.chunks(group_rows * k) {
        let rows = group.len() / k;
        for kk in 0..k {
            pack.extend((0..rows).map(|r| group[r * k + kk]));
        }
    }
}

/// `R` packed rows of `A` against panel `p`, accumulated into columns `p × PANEL..` of `c`'s
/// first `R` rows (`c` rows are `n` wide).
#[inline(always)]
fn rows_panel<const R: usize, I: Isa>(
    packed: &[f32],
    panel: &[[f32; PANEL]],
    c: &mut [f32],
    n: usize,
    p: usize,
) {
    let columns = p * PANEL..(p + 1) * PANEL;
    let mut acc = [[0.0f32; PANEL]; R];
    for (r, acc_row) in acc.iter_mut().enumerate() {
        acc_row.copy_from_slice(&c[r * n..][columns.clone()]);
    }
    for (x, wk) in packed.as_chunks::<R>().0.iter().zip(panel) {
        for r in 0..R {
            for j in 0..PANEL {
                acc[r][j] = I::mul_add(x[r], wk[j], acc[r][j]);
            }
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        c[r * n..][columns.clone()].copy_from_slice(acc_row);
    }
}

/// One row of `A` against four panels at a time, so that eight independent accumulator chains
/// hide the multiply-add latency.
#[inline(always)]
fn single_row<I: Isa>(a: &[f32], w: &PackedMatrix, c: &mut [f32]) {
    const GROUP: usize = 4;
    let panels = w.n / PANEL;
    let mut p = 0;
    while p + GROUP <= panels {
        let mut acc = [[0.0f32; PANEL]; GROUP];
        for (g, acc_g) in acc.iter_mut().enumerate() {
            acc_g.copy_from_slice(&c[(p + g) * PANEL..(p + g + 1) * PANEL]);
        }
        let (w0, w1, w2, w3) = (w.panel(p), w.panel(p + 1), w.panel(p + 2), w.panel(p + 3));
        for ((((x, a0), a1), a2), a3) in a.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
            for j in 0..PANEL {
                acc[0][j] = I::mul_add(*x, a0[j], acc[0][j]);
                acc[1][j] = I::mul_add(*x, a1[j], acc[1][j]);
                acc[2][j] = I::mul_add(*x, a2[j], acc[2][j]);
                acc[3][j] = I::mul_add(*x, a3[j], acc[3][j]);
            }
        }
        for (g, acc_g) in acc.iter().enumerate() {
            c[(p + g) * PANEL..(p + g + 1) * PANEL].copy_from_slice(acc_g);
        }
        p += GROUP;
    }
    for p in p..panels {
        let mut acc = [0.0f32; PANEL];
        acc.copy_from_slice(&c[p * PANEL..(p + 1) * PANEL]);
        for (x, wk) in a.iter().zip(w.panel(p)) {
            for j in 0..PANEL {
                acc[j] = I::mul_add(*x, wk[j], acc[j]);
            }
        }
        c[p * PANEL..(p + 1) * PANEL].copy_from_slice(&acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|kk| f64::from(a[i * k + kk]) * f64::from(w[j * k + kk]))
                    .sum();
                c[i * n + j] += dot as f32;
            }
        }
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn matches_the_naive_product_for_every_row_count() {
        let (n, k) = (80, 37);
        let w = values(n * k, 1);
        let packed = PackedMatrix::from_rows(&w, n, k);
        for m in [1, 2, 3, 4, 5, 7, 9, 130, 263] {
            let a = values(m * k, m as u32 + 7);
            let start = values(m * n, 3);
            let mut want = start.clone();
            naive(&a, &w, &mut want, m, n, k);
            let mut pack = Vec::new();
            for fused in [false, true] {
                let mut got = start.clone();
                if fused {
                    gemm_acc::<Fused>(&a, &packed, &mut got, &mut pack);
                } else {
                    gemm_acc::<Portable>(&a, &packed, &mut got, &mut pack);
                }
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "m={m} fused={fused}: {g} vs {w}");
                }
            }
        }
    }
}

//! Many stored voiceprints searched for the one closest to a probe (fraudster watchlists).
//!
//! A flat, contiguous matrix, scanned in two passes that together are exact — no approximate
//! index can miss a fraudster. The scan is bound by memory bandwidth, so the first pass reads a
//! copy of every voiceprint quantised to 8 bits (a quarter of the bytes) and bounds each row's
//! true similarity from its quantisation error; the second re-scores, in full precision, only the
//! rows whose upper bound reaches the best lower bound — which always includes the true best.
//! Measured in `benches/voiceprint.rs` (100 000 voiceprints).

use std::collections::HashMap;
use std::hash::Hash;

use crate::encoder::kernel::{self, Isa, Task};
use crate::voiceprint::{DIMENSIONS, Voiceprint};

/// Stored voiceprints with caller-chosen ids; insert and remove are O(1) (by id, through a
/// position map), so a 100 000-entry watchlist is kept up to date without rebuilding.
#[derive(Clone, Debug)]
pub struct VoiceprintIndex<Id> {
    ids: Vec<Id>,
    positions: HashMap<Id, usize>,
    values: Vec<f32>,
    /// Each row quantised to 8 bits with its own step, for the first pass.
    codes: Vec<i8>,
    /// Per row: its quantisation step and the sum of its codes' magnitudes (for the bound).
    scales: Vec<RowScale>,
}

/// How a row was quantised: `value = code × step + error`, with the norms that bound what the
/// codes can get wrong (Cauchy–Schwarz).
#[derive(Clone, Copy, Debug, PartialEq)]
struct RowScale {
    step: f32,
    /// ‖codes × step‖₂.
    norm: f32,
    /// ‖error‖₂.
    error: f32,
}

/// Quantises `values` to 8-bit codes with one step for the row.
fn quantise(values: &[f32], codes: &mut [i8]) -> RowScale {
    let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let step = if max > 0.0 { max / 127.0 } else { 1.0 };
    let (mut norm, mut error) = (0.0f64, 0.0f64);
    for (c, &v) in codes.iter_mut().zip(values) {
        let q = (v / step).round().clamp(-127.0, 127.0);
        *c = q as i8;
        let kept = f64::from(q) * f64::from(step);
        norm += kept * kept;
        error += (f64::from(v) - kept).powi(2);
    }
    RowScale {
        step,
        norm: norm.sqrt() as f32,
        error: error.sqrt() as f32,
    }
}

impl<Id: Clone + Eq + Hash> Default for VoiceprintIndex<Id> {
    fn default() -> Self {
        Self::new()
    }
}

/// The closest stored voiceprint to a probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Match<'a, Id> {
    /// Its id.
    pub id: &'a Id,
    /// Cosine similarity to the probe.
    pub similarity: f32,
}

impl<Id: Clone + Eq + Hash> VoiceprintIndex<Id> {
    /// An empty index.
    pub fn new() -> Self {
        VoiceprintIndex {
            ids: Vec::new(),
            positions: HashMap::new(),
            values: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
        }
    }

    /// Number of voiceprints stored.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a voiceprint, replacing any stored under the same id.
    pub fn insert(&mut self, id: Id, voiceprint: &Voiceprint) {
        let row = match self.positions.get(&id) {
            Some(&i) => i,
            None => {
                let i = self.ids.len();
                self.positions.insert(id.clone(), i);
                self.ids.push(id);
                self.values.resize((i + 1) * DIMENSIONS, 0.0);
                self.codes.resize((i + 1) * DIMENSIONS, 0);
                self.scales.push(RowScale {
                    step: 1.0,
                    norm: 0.0,
                    error: 0.0,
                });
                i
            }
        };
        let span = row * DIMENSIONS..(row + 1) * DIMENSIONS;
        self.values[span.clone()].copy_from_slice(voiceprint.values());
        self.scales[row] = quantise(voiceprint.values(), &mut self.codes[span]);
    }

    /// Removes the voiceprint stored under `id`; whether there was one.
    pub fn remove(&mut self, id: &Id) -> bool {
        let Some(i) = self.positions.remove(id) else {
            return false;
        };
        let last = self.ids.len() - 1;
        self.ids.swap_remove(i);
        if i != last {
            // The former last entry now lives at `i`.
            self.positions.insert(self.ids[i].clone(), i);
            let (head, tail) = self.values.split_at_mut(last * DIMENSIONS);
            head[i * DIMENSIONS..(i + 1) * DIMENSIONS].copy_from_slice(&tail[..DIMENSIONS]);
            let (head, tail) = self.codes.split_at_mut(last * DIMENSIONS);
            head[i * DIMENSIONS..(i + 1) * DIMENSIONS].copy_from_slice(&tail[..DIMENSIONS]);
        }
        self.values.truncate(last * DIMENSIONS);
        self.codes.truncate(last * DIMENSIONS);
        self.scales.swap_remove(i);
        true
    }

    /// The most similar stored voiceprint, if any: the same answer (id and similarity) as a
    /// full-precision scan of every row.
    pub fn closest(&self, probe: &Voiceprint) -> Option<Match<'_, Id>> {
        let (best, similarity) = kernel::run(Closest {
            values: &self.values,
            codes: &self.codes,
            scales: &self.scales,
            probe: probe.values(),
        })?;
        Some(Match {
            id: &self.ids[best],
            similarity,
        })
    }
}

/// The two-pass scan, as a task for [`kernel::run`].
struct Closest<'a> {
    values: &'a [f32],
    codes: &'a [i8],
    scales: &'a [RowScale],
    probe: &'a [f32; DIMENSIONS],
}

/// The 8-bit dot product (exact in `i32`: 256 × 127 × 127 fits).
#[inline(always)]
fn dot_codes(a: &[i8], b: &[i8; DIMENSIONS]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

impl Task for Closest<'_> {
    type Output = Option<(usize, f32)>;

    #[inline(always)]
    fn run<I: Isa>(self) -> Self::Output {
        let mut probe_codes = [0i8; DIMENSIONS];
        let probe = quantise(self.probe, &mut probe_codes);
        // Pass 1: each row's upper bound, and the best lower bound of any row. With
        // row = r + e and probe = q + f (r, q what the codes say), row·probe − r·q =
        // r·f + e·probe, so it is at most ‖r‖‖f‖ + ‖e‖‖probe‖ away (‖probe‖ = 1), plus a margin
        // for f32 rounding.
        let mut upper = Vec::with_capacity(self.scales.len());
        let mut best_lower = f32::NEG_INFINITY;
        for (row, scale) in self.codes.chunks_exact(DIMENSIONS).zip(self.scales) {
            let steps = scale.step * probe.step;
            let approx = dot_codes(row, &probe_codes) as f32 * steps;
            let bound = scale.norm * probe.error + scale.error * 1.0001 + 1e-5;
            upper.push(approx + bound);
            best_lower = best_lower.max(approx - bound);
        }
        // Pass 2: full precision for the rows that may be the best, in order, so that ties go
        // to the first row as in a plain scan.
        let mut best: Option<(usize, f32)> = None;
        for (i, _) in upper.iter().enumerate().filter(|(_, u)| **u >= best_lower) {
            let row = &self.values[i * DIMENSIONS..(i + 1) * DIMENSIONS];
            let s = kernel::dot::<I>(row, self.probe);
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(seed: usize) -> Voiceprint {
        let mut x = (seed as u32).wrapping_mul(2_654_435_761) | 1;
        let v: Vec<f32> = (0..DIMENSIONS)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 1000) as f32
            })
            .collect();
        Voiceprint::from_values(&v).unwrap()
    }

    #[test]
    fn finds_the_closest_and_forgets_removed_ones() {
        let mut index = VoiceprintIndex::new();
        assert!(index.closest(&print(1)).is_none());
        for i in 0..50 {
            index.insert(format!("id#{i}"), &print(i));
        }
        let hit = index.closest(&print(17)).unwrap();
        assert_eq!(hit.id, "id#17");
        assert!((hit.similarity - 1.0).abs() < 1e-5);
        assert!(index.remove(&"id#17".to_owned()));
        assert_ne!(index.closest(&print(17)).unwrap().id, "id#17");
        assert_eq!(index.len(), 49);
        index.insert("id#3".to_owned(), &print(40));
        assert_eq!(index.len(), 49);
        // Every id still finds its own voiceprint after the swaps removal does.
        for i in [0, 5, 48, 49] {
            assert!(index.remove(&format!("id#{i}")));
        }
        for i in (1..48).filter(|i| ![3, 5, 17, 40].contains(i)) {
            assert_eq!(index.closest(&print(i)).unwrap().id, &format!("id#{i}"));
        }
        assert!((index.closest(&print(40)).unwrap().similarity - 1.0).abs() < 1e-5);
        assert_eq!(index.len(), 45);
    }

    /// The full-precision scan the two passes must agree with.
    fn plain_scan(index: &VoiceprintIndex<usize>, probe: &Voiceprint) -> Option<(usize, f32)> {
        let mut best: Option<(usize, f32)> = None;
        for (i, row) in index.values.chunks_exact(DIMENSIONS).enumerate() {
            let s: f32 = row.iter().zip(probe.values()).map(|(a, b)| a * b).sum();
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((index.ids[i], s));
            }
        }
        best
    }

    #[test]
    fn the_two_pass_scan_finds_what_a_full_scan_finds() {
        // Near-duplicates make the quantised pass unable to tell the best alone.
        let mut index = VoiceprintIndex::new();
        for i in 0..2000 {
            index.insert(i, &print(i % 700 + (i / 700) * 100_000));
        }
        let base = print(5);
        let mut close = base.values().to_vec();
        close[0] += 0.05;
        index.insert(9999, &Voiceprint::from_values(&close).unwrap());
        for probe in (0..60).map(print).chain([base.clone(), print(123_456)]) {
            let hit = index.closest(&probe).unwrap();
            let (id, similarity) = plain_scan(&index, &probe).unwrap();
            assert_eq!(*hit.id, id);
            assert!(
                (hit.similarity - similarity).abs() < 1e-5,
                "{} vs {similarity}",
                hit.similarity
            );
        }
        // Replacing and removing keep the quantised copy in step.
        index.insert(5, &print(99));
        assert!(index.remove(&9999));
        let hit = index.closest(&print(99)).unwrap();
        assert!(matches!(*hit.id, 5 | 99), "{hit:?}");
        assert_eq!(
            index.closest(&base).map(|m| *m.id),
            plain_scan(&index, &base).map(|b| b.0)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any rows (signs, spikes, near-duplicates) and any probe: the two passes agree with
        /// a full scan.
        #[test]
        fn the_two_passes_agree_with_a_full_scan_on_any_rows(
            rows in proptest::collection::vec(
                proptest::collection::vec(-1.0f32..1.0, DIMENSIONS), 1..40),
            duplicate in 0usize..40,
            nudge in -0.05f32..0.05,
            probe in proptest::collection::vec(-1.0f32..1.0, DIMENSIONS),
        ) {
            let mut index = VoiceprintIndex::new();
            for (i, row) in rows.iter().enumerate() {
                if let Ok(v) = Voiceprint::from_values(row) {
                    index.insert(i, &v);
                }
            }
            // A near-duplicate of one row makes two rows close to each other.
            if let Some(row) = rows.get(duplicate % rows.len()) {
                let mut near = row.clone();
                near[0] += nudge;
                if let Ok(v) = Voiceprint::from_values(&near) {
                    index.insert(1000, &v);
                }
            }
            let Ok(probe) = Voiceprint::from_values(&probe) else { return Ok(()) };
            let found = index.closest(&probe).map(|m| (*m.id, m.similarity));
            let expected = plain_scan(&index, &probe);
            match (found, expected) {
                (Some((id, s)), Some((eid, es))) => {
                    proptest::prop_assert!((s - es).abs() < 1e-5, "{s} vs {es}");
                    // Only a tie within rounding may name another row.
                    if id != eid {
                        proptest::prop_assert!((s - es).abs() < 1e-6);
                    }
                }
                (None, None) => {}
                other => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }
}

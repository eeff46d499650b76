//! Many stored voiceprints searched for the one closest to a probe (fraudster watchlists).
//!
//! A flat, contiguous matrix scanned with the encoder's SIMD dot product: at 1 KiB per
//! voiceprint the scan is bound by memory bandwidth, and exact — no approximate index can miss
//! a fraudster. Measured in `benches/voiceprint.rs` (100 000 voiceprints).

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
        if let Some(&i) = self.positions.get(&id) {
            self.values[i * DIMENSIONS..(i + 1) * DIMENSIONS].copy_from_slice(voiceprint.values());
            return;
        }
        self.positions.insert(id.clone(), self.ids.len());
        self.ids.push(id);
        self.values.extend_from_slice(voiceprint.values());
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
        }
        self.values.truncate(last * DIMENSIONS);
        true
    }

    /// The most similar stored voiceprint, if any.
    pub fn closest(&self, probe: &Voiceprint) -> Option<Match<'_, Id>> {
        let (best, similarity) = kernel::run(Closest {
            values: &self.values,
            probe: probe.values(),
        })?;
        Some(Match {
            id: &self.ids[best],
            similarity,
        })
    }
}

/// The scan, as a task for [`kernel::run`].
struct Closest<'a> {
    values: &'a [f32],
    probe: &'a [f32; DIMENSIONS],
}

impl Task for Closest<'_> {
    type Output = Option<(usize, f32)>;

    #[inline(always)]
    fn run<I: Isa>(self) -> Self::Output {
        let mut best: Option<(usize, f32)> = None;
        for (i, row) in self.values.chunks_exact(DIMENSIONS).enumerate() {
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
}

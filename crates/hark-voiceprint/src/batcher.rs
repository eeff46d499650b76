//! Partials of many live streams through the encoder together.
//!
//! One partial alone is a matrix-vector product per LSTM step: every weight is fetched from
//! memory for 2 flops. The same weights applied to eight partials at once cost barely more
//! memory traffic, so a [`PartialBatcher`] shared by all of a process's streams collects the
//! partials they complete and runs them as one batch when [`BATCH`] are waiting. No thread of its
//! own: the stream whose partial fills the batch runs it, on its own (blocking) thread.
//!
//! A stream that needs its voiceprint now (a snapshot for a decision) takes its own waiting
//! partials back out of the queue and runs them itself, then waits for any of its partials that
//! another stream's thread is computing. Results are folded into the stream's sum in partial
//! order, so a batched stream gives exactly the voiceprint of one that computes alone.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::encoder::{Encoder, EncoderScratch};
use crate::frontend::{N_MELS, PARTIAL_FRAMES};
use crate::voiceprint::DIMENSIONS;

/// Partials per batch: two whole register blocks of the encoder (6 rows each), so each weight is
/// streamed once per step for twelve partials; few enough that the stream that runs a batch is
/// delayed by tens of milliseconds (one batch: about 60 ms on one core), not hundreds.
pub const BATCH: usize = 12;

/// A stream's own partials run without waiting for a full batch once this many are outstanding,
/// so a lone stream's partials neither pile up nor all land on its decision.
const OWN_LIMIT: usize = 3;

/// Floats of one partial's mel frames.
const PARTIAL_LEN: usize = PARTIAL_FRAMES * N_MELS;

/// Runs the partials of many [`StreamingEmbedder`](crate::StreamingEmbedder)s in batches.
#[derive(Debug)]
pub struct PartialBatcher {
    encoder: Arc<Encoder>,
    queue: Mutex<Queue>,
    /// Scratch buffers of finished batches, for the next (a batch needs a few MB).
    scratch: Mutex<Vec<EncoderScratch>>,
}

/// Partials waiting for a batch: their mel frames back to back, and whose they are.
#[derive(Debug, Default)]
struct Queue {
    mels: Vec<f32>,
    owners: Vec<(Arc<StreamPartials>, usize)>,
}

/// One stream's partials that left the stream: queued, being computed, or computed and not yet
/// folded into the stream's sum.
#[derive(Debug, Default)]
pub(crate) struct StreamPartials {
    state: Mutex<PartialsState>,
    computed: Condvar,
}

#[derive(Debug, Default)]
struct PartialsState {
    /// Submitted and not yet computed.
    outstanding: usize,
    /// Computed embeddings by partial index, waiting to be folded in order.
    done: BTreeMap<usize, Box<[f32; DIMENSIONS]>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent, so a panic elsewhere does not poison it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PartialBatcher {
    /// A batcher over a packed encoder.
    pub fn new(encoder: Arc<Encoder>) -> Self {
        PartialBatcher {
            encoder,
            queue: Mutex::new(Queue::default()),
            scratch: Mutex::new(Vec::new()),
        }
    }

    /// The encoder the batches run through.
    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }

    /// Partials waiting in the queue.
    pub fn queued(&self) -> usize {
        locked(&self.queue).owners.len()
    }

    /// Queues partial `index` of a stream; runs a batch if this fills one, or the stream's own
    /// partials if it has [`OWN_LIMIT`] outstanding.
    pub(crate) fn submit(&self, owner: &Arc<StreamPartials>, index: usize, mels: &[f32]) {
        debug_assert_eq!(mels.len(), PARTIAL_LEN);
        let outstanding = {
            let mut state = locked(&owner.state);
            state.outstanding += 1;
            state.outstanding
        };
        let full = {
            let mut queue = locked(&self.queue);
            queue.mels.extend_from_slice(mels);
            queue.owners.push((Arc::clone(owner), index));
            (queue.owners.len() >= BATCH).then(|| std::mem::take(&mut *queue))
        };
        match full {
            Some(batch) => self.run(batch),
            None if outstanding >= OWN_LIMIT => {
                let own = self.take_own(owner);
                if !own.owners.is_empty() {
                    self.run(own);
                }
            }
            None => {}
        }
    }

    /// Runs a stream's queued partials now and waits until all its partials are computed.
    pub(crate) fn flush(&self, owner: &Arc<StreamPartials>) {
        let own = self.take_own(owner);
        if !own.owners.is_empty() {
            self.run(own);
        }
        let mut state = locked(&owner.state);
        while state.outstanding > 0 {
            state = owner
                .computed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Drops a stream's queued partials (the stream ended; nobody will read them).
    pub(crate) fn cancel(&self, owner: &Arc<StreamPartials>) {
        let own = self.take_own(owner);
        locked(&owner.state).outstanding -= own.owners.len();
    }

    /// Takes a stream's partials out of the queue, keeping everyone else's in order.
    fn take_own(&self, owner: &Arc<StreamPartials>) -> Queue {
        let mut queue = locked(&self.queue);
        let mut own = Queue::default();
        if !queue.owners.iter().any(|(o, _)| Arc::ptr_eq(o, owner)) {
            return own;
        }
        let all = std::mem::take(&mut *queue);
        for ((o, index), mels) in all
            .owners
            .into_iter()
            .zip(all.mels.chunks_exact(PARTIAL_LEN))
        {
            let to = if Arc::ptr_eq(&o, owner) {
                &mut own
            } else {
                &mut *queue
            };
            to.mels.extend_from_slice(mels);
            to.owners.push((o, index));
        }
        own
    }

    /// Embeds a batch and hands each partial's embedding to its stream.
    fn run(&self, batch: Queue) {
        let mut scratch = locked(&self.scratch).pop().unwrap_or_default();
        let n = batch.owners.len();
        let mut out = vec![0.0f32; n * DIMENSIONS];
        self.encoder
            .embed_partials(&batch.mels, n, &mut scratch, &mut out);
        locked(&self.scratch).push(scratch);
        for ((owner, index), embedding) in batch.owners.iter().zip(out.chunks_exact(DIMENSIONS)) {
            let mut state = locked(&owner.state);
            let mut values = Box::new([0.0f32; DIMENSIONS]);
            values.copy_from_slice(embedding);
            state.done.insert(*index, values);
            state.outstanding -= 1;
            owner.computed.notify_all();
        }
    }
}

impl StreamPartials {
    /// Adds the computed embeddings of partials `*next..` to `sum`, in order, stopping at the
    /// first one not computed yet; advances `*next`.
    pub(crate) fn fold_into(&self, sum: &mut [f32], next: &mut usize) {
        let mut state = locked(&self.state);
        while let Some(values) = state.done.remove(next) {
            sum.iter_mut().zip(values.iter()).for_each(|(s, p)| *s += p);
            *next += 1;
        }
    }
}

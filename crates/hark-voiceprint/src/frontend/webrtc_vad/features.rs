//! The detector's features: a 30 ms frame at 16 kHz halved to 8 kHz, split by all-pass filter
//! pairs into six bands (80–250, 250–500, 500–1000, 1000–2000, 2000–3000, 3000–4000 Hz), and the
//! log energy of each band (dB in Q4), plus a rough total energy.
//!
//! The arithmetic is the fixed-point arithmetic of WebRTC's C code, which wraps on overflow;
//! every operation that can overflow on hostile input says so (`wrapping_*`), so debug builds
//! with overflow checks compute what release builds do instead of panicking.

/// Samples per frame at 8 kHz (30 ms).
pub(super) const FRAME_8K: usize = 240;

/// Filter states carried from frame to frame.
#[derive(Debug, Clone, Default)]
pub(super) struct FeatureState {
    /// The 16 → 8 kHz down-sampler's two all-pass branches.
    downsampler: [i32; 2],
    /// The band splitter's upper and lower all-pass states, one pair per split.
    upper: [i16; 5],
    lower: [i16; 5],
    /// The 80 Hz high-pass filter of the lowest band.
    highpass: [i16; 4],
}

/// Band energies and the total energy indicator of one frame.
pub(super) struct Features {
    /// 10·log10(band energy) in Q4, lowest band first.
    pub(super) log_energy: [i16; 6],
    /// Exceeds 10 when the frame holds enough energy to be judged at all.
    pub(super) total_energy: i16,
}

/// Added to each band's log energy (Q4): the C code's `kOffsetVector`.
const BAND_OFFSETS: [i16; 6] = [368, 368, 272, 176, 176, 176];

impl FeatureState {
    /// The features of one 30 ms frame of 16 kHz audio.
    pub(super) fn features(&mut self, frame: &[i16; 2 * FRAME_8K]) -> Features {
        let mut at_8k = [0i16; FRAME_8K];
        self.downsample(frame, &mut at_8k);
        let mut total_energy = 0i16;
        let mut log_energy = [0i16; 6];
        let mut band = |index: usize, samples: &[i16], total: &mut i16| {
            log_energy[index] = band_log_energy(samples, BAND_OFFSETS[index], total);
        };

        // 0–4 kHz → 2–4 kHz (high) and 0–2 kHz (low), each at half the rate.
        let (mut high_120, mut low_120) = ([0i16; 120], [0i16; 120]);
        self.split(0, &at_8k, &mut high_120, &mut low_120);
        // 2–4 kHz → 3–4 and 2–3 kHz.
        let (mut high_60, mut low_60) = ([0i16; 60], [0i16; 60]);
        self.split(1, &high_120, &mut high_60, &mut low_60);
        band(5, &high_60, &mut total_energy);
        band(4, &low_60, &mut total_energy);
        // 0–2 kHz → 1–2 and 0–1 kHz.
        self.split(2, &low_120, &mut high_60, &mut low_60);
        band(3, &high_60, &mut total_energy);
        // 0–1 kHz → 500–1000 and 0–500 Hz.
        let (mut high_30, mut low_30) = ([0i16; 30], [0i16; 30]);
        self.split(3, &low_60, &mut high_30, &mut low_30);
        band(2, &high_30, &mut total_energy);
        // 0–500 Hz → 250–500 and 0–250 Hz.
        let (mut high_15, mut low_15) = ([0i16; 15], [0i16; 15]);
        self.split(4, &low_30, &mut high_15, &mut low_15);
        band(1, &high_15, &mut total_energy);
        // 0–250 Hz without what lies below 80 Hz.
        let mut above_80 = [0i16; 15];
        self.highpass_80(&low_15, &mut above_80);
        band(0, &above_80, &mut total_energy);

        Features {
            log_energy,
            total_energy,
        }
    }

    /// Halves the rate with two all-pass branches (coefficients 0.64 and 0.17 in Q13) whose
    /// outputs are summed with saturation.
    fn downsample(&mut self, input: &[i16], output: &mut [i16]) {
        const UPPER: i32 = 5243;
        const LOWER: i32 = 1392;
        let [mut upper, mut lower] = self.downsampler;
        for (out, pair) in output.iter_mut().zip(input.chunks_exact(2)) {
            let (even, odd) = (i32::from(pair[0]), i32::from(pair[1]));
            let upper_out = (upper >> 1).wrapping_add(UPPER.wrapping_mul(even) >> 14) as i16;
            upper = even.wrapping_sub(UPPER.wrapping_mul(i32::from(upper_out)) >> 12);
            let lower_out = (lower >> 1).wrapping_add(LOWER.wrapping_mul(odd) >> 14) as i16;
            lower = odd.wrapping_sub(LOWER.wrapping_mul(i32::from(lower_out)) >> 12);
            *out = upper_out.saturating_add(lower_out);
        }
        self.downsampler = [upper, lower];
    }

    /// Split number `stage`: the upper and lower halves of `input`'s spectrum, each at half
    /// its rate (Q(-1)).
    fn split(&mut self, stage: usize, input: &[i16], high: &mut [i16], low: &mut [i16]) {
        const UPPER: i16 = 20972; // 0.64 in Q15
        const LOWER: i16 = 5571; // 0.17 in Q15
        allpass(input.iter().step_by(2), high, &mut self.upper[stage], UPPER);
        allpass(
            input.iter().skip(1).step_by(2),
            low,
            &mut self.lower[stage],
            LOWER,
        );
        for (h, l) in high.iter_mut().zip(low.iter_mut()) {
            let upper_branch = *h;
            *h = upper_branch.wrapping_sub(*l);
            *l = l.wrapping_add(upper_branch);
        }
    }

    /// A biquad high-pass at 80 Hz for the 500 Hz band signal (coefficients in Q14).
    fn highpass_80(&mut self, input: &[i16], output: &mut [i16]) {
        const ZEROS: [i32; 3] = [6631, -13262, 6631];
        const POLES: [i32; 2] = [-7756, 5620];
        let state = &mut self.highpass;
        for (out, &x) in output.iter_mut().zip(input) {
            let mut acc = ZEROS[0].wrapping_mul(i32::from(x));
            acc = acc.wrapping_add(ZEROS[1].wrapping_mul(i32::from(state[0])));
            acc = acc.wrapping_add(ZEROS[2].wrapping_mul(i32::from(state[1])));
            state[1] = state[0];
            state[0] = x;
            acc = acc.wrapping_sub(POLES[0].wrapping_mul(i32::from(state[2])));
            acc = acc.wrapping_sub(POLES[1].wrapping_mul(i32::from(state[3])));
            state[3] = state[2];
            state[2] = (acc >> 14) as i16;
            *out = state[2];
        }
    }
}

/// A first-order all-pass section over every other input sample, output in Q(-1).
fn allpass<'a>(
    input: impl Iterator<Item = &'a i16>,
    output: &mut [i16],
    state: &mut i16,
    coefficient: i16,
) {
    let coefficient = i32::from(coefficient);
    let mut acc = i32::from(*state).wrapping_mul(1 << 16);
    for (out, &x) in output.iter_mut().zip(input) {
        let x = i32::from(x);
        let y = acc.wrapping_add(coefficient.wrapping_mul(x));
        let y16 = (y >> 16) as i16;
        *out = y16;
        acc = x
            .wrapping_mul(1 << 14)
            .wrapping_sub(coefficient.wrapping_mul(i32::from(y16)))
            .wrapping_mul(2);
    }
    *state = (acc >> 16) as i16;
}

/// 10·log10 of the energy of `samples` in Q4 plus `offset` (just `offset` for silence); adds
/// to `total` while it has not passed 10.
fn band_log_energy(samples: &[i16], offset: i16, total: &mut i16) -> i16 {
    const LOG10_2_TIMES_160: i32 = 24660; // Q9
    let (energy, scaling) = scaled_energy(samples);
    if energy == 0 {
        return offset;
    }
    // Normalise the energy to 15 bits, counting the shifts into `scaling`.
    let shifts = 17 - energy.leading_zeros() as i32;
    let scaling = scaling + shifts;
    let energy = if shifts < 0 {
        energy << -shifts
    } else {
        energy >> shifts
    };
    // log2 in Q10: 14 for the leading bit plus the fraction, linearly.
    let log2_energy = 14336i32 + ((energy & 0x3FFF) >> 4) as i32;
    let log_energy = (((LOG10_2_TIMES_160 * log2_energy) >> 19)
        .wrapping_add(scaling.wrapping_mul(LOG10_2_TIMES_160) >> 9)) as i16;
    if *total <= 10 {
        if scaling >= 0 {
            // The energy is above 10 by construction: make the total say so.
            *total = total.wrapping_add(11);
        } else {
            *total = total.wrapping_add((energy >> -scaling) as i16);
        }
    }
    log_energy.max(0).wrapping_add(offset)
}

/// The sum of squares of `samples`, each right-shifted so the sum cannot overflow, and the
/// shift.
fn scaled_energy(samples: &[i16]) -> (u32, i32) {
    let peak = samples
        .iter()
        .map(|s| i32::from(s.wrapping_abs()))
        .max()
        .unwrap_or(0);
    let terms_bits = 32 - (samples.len() as i32).leading_zeros() as i32;
    let scaling = if peak == 0 {
        0
    } else {
        let square = peak.wrapping_mul(peak);
        // Left shifts `square` takes before it would overflow (its sign bit excluded).
        let headroom = (if square < 0 { !square } else { square }).leading_zeros() as i32 - 1;
        if headroom > terms_bits {
            0
        } else {
            terms_bits - headroom
        }
    };
    let energy = samples
        .iter()
        .map(|&s| (i32::from(s) * i32::from(s)) >> scaling)
        .fold(0i32, i32::wrapping_add);
    (energy as u32, scaling)
}

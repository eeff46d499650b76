//! The two Gaussian mixtures per band (noise, speech), their likelihood ratio for a frame, and
//! how they adapt after each decision — WebRTC's `vad_core.c`, `vad_gmm.c` and `vad_sp.c`.
//!
//! Fixed point throughout: features in Q4, means and standard deviations in Q7, weights in Q7,
//! probabilities in Q27, conditional probabilities in Q14. Operations that can overflow wrap,
//! as in C.

/// Gaussians per mixture.
const GAUSSIANS: usize = 2;
/// Bands.
const BANDS: usize = 6;

/// The model WebRTC ships (`kNoiseDataWeights`, `kSpeechDataMeans`, …).
const NOISE_WEIGHTS: [[i16; BANDS]; GAUSSIANS] =
    [[34, 62, 72, 66, 53, 25], [94, 66, 56, 62, 75, 103]];
const SPEECH_WEIGHTS: [[i16; BANDS]; GAUSSIANS] =
    [[48, 82, 45, 87, 50, 47], [80, 46, 83, 41, 78, 81]];
const NOISE_MEANS: [[i16; BANDS]; GAUSSIANS] = [
    [6738, 4892, 7065, 6715, 6771, 3369],
    [7646, 3863, 7820, 7266, 5020, 4362],
];
const SPEECH_MEANS: [[i16; BANDS]; GAUSSIANS] = [
    [8306, 10085, 10078, 11823, 11843, 6309],
    [9473, 9571, 10879, 7581, 8180, 7483],
];
const NOISE_STDS: [[i16; BANDS]; GAUSSIANS] = [
    [378, 1064, 493, 582, 688, 593],
    [474, 697, 475, 688, 421, 455],
];
const SPEECH_STDS: [[i16; BANDS]; GAUSSIANS] = [
    [555, 505, 567, 524, 585, 1231],
    [509, 828, 492, 1540, 1079, 850],
];
/// Lowest speech mean per Gaussian, highest noise "global" mean per band (Q7).
const MINIMUM_SPEECH_MEAN: [i16; GAUSSIANS] = [640, 768];
const MAXIMUM_NOISE: [i16; BANDS] = [9216, 9088, 8960, 8832, 8704, 8576];
/// Highest speech "global" mean per band (Q7).
const MAXIMUM_SPEECH: [i16; BANDS] = [11392, 11392, 11520, 11520, 11520, 11520];
/// Smallest gap kept between the speech and noise "global" means (Q5).
const MINIMUM_DIFFERENCE: [i16; BANDS] = [544, 544, 576, 576, 576, 576];
/// Weights of the bands' log likelihood ratios in the global test.
const SPECTRUM_WEIGHT: [i32; BANDS] = [6, 8, 10, 12, 14, 16];
/// Adaptation rates: noise and speech means (Q15), the long-term noise correction (Q8).
const NOISE_UPDATE: i32 = 655;
const SPEECH_UPDATE: i32 = 6554;
const BACK_ETA: i32 = 154;
/// The standard deviation bound (Q7): see the module comment of `webrtc_vad` on its direction.
const STD_BOUND: i16 = 384;
/// Frames a band minimum is remembered, and how many minima are kept.
const MINIMUM_AGE: i16 = 100;
const MINIMA: usize = 16;

/// The adapting state of the detector's model.
#[derive(Debug, Clone)]
pub(super) struct Mixtures {
    noise_means: [[i16; BANDS]; GAUSSIANS],
    speech_means: [[i16; BANDS]; GAUSSIANS],
    noise_stds: [[i16; BANDS]; GAUSSIANS],
    speech_stds: [[i16; BANDS]; GAUSSIANS],
    minima: [BandMinima; BANDS],
    /// Frames judged so far (those with enough energy).
    frames: usize,
}

/// A band's smallest features of the last 100 frames and their smoothed median.
#[derive(Debug, Clone)]
struct BandMinima {
    values: [i16; MINIMA],
    ages: [i16; MINIMA],
    smoothed: i16,
}

/// What the mixtures say about one frame, and what their update needs from it.
pub(super) struct Likelihood {
    /// log2 likelihood ratio, speech over noise, per band.
    pub(super) band_ratios: [i16; BANDS],
    /// The ratios weighted by band.
    pub(super) weighted_sum: i32,
    /// (x − mean) / std² per Gaussian and band (Q11).
    noise_delta: [[i16; BANDS]; GAUSSIANS],
    speech_delta: [[i16; BANDS]; GAUSSIANS],
    /// Each Gaussian's share of its mixture's probability (Q14).
    noise_share: [[i16; BANDS]; GAUSSIANS],
    speech_share: [[i16; BANDS]; GAUSSIANS],
}

impl Mixtures {
    /// The shipped model, nothing heard yet.
    pub(super) fn new() -> Self {
        let minima = BandMinima {
            values: [10000; MINIMA],
            ages: [0; MINIMA],
            smoothed: 1600,
        };
        Mixtures {
            noise_means: NOISE_MEANS,
            speech_means: SPEECH_MEANS,
            noise_stds: NOISE_STDS,
            speech_stds: SPEECH_STDS,
            minima: std::array::from_fn(|_| minima.clone()),
            frames: 0,
        }
    }

    /// The likelihood ratios of a frame's features (Q4 log energies).
    pub(super) fn likelihood(&self, features: &[i16; BANDS]) -> Likelihood {
        let mut l = Likelihood {
            band_ratios: [0; BANDS],
            weighted_sum: 0,
            noise_delta: [[0; BANDS]; GAUSSIANS],
            speech_delta: [[0; BANDS]; GAUSSIANS],
            noise_share: [[0; BANDS]; GAUSSIANS],
            speech_share: [[0; BANDS]; GAUSSIANS],
        };
        for band in 0..BANDS {
            let x = features[band];
            let mut noise = [0i32; GAUSSIANS];
            let mut speech = [0i32; GAUSSIANS];
            for g in 0..GAUSSIANS {
                let (p, delta) = gaussian(x, self.noise_means[g][band], self.noise_stds[g][band]);
                l.noise_delta[g][band] = delta;
                noise[g] = i32::from(NOISE_WEIGHTS[g][band]).wrapping_mul(p);
                let (p, delta) = gaussian(x, self.speech_means[g][band], self.speech_stds[g][band]);
                l.speech_delta[g][band] = delta;
                speech[g] = i32::from(SPEECH_WEIGHTS[g][band]).wrapping_mul(p);
            }
            let h0 = noise[0].wrapping_add(noise[1]);
            let h1 = speech[0].wrapping_add(speech[1]);
            // log2(h1 / h0) ≈ the difference of their leading-bit positions.
            let ratio = leading_shifts(h0) - leading_shifts(h1);
            l.band_ratios[band] = ratio;
            l.weighted_sum += i32::from(ratio) * SPECTRUM_WEIGHT[band];

            if let Some(share) = first_share(noise[0], h0) {
                l.noise_share[0][band] = share;
                l.noise_share[1][band] = 16384i16.wrapping_sub(share);
            } else {
                // Noise very unlikely: the first Gaussian takes it all.
                l.noise_share[0][band] = 16384;
            }
            if let Some(share) = first_share(speech[0], h1) {
                l.speech_share[0][band] = share;
                l.speech_share[1][band] = 16384i16.wrapping_sub(share);
            }
        }
        l
    }

    /// Adapts the mixtures to a judged frame: the model the decision chose moves toward it,
    /// the noise means follow the band minima, and the two models are kept apart and bounded.
    pub(super) fn update(&mut self, features: &[i16; BANDS], l: &Likelihood, speech: bool) {
        // Each band's speech bound is checked against the previous band's maximum.
        let mut speech_bound = 12800i16;
        for band in 0..BANDS {
            let x = features[band];
            let minimum = self.minima[band].insert(x, self.frames);
            let noise_global = weighted_mean(&mut self.noise_means, band, 0, &NOISE_WEIGHTS);
            let noise_global_q8 = (noise_global >> 6) as i16;
            for g in 0..GAUSSIANS {
                // The noise variance moves relative to the mean before this frame's update.
                let noise_mean = self.noise_means[g][band];
                self.update_noise_mean(band, g, l, speech, minimum, noise_global_q8);
                if speech {
                    self.update_speech(band, g, x, l, speech_bound);
                } else {
                    self.update_noise_std(band, g, x, noise_mean, l);
                }
            }
            self.separate_and_bound(band);
            speech_bound = MAXIMUM_SPEECH[band];
        }
        self.frames += 1;
    }

    /// Noise mean: toward the frame when it was noise, and toward the band's recent minimum.
    fn update_noise_mean(
        &mut self,
        band: usize,
        g: usize,
        l: &Likelihood,
        speech: bool,
        minimum: i16,
        noise_global_q8: i16,
    ) {
        let mean = self.noise_means[g][band];
        let mut moved = mean;
        if !speech {
            let step = ((i32::from(l.noise_share[g][band]) * i32::from(l.noise_delta[g][band]))
                >> 11) as i16;
            moved = mean.wrapping_add((i32::from(step).wrapping_mul(NOISE_UPDATE) >> 22) as i16);
        }
        let drift = minimum.wrapping_shl(4).wrapping_sub(noise_global_q8);
        let corrected = moved.wrapping_add((i32::from(drift).wrapping_mul(BACK_ETA) >> 9) as i16);
        let low = ((g + 5) << 7) as i16;
        let high = ((72 + g - band) << 7) as i16;
        self.noise_means[g][band] = corrected.clamp(low, high);
    }

    /// Speech mean and standard deviation toward a frame judged speech.
    fn update_speech(&mut self, band: usize, g: usize, x: i16, l: &Likelihood, bound: i16) {
        let mean = self.speech_means[g][band];
        let std = self.speech_stds[g][band];
        let share = l.speech_share[g][band];
        let delta = l.speech_delta[g][band];
        let step = ((i32::from(share) * i32::from(delta)) >> 11) as i16;
        let step_q8 = ((i32::from(step) * SPEECH_UPDATE) >> 21) as i16;
        let moved = mean.wrapping_add(step_q8.wrapping_add(1) >> 1);
        self.speech_means[g][band] = moved.clamp(MINIMUM_SPEECH_MEAN[g], bound.wrapping_add(640));

        let distance = x.wrapping_sub(mean.wrapping_add(4) >> 3); // Q4
        let gradient = ((i32::from(delta) * i32::from(distance)) >> 3).wrapping_sub(4096); // Q12
        let weighted = i32::from(share >> 2).wrapping_mul(gradient) >> 4; // Q20
        let change = signed_div(weighted, std.wrapping_mul(10)).wrapping_add(128);
        self.speech_stds[g][band] = std.wrapping_add(change >> 8).min(STD_BOUND);
    }

    /// Noise standard deviation toward a frame judged noise.
    fn update_noise_std(&mut self, band: usize, g: usize, x: i16, mean: i16, l: &Likelihood) {
        let std = self.noise_stds[g][band];
        let distance = x.wrapping_sub(mean >> 3); // Q4
        let gradient =
            ((i32::from(l.noise_delta[g][band]) * i32::from(distance)) >> 3).wrapping_sub(4096);
        let share = l.noise_share[g][band].wrapping_add(2) >> 2;
        let weighted = i32::from(share).saturating_mul(gradient) >> 14; // Q20
        let change = signed_div(weighted, std).wrapping_add(32);
        self.noise_stds[g][band] = std.wrapping_add(change >> 6).min(STD_BOUND);
    }

    /// Keeps the speech and noise "global" means at least the minimum difference apart and
    /// each below its maximum.
    fn separate_and_bound(&mut self, band: usize) {
        let mut noise_global = weighted_mean(&mut self.noise_means, band, 0, &NOISE_WEIGHTS);
        let mut speech_global = weighted_mean(&mut self.speech_means, band, 0, &SPEECH_WEIGHTS);
        let gap = ((speech_global >> 9) as i16).wrapping_sub((noise_global >> 9) as i16);
        if gap < MINIMUM_DIFFERENCE[band] {
            let missing = MINIMUM_DIFFERENCE[band].wrapping_sub(gap);
            let speech_shift = 13i16.wrapping_mul(missing) >> 2;
            let noise_shift = 3i16.wrapping_mul(missing) >> 2;
            speech_global =
                weighted_mean(&mut self.speech_means, band, speech_shift, &SPEECH_WEIGHTS);
            noise_global = weighted_mean(
                &mut self.noise_means,
                band,
                noise_shift.wrapping_neg(),
                &NOISE_WEIGHTS,
            );
        }
        let excess = ((speech_global >> 7) as i16).wrapping_sub(MAXIMUM_SPEECH[band]);
        if (speech_global >> 7) as i16 > MAXIMUM_SPEECH[band] {
            for means in &mut self.speech_means {
                means[band] = means[band].wrapping_sub(excess);
            }
        }
        let excess = ((noise_global >> 7) as i16).wrapping_sub(MAXIMUM_NOISE[band]);
        if (noise_global >> 7) as i16 > MAXIMUM_NOISE[band] {
            for means in &mut self.noise_means {
                means[band] = means[band].wrapping_sub(excess);
            }
        }
    }
}

impl BandMinima {
    /// Remembers `x` if it is among the 16 smallest of the last 100 frames (`frames` judged so
    /// far); the smoothed median of the smallest (Q4): it falls quickly and rises slowly.
    fn insert(&mut self, x: i16, frames: usize) -> i16 {
        for i in 0..MINIMA {
            if self.ages[i] != MINIMUM_AGE {
                // Wraps, as in C, for a slot that is never replaced (hours of one level).
                self.ages[i] = self.ages[i].wrapping_add(1);
            } else {
                // Too old: forget it, moving the larger ones down.
                self.values.copy_within(i + 1.., i);
                self.ages.copy_within(i + 1.., i);
                self.values[MINIMA - 1] = 10000;
                self.ages[MINIMA - 1] = MINIMUM_AGE + 1;
            }
        }
        if let Some(at) = self.values.iter().position(|&v| x < v) {
            self.values.copy_within(at..MINIMA - 1, at + 1);
            self.ages.copy_within(at..MINIMA - 1, at + 1);
            self.values[at] = x;
            self.ages[at] = 1;
        }
        let median = match frames {
            0 => 1600,
            1 | 2 => self.values[0],
            _ => self.values[2],
        };
        const DOWN: i16 = 6553; // 0.2 in Q15
        const UP: i16 = 32439; // 0.99 in Q15
        let alpha = match frames {
            0 => 0,
            _ if median < self.smoothed => DOWN,
            _ => UP,
        };
        let smoothed = i32::from(alpha + 1)
            .wrapping_mul(i32::from(self.smoothed))
            .wrapping_add(i32::from(i16::MAX - alpha).wrapping_mul(i32::from(median)))
            .wrapping_add(16384);
        self.smoothed = (smoothed >> 15) as i16;
        self.smoothed
    }
}

/// The probability density of `x` (Q4) under a Gaussian of `mean` and `std` (Q7), in Q20 —
/// `exp` by a linear approximation of the fraction of 2^(−log2(e)·z) — and
/// (x − mean) / std² in Q11, which the update needs.
fn gaussian(x: i16, mean: i16, std: i16) -> (i32, i16) {
    const EXPONENT_LIMIT: i32 = 22005; // beyond it the density is 0
    const LOG2_E: i32 = 5909; // Q12
    let inv_std = divide(131072 + i32::from(std >> 1), std) as i16; // Q10
    let inv_std_q8 = inv_std >> 2;
    let inv_var = ((i32::from(inv_std_q8) * i32::from(inv_std_q8)) >> 2) as i16; // Q14
    let distance = x.wrapping_shl(3).wrapping_sub(mean); // Q7
    let delta = ((i32::from(inv_var) * i32::from(distance)) >> 10) as i16; // Q11
    let exponent = (i32::from(delta) * i32::from(distance)) >> 9; // Q10
    let density = if exponent < EXPONENT_LIMIT {
        let power = ((LOG2_E.wrapping_mul(exponent) >> 12) as i16).wrapping_neg(); // Q10
        let mantissa = 0x0400 | (power & 0x03FF);
        let shift = (!power >> 10) + 1;
        mantissa.wrapping_shr(shift as u32)
    } else {
        0
    };
    (i32::from(inv_std) * i32::from(density), delta)
}

/// How far `x` can be shifted left before its sign bit would change (31 for 0).
fn leading_shifts(x: i32) -> i16 {
    if x == 0 {
        31
    } else {
        (if x < 0 { !x } else { x }).leading_zeros() as i16 - 1
    }
}

/// The first Gaussian's share of a mixture's probability (Q14), when the mixture's
/// probability is large enough to divide by.
fn first_share(first: i32, total: i32) -> Option<i16> {
    let total_q15 = (total >> 12) as i16;
    (total_q15 > 0).then(|| divide((first & 0xFFFF_F000_u32 as i32) << 2, total_q15) as i16)
}

/// `a / b` rounded toward zero, symmetric in the sign of `a`, as an `i16` (Q13 updates).
fn signed_div(a: i32, b: i16) -> i16 {
    if a > 0 {
        divide(a, b) as i16
    } else {
        divide(a.wrapping_neg(), b).wrapping_neg() as i16
    }
}

/// `a / b`; `i32::MAX` for a zero divisor (or the one quotient that overflows).
fn divide(a: i32, b: i16) -> i32 {
    a.checked_div(i32::from(b)).unwrap_or(i32::MAX)
}

/// Moves a band's means by `shift` and returns their weighted sum (Q14).
fn weighted_mean(
    means: &mut [[i16; BANDS]; GAUSSIANS],
    band: usize,
    shift: i16,
    weights: &[[i16; BANDS]; GAUSSIANS],
) -> i32 {
    let mut sum = 0i32;
    for g in 0..GAUSSIANS {
        means[g][band] = means[g][band].wrapping_add(shift);
        sum = sum.wrapping_add(i32::from(means[g][band]) * i32::from(weights[g][band]));
    }
    sum
}

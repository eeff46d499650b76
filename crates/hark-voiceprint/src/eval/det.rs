//! The DET curve (false rejects against false accepts on normal-deviate axes) as a PNG.

use super::glyphs::glyph;
use super::metrics::Trials;

const WIDTH: usize = 640;
const HEIGHT: usize = 560;
const LEFT: usize = 70;
const RIGHT: usize = 20;
const TOP: usize = 20;
const BOTTOM: usize = 70;
/// Axis range in probability: 0.1 % to 60 %.
const P_MIN: f64 = 0.001;
const P_MAX: f64 = 0.6;
const TICKS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4];
const BLACK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [215, 215, 215];
const COLOURS: &[[u8; 3]] = &[
    [31, 119, 180],
    [214, 95, 14],
    [44, 160, 44],
    [148, 103, 189],
];

/// Error function, Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// The standard normal deviate of probability `p` (inverse CDF), by bisection.
fn probit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    let (mut lo, mut hi) = (-8.0f64, 8.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if 0.5 * (1.0 + erf(mid / std::f64::consts::SQRT_2)) < p {
            lo = mid
        } else {
            hi = mid
        }
    }
    0.5 * (lo + hi)
}

struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Canvas {
            pixels: vec![255; WIDTH * HEIGHT * 3],
        }
    }

    fn set(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let at = (y as usize * WIDTH + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&colour);
        }
    }

    fn line(&mut self, from: (f64, f64), to: (f64, f64), colour: [u8; 3], thick: i64) {
        let steps = ((to.0 - from.0).abs().max((to.1 - from.1).abs()).ceil() as i64).max(1);
        for i in 0..=steps {
            let f = i as f64 / steps as f64;
            let x = (from.0 + (to.0 - from.0) * f).round() as i64;
            let y = (from.1 + (to.1 - from.1) * f).round() as i64;
            for dx in 0..thick {
                for dy in 0..thick {
                    self.set(x + dx, y + dy, colour);
                }
            }
        }
    }

    /// Writes `text` with its top-left corner at (x, y), `scale` pixels per font pixel.
    fn text(&mut self, x: i64, y: i64, text: &str, colour: [u8; 3], scale: i64) {
        for (i, c) in text.chars().enumerate() {
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        for sx in 0..scale {
                            for sy in 0..scale {
                                let px = x + (i as i64 * 6 + col) * scale + sx;
                                self.set(px, y + row as i64 * scale + sy, colour);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pixel coordinate of a probability on either axis (x grows right, y grows down).
fn axis(p: f64, pixels: usize) -> f64 {
    let (lo, hi) = (probit(P_MIN), probit(P_MAX));
    (probit(p.clamp(P_MIN, P_MAX)) - lo) / (hi - lo) * pixels as f64
}

fn tick_label(p: f64) -> String {
    let percent = p * 100.0;
    if percent < 1.0 {
        format!("{percent:.1}")
    } else {
        format!("{percent:.0}")
    }
}

/// Renders DET curves of named systems into PNG bytes, EER points marked.
pub fn render_det_png(systems: &[(&str, &Trials)]) -> Result<Vec<u8>, png::EncodingError> {
    let mut canvas = Canvas::new();
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let to_px = |far: f64, frr: f64| {
        (
            LEFT as f64 + axis(far, plot_w),
            (TOP + plot_h) as f64 - axis(frr, plot_h),
        )
    };
    for &p in TICKS {
        let (x, y) = to_px(p, p);
        canvas.line((x, TOP as f64), (x, (TOP + plot_h) as f64), GRID, 1);
        canvas.line((LEFT as f64, y), ((LEFT + plot_w) as f64, y), GRID, 1);
        let label = tick_label(p);
        canvas.text(
            x as i64 - 3 * label.len() as i64,
            (TOP + plot_h + 6) as i64,
            &label,
            BLACK,
            1,
        );
        canvas.text(
            LEFT as i64 - 6 - 6 * label.len() as i64,
            y as i64 - 3,
            &label,
            BLACK,
            1,
        );
    }
    // Frame and the EER diagonal.
    let (x0, y0, x1, y1) = (
        LEFT as f64,
        TOP as f64,
        (LEFT + plot_w) as f64,
        (TOP + plot_h) as f64,
    );
    for (a, b) in [
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
    ] {
        canvas.line(a, b, BLACK, 1);
    }
    canvas.line(to_px(P_MIN, P_MIN), to_px(P_MAX, P_MAX), GRID, 1);
    canvas.text(
        LEFT as i64 + plot_w as i64 / 2 - 90,
        (HEIGHT - 30) as i64,
        "FALSE ACCEPT (%)",
        BLACK,
        2,
    );
    canvas.text(8, TOP as i64 + 4, "FR %", BLACK, 1);
    for (i, (name, trials)) in systems.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let sweep = trials.sweep();
        let mut previous: Option<(f64, f64)> = None;
        for &(_, frr, far) in &sweep {
            let point = to_px(far, frr);
            if let Some(p) = previous {
                canvas.line(p, point, colour, 2);
            }
            previous = Some(point);
        }
        let (eer, _) = super::metrics::eer(&sweep);
        let (ex, ey) = to_px(eer / 100.0, eer / 100.0);
        for d in -4..=4 {
            canvas.set(ex as i64 + d, ey as i64 + d, colour);
            canvas.set(ex as i64 + d, ey as i64 - d, colour);
        }
        let legend = format!("{name} EER {eer:.2}%");
        let ly = TOP as i64 + 10 + 22 * i as i64;
        canvas.line(
            ((x1 - 250.0), ly as f64 + 6.0),
            (x1 - 225.0, ly as f64 + 6.0),
            colour,
            3,
        );
        canvas.text(x1 as i64 - 218, ly, &legend, colour, 2);
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH as u32, HEIGHT as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&canvas.pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probit_inverts_the_normal_cdf() {
        assert!(probit(0.5).abs() < 1e-6);
        assert!((probit(0.975) - 1.959_96).abs() < 1e-4);
        assert!((probit(0.001) + 3.090_23).abs() < 1e-3);
    }

    #[test]
    fn renders_a_png() {
        let t = Trials {
            targets: (0..200).map(|i| 0.7 + i as f32 / 700.0).collect(),
            non_targets: (0..400).map(|i| 0.4 + i as f32 / 1000.0).collect(),
        };
        let png = render_det_png(&[("SINGLE", &t), ("ENROLLED", &t)]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 1000);
    }
}

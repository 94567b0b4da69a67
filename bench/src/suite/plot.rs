//! A PNG chart of capacity runs: latency and CPU against concurrent calls, the
//! PBX's runs beside the minimal relay's, so where the PBX's cost goes (and where
//! it stops passing) is seen at a glance rather than read off tables.
//!
//! Text is drawn with ab_glyph from a font file read when the first chart is drawn
//! ([`FONT_PATH`]), not through fontconfig and freetype: the tool builds with no C
//! library to link, and the only thing a machine needs at run time is Debian's
//! `fonts-dejavu-core`.

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// One measured point of a capacity run.
pub struct Point {
    pub calls: usize,
    pub latency_p99_ms: Option<f64>,
    pub cpu_pct: f64,
    pub pass: bool,
}

/// One run of one system, e.g. "spygroup, round 1" or "minimal relay, round 2".
pub struct Curve {
    pub label: String,
    pub system: System,
    pub points: Vec<Point>,
}

/// Which process was under test: it picks the curve's family of colours, so all
/// rounds of one system read as one thing and the two systems never get confused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum System {
    Spygroup,
    MinimalRelay,
}

/// The font every text of the chart is drawn in (Debian: `fonts-dejavu-core`).
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// The name the font is registered under, and the one plotters asks for by default.
const FAMILY: &str = "sans-serif";

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 900;
/// The latency axis starts here unless a point is lower: below 50 µs one-way there
/// is nothing left to tell apart, and a log axis needs a floor above zero.
const LATENCY_FLOOR_MS: f64 = 0.05;
/// The two marks the summary reports against (`relay_latency_p99_over_2ms_at_calls`
/// and `..._10ms_...`): where packets start to wait, before loss or jitter fail a
/// step.
const LATENCY_MARKS_MS: [f64; 2] = [2.0, 10.0];

/// Registers [`FONT_PATH`] with plotters once per process. plotters keeps a
/// `&'static` to the bytes, so they are leaked, once: a missing file is not
/// remembered, so installing the package later makes the next chart work.
fn font() -> Result<()> {
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.get().is_some() {
        return Ok(());
    }
    register(Path::new(FONT_PATH))?;
    let _ = DONE.set(());
    Ok(())
}

/// Reads and registers one font file; apart from [`font`] so the error a machine
/// without the font gives can be tested.
fn register(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading the chart font {} (Debian: apt-get install fonts-dejavu-core)",
            path.display()
        )
    })?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{} is not a font plotters can read", path.display()))
}

/// The `i`-th of `n` shades of a system's colour, darkest first: the first round
/// is the one drawn strongest, later rounds lighter but still of the same hue.
fn shade(system: System, i: usize, n: usize) -> RGBColor {
    let (dark, light) = match system {
        System::Spygroup => ((8, 48, 107), (107, 174, 214)),
        System::MinimalRelay => ((166, 54, 3), (253, 174, 107)),
    };
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.0
    };
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    RGBColor(
        mix(dark.0, light.0),
        mix(dark.1, light.1),
        mix(dark.2, light.2),
    )
}

/// A tick label without the float noise: `0.05`, `0.5`, `2`, `100`.
fn tick(v: f64) -> String {
    if v >= 1.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The values `m × 10^k` within `lo..=hi`, for each `m` of `mantissas`, in order:
/// plotters' own log ticks are powers of ten only, too few on a range of three or
/// four decades to read a latency off.
fn decades(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 10f64.powi(lo.log10().floor() as i32);
    while decade <= hi {
        for m in mantissas {
            let v = m * decade;
            if (lo..=hi).contains(&v) {
                out.push(v);
            }
        }
        decade *= 10.0;
    }
    out
}

/// Latencies that can go on a log axis; the others (none, zero, NaN) are left out.
fn latency(p: &Point) -> Option<f64> {
    p.latency_p99_ms.filter(|v| v.is_finite() && *v > 0.0)
}

/// Draws two panels sharing the x axis (concurrent calls): top, one-way latency p99
/// in ms on a log scale, with dashed lines at 2 ms and 10 ms; bottom, the process's
/// CPU % of one core. Spygroup curves are blues, minimal relay curves oranges; a
/// passing step is a dot, a failing one a cross; `title` on top; 1200x900 pixels.
///
/// The latency axis runs from 0.05 ms (lower if a point is) to half again above
/// the highest point or 10 ms, whichever is more, so both marks always show.
/// Points without a latency are left off the latency panel only, and a curve's line
/// joins the ones that remain; a CPU figure that is not a number is left off the
/// CPU panel the same way. The CPU axis is 0..100, or up to the highest point
/// if a process used more than one core.
///
/// No curves, or curves with no points, draw the empty axes (0..100 calls) with the
/// title: a suite that measured nothing still leaves its chart, blank where the
/// curves would be, rather than an error that could stop the other results being
/// written. The only errors are the font (see
/// [`FONT_PATH`]) and writing `path`.
pub fn draw(path: &Path, title: &str, curves: &[Curve]) -> Result<()> {
    font()?;
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    panels(&root, title, curves).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error + 'static>>;

fn panels(root: &Area, title: &str, curves: &[Curve]) -> DrawResult {
    root.fill(&WHITE)?;
    let body = root.titled(title, (FAMILY, 28))?;
    let (top, bottom) = body.split_vertically(HEIGHT as i32 * 55 / 100);

    let points = || curves.iter().flat_map(|c| &c.points);
    let max_calls = points().map(|p| p.calls).max().unwrap_or(0);
    let x_max = if max_calls == 0 {
        100.0
    } else {
        max_calls as f64 * 1.04
    };
    let lat_max = points().filter_map(latency).fold(0.0, f64::max);
    let lat_min = points()
        .filter_map(latency)
        .fold(LATENCY_FLOOR_MS, f64::min);
    let y_hi = lat_max.max(LATENCY_MARKS_MS[1]) * 1.5;
    let y_lo = if lat_min < LATENCY_FLOOR_MS {
        lat_min / 1.5
    } else {
        LATENCY_FLOOR_MS
    };
    let cpu_max = points()
        .map(|p| p.cpu_pct)
        .filter(|c| c.is_finite())
        .fold(100.0, f64::max);
    let cpu_hi = if cpu_max > 100.0 {
        cpu_max * 1.05
    } else {
        100.0
    };

    // Colours per curve: shades counted within each system.
    let count = |s: System| curves.iter().filter(|c| c.system == s).count();
    let colours: Vec<RGBColor> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let nth = curves[..i].iter().filter(|o| o.system == c.system).count();
            shade(c.system, nth, count(c.system))
        })
        .collect();
    // Sorted by calls, so a line never doubles back when steps came out of order.
    let sorted: Vec<Vec<&Point>> = curves
        .iter()
        .map(|c| {
            let mut v: Vec<&Point> = c.points.iter().collect();
            v.sort_by_key(|p| p.calls);
            v
        })
        .collect();

    // Top: latency.
    let mut lat = ChartBuilder::on(&top)
        .margin(10)
        .margin_right(50)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0.0..x_max,
            (y_lo..y_hi)
                .log_scale()
                .with_key_points(decades(y_lo, y_hi, &[1.0, 2.0, 5.0]))
                .with_light_points(decades(y_lo, y_hi, &[3.0, 4.0, 6.0, 7.0, 8.0, 9.0])),
        )?;
    lat.configure_mesh()
        .y_desc("one-way latency p99 (ms, log)")
        .x_labels(12)
        .y_labels(12)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .x_max_light_lines(1)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for mark in LATENCY_MARKS_MS {
        let grey = RGBColor(110, 110, 110);
        lat.draw_series(DashedLineSeries::new(
            [(0.0, mark), (x_max, mark)],
            8,
            6,
            grey.stroke_width(1),
        ))?;
        // In the margin right of the plot, where no curve can cover it.
        let (x, y) = lat.backend_coord(&(x_max, mark));
        root.draw(&Text::new(
            format!("{} ms", tick(mark)),
            (x + 4, y),
            (FAMILY, 14)
                .into_font()
                .color(&grey)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    for ((curve, pts), &colour) in curves.iter().zip(&sorted).zip(&colours) {
        let line: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|p| latency(p).map(|l| (p.calls as f64, l)))
            .collect();
        lat.draw_series(LineSeries::new(line, colour.stroke_width(2)))?
            .label(curve.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3)));
        lat.draw_series(
            pts.iter()
                .filter_map(|p| latency(p).map(|l| marker((p.calls as f64, l), p.pass, colour))),
        )?;
    }
    // The two markers' meaning, in the same legend as the curves.
    let ink = RGBColor(60, 60, 60);
    lat.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label("step passed")
        .legend(move |(x, y)| Circle::new((x + 12, y), 4, ink.filled()));
    lat.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label("step failed")
        .legend(move |(x, y)| Cross::new((x + 12, y), 5, ink.stroke_width(2)));
    lat.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(12)
        .legend_area_size(34)
        .label_font((FAMILY, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .draw()?;

    // Bottom: CPU.
    let mut cpu = ChartBuilder::on(&bottom)
        .margin(10)
        .margin_right(50)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..cpu_hi)?;
    cpu.configure_mesh()
        .x_desc("concurrent calls")
        .y_desc("CPU (% of one core)")
        .x_labels(12)
        .y_labels(6)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (pts, &colour) in sorted.iter().zip(&colours) {
        let pts: Vec<&&Point> = pts.iter().filter(|p| p.cpu_pct.is_finite()).collect();
        let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.calls as f64, p.cpu_pct)).collect();
        cpu.draw_series(LineSeries::new(line, colour.stroke_width(2)))?;
        cpu.draw_series(
            pts.iter()
                .map(|p| marker((p.calls as f64, p.cpu_pct), p.pass, colour)),
        )?;
    }
    Ok(())
}

/// A step's mark: a dot if it passed, a cross if it failed.
fn marker<DB: DrawingBackend>(
    at: (f64, f64),
    pass: bool,
    colour: RGBColor,
) -> DynElement<'static, DB, (f64, f64)> {
    if pass {
        Circle::new(at, 4, colour.filled()).into_dyn()
    } else {
        Cross::new(at, 6, colour.stroke_width(2)).into_dyn()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the temp dir that is removed when the test ends, passed or not.
    struct Temp(std::path::PathBuf);
    impl Temp {
        fn new(name: &str) -> Self {
            Temp(std::env::temp_dir().join(format!("plot-{}-{name}.png", std::process::id())))
        }
    }
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A made-up run: latency and CPU grow with the calls, the last steps fail.
    fn curve(label: &str, system: System, scale: f64, fail_from: usize) -> Curve {
        let points = [50, 100, 200, 400, 600, 800, 1000]
            .into_iter()
            .map(|calls| Point {
                calls,
                latency_p99_ms: (calls != 600)
                    .then(|| 0.08 * scale * (calls as f64 / 50.0).powf(1.6)),
                cpu_pct: (calls as f64 * 0.09 * scale).min(100.0),
                pass: calls < fail_from,
            })
            .collect();
        Curve {
            label: label.into(),
            system,
            points,
        }
    }

    fn example() -> Vec<Curve> {
        vec![
            curve("spygroup, round 1", System::Spygroup, 1.0, 800),
            curve("spygroup, round 2", System::Spygroup, 1.1, 800),
            curve("minimal relay, round 1", System::MinimalRelay, 0.3, 2000),
            curve("minimal relay, round 2", System::MinimalRelay, 0.35, 2000),
        ]
    }

    /// Width and height from the IHDR chunk, after checking the PNG signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    #[test]
    fn draws_a_png_of_both_systems() {
        let f = Temp::new("both");
        draw(&f.0, "capacity: relayed calls", &example()).unwrap();
        let bytes = std::fs::read(&f.0).unwrap();
        assert!(bytes.len() > 10_000, "only {} bytes", bytes.len());
        assert_eq!(png_size(&bytes), (1200, 900));
    }

    #[test]
    fn no_curves_draws_empty_axes() {
        let f = Temp::new("empty");
        draw(&f.0, "nothing measured", &[]).unwrap();
        assert_eq!(png_size(&std::fs::read(&f.0).unwrap()), (1200, 900));
        let g = Temp::new("empty-curve");
        let empty = Curve {
            label: "spygroup".into(),
            system: System::Spygroup,
            points: vec![],
        };
        draw(&g.0, "nothing measured", &[empty]).unwrap();
        assert_eq!(png_size(&std::fs::read(&g.0).unwrap()), (1200, 900));
    }

    #[test]
    fn a_missing_font_names_the_file_and_the_package() {
        let e = register(Path::new("/nonexistent/DejaVuSans.ttf")).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("/nonexistent/DejaVuSans.ttf"), "{msg}");
        assert!(msg.contains("fonts-dejavu-core"), "{msg}");
    }

    /// Not a check: writes the example chart for a person to look at
    /// (`cargo test -p bench plot_example -- --ignored`).
    #[test]
    #[ignore]
    fn plot_example() {
        let out = std::env::var("PLOT_EXAMPLE").unwrap_or_else(|_| "/tmp/plot-example.png".into());
        draw(
            Path::new(&out),
            "capacity: relayed calls (made-up numbers)",
            &example(),
        )
        .unwrap();
    }
}

//! The method's evaluation (E1–E7): runners, aggregation (mean ± standard error) and the
//! Markdown, JSON and SVG files under `eval/results/`.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use spikeslab_compiler::compile::{CandidateInfo, Compiled, Options, choose, compile};
pub use spikeslab_compiler::spec::Rule;
use spikeslab_compiler::spec::{Inclusion, Spec};

pub mod classify;
pub mod precision;
pub mod sim;
pub mod uci;
pub mod uncertainty;

/// Mean and standard error of a sample (`se = sd / √n`; 0 for one value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Standard error of the mean.
    pub se: f64,
}

impl Stat {
    /// Of the finite values of `v` (a replication that produced no model has NaN for it);
    /// NaN when there are none.
    pub fn of(v: &[f64]) -> Self {
        let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Self {
            mean,
            se: (var / n).sqrt(),
        }
    }

    /// `mean ± se` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!("{:.*} ± {:.*}", digits, self.mean, digits, self.se)
    }

    /// `mean ± se` with at least `digits` decimals, and more when needed to give the se two
    /// significant digits (a naval RMSE of 0.00043 ± 0.00004 is not `0.000 ± 0.000`).
    pub fn show_significant(&self, digits: usize) -> String {
        let needed = if self.se > 0.0 && self.se.is_finite() {
            (1.0 - self.se.log10().floor()).clamp(0.0, 9.0) as usize
        } else {
            0
        };
        self.show(digits.max(needed))
    }
}

/// Where an experiment's files go, and the command that made them.
pub struct Output {
    /// `eval/results`.
    pub dir: PathBuf,
    /// The exact command, written at the top of each table.
    pub command: String,
}

impl Output {
    /// Writes `<name>.md` (with the command on top), `<name>.json` and, if given, `<name>.svg`.
    ///
    /// # Errors
    /// An I/O or serialisation error.
    pub fn write(
        &self,
        name: &str,
        markdown: &str,
        json: &impl Serialize,
        svg: Option<&str>,
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let md = format!(
            "<!-- made by: {} -->\n\n`{}`\n\n{markdown}",
            self.command, self.command
        );
        spikeslab_tests::write_atomic(&self.dir.join(format!("{name}.md")), md.as_bytes())?;
        spikeslab_tests::write_atomic(
            &self.dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(json)?.as_bytes(),
        )?;
        if let Some(svg) = svg {
            spikeslab_tests::write_atomic(&self.dir.join(format!("{name}.svg")), svg.as_bytes())?;
        }
        Ok(())
    }
}

/// `f(0), …, f(n − 1)` in order, computed on every core (each result depends on its index
/// alone, so the order of the work does not matter); the first error, if any.
///
/// # Errors
/// An error of `f`.
pub fn par_map<T: Send>(
    n: usize,
    f: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<anyhow::Result<T>>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(n.max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(slot) = slots.get(i) else { break };
                    let r = f(i);
                    *slot
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or_else(|| Err(anyhow::anyhow!("a worker stopped before its task")))
        })
        .collect()
}

/// Compiles a spec in memory, with both baselines when `baselines`.
///
/// # Errors
/// The compile's error.
pub fn fit(spec: &Spec, baselines: bool) -> anyhow::Result<Compiled> {
    Ok(compile(
        spec,
        &Options {
            quiet: true,
            baseline: baselines,
            jobs: None,
        },
    )?)
}

/// [`fit`] with `network.int8` on, so that one compile scores both the f32 network and its
/// int8 quantisation (which changes nothing before it); without it when the compiler refuses
/// int8 for this data ([`spikeslab_compiler::Error::Int8`]), so the report has no int8 part.
///
/// # Errors
/// A compile error other than that refusal.
pub fn fit_int8(spec: &Spec, baselines: bool) -> anyhow::Result<Compiled> {
    let mut s = spec.clone();
    s.network.int8 = true;
    match fit(&s, baselines) {
        Err(e)
            if matches!(
                e.downcast_ref(),
                Some(spikeslab_compiler::Error::Int8 { .. })
            ) =>
        {
            s.network.int8 = false;
            fit(&s, baselines)
        }
        other => other,
    }
}

/// Prior inclusion probabilities tried by [`fit_chosen`].
pub const INCLUSIONS: [f64; 3] = spikeslab_compiler::spec::DEFAULT_GRID;

/// Compiles `spec` with λ chosen from [`INCLUSIONS`] on the validation rows by `rule` (what
/// `compile` does for a spec that leaves λ open), with both baselines.
///
/// # Errors
/// The compile's error (every λ failed, or a baseline's error).
pub fn fit_chosen(spec: &Spec, rule: Rule) -> anyhow::Result<(f64, Compiled)> {
    let mut s = spec.clone();
    s.prior.inclusion = Inclusion::Grid(INCLUSIONS.to_vec());
    s.prior.rule = rule;
    let c = fit(&s, true)?;
    Ok((c.report.settings.inclusion, c))
}

/// The candidate `rule` picks from one compile's candidates by their validation metrics: the
/// rules compared on the same runs.
pub fn by_rule(c: &Compiled, rule: Rule) -> Option<&CandidateInfo> {
    let all = &c.report.choice.candidates;
    let scores: Vec<_> = all.iter().map(|k| k.validation).collect();
    choose(&scores, rule).map(|i| &all[i])
}

/// A Markdown table from a header and rows.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(
        s,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// Named series of points.
pub type Series = Vec<(String, Vec<(f64, f64)>)>;

/// Panels of line charts, one per `(title, x label, series)`, stacked, as SVG text.
///
/// # Errors
/// A plotting error.
pub fn line_svg(panels: &[(String, String, Series)]) -> anyhow::Result<String> {
    use plotters::prelude::*;
    let colors = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
    ];
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (800, 320 * panels.len() as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        for (area, (title, x_label, series)) in
            root.split_evenly((panels.len(), 1)).iter().zip(panels)
        {
            let pts = series.iter().flat_map(|s| &s.1).filter(|p| p.1.is_finite());
            let (x0, x1, y1) = pts
                .fold((f64::INFINITY, f64::NEG_INFINITY, 0f64), |(a, b, c), p| {
                    (a.min(p.0), b.max(p.0), c.max(p.1))
                });
            let (x0, x1) = if x0 < x1 {
                (x0, x1)
            } else {
                (x0 - 1.0, x0 + 1.0)
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(45)
                .build_cartesian_2d(x0..x1, 0.0..(y1 * 1.1).max(1.05))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            chart
                .configure_mesh()
                .x_desc(x_label.as_str())
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for ((name, points), color) in series.iter().zip(colors.iter().cycle()) {
                let c = *color;
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 15, y)], c.stroke_width(2))
                    });
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

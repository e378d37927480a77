//! The report's picture: node PIPs per layer (kept nodes filled), and the training curve.

use plotters::prelude::*;

use super::Report;
use crate::{Error, Result};

const KEPT: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const DROPPED: RGBColor = RGBColor(0xd6, 0x27, 0x28);

/// Renders the report's picture as SVG text.
///
/// # Errors
/// [`Error::Report`] when plotting fails.
pub fn render(r: &Report) -> Result<String> {
    let mut svg = String::new();
    {
        let panels = 1 + r.hidden.len() + 1;
        let root =
            SVGBackend::with_string(&mut svg, (900, 260 * panels as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((panels, 1));
        let inputs: Vec<(f64, bool)> = r
            .inputs
            .iter()
            .map(|n| (n.pip.unwrap_or(0.0), n.kept))
            .collect();
        pips(
            &areas[0],
            &format!(
                "input features: PIP (filled = kept, {} of {})",
                r.kept_features.len(),
                r.inputs.len()
            ),
            &inputs,
            r.settings.threshold,
        )?;
        for (l, layer) in r.hidden.iter().enumerate() {
            let nodes: Vec<(f64, bool)> = layer.iter().map(|n| (n.pip, n.kept)).collect();
            let kept = nodes.iter().filter(|n| n.1).count();
            pips(
                &areas[l + 1],
                &format!(
                    "hidden layer {}: PIP (filled = kept, {kept} of {})",
                    l + 1,
                    nodes.len()
                ),
                &nodes,
                r.settings.threshold,
            )?;
        }
        curve(&areas[panels - 1], r)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Report(e.to_string())
}

fn pips(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    nodes: &[(f64, bool)],
    threshold: f64,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(-0.5..(nodes.len() as f64 - 0.5).max(0.5), -0.02..1.05)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("node")
        .y_desc("PIP")
        .disable_x_mesh()
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(-0.5, threshold), (nodes.len() as f64 - 0.5, threshold)],
            BLACK.mix(0.4),
        ))
        .map_err(err)?;
    chart
        .draw_series(nodes.iter().enumerate().map(|(k, &(p, kept))| {
            let style = if kept {
                KEPT.filled()
            } else {
                DROPPED.stroke_width(1)
            };
            Circle::new((k as f64, p), 3, style)
        }))
        .map_err(err)?;
    Ok(())
}

fn curve(area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, r: &Report) -> Result<()> {
    let c = &r.curve;
    let points: Vec<(f64, f64)> = c
        .epoch
        .iter()
        .zip(&c.loss)
        .map(|(&e, &l)| (e as f64, l))
        .filter(|p| p.1.is_finite())
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption("training: negative ELBO per row", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(1.0..(c.epoch.len().max(2) as f64), lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(points, KEPT))
        .map_err(err)?;
    Ok(())
}

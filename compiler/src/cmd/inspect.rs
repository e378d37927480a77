//! `spikeslab inspect`: what a blob holds.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use spikeslab_runtime::{Model, Weights};

use crate::cmd::compile::report_path;
use spikeslab_compiler::blob::read as load;
use spikeslab_compiler::{Error, Result};

/// Show a blob's structure: layers, kept nodes, kept inputs (with names and PIPs when the
/// report is beside it), storage, bytes, estimated RAM and the stored metrics.
#[derive(Args, Debug)]
pub struct Cmd {
    /// The blob.
    pub blob: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn lossy(t: spikeslab_runtime::Text<'_>) -> String {
    String::from_utf8_lossy(t.as_bytes()).into_owned()
}

/// Names of the raw features, from the report beside the blob, when there is one.
pub fn feature_names(blob: &std::path::Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(report_path(blob, "report.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["inputs"]
        .as_array()?
        .iter()
        .map(|i| i["name"].as_str().map(str::to_string))
        .collect()
}

impl Cmd {
    /// Runs the subcommand.
    ///
    /// # Errors
    /// An unreadable or invalid blob.
    pub fn run(self) -> Result<()> {
        let blob = load(&self.blob)?;
        let model = blob.model()?;
        let names = feature_names(&self.blob);
        let v = describe(&model, blob.as_bytes().len(), names.as_deref());
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&v).map_err(|e| Error::Report(e.to_string()))?
            );
        } else {
            print!("{}", text(&v));
        }
        Ok(())
    }
}

/// The blob as a JSON value.
pub fn describe(model: &Model<'_>, bytes: usize, names: Option<&[String]>) -> Value {
    let p = model.parts();
    let name = |i: u16| {
        names
            .and_then(|n| n.get(usize::from(i)).cloned())
            .unwrap_or_else(|| format!("feature {i}"))
    };
    let inputs: Vec<Value> = p
        .inputs
        .iter()
        .enumerate()
        .map(|(j, &i)| json!({"index": i, "name": name(i), "pip": p.pips.get(j)}))
        .collect();
    let mut in_width = p.inputs.len();
    let mut pip_at = p.inputs.len();
    let layers: Vec<Value> = p
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let width = layer.bias.len();
            let last = l + 1 == p.layers.len();
            let pips: Vec<f32> = if last { vec![] } else { p.pips.get(pip_at..pip_at + width).map(<[f32]>::to_vec).unwrap_or_default() };
            pip_at += width;
            let v = json!({
                "inputs": in_width,
                "nodes": width,
                "activation": format!("{:?}", layer.activation).to_lowercase(),
                "storage": if matches!(layer.weights, Weights::Dense(_)) { "dense" } else { "sparse" },
                "weights": layer.weights.len(),
                "node_pips": pips,
            });
            in_width = width;
            v
        })
        .collect();
    let metrics: serde_json::Map<String, Value> = model
        .meta()
        .metrics
        .iter()
        .map(|m| (lossy(m.name), json!(m.value)))
        .collect();
    json!({
        "name": lossy(model.meta().name),
        "compiler": lossy(model.meta().compiler),
        "task": format!("{:?}", model.task()).to_lowercase(),
        "features": model.features(),
        "inputs": inputs,
        "layers": layers,
        "outputs": model.outputs(),
        "weights": model.weight_count(),
        "blob_bytes": bytes,
        "ram_bytes": spikeslab_compiler::report::ram_estimate(model.features(), model.outputs(), p.layers.len()),
        "metrics": metrics,
    })
}

fn text(v: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}), {}",
        v["name"].as_str().unwrap_or(""),
        v["task"].as_str().unwrap_or(""),
        v["compiler"].as_str().unwrap_or("")
    );
    let inputs = v["inputs"].as_array().map_or(&[][..], Vec::as_slice);
    let _ = writeln!(s, "reads {} of {} features:", inputs.len(), v["features"]);
    for i in inputs {
        let pip = i["pip"]
            .as_f64()
            .map_or(String::new(), |p| format!("  PIP {p:.4}"));
        let _ = writeln!(
            s,
            "  [{:>5}] {}{pip}",
            i["index"],
            i["name"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(s, "layers:");
    for (l, layer) in v["layers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            s,
            "  {l}: {} -> {} {}, {} weights stored {}",
            layer["inputs"],
            layer["nodes"],
            layer["activation"].as_str().unwrap_or(""),
            layer["weights"],
            layer["storage"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(
        s,
        "blob: {} bytes; {} weights; evaluation RAM about {} bytes",
        v["blob_bytes"], v["weights"], v["ram_bytes"]
    );
    if let Some(m) = v["metrics"].as_object().filter(|m| !m.is_empty()) {
        let list: Vec<String> = m
            .iter()
            .map(|(k, x)| format!("{k} {:.4}", x.as_f64().unwrap_or(f64::NAN)))
            .collect();
        let _ = writeln!(s, "metrics: {}", list.join(", "));
    }
    s
}

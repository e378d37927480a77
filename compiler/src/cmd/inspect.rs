//! `spikeslab inspect`: what a blob holds.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use spikeslab_runtime::{Int8, Int8Weights, Model, Params, Weights};

use crate::cmd::say;
use spikeslab_compiler::blob::read as load;
use spikeslab_compiler::text::escape;
use spikeslab_compiler::{Error, Result};

/// Show a blob's structure: the inputs it reads (names and PIPs), what it predicts (class
/// labels, or the target and its noise sd), layers, storage, bytes, estimated RAM and the
/// stored metrics. Everything comes from the blob itself.
#[derive(Args, Debug)]
pub struct Cmd {
    /// The blob.
    pub blob: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A stored string as it may be printed: control characters escaped (a blob's text cannot
/// drive the terminal).
fn shown(t: spikeslab_runtime::Text<'_>) -> String {
    escape(&String::from_utf8_lossy(t.as_bytes()))
}

impl Cmd {
    /// Runs the subcommand.
    ///
    /// # Errors
    /// An unreadable or invalid blob.
    pub fn run(self) -> Result<()> {
        let blob = load(&self.blob)?;
        let model = blob.model()?;
        let v = describe(&model, blob.as_bytes().len());
        if self.json {
            let json =
                serde_json::to_string_pretty(&v).map_err(|e| Error::Report(e.to_string()))?;
            say(&format!("{json}\n"))
        } else {
            say(&text(&v))
        }
    }
}

/// The blob as a JSON value.
pub fn describe(model: &Model<'_>, bytes: usize) -> Value {
    let p = model.parts();
    let inputs: Vec<Value> = p
        .inputs
        .iter()
        .zip(model.input_names())
        .enumerate()
        .map(|(j, (&i, name))| json!({"index": i, "name": shown(name), "pip": p.pips.get(j)}))
        .collect();
    let outputs: Vec<String> = model.output_names().map(shown).collect();
    let mut in_width = p.inputs.len();
    let mut pip_at = p.inputs.len();
    let layers: Vec<Value> = p
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let width = layer.width();
            let last = l + 1 == p.layers.len();
            let pips: Vec<f32> = if last { vec![] } else { p.pips.get(pip_at..pip_at + width).map(<[f32]>::to_vec).unwrap_or_default() };
            pip_at += width;
            let v = json!({
                "inputs": in_width,
                "nodes": width,
                "activation": format!("{:?}", layer.activation).to_lowercase(),
                "format": format!("{:?}", layer.format()).to_lowercase(),
                "storage": if matches!(layer.params, Params::F32 { weights: Weights::Dense(_), .. } | Params::Int8(Int8 { weights: Int8Weights::Dense(_), .. })) { "dense" } else { "sparse" },
                "weights": layer.weight_count(),
                "variances": format!("{:?}", layer.variance_format()).to_lowercase(),
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
        .map(|m| (shown(m.name), json!(m.value)))
        .collect();
    json!({
        "name": shown(model.meta().name),
        "compiler": shown(model.meta().compiler),
        "task": format!("{:?}", model.task()).to_lowercase(),
        "target": shown(model.meta().target),
        "features": model.features(),
        "inputs": inputs,
        "layers": layers,
        "outputs": model.outputs(),
        "output_names": outputs,
        "noise_sd": model.noise_sd(),
        "weights": model.weight_count(),
        "posterior": model.has_posterior(),
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
    let names: Vec<&str> = v["output_names"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if v["task"] == "classification" {
        let _ = writeln!(
            s,
            "predicts `{}`: {} classes, {}",
            v["target"].as_str().unwrap_or(""),
            names.len(),
            names.join(", ")
        );
    } else {
        let sd = v["noise_sd"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "predicts `{}`, noise sd {sd:.4}",
            names.first().copied().unwrap_or("")
        );
    }
    let _ = writeln!(s, "layers:");
    for (l, layer) in v["layers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        let variances = match layer["variances"].as_str() {
            Some("f32") => ", variances f32",
            Some("table4") => ", variances as 4-bit codes into 16",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  {l}: {} -> {} {}, {} weights stored {} {}{variances}",
            layer["inputs"],
            layer["nodes"],
            layer["activation"].as_str().unwrap_or(""),
            layer["weights"],
            layer["format"].as_str().unwrap_or(""),
            layer["storage"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(
        s,
        "blob: {} bytes; {} weights; evaluation RAM about {} bytes",
        v["blob_bytes"], v["weights"], v["ram_bytes"]
    );
    if v["posterior"] == true {
        let _ = writeln!(
            s,
            "posterior variances: yes (predict_dist gives each output's mean and variance; {} more bytes of stack)",
            spikeslab_runtime::DIST_BUFFER_BYTES
        );
        if let Some(l) = v["metrics"][spikeslab_runtime::EPISTEMIC_LIMIT].as_f64() {
            let _ = writeln!(
                s,
                "unlike the training data above an epistemic sd of {l:.4} (Model::epistemic_limit)"
            );
        }
    }
    if let Some(m) = v["metrics"].as_object().filter(|m| !m.is_empty()) {
        let list: Vec<String> = m
            .iter()
            .map(|(k, x)| format!("{k} {:.4}", x.as_f64().unwrap_or(f64::NAN)))
            .collect();
        let _ = writeln!(s, "metrics: {}", list.join(", "));
    }
    s
}

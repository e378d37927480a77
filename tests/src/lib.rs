//! Shared helpers for the host simulation tests: random networks and an f64 reference
//! forward pass.

pub mod board;

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64;
use spikeslab_compiler::blob::{BlobBytes, Info, Packing, encode, encode_quantised};
use spikeslab_compiler::network::{Layer, Network, Variance};
use spikeslab_compiler::posterior::coded;
use spikeslab_compiler::quantise::{Quantised, Rounding, quantise};
use spikeslab_runtime::{Activation, Task};

/// Shape of a random network.
#[derive(Clone, Debug)]
pub struct Arch {
    /// Regression or classification.
    pub task: Task,
    /// Raw feature count.
    pub features: usize,
    /// Read features.
    pub inputs: usize,
    /// Widths of all layers, the output layer last.
    pub widths: Vec<usize>,
    /// Fraction of edges kept.
    pub density: f64,
    /// Activation of the hidden layers.
    pub activation: Activation,
}

impl Arch {
    /// The reference classifier of the benchmarks: 64 inputs, relu 128-64, 10 classes, with
    /// `density` of its edges kept.
    pub fn classifier_64_128_64_10(density: f64) -> Self {
        Self {
            task: Task::Classification,
            features: 64,
            inputs: 64,
            widths: vec![128, 64, 10],
            density,
            activation: Activation::Relu,
        }
    }
}

/// A random network of shape `arch`: weights uniform in `±2/√in`, pruned edges exactly 0,
/// each layer stored dense or sparse, whichever is smaller.
pub fn random_network(arch: &Arch, seed: u64) -> Network {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut inputs: Vec<u16> = (0..arch.features as u16).collect();
    while inputs.len() > arch.inputs {
        inputs.remove(rng.random_range(0..inputs.len()));
    }
    let n = inputs.len();
    let mut layers = Vec::new();
    let mut in_width = n;
    for (i, &width) in arch.widths.iter().enumerate() {
        let last = i + 1 == arch.widths.len();
        let gain = 2.0 / (in_width as f32).sqrt();
        let w: Vec<f32> = (0..width * in_width)
            .map(|_| {
                if rng.random_bool(arch.density) {
                    gain * (rng.random::<f32>() - 0.5) * 2.0
                } else {
                    0.0
                }
            })
            .collect();
        let bias = (0..width).map(|_| rng.random::<f32>() - 0.5).collect();
        let act = if last {
            Activation::Identity
        } else {
            arch.activation
        };
        layers.push(Layer {
            activation: act,
            weights: w,
            bias,
            variance: None,
        });
        in_width = width;
    }
    let input_mean = (0..n).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect();
    let input_std = (0..n)
        .map(|_| 1.0 / (0.2 + rng.random::<f32>() * 2.0))
        .collect();
    let target = if arch.task == Task::Regression {
        (
            rng.random::<f32>() * 100.0,
            0.5 + rng.random::<f32>() * 10.0,
        )
    } else {
        (0.0, 1.0)
    };
    Network {
        task: arch.task,
        feature_names: (0..arch.features).map(|j| format!("f{j}")).collect(),
        inputs: inputs.iter().map(|&i| usize::from(i)).collect(),
        input_mean,
        input_std,
        layers,
        target,
        target_name: "y".into(),
        classes: if arch.task == Task::Classification {
            (0..in_width).map(|c| c as f32).collect()
        } else {
            vec![]
        },
        noise: (arch.task == Task::Regression).then(|| 0.1 + rng.random::<f32>()),
        pips: Vec::new(),
    }
}

/// `net` with posterior variances on every kept weight and bias, drawn from `seed`: each
/// weight's sd a random fraction (up to `spread`) of its magnitude plus `spread`/10, each
/// bias's `spread`/4.
pub fn with_variances(net: &Network, spread: f32, seed: u64) -> Network {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut net = net.clone();
    for l in &mut net.layers {
        let weights = l
            .weights
            .iter()
            .map(|&w| {
                if w == 0.0 {
                    0.0
                } else {
                    (spread * (rng.random::<f32>() * w.abs() + 0.1)).powi(2)
                }
            })
            .collect();
        let bias = vec![(spread / 4.0).powi(2); l.bias.len()];
        l.variance = Some(Variance {
            weights,
            bias,
            table: None,
        });
    }
    net
}

/// Blobs of test networks.
pub trait ToBlob {
    /// The blob, each layer dense or sparse whichever is smaller, named `random`.
    ///
    /// # Errors
    /// The encoder's refusal.
    fn to_blob(&self) -> spikeslab_compiler::Result<BlobBytes> {
        self.to_blob_as(Packing::Smaller)
    }

    /// The blob with layers packed as `packing` says.
    ///
    /// # Errors
    /// The encoder's refusal.
    fn to_blob_as(&self, packing: Packing) -> spikeslab_compiler::Result<BlobBytes>;
}

impl ToBlob for Network {
    fn to_blob_as(&self, packing: Packing) -> spikeslab_compiler::Result<BlobBytes> {
        let info = Info {
            name: "random".into(),
            metrics: vec![("seed".into(), 1.0)],
        };
        encode(self, &info, packing)
    }
}

impl ToBlob for Quantised {
    fn to_blob_as(&self, packing: Packing) -> spikeslab_compiler::Result<BlobBytes> {
        let info = Info {
            name: "random-int8".into(),
            metrics: vec![("seed".into(), 1.0)],
        };
        encode_quantised(self, &info, packing)
    }
}

/// `net` quantised to 8-bit integers, calibrated on 256 rows of [`random_inputs`] drawn
/// from `seed`: the inputs the boards and benchmarks evaluate.
pub fn int8(net: &Network, seed: u64) -> Quantised {
    let rows = random_inputs(
        net.feature_names.len(),
        256,
        &mut Pcg64::seed_from_u64(seed),
    );
    let standardised: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            net.inputs
                .iter()
                .zip(net.input_mean.iter().zip(&net.input_std))
                .map(|(&i, (&m, &s))| (r[i] - m) / s)
        })
        .collect();
    quantise(
        net,
        &standardised,
        net.layers.len(),
        Rounding::Refit(0.01),
        0.0,
    )
}

/// Random raw feature vectors, entries uniform in `[−3, 3]`.
pub fn random_inputs(features: usize, rows: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    (0..rows)
        .map(|_| {
            (0..features)
                .map(|_| rng.random::<f32>() * 6.0 - 3.0)
                .collect()
        })
        .collect()
}

/// The network evaluated in f64 with exact transcendentals.
pub fn reference(net: &Network, features: &[f32]) -> Vec<f64> {
    let mut x: Vec<f64> = net
        .inputs
        .iter()
        .zip(net.input_mean.iter().zip(&net.input_std))
        .map(|(&i, (&m, &s))| (f64::from(features[i]) - f64::from(m)) * f64::from(1.0 / s))
        .collect();
    for layer in &net.layers {
        let w = &layer.weights;
        let mut y: Vec<f64> = w
            .chunks(x.len())
            .zip(&layer.bias)
            .map(|(row, &b)| {
                row.iter()
                    .zip(&x)
                    .map(|(&a, &v)| f64::from(a) * v)
                    .sum::<f64>()
                    + f64::from(b)
            })
            .collect();
        for v in &mut y {
            *v = match layer.activation {
                Activation::Identity => *v,
                Activation::Relu => v.max(0.0),
                Activation::Tanh => v.tanh(),
                Activation::Sigmoid => 1.0 / (1.0 + (-*v).exp()),
            };
        }
        x = y;
    }
    match net.task {
        Task::Regression => x
            .iter()
            .map(|&z| z * f64::from(net.target.1) + f64::from(net.target.0))
            .collect(),
        Task::Classification => {
            let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = x.iter().map(|&z| (z - max).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        }
    }
}

/// The tolerance of runtime outputs against [`reference()`]: `|a − b| ≤ max(R·|a + b|, A)` with
/// `R = 1e-4` (f32 accumulation and the activations' documented error, compounded over the
/// layers) and `A = 1e-4` times the output scale (1 for probabilities).
///
/// # Errors
/// A message naming the first output out of tolerance.
pub fn within_tolerance(net: &Network, got: &[f32], want: &[f64]) -> Result<(), String> {
    for (k, (&a, &b)) in got.iter().zip(want).enumerate() {
        let scale = if net.task == Task::Regression {
            f64::from(net.target.1)
        } else {
            1.0
        };
        let a = f64::from(a);
        let tol = (1e-4 * (a + b).abs()).max(1e-4 * scale);
        if (a - b).abs() > tol || a.is_nan() {
            return Err(format!(
                "output {k}: runtime {a}, reference {b}, tolerance {tol}"
            ));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` as the compiler writes its outputs: all of it or nothing,
/// through a temporary of a random name.
///
/// # Errors
/// The compiler's I/O error, with the path.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> spikeslab_compiler::Result<()> {
    let mut out = spikeslab_compiler::files::Outputs::new(&[]);
    out.add(path, bytes);
    out.commit()
}

/// The lines a board prints for `rows`: `y[row][k]=<bits as 8 hex digits>`, and for a model
/// with a posterior `d[row][k]=<mean>,<epistemic>,<noise>` (the bits of `predict_dist`'s
/// output), computed by the runtime on the host.
///
/// # Errors
/// The runtime's error when a row has the wrong length.
pub fn expected_lines(
    model: &spikeslab_runtime::Model<'_>,
    rows: &[Vec<f32>],
) -> Result<Vec<String>, spikeslab_runtime::Error> {
    let mut out = vec![0f32; model.outputs()];
    let mut dist = vec![spikeslab_runtime::Prediction::default(); model.outputs()];
    let mut lines = Vec::new();
    for (r, x) in rows.iter().enumerate() {
        model.predict(x, &mut out)?;
        lines.extend(
            out.iter()
                .enumerate()
                .map(|(k, v)| format!("y[{r}][{k}]={:08x}", v.to_bits())),
        );
        if model.has_posterior() {
            model.predict_dist(x, &mut dist)?;
            lines.extend(dist.iter().enumerate().map(|(k, p)| {
                format!(
                    "d[{r}][{k}]={:08x},{:08x},{:08x}",
                    p.mean.to_bits(),
                    p.epistemic.to_bits(),
                    p.noise.to_bits()
                )
            }));
        }
    }
    Ok(lines)
}

/// Reads rows of `features` little-endian f32 values.
pub fn read_rows(bytes: &[u8], features: usize) -> Vec<Vec<f32>> {
    bytes
        .chunks_exact(4 * features.max(1))
        .map(|r| {
            r.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect()
}

/// The board fixtures, written into `dir` as `<name>.postcard` with their `.inputs` (five
/// random rows): classification with tanh (sparse first layer), regression with sigmoid
/// (dense), a dense relu classifier with a width that is not a multiple of four; each in
/// f32, in 8-bit integers, and both with posterior variances (the classifiers' f32 ones as
/// 4-bit codes). With each, the lines a board must print for it ([`expected_lines`]).
///
/// # Panics
/// When a fixture cannot be encoded or written.
pub fn fixture_models(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<String>)> {
    let archs = [
        Arch {
            task: Task::Classification,
            features: 20,
            inputs: 13,
            widths: vec![24, 3],
            density: 0.25,
            activation: Activation::Tanh,
        },
        Arch {
            task: Task::Regression,
            features: 8,
            inputs: 8,
            widths: vec![16, 8, 2],
            density: 1.0,
            activation: Activation::Sigmoid,
        },
        Arch {
            task: Task::Classification,
            features: 30,
            inputs: 30,
            widths: vec![18, 7],
            density: 0.9,
            activation: Activation::Relu,
        },
    ];
    let mut out = Vec::new();
    for (i, arch) in archs.iter().enumerate() {
        let net = random_network(arch, 40 + i as u64);
        let q = int8(&net, i as u64);
        let dist = with_variances(&net, 0.3, i as u64);
        let int8_dist = int8(&dist, i as u64);
        // The sparse tanh classifier and the relu one (width 18: blocks and rows) store their
        // f32 layers' variances as 4-bit codes; the sigmoid regressor (widths 16, 8: pairs
        // of blocks) as f32.
        let dist = if i == 1 { dist } else { coded(&dist) };
        let rows = random_inputs(arch.features, 5, &mut Pcg64::seed_from_u64(i as u64));
        let bytes: Vec<u8> = rows
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        for (name, blob) in [
            (format!("fixture{i}"), net.to_blob().unwrap()),
            (format!("fixture{i}-int8"), q.to_blob().unwrap()),
            (format!("fixture{i}-dist"), dist.to_blob().unwrap()),
            (
                format!("fixture{i}-int8-dist"),
                int8_dist.to_blob().unwrap(),
            ),
        ] {
            let model = dir.join(format!("{name}.postcard"));
            std::fs::write(&model, blob.as_bytes()).unwrap();
            std::fs::write(model.with_extension("inputs"), &bytes).unwrap();
            let expected = expected_lines(&blob.model().unwrap(), &rows).unwrap();
            out.push((model, expected));
        }
    }
    out
}

/// The lines a C board prints for the inputs `model` reads: `input[i]=<feature index> <name>`.
pub fn input_lines(model: &spikeslab_runtime::Model<'_>) -> Vec<String> {
    model
        .inputs()
        .iter()
        .zip(model.input_names())
        .enumerate()
        .map(|(i, (f, n))| format!("input[{i}]={f} {}", String::from_utf8_lossy(n.as_bytes())))
        .collect()
}

/// The committed demo `models/<name>.postcard` and its golden lines
/// (`models/<name>.expected`), checked against the runtime on the host first.
///
/// # Panics
/// When a file is missing or the host runtime differs from the golden lines.
pub fn golden_demo(name: &str) -> (std::path::PathBuf, Vec<String>) {
    let model = board::root().join(format!("models/{name}.postcard"));
    let expected: Vec<String> = std::fs::read_to_string(model.with_extension("expected"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let blob = BlobBytes::new(&std::fs::read(&model).unwrap());
    let rows = read_rows(
        &std::fs::read(model.with_extension("inputs")).unwrap(),
        blob.model().unwrap().features(),
    );
    assert_eq!(
        expected_lines(&blob.model().unwrap(), &rows).unwrap(),
        expected,
        "host runtime differs from models/{name}.expected"
    );
    (model, expected)
}

//! E1–E5: the simulated designs (method §5), each replication a fresh data seed and training seed.

use serde::Serialize;
use spikeslab_compiler::spec::Spec;

use super::{INCLUSIONS, Output, Rule, Stat, by_rule, fit, fit_chosen, line_svg, table};

/// Training settings shared by E1–E5: those chosen for the demo on its validation split
/// (λ = 0.01, 400 epochs, no KL warm-up, 100 epochs of fine-tuning the kept edges; see
/// `models/demo.toml`). Stated in full, so that `compile`'s defaults do not fill them in.
const SETTINGS: &str = "[network]\nhidden = [50]\n[prior]\ninclusion = 0.01\n[train]\nepochs = {epochs}\nbatch = 128\nkl_warmup = 0\n[prune]\nfinetune = \"edges\"\nfinetune_epochs = {ft}\nhidden = \"pip\"\n";

/// How much to run.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Replications per configuration.
    pub reps: u64,
    /// Training epochs (E5 uses `e5_epochs`).
    pub epochs: usize,
    /// Fine-tuning epochs.
    pub finetune: usize,
    /// Training epochs of E5.
    pub e5_epochs: usize,
    /// Quick mode: fewer configurations.
    pub quick: bool,
    /// E3, E4: choose λ per replication from [`INCLUSIONS`] on the validation rows (the
    /// one-standard-error rule, [`Rule::OneSe`]) instead of the fixed 0.01, and write
    /// `e3-chosen`, `e4-chosen`.
    pub choose_inclusion: bool,
}

impl Scale {
    /// The output name of `design`: `-chosen` appended when λ is chosen.
    fn name(self, design: &str) -> String {
        if self.choose_inclusion {
            format!("{design}-chosen")
        } else {
            design.into()
        }
    }

    fn lambda_label(self) -> &'static str {
        if self.choose_inclusion {
            ", lambda by the 1-se rule on validation"
        } else {
            ""
        }
    }

    /// `md` followed, when λ was chosen, by how often each value won per configuration.
    fn with_choices(
        self,
        mut md: String,
        records: &[Record],
        key: impl Fn(&Record) -> String,
    ) -> String {
        if !self.choose_inclusion {
            return md;
        }
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                let mut row = vec![key(r)];
                for lam in INCLUSIONS {
                    let n = r.reps.iter().filter(|p| p.inclusion == Some(lam)).count();
                    row.push(n.to_string());
                }
                row
            })
            .collect();
        let labels: Vec<String> = INCLUSIONS.iter().map(|l| format!("λ = {l}")).collect();
        let mut header = vec![""];
        header.extend(labels.iter().map(String::as_str));
        md.push_str("\nλ chosen on the validation rows by the one-standard-error rule (the sparsest λ whose validation MSE is within one standard error of the best; replications per value; a replication that pruned every input under every λ counts under none):\n\n");
        md.push_str(&table(&header, &rows));
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                let st = |f: fn(&RuleOutcome) -> f64| {
                    Stat::of(
                        &r.reps
                            .iter()
                            .map(|p| p.best_rule.as_ref().map_or(f64::NAN, f))
                            .collect::<Vec<_>>(),
                    )
                };
                vec![
                    key(r),
                    r.selection_accuracy.show(3),
                    st(|o| o.selection_accuracy).show(3),
                    r.test_mse.show(1),
                    st(|o| o.test_mse).show(1),
                ]
            })
            .collect();
        md.push_str("\nThe same replications had λ been chosen by the plain best rule (the lowest validation MSE) instead:\n\n");
        md.push_str(&table(
            &[
                "",
                "selection accuracy, one-se",
                "best",
                "test MSE, one-se",
                "best",
            ],
            &rows,
        ));
        md
    }
}

/// One replication of a simulated design.
#[derive(Clone, Debug, Serialize)]
pub struct Rep {
    /// Data and training seed.
    pub seed: u64,
    /// Fraction of features classified right.
    pub selection_accuracy: f64,
    /// True positive rate.
    pub tpr: f64,
    /// False positive rate.
    pub fpr: f64,
    /// Test MSE of the emitted (pruned) model.
    pub test_mse_pruned: f64,
    /// Test MSE of the full posterior (MC-averaged).
    pub test_mse_full: f64,
    /// Test MSE of the dense baseline.
    pub test_mse_dense: f64,
    /// Test MSE of the magnitude-pruned baseline.
    pub test_mse_magnitude: f64,
    /// Noise variance (best achievable MSE).
    pub noise_variance: f64,
    /// PIP of every input.
    pub pip: Vec<f64>,
    /// Relevance of every input.
    pub relevance: Vec<f64>,
    /// True importance of every input.
    pub importance: Vec<f64>,
    /// Blob bytes.
    pub blob_bytes: usize,
    /// λ chosen on the validation rows (runs that choose it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<f64>,
    /// Runs that choose λ: the candidate the plain best rule would have emitted instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_rule: Option<RuleOutcome>,
}

/// What one rule's choice of λ gives, from the same replication's candidates.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RuleOutcome {
    /// λ chosen.
    pub inclusion: f64,
    /// Fraction of features classified right by that candidate's kept inputs.
    pub selection_accuracy: f64,
    /// Test MSE of that candidate's emitted model.
    pub test_mse: f64,
}

/// Aggregate of one configuration, as the JSON records carry it.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// `e1` .. `e5`.
    pub design: String,
    /// Features D.
    pub features: usize,
    /// Signal-to-noise ratio α.
    pub alpha: f64,
    /// E1's ψ2, E2's g (`linear` / `f`), or empty.
    pub variant: String,
    /// Mean ± se of the selection accuracy.
    pub selection_accuracy: Stat,
    /// True positive rate.
    pub tpr: Stat,
    /// False positive rate.
    pub fpr: Stat,
    /// Test MSE of the emitted model (`test_mse`), the full posterior, the dense and magnitude baselines.
    pub test_mse: Stat,
    /// Full posterior.
    pub test_mse_full: Stat,
    /// Dense baseline.
    pub test_mse_dense: Stat,
    /// Magnitude baseline.
    pub test_mse_magnitude: Stat,
    /// Noise floor.
    pub noise_variance: f64,
    /// Replications in which exactly the true features were kept.
    pub exact: usize,
    /// Every replication.
    pub reps: Vec<Rep>,
}

/// Runs `reps` replications of a design, with fine-tuning and the baselines (E3–E5).
///
/// # Errors
/// A compile error.
pub fn run(
    design: &str,
    features: usize,
    alpha: f64,
    extra: &str,
    hidden: Option<&str>,
    epochs: usize,
    s: Scale,
) -> anyhow::Result<Vec<Rep>> {
    replicate(design, features, alpha, extra, hidden, epochs, s, true)
}

/// Replications without fine-tuning or baselines (E1, E2: only the PIPs and relevances matter).
fn run_plain(
    design: &str,
    features: usize,
    alpha: f64,
    extra: &str,
    s: Scale,
) -> anyhow::Result<Vec<Rep>> {
    replicate(design, features, alpha, extra, None, s.epochs, s, false)
}

#[allow(clippy::too_many_arguments)]
fn replicate(
    design: &str,
    features: usize,
    alpha: f64,
    extra: &str,
    hidden: Option<&str>,
    epochs: usize,
    s: Scale,
    full: bool,
) -> anyhow::Result<Vec<Rep>> {
    let finetune = if full { s.finetune } else { 0 };
    (1..=s.reps)
        .map(|seed| {
            let mut settings = SETTINGS.replace("{epochs}", &epochs.to_string()).replace("{ft}", &finetune.to_string());
            if let Some(h) = hidden {
                settings = settings.replace("hidden = [50]", &format!("hidden = {h}"));
            }
            let text = format!("name = \"{design}\"\n[data]\nsimulate = \"{design}\"\nfeatures = {features}\nalpha = {alpha}\nseed = {seed}\n{extra}\n{settings}");
            let mut spec = Spec::parse(&text, "experiment", std::path::Path::new("."))?;
            spec.train.seed = seed;
            let fitted = if s.choose_inclusion && full {
                fit_chosen(&spec, Rule::OneSe).map(|(lam, c)| (Some(lam), c))
            } else {
                fit(&spec, full).map(|c| (None, c))
            };
            let (inclusion, c) = match fitted {
                Err(e) if matches!(e.downcast_ref(), Some(spikeslab_compiler::Error::NoInputs { .. })) => return nothing_kept(&spec, seed),
                other => other?,
            };
            let truth = c.data.truth.as_ref().map_or(&[][..], |(t, _)| t.as_slice());
            let best_rule = if s.choose_inclusion && full {
                by_rule(&c, Rule::Best).map(|b| RuleOutcome {
                    inclusion: b.inclusion,
                    selection_accuracy: (0..features).filter(|j| b.inputs.contains(j) == truth.contains(j)).count() as f64 / features as f64,
                    test_mse: b.test.and_then(|m| m.mse()).unwrap_or(f64::NAN),
                })
            } else {
                None
            };
            let r = &c.report;
            let sel = r.selection.as_ref().ok_or_else(|| anyhow::anyhow!("no selection for a simulated design"))?;
            let mse = |m: Option<spikeslab_compiler::metrics::Metrics>| m.and_then(|m| m.mse()).unwrap_or(f64::NAN);
            Ok(Rep {
                seed,
                selection_accuracy: sel.accuracy,
                tpr: sel.tpr,
                fpr: sel.fpr,
                test_mse_pruned: mse(r.metrics.emitted.test),
                test_mse_full: mse(r.metrics.full_posterior.test),
                test_mse_dense: mse(r.metrics.dense_baseline.as_ref().and_then(|m| m.test)),
                test_mse_magnitude: mse(r.metrics.magnitude_baseline.as_ref().and_then(|m| m.test)),
                noise_variance: sel.noise_variance,
                pip: r.inputs.iter().map(|i| i.pip.unwrap_or(0.0)).collect(),
                relevance: r.input_relevance.clone(),
                importance: c.data.truth.as_ref().map_or_else(Vec::new, |(t, _)| (0..features).map(|j| f64::from(u8::from(t.contains(&j)))).collect()),
                blob_bytes: r.blob_bytes,
                inclusion,
                best_rule,
            })
        })
        .collect()
}

/// Aggregates replications.
pub fn record(design: &str, features: usize, alpha: f64, variant: &str, reps: Vec<Rep>) -> Record {
    let st = |f: fn(&Rep) -> f64| Stat::of(&reps.iter().map(f).collect::<Vec<_>>());
    Record {
        design: design.into(),
        features,
        alpha,
        variant: variant.into(),
        selection_accuracy: st(|r| r.selection_accuracy),
        tpr: st(|r| r.tpr),
        fpr: st(|r| r.fpr),
        test_mse: st(|r| r.test_mse_pruned),
        test_mse_full: st(|r| r.test_mse_full),
        test_mse_dense: st(|r| r.test_mse_dense),
        test_mse_magnitude: st(|r| r.test_mse_magnitude),
        noise_variance: reps.first().map_or(f64::NAN, |r| r.noise_variance),
        exact: reps.iter().filter(|r| r.tpr == 1.0 && r.fpr == 0.0).count(),
        reps,
    }
}

fn selection_rows(records: &[Record], key: impl Fn(&Record) -> String) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|r| {
            vec![
                key(r),
                r.selection_accuracy.show(3),
                r.tpr.show(3),
                r.fpr.show(3),
                format!("{}/{}", r.exact, r.reps.len()),
                r.test_mse.show(1),
                r.test_mse_full.show(1),
                r.test_mse_dense.show(1),
                r.test_mse_magnitude.show(1),
                format!("{:.1}", r.noise_variance),
            ]
        })
        .collect()
}

const SELECTION_HEADER: [&str; 10] = [
    "",
    "selection accuracy",
    "TPR",
    "FPR",
    "exact",
    "test MSE pruned",
    "full BNN",
    "dense",
    "magnitude",
    "noise floor",
];

/// E3: D ∈ {20, 50, 100, 200, 500} at α = 2 (quick: 20, 50).
///
/// # Errors
/// A compile or write error.
pub fn e3(s: Scale, out: &Output) -> anyhow::Result<Vec<Record>> {
    let ds: &[usize] = if s.quick {
        &[20, 50]
    } else {
        &[20, 50, 100, 200, 500]
    };
    let points: Vec<(usize, f64)> = ds.iter().map(|&d| (d, 2.0)).collect();
    let title = "E3: selection and fit against D (alpha = 2";
    sweep(s, out, "e3", &points, ("D", title), |r| r.features as f64)
}

/// E4: α ∈ {0.5, 1, 2, 4, 8} at D = 100 (quick: 1, 4).
///
/// # Errors
/// A compile or write error.
pub fn e4(s: Scale, out: &Output) -> anyhow::Result<Vec<Record>> {
    let alphas: &[f64] = if s.quick {
        &[1.0, 4.0]
    } else {
        &[0.5, 1.0, 2.0, 4.0, 8.0]
    };
    let points: Vec<(usize, f64)> = alphas.iter().map(|&a| (100, a)).collect();
    let title = "E4: selection and fit against alpha (D = 100";
    sweep(s, out, "e4", &points, ("alpha", title), |r| r.alpha)
}

/// Runs `design` at each `(D, α)` with fine-tuning and the baselines, and writes its table
/// (plus the λ choices, when chosen), JSON and SVG against `x`: the axis label, the title up to
/// the closing parenthesis, and the value of a record on the axis.
fn sweep(
    s: Scale,
    out: &Output,
    design: &str,
    points: &[(usize, f64)],
    (label, title): (&str, &str),
    x: fn(&Record) -> f64,
) -> anyhow::Result<Vec<Record>> {
    let mut records = Vec::new();
    for &(d, a) in points {
        records.push(record(
            design,
            d,
            a,
            "",
            run(design, d, a, "", None, s.epochs, s)?,
        ));
    }
    let mut header = SELECTION_HEADER;
    header[0] = label;
    let show = |r: &Record| x(r).to_string();
    let md = table(&header, &selection_rows(&records, show));
    let svg = selection_svg(&format!("{title}{})", s.lambda_label()), label, &records, x)?;
    let md = s.with_choices(md, &records, show);
    out.write(&s.name(design), &md, &records, Some(&svg))?;
    Ok(records)
}

/// E5: Bai's design, 200-7-7-7-1, n = 3000.
///
/// # Errors
/// A compile or write error.
pub fn e5(s: Scale, out: &Output) -> anyhow::Result<Record> {
    let reps = run(
        "e5",
        200,
        1.0,
        "rows = 3000",
        Some("[7, 7, 7]"),
        s.e5_epochs,
        s,
    )?;
    let r = record("e5", 200, 1.0, "", reps);
    let rows: Vec<Vec<String>> = r
        .reps
        .iter()
        .map(|p| {
            let found: Vec<String> = (0..5)
                .filter(|&j| p.pip[j] >= 0.5)
                .map(|j| format!("x{}", j + 1))
                .collect();
            vec![
                p.seed.to_string(),
                found.join(" "),
                format!("{:.3}", 1.0 - p.tpr),
                format!("{:.3}", p.fpr),
                format!("{:.3}", p.test_mse_pruned.sqrt()),
                format!("{:.3}", p.test_mse_dense.sqrt()),
                format!("{:.4}", p.pip[0]),
            ]
        })
        .collect();
    let mut md = table(
        &[
            "seed",
            "true features with PIP ≥ 0.5",
            "FNR",
            "FPR",
            "test RMSE pruned",
            "dense",
            "PIP of x1",
        ],
        &rows,
    );
    md.push_str(&format!(
        "\nMean FNR {}, FPR {}, test MSE pruned {} (noise floor 1.0), dense {}.\n",
        Stat::of(&r.reps.iter().map(|p| 1.0 - p.tpr).collect::<Vec<_>>()).show(3),
        r.fpr.show(3),
        r.test_mse.show(3),
        r.test_mse_dense.show(3)
    ));
    out.write("e5", &md, &r, None)?;
    Ok(r)
}

fn selection_svg(
    title: &str,
    x: &str,
    records: &[Record],
    key: fn(&Record) -> f64,
) -> anyhow::Result<String> {
    let series = [
        (
            "selection accuracy".to_string(),
            records
                .iter()
                .map(|r| (key(r), r.selection_accuracy.mean))
                .collect::<Vec<_>>(),
        ),
        (
            "TPR".into(),
            records.iter().map(|r| (key(r), r.tpr.mean)).collect(),
        ),
        (
            "FPR".into(),
            records.iter().map(|r| (key(r), r.fpr.mean)).collect(),
        ),
    ];
    let mse = [
        (
            "pruned".to_string(),
            records
                .iter()
                .map(|r| (key(r), r.test_mse.mean / r.noise_variance))
                .collect::<Vec<_>>(),
        ),
        (
            "full BNN".into(),
            records
                .iter()
                .map(|r| (key(r), r.test_mse_full.mean / r.noise_variance))
                .collect(),
        ),
        (
            "dense".into(),
            records
                .iter()
                .map(|r| (key(r), r.test_mse_dense.mean / r.noise_variance))
                .collect(),
        ),
        (
            "magnitude".into(),
            records
                .iter()
                .map(|r| (key(r), r.test_mse_magnitude.mean / r.noise_variance))
                .collect(),
        ),
    ];
    line_svg(&[
        (
            format!("{title}: selection"),
            x.to_string(),
            series.to_vec(),
        ),
        (
            format!("{title}: test MSE / noise floor"),
            x.to_string(),
            mse.to_vec(),
        ),
    ])
}

/// E1 record: PIP and relevance of x1 and x2 at one ψ2.
#[derive(Clone, Debug, Serialize)]
pub struct E1Record {
    /// Weight of x2 (x1 has 1 − ψ2).
    pub psi2: f64,
    /// PIP of x1.
    pub pip_x1: Stat,
    /// PIP of x2.
    pub pip_x2: Stat,
    /// Relevance of x1.
    pub relevance_x1: Stat,
    /// Relevance of x2.
    pub relevance_x2: Stat,
    /// Largest PIP among the eight noise features, averaged.
    pub max_noise_pip: Stat,
}

/// E1: `y = (1 − ψ2)·f(x1) + ψ2·f(x2) + ε`, D = 10, ψ2 from 0 to 1 (quick: 0, 0.5, 1).
///
/// # Errors
/// A compile or write error.
pub fn e1(s: Scale, out: &Output) -> anyhow::Result<Vec<E1Record>> {
    let psis: Vec<f64> = if s.quick {
        vec![0.0, 0.5, 1.0]
    } else {
        (0..=10).map(|i| f64::from(i) / 10.0).collect()
    };
    let mut records = Vec::new();
    for &psi2 in &psis {
        let reps = run_plain("e1", 10, 2.0, &format!("psi2 = {psi2}"), s)?;
        let st = |f: &dyn Fn(&Rep) -> f64| Stat::of(&reps.iter().map(f).collect::<Vec<_>>());
        records.push(E1Record {
            psi2,
            pip_x1: st(&|r| r.pip[0]),
            pip_x2: st(&|r| r.pip[1]),
            relevance_x1: st(&|r| r.relevance[0]),
            relevance_x2: st(&|r| r.relevance[1]),
            max_noise_pip: st(&|r| r.pip[2..].iter().copied().fold(0.0, f64::max)),
        });
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                format!("{:.1}", r.psi2),
                r.pip_x1.show(3),
                r.pip_x2.show(3),
                r.relevance_x1.show(3),
                r.relevance_x2.show(3),
                r.max_noise_pip.show(3),
            ]
        })
        .collect();
    let md = table(
        &[
            "psi2",
            "PIP x1",
            "PIP x2",
            "relevance x1",
            "relevance x2",
            "largest noise PIP",
        ],
        &rows,
    );
    let pts = |f: fn(&E1Record) -> f64| records.iter().map(|r| (r.psi2, f(r))).collect::<Vec<_>>();
    let svg = line_svg(&[
        (
            "E1: PIP against psi2".into(),
            "psi2".into(),
            vec![
                ("x1".into(), pts(|r| r.pip_x1.mean)),
                ("x2".into(), pts(|r| r.pip_x2.mean)),
                ("largest noise".into(), pts(|r| r.max_noise_pip.mean)),
            ],
        ),
        (
            "E1: relevance against psi2".into(),
            "psi2".into(),
            vec![
                ("x1".into(), pts(|r| r.relevance_x1.mean)),
                ("x2".into(), pts(|r| r.relevance_x2.mean)),
            ],
        ),
    ])?;
    out.write("e1", &md, &records, Some(&svg))?;
    Ok(records)
}

/// E2 record: correlation of true and estimated importance.
#[derive(Clone, Debug, Serialize)]
pub struct E2Record {
    /// `linear` or `f`.
    pub g: String,
    /// Pearson correlation of the true coefficients and the relevance, over the 20 inputs.
    pub pearson: Stat,
    /// Spearman rank correlation, likewise.
    pub spearman: Stat,
    /// Selection accuracy.
    pub selection_accuracy: Stat,
}

/// E2: `y = Σ_{j≤5} β_j·g(x_j) + ε`, β ~ U(0, 1), D = 20, g linear and g = f.
///
/// # Errors
/// A compile or write error.
pub fn e2(s: Scale, out: &Output) -> anyhow::Result<Vec<E2Record>> {
    let mut records = Vec::new();
    for g in ["linear", "f"] {
        let reps = run_plain("e2", 20, 2.0, &format!("g = \"{g}\""), s)?;
        let (mut p, mut sp) = (Vec::new(), Vec::new());
        for r in &reps {
            let mut design = spikeslab_compiler::simulate::Design::new(
                spikeslab_compiler::simulate::DesignKind::E2,
            );
            design.linear = g == "linear";
            let truth = design.generate(1, 1, r.seed)?.importance;
            p.push(pearson(&truth, &r.relevance));
            sp.push(pearson(&ranks(&truth), &ranks(&r.relevance)));
        }
        records.push(E2Record {
            g: g.into(),
            pearson: Stat::of(&p),
            spearman: Stat::of(&sp),
            selection_accuracy: Stat::of(
                &reps
                    .iter()
                    .map(|r| r.selection_accuracy)
                    .collect::<Vec<_>>(),
            ),
        });
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.g.clone(),
                r.pearson.show(3),
                r.spearman.show(3),
                r.selection_accuracy.show(3),
            ]
        })
        .collect();
    out.write(
        "e2",
        &table(&["g", "Pearson", "Spearman", "selection accuracy"], &rows),
        &records,
        None,
    )?;
    Ok(records)
}

/// A replication in which pruning removed every input: nothing selected, and the emitted
/// model would be the constant training mean.
fn nothing_kept(spec: &Spec, seed: u64) -> anyhow::Result<Rep> {
    let data = spikeslab_compiler::dataset::prepare(&spec.data, spec.train.seed)?;
    let (truth, noise) = data
        .truth
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no truth for a simulated design"))?;
    let d = data.names.len();
    let mean = f64::from(data.target.0);
    let test = data
        .raw
        .test
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no test rows"))?;
    let mse = test
        .y
        .iter()
        .map(|&y| (f64::from(y) - mean).powi(2))
        .sum::<f64>()
        / test.rows().max(1) as f64;
    Ok(Rep {
        seed,
        selection_accuracy: (d - truth.len()) as f64 / d as f64,
        tpr: 0.0,
        fpr: 0.0,
        test_mse_pruned: mse,
        test_mse_full: f64::NAN,
        test_mse_dense: f64::NAN,
        test_mse_magnitude: f64::NAN,
        noise_variance: noise,
        pip: vec![0.0; d],
        inclusion: None,
        best_rule: None,
        relevance: vec![0.0; d],
        importance: Vec::new(),
        blob_bytes: 0,
    })
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let (va, vb): (f64, f64) = (
        a.iter().map(|x| (x - ma).powi(2)).sum(),
        b.iter().map(|y| (y - mb).powi(2)).sum(),
    );
    cov / (va * vb).sqrt()
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            r[k] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    r
}

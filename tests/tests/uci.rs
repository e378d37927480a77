//! A UCI-suite split from `../shared/datasets` compiles end to end and fits: the emitted
//! model's test RMSE on concrete (split 0) is well below the target's standard deviation.

use spikeslab_compiler::compile::{Options, compile};
use spikeslab_compiler::spec::Spec;
use spikeslab_tests::board::root;

#[test]
fn concrete_split_0_compiles_and_fits() {
    let dir = root().join("../shared/datasets/uci/concrete");
    assert!(
        dir.join("data.txt").is_file(),
        "{} is missing: this test reads the shared benchmark data (put shared/ beside the repository)",
        dir.display()
    );
    let spec = Spec::parse(&format!(
        "name = \"concrete\"\n[data]\nuci = {:?}\nsplit = 0\n[network]\nhidden = [50]\n[prior]\ninclusion = 0.05\n[train]\nepochs = 150\nbatch = 64\n",
        dir.display().to_string()
    ), "concrete", &dir)
    .unwrap();
    let c = compile(
        &spec,
        &Options {
            quiet: true,
            baseline: false,
            jobs: None,
        },
    )
    .unwrap();
    assert_eq!(c.report.data.features, 8);
    assert_eq!(
        c.report.data.train_rows + c.report.data.validation_rows + c.report.data.test_rows,
        1030
    );
    let rmse = c.report.metrics.emitted.test.unwrap().rmse().unwrap();
    let y = &c.data.raw.train.y;
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
    let std = (y
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / y.len() as f64)
        .sqrt();
    assert!(
        rmse < 0.5 * std,
        "test RMSE {rmse} against a target deviation of {std}"
    );
    eprintln!(
        "concrete split 0: test RMSE {rmse:.3} (target sd {std:.2}), {} of 8 inputs kept",
        c.report.kept_features.len()
    );
}

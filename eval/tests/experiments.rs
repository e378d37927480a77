//! The quick subset of the evaluation, with sane bounds (the full runs are a separate command,
//! see the README): E5 finds x2..x5 with no false positive and fits far better than the dense
//! network; on one UCI split the pruned model's RMSE is within a factor 1.5 of the dense one's,
//! on one Boston split the predictive distribution is calibrated, and on one energy split
//! finer integer grids lose less.

use spikeslab_eval::experiments::sim::{self, Scale};
use spikeslab_eval::experiments::{Output, uci, uncertainty};
use spikeslab_tests::board::root;

fn output() -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir_in(root().join("target")).unwrap();
    let out = Output {
        dir: dir.path().to_path_buf(),
        command: "cargo test -p spikeslab-eval --test experiments".into(),
    };
    (dir, out)
}

#[test]
fn e5_quick_selects_x2_to_x5_without_false_positives() {
    let (_dir, out) = output();
    let r = sim::e5(
        Scale {
            reps: 2,
            epochs: 400,
            finetune: 100,
            e5_epochs: 600,
            quick: true,
            choose_inclusion: false,
        },
        &out,
    )
    .unwrap();
    for rep in &r.reps {
        for j in 1..5 {
            assert!(
                rep.pip[j] >= 0.5,
                "seed {}: x{} has PIP {}",
                rep.seed,
                j + 1,
                rep.pip[j]
            );
        }
        assert!(rep.fpr <= 0.05, "seed {}: FPR {}", rep.seed, rep.fpr);
        assert!(
            rep.test_mse_pruned < 0.5 * rep.test_mse_dense,
            "seed {}: pruned {} dense {}",
            rep.seed,
            rep.test_mse_pruned,
            rep.test_mse_dense
        );
    }
    assert!(out.dir.join("e5.md").is_file() && out.dir.join("e5.json").is_file());
}

#[test]
fn e6_quick_pruned_is_close_to_dense_on_concrete() {
    let (_dir, out) = output();
    let data = root().join("../shared/datasets/uci");
    assert!(
        data.join("concrete/data.txt").is_file(),
        "{} is missing: put shared/ beside the repository",
        data.display()
    );
    let records = uci::e6(&data, Some(1), Some(&["concrete"]), None, &out, "e6-quick").unwrap();
    let rmse = |m: &str| records.iter().find(|r| r.method == m).unwrap().rmse_mean;
    assert!(
        rmse("spikeslab-pruned") < 1.5 * rmse("dense"),
        "pruned {} dense {}",
        rmse("spikeslab-pruned"),
        rmse("dense")
    );
    // The PIPs prune concrete's hidden layer; where the validation rows say the network of
    // every hidden node fits clearly better (split 0 does), that network is kept instead.
    let pruned = records
        .iter()
        .find(|r| r.method == "spikeslab-pruned")
        .unwrap();
    match pruned.hidden_nodes[0] {
        "pip" => assert!(pruned.hidden_kept_mean <= 0.6, "{pruned:?}"),
        _ => {
            assert_eq!(pruned.hidden_kept_mean, 1.0, "{pruned:?}");
            assert!(
                rmse("spikeslab-finetuned") < rmse("dense"),
                "every hidden node {} dense {}",
                rmse("spikeslab-finetuned"),
                rmse("dense")
            );
        }
    }
    assert!(
        rmse("spikeslab-int8") < 1.05 * rmse("spikeslab-finetuned"),
        "int8 {} f32 {}",
        rmse("spikeslab-int8"),
        rmse("spikeslab-finetuned")
    );
}

/// The predictive distribution on one Boston split: moment propagation agrees with Monte
/// Carlo over the same posterior, beats the point model's log-likelihood, covers about 90% of
/// the test rows with its 90% intervals, widens on shifted inputs and flags them as unlike the
/// training data, and at most doubles the blob.
#[test]
fn e6_uncertainty_quick_is_calibrated_on_boston() {
    let (_dir, out) = output();
    let data = root().join("../shared/datasets/uci");
    assert!(
        data.join("bostonHousing/data.txt").is_file(),
        "{} is missing: put shared/ beside the repository",
        data.display()
    );
    let r = uncertainty::e6_uncertainty(
        &data,
        Some(1),
        Some(&["bostonHousing"]),
        &out,
        "e6-uncertainty-quick",
    )
    .unwrap();
    let r = &r[0];
    assert!(r.moment_gap.mean <= 0.05, "moments against MC: {:?}", r);
    assert!(r.ll.mean > r.point_ll.mean - 0.05, "{:?}", r);
    assert!(
        (0.75..=1.0).contains(&r.coverage_90.mean),
        "90% intervals cover {}",
        r.coverage_90.mean
    );
    assert!(r.shift_epistemic_ratio.mean > 1.5, "{:?}", r);
    // The epistemic limit (the validation rows' 99th percentile) flags few test rows as they
    // are and many more moved by 3 sds.
    let (as_is, moved) = (r.flagged.0.mean, r.flagged.1.mean);
    assert!(as_is <= 0.1 && moved >= as_is + 0.3, "{:?}", r.flagged);
    assert!(
        r.blob_bytes.mean <= 2.0 * r.point_blob_bytes.mean,
        "{:?}",
        r
    );
    assert!(out.dir.join("e6-uncertainty-quick.md").is_file());
}

#[test]
fn precision_quick_measures_each_part_and_the_posterior_bits() {
    use spikeslab_eval::experiments::precision::{VARIANTS, precision};
    let (_dir, out) = output();
    let data = root().join("../shared/datasets/uci");
    assert!(
        data.join("energy/data.txt").is_file(),
        "{} is missing: put shared/ beside the repository",
        data.display()
    );
    let r = precision(&data, Some(1), Some(&["energy"]), &out, "precision-quick").unwrap();
    let rec = &r[0];
    assert_eq!(rec.change.len(), VARIANTS.len());
    let change = |name: &str| rec.change[VARIANTS.iter().position(|v| v.0 == name).unwrap()].mean;
    // Finer grids lose less: 16 bits everywhere is within 0.1% of f32, and 4-bit weights
    // lose more than 8-bit ones.
    assert!(change("all 16").abs() < 0.1, "all 16: {}", change("all 16"));
    assert!(change("weights 4") > change("weights 8").abs(), "{rec:?}");
    assert_eq!(rec.rule_bits.len(), 2);
    for b in &rec.rule_bits {
        assert!(b.mean >= 1.0 && b.mean < 32.0, "{rec:?}");
    }
    assert!(out.dir.join("precision-quick.md").is_file());
}

//! `predict_dist` on random models with posterior variances: it agrees with `predict` when
//! the variances are zero, with Monte Carlo over the same posterior where moment propagation
//! is exact (one hidden relu layer), and blobs with variances round-trip and are checked.

mod support;

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use spikeslab_runtime::{Activation, EPISTEMIC_LIMIT, Error, Prediction, Task, VarianceFormat};
use support::{Net, Shape, Store, random_inputs};

fn shape(task: Task, widths: &[usize], density: f64, activation: Activation) -> Shape {
    Shape {
        task,
        features: 9,
        inputs: 6,
        widths: widths.to_vec(),
        density,
        activation,
    }
}

#[test]
fn zero_variances_give_predict_bit_for_bit() {
    for task in [Task::Regression, Task::Classification] {
        for act in [
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Identity,
        ] {
            for density in [1.0, 0.3] {
                let k = if task == Task::Classification { 3 } else { 2 };
                let net = Net::random(&shape(task, &[7, 5, k], density, act), 3, Store::Smaller)
                    .with_variances(0.0, 1);
                let blob = net.blob().unwrap();
                let model = blob.model().unwrap();
                assert!(model.has_posterior());
                for x in random_inputs(9, 20, &mut Pcg64::seed_from_u64(2)) {
                    let mut y = vec![0.0; k];
                    model.predict(&x, &mut y).unwrap();
                    let mut d = vec![Prediction::default(); k];
                    model.predict_dist(&x, &mut d).unwrap();
                    for (p, &v) in d.iter().zip(&y) {
                        assert_eq!(p.mean.to_bits(), v.to_bits(), "{task:?} {act:?}");
                        assert_eq!(p.epistemic, 0.0);
                    }
                    if task == Task::Regression {
                        for (p, s) in d.iter().zip(model.noise_sd()) {
                            assert_eq!(p.noise, s * s);
                        }
                    }
                }
            }
        }
    }
}

/// Mean and variance of the (standardised) output over `draws` weight draws, in f64.
fn monte_carlo(net: &Net, x: &[f32], draws: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let k = net.layers.last().unwrap().bias.len();
    let (mut sum, mut sq) = (vec![0.0; k], vec![0.0; k]);
    let z0: Vec<f64> = net
        .inputs
        .iter()
        .zip(&net.mean)
        .zip(&net.scale)
        .map(|((&i, &m), &s)| (f64::from(x[usize::from(i)]) - f64::from(m)) * f64::from(s))
        .collect();
    for _ in 0..draws {
        let mut h = z0.clone();
        for l in &net.layers {
            let v = l.variance.as_ref().unwrap();
            let mut y = Vec::new();
            for (o, row) in l.rows.iter().enumerate() {
                let mut noise = || -> f64 { StandardNormal.sample(&mut rng) };
                let mut s = f64::from(l.bias[o]) + f64::from(v.bias[o]).sqrt() * noise();
                for (i, &w) in row.iter().enumerate() {
                    if w != 0.0 {
                        let sd = f64::from(v.rows[o][i]).sqrt();
                        s += (f64::from(w) + sd * noise()) * h[i];
                    }
                }
                y.push(match l.activation {
                    Activation::Relu => s.max(0.0),
                    Activation::Identity => s,
                    Activation::Tanh => s.tanh(),
                    Activation::Sigmoid => 1.0 / (1.0 + (-s).exp()),
                });
            }
            h = y;
        }
        for (o, &v) in h.iter().enumerate() {
            sum[o] += v;
            sq[o] += v * v;
        }
    }
    let n = draws as f64;
    sum.iter()
        .zip(&sq)
        .map(|(&s, &q)| (s / n, q / n - (s / n) * (s / n)))
        .collect()
}

#[test]
fn one_hidden_relu_layer_matches_monte_carlo() {
    for (seed, density) in [(11, 1.0), (12, 0.5), (13, 1.0)] {
        let net = Net::random(
            &shape(Task::Regression, &[12, 2], density, Activation::Relu),
            seed,
            Store::Smaller,
        )
        .with_variances(0.3, seed);
        let blob = net.blob().unwrap();
        let model = blob.model().unwrap();
        for x in random_inputs(9, 4, &mut Pcg64::seed_from_u64(seed)) {
            let mut d = [Prediction::default(); 2];
            model.predict_dist(&x, &mut d).unwrap();
            let draws = 200_000;
            let mc = monte_carlo(&net, &x, draws, seed);
            for (o, (p, (m, v))) in d.iter().zip(mc).enumerate() {
                let (mu, s) = (
                    f64::from(net.output_mean[o]),
                    f64::from(net.output_scale[o]),
                );
                let mean = (f64::from(p.mean) - mu) / s;
                let var = f64::from(p.epistemic) / (s * s);
                // Exact in this case up to f32 and Φ's error: the tolerance is Monte Carlo's
                // (5 standard errors of the mean; the variance's relative se is ≈ √(2/N)
                // for a near-Gaussian output, allowed 4% for the relu's heavier tail).
                let se = (v / draws as f64).sqrt();
                assert!(
                    (mean - m).abs() <= 5.0 * se + 1e-4,
                    "output {o}: mean {mean} against {m} ± {se}"
                );
                assert!(
                    (var - v).abs() <= 0.04 * v + 1e-6,
                    "output {o}: variance {var} against {v}"
                );
                let noise = f64::from(net.noise_sd[o]).powi(2);
                assert!((f64::from(p.noise) - noise).abs() <= 1e-6 * noise);
                assert!((p.variance() - (p.epistemic + p.noise)).abs() == 0.0);
            }
        }
    }
}

#[test]
fn classifier_probabilities_sum_to_one_and_uncertainty_grows_with_the_spread() {
    let s = shape(Task::Classification, &[10, 4], 1.0, Activation::Relu);
    let nets = [0.0, 0.1, 1.0].map(|spread| {
        Net::random(&s, 5, Store::Smaller)
            .with_variances(spread, 1)
            .blob()
            .unwrap()
    });
    let models: Vec<_> = nets.iter().map(|b| b.model().unwrap()).collect();
    for x in random_inputs(9, 30, &mut Pcg64::seed_from_u64(8)) {
        let d: Vec<[Prediction; 4]> = models
            .iter()
            .map(|m| {
                let mut d = [Prediction::default(); 4];
                m.predict_dist(&x, &mut d).unwrap();
                d
            })
            .collect();
        for p in &d {
            assert!((p.iter().map(|p| p.mean).sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(p.iter().all(|p| p.noise == 0.0));
        }
        for (k, ((a, b), c)) in d[0].iter().zip(&d[1]).zip(&d[2]).enumerate() {
            let v = [a.epistemic, b.epistemic, c.epistemic];
            assert!(v[0] == 0.0 && v[1] > 0.0 && v[2] > v[1], "class {k}: {v:?}");
        }
    }
}

#[test]
fn predict_dist_refuses_what_it_cannot_do() {
    let s = shape(Task::Regression, &[7, 1], 1.0, Activation::Relu);
    let point = Net::random(&s, 1, Store::Smaller);
    let blob = point.blob().unwrap();
    let model = blob.model().unwrap();
    assert!(!model.has_posterior());
    let mut d = [Prediction::default()];
    assert_eq!(
        model.predict_dist(&[0.0; 9], &mut d),
        Err(Error::NoPosterior)
    );
    let int8 = Net::random(&s, 1, Store::Smaller).int8(1);
    let blob = int8.blob().unwrap();
    assert_eq!(
        blob.model().unwrap().predict_dist(&[0.0; 9], &mut d),
        Err(Error::NoPosterior)
    );
    let with = point.clone().with_variances(0.1, 2);
    let blob = with.blob().unwrap();
    let model = blob.model().unwrap();
    assert_eq!(
        model.predict_dist(&[0.0; 8], &mut d),
        Err(Error::InputLen { expected: 9 })
    );
    assert_eq!(
        model.predict_dist(&[0.0; 9], &mut [Prediction::default(); 2]),
        Err(Error::OutputLen { expected: 1 })
    );
    assert!(model.predict_dist(&[f32::NAN; 9], &mut d).is_ok());
    assert!(d[0].mean.is_nan());
}

#[test]
fn the_epistemic_limit_is_the_stored_metric_of_a_model_with_a_posterior() {
    let s = shape(Task::Regression, &[7, 1], 1.0, Activation::Relu);
    let mut point = Net::random(&s, 1, Store::Smaller);
    point.metrics = vec![("emitted_val_rmse", 2.0), (EPISTEMIC_LIMIT, 0.25)];
    let blob = point.blob().unwrap();
    let model = blob.model().unwrap();
    assert_eq!(model.metric("seed"), Some(1.0));
    assert_eq!(model.metric(EPISTEMIC_LIMIT), Some(0.25));
    assert_eq!(model.metric("epistemic_sd"), None);
    // Without variances there is no epistemic sd to compare with it.
    assert_eq!(model.epistemic_limit(), None);
    let with = point.clone().with_variances(0.1, 2);
    let blob = with.blob().unwrap();
    assert_eq!(blob.model().unwrap().epistemic_limit(), Some(0.25));
    for bad in [f32::NAN, f32::INFINITY, -1.0] {
        let mut w = with.clone();
        w.metrics = vec![(EPISTEMIC_LIMIT, bad)];
        let blob = w.blob().unwrap();
        assert_eq!(blob.model().unwrap().epistemic_limit(), None, "{bad}");
    }
    let mut without = with.clone();
    without.metrics.clear();
    let blob = without.blob().unwrap();
    assert_eq!(blob.model().unwrap().epistemic_limit(), None);
}

#[test]
fn an_integer_model_gives_the_moments_of_its_dequantised_weights() {
    for task in [Task::Regression, Task::Classification] {
        for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
            for (density, store) in [(1.0, Store::Dense), (0.3, Store::Smaller)] {
                for k in [1, 2, 3] {
                    let out = if task == Task::Classification { 3 } else { 1 };
                    let s = shape(task, &[9, 5, out], density, act);
                    let net = Net::random(&s, 7, store).int8(k).with_variances(0.3, 4);
                    let blob = net.blob().unwrap();
                    let model = blob.model().unwrap();
                    assert!(model.has_posterior());
                    assert_eq!(model.parts(), &net.parts(), "round trip");
                    let reference = net.dequantised().blob().unwrap();
                    let reference = reference.model().unwrap();
                    for x in random_inputs(9, 30, &mut Pcg64::seed_from_u64(k as u64)) {
                        let mut got = vec![Prediction::default(); out];
                        let mut want = vec![Prediction::default(); out];
                        model.predict_dist(&x, &mut got).unwrap();
                        reference.predict_dist(&x, &mut want).unwrap();
                        for (g, w) in got.iter().zip(&want) {
                            let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * (1.0 + b.abs());
                            assert!(
                                close(g.mean, w.mean)
                                    && close(g.epistemic, w.epistemic)
                                    && g.noise == w.noise,
                                "{task:?} {act:?} density {density}, {k} int8 layers: \
                                 {g:?} against {w:?}"
                            );
                            assert!(g.epistemic > 0.0);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn four_bit_variance_codes_read_as_the_values_they_stand_for() {
    // Widths around the f32 kernels' blocks: 13 = 8 + 4 + 1 rows, 6 = 4 + 2.
    for task in [Task::Regression, Task::Classification] {
        for (density, store) in [(1.0, Store::Dense), (0.3, Store::Smaller)] {
            for k in [0, 1, 2, 3] {
                let out = if task == Task::Classification { 3 } else { 1 };
                let s = shape(task, &[9, 13, 6, out], density, Activation::Relu);
                let net = Net::random(&s, 3, store).int8(k).with_variances(0.3, 5);
                let (coded_net, plain) = (net.clone().with_table4(true), net.with_table4(false));
                let (coded, plain) = (coded_net.blob().unwrap(), plain.blob().unwrap());
                let (coded, plain) = (coded.model().unwrap(), plain.model().unwrap());
                assert_eq!(coded.parts(), &coded_net.parts(), "round trip");
                assert!(
                    coded
                        .layers()
                        .iter()
                        .all(|l| l.variance_format() == VarianceFormat::Table4)
                );
                for x in random_inputs(9, 20, &mut Pcg64::seed_from_u64(k as u64)) {
                    let mut got = vec![Prediction::default(); out];
                    let mut want = vec![Prediction::default(); out];
                    coded.predict_dist(&x, &mut got).unwrap();
                    plain.predict_dist(&x, &mut want).unwrap();
                    assert_eq!(got, want, "{task:?} density {density}, {k} int8 layers");
                    assert!(got.iter().all(|p| p.epistemic > 0.0));
                }
            }
        }
    }
}

#[test]
fn variances_round_trip_and_are_checked() {
    let s = shape(Task::Regression, &[7, 5, 1], 0.4, Activation::Tanh);
    let net = Net::random(&s, 4, Store::Smaller).with_variances(0.2, 3);
    let blob = net.blob().unwrap();
    let model = blob.model().unwrap();
    assert_eq!(model.parts(), &net.parts());
    // In one layer only: the format's rule.
    let mut partial = net.clone();
    partial.layers[1].variance = None;
    assert_eq!(partial.blob().err(), Some(Error::Format { layer: 1 }));
    let mut negative = net.clone();
    let v = negative.layers[0].variance.as_mut().unwrap();
    let bias = v.bias.clone();
    let mut rows = v.rows.clone();
    rows[0][0] = -1.0;
    rows[0].iter_mut().for_each(|r| *r = -r.abs() - 1.0);
    negative.layers[0].set_variance(rows, bias);
    assert!(matches!(
        negative.blob().err(),
        Some(Error::NonFinite { .. })
    ));
    // The same for integer layers, and their posterior's numbers are checked.
    let int8 = Net::random(&s, 4, Store::Smaller)
        .int8(2)
        .with_variances(0.2, 3);
    let mut partial = int8.clone();
    partial.layers[1].int8.as_mut().unwrap().posterior = None;
    assert_eq!(partial.blob().err(), Some(Error::Format { layer: 1 }));
    // Bias means, scales, units, bias variances, code variances (the layer is sparse).
    let (width, inputs) = (5, 7);
    for (field, at, value) in [
        (0, 0, f32::NAN),
        (1, width, f32::INFINITY),
        (2, 2 * width, f32::NAN),
        (3, 2 * width + inputs, -1.0),
        (4, 3 * width + inputs, -1.0),
    ] {
        let mut bad = int8.clone();
        let p = bad.layers[1]
            .int8
            .as_mut()
            .unwrap()
            .posterior
            .as_mut()
            .unwrap();
        p.sparse[at] = value;
        assert!(
            matches!(bad.blob().err(), Some(Error::NonFinite { .. })),
            "field {field}"
        );
    }
    let mut no_means = int8.clone();
    no_means.real = None;
    assert_eq!(no_means.blob().err(), Some(Error::Inputs));
}

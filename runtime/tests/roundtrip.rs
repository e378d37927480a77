//! Blobs written by [`Parts::encode`] from random models load back to the same parts and
//! re-encode to the same bytes, and the predictions match an f64 reference forward pass, for
//! dense and sparse layers, every activation and both tasks.

mod support;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_runtime::{
    Activation, Aligned as Flash, Error, Int8, Int8Weights, MAX_NAME, Model, Names, Params, Task,
    Text, Weights,
};
use support::{Aligned, Net, Shape, Store, random_inputs};

fn shape() -> impl Strategy<Value = Shape> {
    let acts = prop_oneof![
        Just(Activation::Relu),
        Just(Activation::Tanh),
        Just(Activation::Sigmoid),
        Just(Activation::Identity)
    ];
    let task = prop_oneof![Just(Task::Regression), Just(Task::Classification)];
    (
        task,
        1usize..70,
        1usize..=70,
        prop::collection::vec(1usize..48, 1..=4),
        0.05f64..=1.0,
        acts,
    )
        .prop_map(|(task, f, i, mut widths, density, activation)| {
            let last = widths.len() - 1;
            widths[last] = if task == Task::Classification {
                widths[last].clamp(2, 10)
            } else {
                widths[last].min(3)
            };
            Shape {
                task,
                features: f.max(i),
                inputs: i.min(f.max(i)),
                widths,
                density,
                activation,
            }
        })
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn fail(e: impl ToString) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decodes_to_the_same_parts_and_matches_the_f64_reference(shape in shape(), seed in any::<u64>(), int8 in 0usize..=4) {
        let net = Net::random(&shape, seed, Store::Smaller).int8(int8);
        let blob = net.blob().map_err(fail)?;
        let model = blob.model().map_err(fail)?;
        prop_assert_eq!(model.parts(), &net.parts());
        let mut again = Aligned::zeroed(blob.bytes().len());
        let n = model.parts().encode(again.bytes_mut()).map_err(fail)?;
        prop_assert_eq!(&again.bytes()[..n], blob.bytes());
        let mut rng = Pcg64::seed_from_u64(seed ^ 1);
        let (mut out, mut out2) = (vec![0.0; model.outputs()], vec![0.0; model.outputs()]);
        for x in random_inputs(usize::from(net.features), 8, &mut rng) {
            model.predict(&x, &mut out).map_err(fail)?;
            net.within_tolerance(&out, &net.reference(&x)).map_err(TestCaseError::fail)?;
            let kept: Vec<f32> = net.inputs.iter().map(|&i| x[usize::from(i)]).collect();
            model.predict_inputs(&kept, &mut out2).map_err(fail)?;
            prop_assert_eq!(bits(&out), bits(&out2));
        }
    }

    #[test]
    fn dense_and_sparse_storage_give_identical_outputs(shape in shape(), seed in any::<u64>(), int8 in 0usize..=4) {
        let shape = Shape { density: 0.1, ..shape };
        let (a, b) = (Net::random(&shape, seed, Store::Smaller).int8(int8), Net::random(&shape, seed, Store::Dense).int8(int8));
        let (ba, bb) = (a.blob().map_err(fail)?, b.blob().map_err(fail)?);
        let (ma, mb) = (ba.model().map_err(fail)?, bb.model().map_err(fail)?);
        let mut rng = Pcg64::seed_from_u64(seed);
        for x in random_inputs(usize::from(a.features), 4, &mut rng) {
            let (mut ya, mut yb) = (vec![0.0; ma.outputs()], vec![0.0; mb.outputs()]);
            ma.predict(&x, &mut ya).map_err(fail)?;
            mb.predict(&x, &mut yb).map_err(fail)?;
            prop_assert_eq!(bits(&ya), bits(&yb));
        }
    }
}

#[test]
fn a_dense_layer_with_a_multiplier_below_two_to_the_fifteen_gives_the_sparse_outputs() {
    // Such a layer takes the general requantisation rather than the fused dense kernel,
    // whose multiply assumes m ≥ 2^15; both must give the integer arithmetic's bits.
    for (task, seed) in [(Task::Regression, 3), (Task::Classification, 4)] {
        let shape = Shape {
            task,
            features: 9,
            inputs: 7,
            widths: vec![11, 6, 3],
            density: 0.1,
            activation: Activation::Relu,
        };
        let mut nets =
            [Store::Smaller, Store::Dense].map(|store| Net::random(&shape, seed, store).int8(3));
        for net in &mut nets {
            for layer in &mut net.layers[..2] {
                let q = layer.int8.as_mut().unwrap();
                for o in [0, 5] {
                    (q.mult[o], q.shift[o]) = (q.mult[o] >> 1, q.shift[o].max(18) - 1);
                }
                assert!(q.mult[0] < 1 << 15 && q.mult[5] < 1 << 15);
            }
        }
        let [a, b] = nets.map(|n| n.blob().unwrap());
        let (ma, mb) = (a.model().unwrap(), b.model().unwrap());
        assert!(matches!(
            mb.layers()[0].params,
            Params::Int8(Int8 {
                weights: Int8Weights::Dense(_),
                ..
            })
        ));
        let mut rng = Pcg64::seed_from_u64(seed);
        for x in random_inputs(9, 20, &mut rng) {
            let (mut ya, mut yb) = (vec![0.0; ma.outputs()], vec![0.0; mb.outputs()]);
            ma.predict(&x, &mut ya).unwrap();
            mb.predict(&x, &mut yb).unwrap();
            assert_eq!(bits(&ya), bits(&yb), "{task:?}");
        }
    }
}

fn small(task: Task) -> Net {
    let shape = Shape {
        task,
        features: 6,
        inputs: 4,
        widths: vec![5, 3],
        density: 0.6,
        activation: Activation::Tanh,
    };
    Net::random(&shape, 7, Store::Smaller)
}

#[test]
fn sparse_layers_are_smaller_than_dense_ones() {
    let shape = Shape {
        task: Task::Regression,
        features: 40,
        inputs: 40,
        widths: vec![64, 1],
        density: 0.05,
        activation: Activation::Relu,
    };
    let blob = Net::random(&shape, 3, Store::Smaller).blob().unwrap();
    let dense = Net::random(&shape, 3, Store::Dense).blob().unwrap();
    assert!(matches!(
        blob.model().unwrap().layers()[0].params,
        Params::F32 {
            weights: Weights::Sparse { .. },
            ..
        }
    ));
    assert!(
        blob.bytes().len() < dense.bytes().len() / 2,
        "sparse {} bytes, dense {}",
        blob.bytes().len(),
        dense.bytes().len()
    );
}

#[test]
fn wrong_slice_lengths_are_errors() {
    let blob = small(Task::Regression).blob().unwrap();
    let model = blob.model().unwrap();
    let mut y = [0.0; 3];
    let input = Err(Error::InputLen { expected: 6 });
    assert_eq!(model.predict(&[0.0; 5], &mut y), input);
    assert_eq!(model.predict(&[0.0; 7], &mut y), input);
    let output = Err(Error::OutputLen { expected: 3 });
    assert_eq!(model.predict(&[0.0; 6], &mut y[..2]), output);
    assert_eq!(model.predict(&[0.0; 6], &mut [0.0; 4]), output);
    assert_eq!(
        model.predict_inputs(&[0.0; 6], &mut y),
        Err(Error::InputLen { expected: 4 })
    );
    assert_eq!(model.predict(&[0.0; 6], &mut y), Ok(()));
}

#[test]
fn non_finite_read_inputs_propagate_and_unread_ones_are_ignored() {
    for task in [Task::Regression, Task::Classification] {
        let net = small(task);
        let blob = net.blob().unwrap();
        let model = blob.model().unwrap();
        let unread = (0..6).find(|&i| !net.inputs.contains(&i)).unwrap();
        let read = usize::from(net.inputs[0]);
        let base = [0.5f32; 6];
        let mut y0 = vec![0.0; model.outputs()];
        model.predict(&base, &mut y0).unwrap();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x = base;
            x[usize::from(unread)] = bad;
            let mut y = vec![0.0; model.outputs()];
            model.predict(&x, &mut y).unwrap();
            assert_eq!(y, y0, "unread input {unread} = {bad} changed the outputs");
            x = base;
            x[read] = bad;
            model.predict(&x, &mut y).unwrap();
            if bad.is_nan() {
                assert!(y.iter().any(|v| v.is_nan()), "NaN did not propagate: {y:?}");
            }
            let kept: Vec<f32> = model.inputs().iter().map(|&i| x[usize::from(i)]).collect();
            let mut y2 = vec![0.0; model.outputs()];
            model.predict_inputs(&kept, &mut y2).unwrap();
            assert_eq!(bits(&y), bits(&y2), "input {read} = {bad}");
        }
        let mut x = base;
        x[read] = f32::NAN;
        if task == Task::Classification {
            assert_eq!(model.classify(&x), Ok(None));
            assert!(model.classify(&base).unwrap().is_some());
        }
    }
}

#[test]
fn an_integer_model_gives_nan_for_any_non_finite_read_input() {
    for task in [Task::Regression, Task::Classification] {
        let net = small(task).int8(2);
        let blob = net.blob().unwrap();
        let model = blob.model().unwrap();
        let unread = (0..6).find(|&i| !net.inputs.contains(&i)).unwrap();
        let base = [0.5f32; 6];
        let mut y0 = vec![0.0; model.outputs()];
        model.predict(&base, &mut y0).unwrap();
        assert!(y0.iter().all(|v| v.is_finite()));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x = base;
            x[usize::from(unread)] = bad;
            let mut y = vec![0.0; model.outputs()];
            model.predict(&x, &mut y).unwrap();
            assert_eq!(y, y0, "unread input {unread} = {bad} changed the outputs");
            x = base;
            x[usize::from(net.inputs[1])] = bad;
            model.predict(&x, &mut y).unwrap();
            assert!(y.iter().all(|v| v.is_nan()), "{bad}: {y:?}");
        }
    }
}

#[test]
fn integer_layers_are_checked() {
    let refused = |net: &Net| net.blob().unwrap_err();
    // a classifier's integer output layer gives integer logits, a regression's f32 outputs
    let mut net = small(Task::Classification).int8(2);
    let q = net.layers[1].int8.as_mut().unwrap();
    assert!(q.scale.is_empty() && !q.mult.is_empty());
    q.scale = vec![1e-3; q.mult.len()];
    (q.mult, q.shift) = (Vec::new(), Vec::new());
    assert!(matches!(refused(&net), Error::Shape { .. }));
    let q = small(Task::Regression).int8(2).layers[1]
        .int8
        .clone()
        .unwrap();
    assert!(!q.scale.is_empty() && q.mult.is_empty());
    // an integer layer after an f32 one
    let mut net = small(Task::Regression).int8(3);
    net.layers[0].int8 = None;
    assert_eq!(
        refused(&net),
        Error::Inputs,
        "int8 input codes into an f32 layer"
    );
    net.codes = None;
    assert_eq!(refused(&net), Error::Format { layer: 1 });
    let mut net = small(Task::Regression).int8(1);
    let q = net.layers[0].int8.take().unwrap();
    net.layers[1].int8 = Some(q);
    net.codes = None;
    assert!(matches!(
        refused(&net),
        Error::Shape { .. } | Error::Format { .. }
    ));
    // an input offset beyond 2^29, an input shift outside 17..=47
    let mut net = small(Task::Regression).int8(2);
    net.codes.as_mut().unwrap().0[1] = (1 << 29) + 1;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
    let mut net = small(Task::Regression).int8(2);
    net.codes.as_mut().unwrap().2[0] = 48;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
    // a shift outside 17..=47, a bias beyond 2^24, a non-finite dequantisation scale
    let mut net = small(Task::Regression).int8(2);
    net.layers[0].int8.as_mut().unwrap().shift[0] = 16;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
    let mut net = small(Task::Regression).int8(2);
    net.layers[0].int8.as_mut().unwrap().bias[0] = (1 << 24) + 1;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
    let mut net = small(Task::Regression).int8(2);
    net.layers[1].int8.as_mut().unwrap().scale[0] = f32::INFINITY;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
    assert!(small(Task::Regression).int8(2).blob().is_ok());
}

#[test]
fn encoder_rejects_inconsistent_parts() {
    let refused = |net: &Net| net.blob().unwrap_err();
    let mut net = small(Task::Regression);
    net.mean.pop();
    assert_eq!(refused(&net), Error::Inputs);
    let mut net = small(Task::Regression);
    net.layers[0].bias[1] = f32::NAN;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
    let mut net = small(Task::Classification);
    net.layers.last_mut().unwrap().activation = Activation::Relu;
    assert_eq!(refused(&net), Error::Task);
    let mut net = small(Task::Regression);
    net.inputs = vec![0, 2, 2, 5];
    assert_eq!(refused(&net), Error::Inputs);
    let mut net = small(Task::Regression);
    net.pips = vec![0.5; 3];
    assert_eq!(refused(&net), Error::Length);
    net.pips = vec![0.5; 4 + 5];
    assert!(net.blob().is_ok());
    net.pips[2] = 1.5;
    assert!(matches!(refused(&net), Error::NonFinite { .. }));
}

#[test]
fn over_capacity_models_are_refused() {
    // More than MAX_LAYERS layers cannot be stated as `Parts` at all (a heapless vector).
    let shape = |features, inputs, widths: Vec<usize>| Shape {
        task: Task::Regression,
        features,
        inputs,
        widths,
        density: 1.0,
        activation: Activation::Relu,
    };
    for (s, what) in [
        (shape(300, 257, vec![4, 1]), "257 inputs"),
        (shape(3, 3, vec![257, 1]), "a layer of 257"),
    ] {
        assert_eq!(
            Net::random(&s, 1, Store::Smaller).blob().unwrap_err(),
            Error::Capacity,
            "{what}"
        );
    }
}

#[test]
fn misaligned_blob_is_refused_and_aligned_copy_accepted() {
    let blob = small(Task::Regression).blob().unwrap();
    let n = blob.bytes().len();
    let mut buf = Flash([0u8; 4100]);
    // Offsets 1, 2 and 3 from a 4-aligned base are misaligned whatever the base.
    for at in 1..4 {
        buf.0[at..at + n].copy_from_slice(blob.bytes());
        assert_eq!(
            Model::from_bytes(&buf.0[at..at + n]),
            Err(Error::Align),
            "offset {at}"
        );
    }
    assert!(Aligned::copy(&buf.0[3..3 + n]).model().is_ok());
}

#[test]
fn metadata_text_is_checked_when_read_not_when_loaded() {
    let mut net = small(Task::Regression);
    let good = net.blob().unwrap();
    let model = good.model().unwrap();
    assert_eq!(model.meta().name.as_str(), Ok("random"));
    net.name = b"ok\xff".to_vec();
    let blob = net.blob().unwrap();
    let bad = blob.model().unwrap();
    assert_eq!(bad.meta().name.as_str().unwrap_err().valid_up_to(), 2);
    assert_eq!(bad.meta().name, Text::from_bytes(b"ok\xff"));
    let (mut ya, mut yb) = ([0.0f32; 3], [0.0f32; 3]);
    model.predict(&[0.5; 6], &mut ya).unwrap();
    bad.predict(&[0.5; 6], &mut yb).unwrap();
    assert_eq!(ya.map(f32::to_bits), yb.map(f32::to_bits));
}

#[test]
fn names_are_one_per_input_and_output_and_never_repeated() {
    let names = |list: &[&str]| {
        let mut b = vec![0; list.iter().map(|n| n.len() + 1).sum()];
        Names::write(list.iter().copied(), &mut b).unwrap();
        b
    };
    let mut net = small(Task::Classification);
    assert_eq!(net.inputs, [0, 2, 3, 5]);
    net.names = names(&["a", "b", "c", "d", "cat", "dog", "owl"]);
    let blob = net.blob().unwrap();
    let model = blob.model().unwrap();
    let labels: Vec<&str> = model.output_names().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(labels, ["cat", "dog", "owl"]);
    assert_eq!(model.feature_index("b"), Some(2));
    assert_eq!(model.feature_index("cat"), None);
    assert!(model.noise_sd().is_empty());
    // an input may share a name with an output, but not with another input
    net.names = names(&["a", "b", "c", "cat", "cat", "dog", "owl"]);
    assert!(net.blob().is_ok());
    for bad in [
        &["a", "b", "c", "a", "cat", "dog", "owl"][..],
        &["a", "b", "c", "d", "cat", "dog", "cat"],
        &["a", "b", "c", "d", "cat", "dog"],
        &["a", "b", "c", "d", "cat", "dog", "owl", "eel"],
    ] {
        net.names = names(bad);
        assert!(
            matches!(net.blob().unwrap_err(), Error::Names { .. }),
            "{bad:?} accepted"
        );
    }
    let mut buf = [0u8; 300];
    let long = "n".repeat(MAX_NAME + 1);
    assert_eq!(
        Names::write(["ok", long.as_str()], &mut buf),
        Err(Error::Names { offset: 3 })
    );
    assert_eq!(
        Names::write(["", "x"], &mut buf),
        Err(Error::Names { offset: 0 })
    );
    assert_eq!(
        Names::write(["abc"], &mut buf[..3]),
        Err(Error::BufferTooSmall { needed: 4 })
    );
}

#[test]
fn a_regression_noise_sd_must_be_positive() {
    let mut net = small(Task::Regression);
    assert_eq!(
        net.blob().unwrap().model().unwrap().noise_sd(),
        &net.noise_sd[..]
    );
    for bad in [0.0, -1.0, f32::INFINITY] {
        net.noise_sd[1] = bad;
        assert!(
            matches!(net.blob().unwrap_err(), Error::NonFinite { .. }),
            "{bad}"
        );
    }
    net.noise_sd.pop();
    assert_eq!(net.blob().unwrap_err(), Error::Task);
}

//! The compiler's encoder: a host `Network` becomes a blob whose predictions match the
//! network's f64 reference, packed dense or sparse as asked, and refused with the runtime's
//! reason when it cannot be one. (The format itself is tested in `runtime/tests`.)

use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_compiler::blob::Packing;
use spikeslab_compiler::network::Network;
use spikeslab_runtime::{Activation, Error, Model, Params, Task, Text, Weights};
use spikeslab_tests::{Arch, ToBlob, random_inputs, random_network, reference, within_tolerance};

/// Every activation and both tasks, dense to very sparse, one to three hidden layers, with
/// dropped inputs and widths on both sides of multiples of 4.
fn archs() -> Vec<Arch> {
    let acts = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Identity,
    ];
    let mut v = Vec::new();
    for (k, &activation) in acts.iter().enumerate() {
        for (task, outputs) in [
            (Task::Regression, 1 + k % 3),
            (Task::Classification, 2 + 3 * k),
        ] {
            for (density, hidden) in [(1.0, vec![7]), (0.3, vec![16, 5]), (0.05, vec![33, 9, 4])] {
                let mut widths = hidden;
                widths.push(outputs);
                v.push(Arch {
                    task,
                    features: 13 + k,
                    inputs: 9 + k,
                    widths,
                    density,
                    activation,
                });
            }
        }
    }
    v
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn blobs_of_networks_match_their_f64_reference_and_the_network_s_inputs() {
    for (seed, arch) in archs().iter().enumerate() {
        let net = random_network(arch, seed as u64);
        let blob = net.to_blob().unwrap();
        let model = blob.model().unwrap();
        let inputs: Vec<usize> = model.inputs().iter().map(|&i| usize::from(i)).collect();
        assert_eq!(inputs, net.inputs, "{arch:?}");
        let mut rng = Pcg64::seed_from_u64(seed as u64);
        let (mut out, mut out2) = (vec![0.0; model.outputs()], vec![0.0; model.outputs()]);
        for x in random_inputs(net.feature_names.len(), 8, &mut rng) {
            model.predict(&x, &mut out).unwrap();
            if let Err(e) = within_tolerance(&net, &out, &reference(&net, &x)) {
                panic!("{arch:?}: {e}");
            }
            let kept: Vec<f32> = net.inputs.iter().map(|&i| x[i]).collect();
            model.predict_inputs(&kept, &mut out2).unwrap();
            assert_eq!(bits(&out), bits(&out2), "{arch:?}");
        }
    }
}

#[test]
fn dense_and_smaller_packing_give_identical_outputs() {
    for (seed, arch) in archs().iter().enumerate() {
        let net = random_network(
            &Arch {
                density: 0.1,
                ..arch.clone()
            },
            seed as u64,
        );
        let (a, b) = (
            net.to_blob().unwrap(),
            net.to_blob_as(Packing::Dense).unwrap(),
        );
        let (ma, mb) = (a.model().unwrap(), b.model().unwrap());
        assert!(mb.layers().iter().all(|l| matches!(
            l.params,
            Params::F32 {
                weights: Weights::Dense(_),
                ..
            }
        )));
        let mut rng = Pcg64::seed_from_u64(seed as u64);
        for x in random_inputs(net.feature_names.len(), 4, &mut rng) {
            let (mut ya, mut yb) = (vec![0.0; ma.outputs()], vec![0.0; mb.outputs()]);
            ma.predict(&x, &mut ya).unwrap();
            mb.predict(&x, &mut yb).unwrap();
            assert_eq!(bits(&ya), bits(&yb), "{arch:?}");
        }
    }
}

fn small(task: Task) -> Network {
    let arch = Arch {
        task,
        features: 6,
        inputs: 4,
        widths: vec![5, 3],
        density: 0.6,
        activation: Activation::Tanh,
    };
    random_network(&arch, 7)
}

#[test]
fn sparse_layers_are_chosen_when_smaller() {
    let arch = Arch {
        task: Task::Regression,
        features: 40,
        inputs: 40,
        widths: vec![64, 1],
        density: 0.05,
        activation: Activation::Relu,
    };
    let net = random_network(&arch, 3);
    let blob = net.to_blob().unwrap();
    let model = blob.model().unwrap();
    assert!(matches!(
        model.layers()[0].params,
        Params::F32 {
            weights: Weights::Sparse { .. },
            ..
        }
    ));
    let dense_weights = 40 * 64 * 4;
    assert!(
        blob.as_bytes().len() < dense_weights / 2,
        "{} bytes",
        blob.as_bytes().len()
    );
}

#[test]
fn encoder_rejects_inconsistent_parts() {
    let mut net = small(Task::Regression);
    net.input_mean.pop();
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::Inputs))
    ));
    let mut net = small(Task::Regression);
    net.layers[0].bias[1] = f32::NAN;
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::NonFinite { .. }))
    ));
    let mut net = small(Task::Classification);
    net.layers.last_mut().unwrap().activation = Activation::Relu;
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::Task))
    ));
    let mut net = small(Task::Regression);
    net.inputs = vec![0, 2, 2, 5];
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::Inputs))
    ));
    let mut net = small(Task::Regression);
    net.pips = vec![0.5; 3];
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::Length))
    ));
    net.pips = vec![0.5; 4 + 5];
    assert!(net.to_blob().is_ok());
    net.pips[2] = 1.5;
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::NonFinite { .. }))
    ));
}

#[test]
fn over_capacity_models_are_refused() {
    let arch = Arch {
        task: Task::Regression,
        features: 300,
        inputs: 257,
        widths: vec![4, 1],
        density: 1.0,
        activation: Activation::Relu,
    };
    let net = random_network(&arch, 1);
    assert!(matches!(
        net.to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::Capacity))
    ));
    let arch = Arch {
        task: Task::Regression,
        features: 3,
        inputs: 3,
        widths: vec![2; 9],
        density: 1.0,
        activation: Activation::Relu,
    };
    assert!(matches!(
        random_network(&arch, 1).to_blob(),
        Err(spikeslab_compiler::Error::Runtime(Error::Capacity))
    ));
    let arch = Arch {
        task: Task::Regression,
        features: 3,
        inputs: 3,
        widths: vec![257, 1],
        density: 1.0,
        activation: Activation::Relu,
    };
    assert!(random_network(&arch, 1).to_blob().is_err());
}

#[test]
fn the_host_loader_refuses_non_utf8_metadata_that_the_runtime_loads() {
    let net = small(Task::Regression);
    let blob = net.to_blob().unwrap();
    let model = blob.model().unwrap();
    assert_eq!(model.meta().name.as_str(), Ok("random"));
    let mut parts = model.parts().clone();
    parts.meta.name = Text::from_bytes(b"ok\xff");
    let mut buf = spikeslab_runtime::Aligned([0u8; 4096]);
    let n = parts.encode(&mut buf.0).unwrap();
    let bad = Model::from_bytes(&buf.0[..n]).unwrap();
    assert_eq!(bad.meta().name.as_str().unwrap_err().valid_up_to(), 2);
    let (mut ya, mut yb) = ([0.0f32; 3], [0.0f32; 3]);
    model.predict(&[0.5; 6], &mut ya).unwrap();
    bad.predict(&[0.5; 6], &mut yb).unwrap();
    assert_eq!(ya.map(f32::to_bits), yb.map(f32::to_bits));
    // The host's loader (inspect, eval) refuses it, saying which string and where.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.postcard");
    std::fs::write(&path, &buf.0[..n]).unwrap();
    let Err(err) = spikeslab_compiler::blob::read(&path) else {
        panic!("a non-UTF-8 model name was accepted");
    };
    let err = err.to_string();
    assert!(
        err.contains("bad.postcard") && err.contains("model name") && err.contains("after 2 bytes"),
        "{err}"
    );
}

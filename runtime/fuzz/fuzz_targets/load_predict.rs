//! Any bytes: loading must return, and a model that loads must evaluate without panicking
//! (`predict_dist` too, refusing only a model without a posterior), and hold exactly the
//! names, metrics, noise sds and epistemic limit it promises.
//!
//! Each input is tried as it is and with a correct CRC-32 appended, so that mutations reach
//! the structural checks behind the checksum. Seed the corpus with blob bodies (a blob
//! without its last four bytes) for the same reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spikeslab_runtime::{Error, MAX_WIDTH, Model, Prediction, Scratch};

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fuzz_target!(|data: &[u8]| {
    let mut with_crc = data.to_vec();
    with_crc.extend_from_slice(&CRC.checksum(data).to_le_bytes());
    exercise(data);
    exercise(&with_crc);
});

fn exercise(data: &[u8]) {
    let mut words = vec![0u32; data.len().div_ceil(4)];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    bytes[..data.len()].copy_from_slice(data);
    if let Ok(model) = Model::from_bytes(&bytes[..data.len()]) {
        let x: Vec<f32> = (0..model.features())
            .map(|i| (i as f32 * 0.37).sin() * 3.0)
            .collect();
        let mut y = [0.0f32; MAX_WIDTH];
        let y = &mut y[..model.outputs()];
        model.predict(&x, y).expect("lengths are right");
        model
            .predict_with(&mut Scratch::new(), &x, y)
            .expect("lengths are right");
        let _ = model.classify(&x);
        let mut d = [Prediction::default(); MAX_WIDTH];
        match model.predict_dist(&x, &mut d[..model.outputs()]) {
            Err(Error::NoPosterior) => assert!(!model.has_posterior()),
            other => other.expect("lengths are right"),
        }
        // v2's names: one per read input, found again by name, then one per output.
        assert_eq!(model.input_names().count(), model.inputs().len());
        assert_eq!(model.output_names().count(), model.outputs());
        for (name, &at) in model.input_names().zip(model.inputs()) {
            if let Ok(name) = name.as_str() {
                assert_eq!(model.feature_index(name), Some(usize::from(at)));
            }
        }
        assert!(model.noise_sd().iter().all(|&s| s > 0.0 && s.is_finite()));
        // Every stored metric is found by its name; the epistemic limit only with a posterior,
        // and only a usable one.
        for m in &model.meta().metrics {
            if let Ok(name) = m.name.as_str() {
                assert!(model.metric(name).is_some());
            }
        }
        if let Some(l) = model.epistemic_limit() {
            assert!(model.has_posterior() && l >= 0.0 && l.is_finite());
        }
    }
}

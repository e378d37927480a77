//! The API against the Rust runtime, on the committed demo models (a regression with a
//! posterior, and its int8 twin), and every refusal.

// Test code calls the API several times per block, each call with valid arguments.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use core::ptr;
use std::path::{Path, PathBuf};
use std::vec::Vec;

use super::*;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The bytes of `models/<name>.postcard` in 4-byte aligned words, their length, and the
/// model's test rows.
fn demo(name: &str) -> (Vec<u32>, usize, Vec<f32>) {
    let bytes = std::fs::read(models().join(format!("{name}.postcard"))).unwrap();
    let inputs: Vec<f32> = std::fs::read(models().join(format!("{name}.inputs")))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (words_of(&bytes), bytes.len(), inputs)
}

/// `bytes` in words (so aligned), zero-padded.
fn words_of(bytes: &[u8]) -> Vec<u32> {
    bytemuck::pod_collect_to_vec(bytes)
}

/// The first `len` bytes of `words`.
fn bytes_of(words: &[u32], len: usize) -> &[u8] {
    &bytemuck::cast_slice(words)[..len]
}

fn zeroed_model() -> Box<spikeslab_model_t> {
    Box::new(spikeslab_model_t {
        _private: [0; SPIKESLAB_MODEL_WORDS],
    })
}

#[test]
fn predictions_equal_the_runtime_bit_for_bit() {
    for name in ["demo", "demo-int8"] {
        let (words, len, inputs) = demo(name);
        let blob = bytes_of(&words, len);
        let reference = Model::from_bytes(blob).unwrap();
        let mut model = zeroed_model();
        let mut detail = 7;
        // SAFETY: valid pointers throughout.
        let s = unsafe { spikeslab_load(&mut *model, blob.as_ptr(), len, &mut detail) };
        assert_eq!((s, detail), (S::SPIKESLAB_STATUS_OK, 0), "{name}");
        // SAFETY: a loaded model.
        let (d, k) = unsafe { (spikeslab_features(&*model), spikeslab_outputs(&*model)) };
        assert_eq!((d, k), (reference.features(), reference.outputs()));
        // SAFETY: a loaded model.
        unsafe {
            assert_eq!(spikeslab_is_int8(&*model), name == "demo-int8");
            assert_eq!(spikeslab_has_posterior(&*model), reference.has_posterior());
            let limit = spikeslab_epistemic_limit(&*model);
            match reference.epistemic_limit() {
                Some(l) => assert_eq!(limit.to_bits(), l.to_bits(), "{name}"),
                None => assert!(limit.is_nan(), "{name}"),
            }
            assert_eq!(
                reference.epistemic_limit().is_some(),
                name == "demo",
                "{name}"
            );
            assert!(!spikeslab_is_classifier(&*model));
            assert_eq!(spikeslab_weight_count(&*model), reference.weight_count());
        }
        let mut scratch = Box::new(spikeslab_scratch_t {
            _private: [f32::NAN; SPIKESLAB_SCRATCH_FLOATS],
        });
        let mut dist = Box::new(spikeslab_dist_scratch_t {
            _private: [f32::NAN; SPIKESLAB_DIST_SCRATCH_FLOATS],
        });
        for x in inputs.chunks_exact(d) {
            let mut want = vec![0.0f32; k];
            reference.predict(x, &mut want).unwrap();
            let mut got = vec![0.0f32; k];
            // SAFETY: valid pointers and lengths.
            let s = unsafe {
                spikeslab_predict(&*model, &mut *scratch, x.as_ptr(), d, got.as_mut_ptr(), k)
            };
            assert_eq!(s, S::SPIKESLAB_STATUS_OK);
            assert_eq!(bits(&got), bits(&want), "{name}");
            let mut got = vec![spikeslab_prediction_t::default(); k];
            // SAFETY: valid pointers and lengths.
            let s = unsafe {
                spikeslab_predict_dist(&*model, &mut *dist, x.as_ptr(), d, got.as_mut_ptr(), k)
            };
            if reference.has_posterior() {
                let mut want = vec![Prediction::default(); k];
                reference.predict_dist(x, &mut want).unwrap();
                assert_eq!(s, S::SPIKESLAB_STATUS_OK);
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(
                        [g.mean, g.epistemic, g.noise].map(f32::to_bits),
                        [w.mean, w.epistemic, w.noise].map(f32::to_bits)
                    );
                }
            } else {
                assert_eq!(s, S::SPIKESLAB_STATUS_NO_POSTERIOR);
            }
        }
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn inputs_and_outputs_are_named() {
    let (words, len, _) = demo("demo");
    let blob = bytes_of(&words, len);
    let reference = Model::from_bytes(blob).unwrap();
    let mut model = zeroed_model();
    // SAFETY: valid pointers.
    let s = unsafe { spikeslab_load(&mut *model, blob.as_ptr(), len, ptr::null_mut()) };
    assert_eq!(s, S::SPIKESLAB_STATUS_OK);
    // SAFETY: a loaded model.
    let n = unsafe { spikeslab_input_count(&*model) };
    assert_eq!(n, reference.inputs().len());
    for (i, (&want, text)) in reference
        .inputs()
        .iter()
        .zip(reference.input_names())
        .enumerate()
    {
        let mut feature = u16::MAX;
        let mut name = name_of(b"?");
        // SAFETY: valid pointers.
        let s = unsafe { spikeslab_input(&*model, i, &mut feature, &mut name) };
        assert_eq!((s, feature), (S::SPIKESLAB_STATUS_OK, want));
        // SAFETY: the name points into the blob.
        let got = unsafe { slice::from_raw_parts(name.ptr.cast::<u8>(), name.len) };
        assert_eq!(got, text.as_bytes());
        let c = std::ffi::CString::new(got).unwrap();
        // SAFETY: a loaded model and a C string.
        let index = unsafe { spikeslab_feature_index(&*model, c.as_ptr()) };
        assert_eq!(index, i32::from(want));
    }
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(
            spikeslab_input(&*model, n, ptr::null_mut(), ptr::null_mut()),
            S::SPIKESLAB_STATUS_RANGE
        );
        assert_eq!(
            spikeslab_feature_index(&*model, c"no such input".as_ptr()),
            -1
        );
        assert_eq!(spikeslab_feature_index(&*model, c"".as_ptr()), -1);
        assert_eq!(spikeslab_feature_index(&*model, ptr::null()), -1);
        let mut name = name_of(b"?");
        assert_eq!(
            spikeslab_output_name(&*model, 0, &mut name),
            S::SPIKESLAB_STATUS_OK
        );
        let got = slice::from_raw_parts(name.ptr.cast::<u8>(), name.len);
        assert_eq!(got, reference.output_names().next().unwrap().as_bytes());
        assert_eq!(
            spikeslab_output_name(&*model, 1, &mut name),
            S::SPIKESLAB_STATUS_RANGE
        );
    }
}

/// Every refusal of `spikeslab_load`, with the runtime's detail.
#[test]
fn bad_blobs_are_refused_with_the_runtimes_status_and_detail() {
    let (words, len, _) = demo("demo");
    let blob = bytes_of(&words, len).to_vec();
    let load = |bytes: &[u8]| {
        let words = words_of(bytes);
        let mut model = zeroed_model();
        let mut detail = 0;
        // SAFETY: valid pointers.
        let s =
            unsafe { spikeslab_load(&mut *model, words.as_ptr().cast(), bytes.len(), &mut detail) };
        // SAFETY: the struct was written by load.
        let features = unsafe { spikeslab_features(&*model) };
        assert_eq!(features == 0, s != S::SPIKESLAB_STATUS_OK);
        (s, detail)
    };
    let mut bad = blob.clone();
    bad[0] = b'X';
    assert_eq!(load(&bad).0, S::SPIKESLAB_STATUS_MAGIC);
    let mut bad = blob.clone();
    bad[10] ^= 1;
    assert_eq!(load(&bad).0, S::SPIKESLAB_STATUS_CHECKSUM);
    assert_eq!(load(&blob[..len - 1]).0, S::SPIKESLAB_STATUS_CHECKSUM);
    // Another version, with its CRC made right: the detail names it.
    let mut other = blob.clone();
    other[4] = 4;
    let n = other.len() - 4;
    let crc = rt::crc32(&other[..n]).to_le_bytes();
    other[n..].copy_from_slice(&crc);
    assert_eq!(load(&other), (S::SPIKESLAB_STATUS_VERSION, 4));
    // Each refusal agrees with the runtime, detail included, on every single-byte change
    // of the arena (CRC fixed up), so that the checks behind the CRC are reached.
    let mut seen = std::collections::BTreeSet::new();
    for i in (0..n).step_by(7) {
        let mut bad = blob.clone();
        bad[i] = bad[i].wrapping_add(0x41);
        let crc = rt::crc32(&bad[..n]).to_le_bytes();
        bad[n..].copy_from_slice(&crc);
        let words = words_of(&bad);
        let want = Model::from_bytes(bytes_of(&words, bad.len()))
            .err()
            .map(status_of);
        let got = load(&bad);
        match want {
            Some(w) => assert_eq!(got, w, "byte {i}"),
            None => assert_eq!(got.0, S::SPIKESLAB_STATUS_OK, "byte {i}"),
        }
        seen.insert(got.0 as i32);
    }
    assert!(seen.len() >= 4, "only {seen:?} reached");
    // A blob one byte off alignment.
    let mut words = vec![0u32; len.div_ceil(4) + 1];
    let shifted: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    shifted[1..=len].copy_from_slice(&blob);
    let mut model = zeroed_model();
    // SAFETY: valid pointers.
    let s = unsafe { spikeslab_load(&mut *model, shifted[1..].as_ptr(), len, ptr::null_mut()) };
    assert_eq!(s, S::SPIKESLAB_STATUS_ALIGN);
}

/// Null pointers, a model never loaded, wrong lengths and overlapping arrays are refused,
/// never read or written.
#[test]
fn bad_calls_are_refused() {
    let (words, len, inputs) = demo("demo");
    let blob = bytes_of(&words, len);
    let mut model = zeroed_model();
    let mut scratch = Box::new(spikeslab_scratch_t {
        _private: [0.0; SPIKESLAB_SCRATCH_FLOATS],
    });
    let x = &inputs[..10.min(inputs.len())];
    let mut y = [0.0f32; 4];
    // SAFETY: every pointer is null or valid for what it is passed with.
    unsafe {
        assert_eq!(
            spikeslab_load(ptr::null_mut(), blob.as_ptr(), len, ptr::null_mut()),
            S::SPIKESLAB_STATUS_NULL
        );
        assert_eq!(
            spikeslab_load(&mut *model, ptr::null(), len, ptr::null_mut()),
            S::SPIKESLAB_STATUS_NULL
        );
        assert_eq!(
            spikeslab_predict(&*model, &mut *scratch, x.as_ptr(), 1, y.as_mut_ptr(), 1),
            S::SPIKESLAB_STATUS_NOT_LOADED
        );
        assert_eq!(spikeslab_features(ptr::null()), 0);
        assert_eq!(
            spikeslab_load(&mut *model, blob.as_ptr(), len, ptr::null_mut()),
            S::SPIKESLAB_STATUS_OK
        );
        let d = spikeslab_features(&*model);
        let x = &inputs[..d];
        let mut detail_check = |n_x: usize, n_y: usize| {
            spikeslab_predict(&*model, &mut *scratch, x.as_ptr(), n_x, y.as_mut_ptr(), n_y)
        };
        assert_eq!(detail_check(d - 1, 1), S::SPIKESLAB_STATUS_INPUT_LEN);
        assert_eq!(detail_check(d, 2), S::SPIKESLAB_STATUS_OUTPUT_LEN);
        assert_eq!(detail_check(d, 1), S::SPIKESLAB_STATUS_OK);
        assert_eq!(
            spikeslab_predict(&*model, ptr::null_mut(), x.as_ptr(), d, y.as_mut_ptr(), 1),
            S::SPIKESLAB_STATUS_NULL
        );
        assert_eq!(
            spikeslab_predict(&*model, &mut *scratch, ptr::null(), d, y.as_mut_ptr(), 1),
            S::SPIKESLAB_STATUS_NULL
        );
        assert_eq!(
            spikeslab_predict(&*model, &mut *scratch, x.as_ptr(), d, ptr::null_mut(), 1),
            S::SPIKESLAB_STATUS_NULL
        );
        // The output inside the features, and inside the scratch.
        let mut buf = x.to_vec();
        assert_eq!(
            spikeslab_predict(
                &*model,
                &mut *scratch,
                buf.as_ptr(),
                d,
                buf.as_mut_ptr().add(3),
                1
            ),
            S::SPIKESLAB_STATUS_OVERLAP
        );
        let inside = scratch._private.as_mut_ptr().add(5);
        assert_eq!(
            spikeslab_predict(&*model, &mut *scratch, x.as_ptr(), d, inside, 1),
            S::SPIKESLAB_STATUS_OVERLAP
        );
        // Misaligned features: `d` floats from the second byte of `d + 1`.
        buf.push(0.0);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut buf);
        let odd = bytes.as_ptr().add(1).cast::<f32>();
        assert_eq!(
            spikeslab_predict(&*model, &mut *scratch, odd, d, y.as_mut_ptr(), 1),
            S::SPIKESLAB_STATUS_ALIGN
        );
    }
}

#[test]
fn every_status_has_a_distinct_name_and_the_version_is_the_crates() {
    let name = |s: i32| {
        // SAFETY: the function returns a static C string.
        unsafe { std::ffi::CStr::from_ptr(spikeslab_status_name(s)) }
            .to_str()
            .unwrap()
            .to_owned()
    };
    let names: std::collections::BTreeSet<String> = (0..=22).map(name).collect();
    assert_eq!(names.len(), 23);
    assert!(!names.contains("unknown status"));
    assert_eq!(name(23), "unknown status");
    assert_eq!(name(-1), "unknown status");
    assert_eq!(
        name(S::SPIKESLAB_STATUS_OTHER as i32),
        "error of a newer runtime"
    );
    // SAFETY: a static C string.
    let v = unsafe { std::ffi::CStr::from_ptr(spikeslab_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        format!("{SPIKESLAB_VERSION_MAJOR}.{SPIKESLAB_VERSION_MINOR}.{SPIKESLAB_VERSION_PATCH}"),
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn argmax_is_the_runtimes() {
    let v = [0.1f32, 0.7, 0.7, 0.2];
    // SAFETY: valid pointers and lengths.
    unsafe {
        assert_eq!(spikeslab_argmax(v.as_ptr(), 4), 1);
        assert_eq!(spikeslab_argmax(v.as_ptr(), 0), -1);
        assert_eq!(spikeslab_argmax(ptr::null(), 3), -1);
        assert_eq!(spikeslab_argmax([0.1, f32::NAN].as_ptr(), 2), -1);
    }
}

/// Generates the header from the sources; with `SPIKESLAB_BLESS=1`, writes it.
#[test]
fn header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .unwrap()
        .write(&mut out);
    let path = dir.join("include/spikeslab.h");
    if std::env::var_os("SPIKESLAB_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == out,
        "{} is stale: regenerate it with `SPIKESLAB_BLESS=1 cargo test -p spikeslab-c header`",
        path.display()
    );
}

/// Random damage to a blob and random lengths never panic through the API: every call
/// returns a status, and a refused load leaves the struct unusable.
#[test]
fn random_blobs_and_lengths_never_panic() {
    let (words, len, inputs) = demo("demo-int8");
    let blob = bytes_of(&words, len).to_vec();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut scratch = Box::new(spikeslab_scratch_t {
        _private: [0.0; SPIKESLAB_SCRATCH_FLOATS],
    });
    let mut dist = Box::new(spikeslab_dist_scratch_t {
        _private: [0.0; SPIKESLAB_DIST_SCRATCH_FLOATS],
    });
    let mut loaded_count = 0;
    for _ in 0..3000 {
        let mut bad = blob.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % bad.len();
            bad[i] ^= (next() % 255 + 1) as u8;
        }
        if next() % 2 == 0 {
            // Keep the CRC right, so that the checks behind it are reached.
            let n = bad.len() - 4;
            let crc = rt::crc32(&bad[..n]).to_le_bytes();
            bad[n..].copy_from_slice(&crc);
        }
        let cut = if next() % 8 == 0 {
            (next() as usize) % bad.len()
        } else {
            bad.len()
        };
        let words = words_of(&bad[..cut]);
        let mut model = zeroed_model();
        let mut detail = 0;
        // SAFETY: valid pointers; `cut` bytes are readable.
        let s = unsafe { spikeslab_load(&mut *model, words.as_ptr().cast(), cut, &mut detail) };
        let n_x = (next() as usize) % 80;
        let n_y = (next() as usize) % 4;
        let x: Vec<f32> = (0..n_x).map(|i| inputs[i % inputs.len()]).collect();
        let mut y = vec![0.0f32; n_y];
        let mut p = vec![spikeslab_prediction_t::default(); n_y];
        // SAFETY: valid pointers and lengths.
        let (a, b) = unsafe {
            (
                spikeslab_predict(&*model, &mut *scratch, x.as_ptr(), n_x, y.as_mut_ptr(), n_y),
                spikeslab_predict_dist(&*model, &mut *dist, x.as_ptr(), n_x, p.as_mut_ptr(), n_y),
            )
        };
        if s == S::SPIKESLAB_STATUS_OK {
            loaded_count += 1;
        } else {
            assert_eq!(
                (a, b),
                (
                    S::SPIKESLAB_STATUS_NOT_LOADED,
                    S::SPIKESLAB_STATUS_NOT_LOADED
                )
            );
        }
    }
    assert!(
        loaded_count > 0,
        "no damaged blob loaded: the predictions were never reached"
    );
}

//! No byte sequence makes the loader or the evaluator panic: random bytes, every truncation,
//! every single-bit flip, and over 100,000 random mutations of valid blobs whose CRC is
//! recomputed so that the structural checks, not the checksum, must catch them.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64;
use spikeslab_runtime::{Activation, Error, Model, Prediction, Task};
use support::{Aligned, Net, Shape, Store, random_inputs};

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn seeds() -> Vec<Aligned> {
    let archs = [
        Shape {
            task: Task::Regression,
            features: 12,
            inputs: 9,
            widths: vec![16, 8, 1],
            density: 1.0,
            activation: Activation::Relu,
        },
        Shape {
            task: Task::Classification,
            features: 30,
            inputs: 20,
            widths: vec![24, 4],
            density: 0.2,
            activation: Activation::Tanh,
        },
        Shape {
            task: Task::Regression,
            features: 5,
            inputs: 2,
            widths: vec![3, 2],
            density: 0.7,
            activation: Activation::Sigmoid,
        },
    ];
    // each f32, then with integer layers: a prefix of two (dequantising into an f32 output
    // layer), every layer (sparse), one
    let int8 = [2, 2, 1];
    let f32s = archs.iter().enumerate().map(|(i, a)| (i, a, 0));
    let ints = archs
        .iter()
        .zip(int8)
        .enumerate()
        .map(|(i, (a, k))| (i, a, k));
    let mut blobs: Vec<Aligned> = f32s
        .chain(ints)
        .map(|(i, a, k)| {
            Net::random(a, i as u64, Store::Smaller)
                .int8(k)
                .with_pips()
                .blob()
                .unwrap()
        })
        .collect();
    // and each with posterior variances, f32 and with integer layers, their variances as
    // f32 and as 4-bit codes
    blobs.extend(archs.iter().zip(int8).enumerate().flat_map(|(i, (a, k))| {
        [(0, false), (0, true), (k, false), (k, true)].map(|(k, table4)| {
            let net = Net::random(a, i as u64, Store::Smaller)
                .int8(k)
                .with_variances(0.2, i as u64);
            let net = if table4 { net.with_table4(true) } else { net };
            net.blob().unwrap()
        })
    }));
    blobs
}

/// Loads `bytes`; when they load, evaluates them on a few inputs. Panics are the failure.
fn exercise(bytes: &[u8], rng: &mut Pcg64) -> Result<(), Error> {
    let aligned = Aligned::copy(bytes);
    let model = Model::from_bytes(aligned.bytes())?;
    let mut out = vec![0.0; model.outputs()];
    let mut dist = vec![Prediction::default(); model.outputs()];
    for x in random_inputs(model.features(), 2, rng) {
        model.predict(&x, &mut out).unwrap();
        match model.predict_dist(&x, &mut dist) {
            Err(Error::NoPosterior) => assert!(!model.has_posterior()),
            other => other.unwrap(),
        }
    }
    let _ = model.classify(&vec![f32::NAN; model.features()]);
    Ok(())
}

/// The error's variant, without its offset or layer.
fn kind(e: Error) -> String {
    let s = format!("{e:?}");
    s.split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn with_crc(body: &[u8]) -> Vec<u8> {
    let mut v = body.to_vec();
    v.extend_from_slice(&CRC.checksum(body).to_le_bytes());
    v
}

#[test]
fn every_truncation_is_rejected() {
    for blob in seeds() {
        let bytes = blob.bytes();
        for len in 0..bytes.len() {
            let cut = Aligned::copy(&bytes[..len]);
            assert!(cut.model().is_err(), "truncation to {len} bytes accepted");
        }
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for blob in seeds() {
        let mut bytes = blob.bytes().to_vec();
        for bit in 0..bytes.len() * 8 {
            bytes[bit / 8] ^= 1 << (bit % 8);
            let flipped = Aligned::copy(&bytes);
            assert!(flipped.model().is_err(), "bit {bit} flip accepted");
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[test]
fn trailing_bytes_and_wrong_versions_are_rejected() {
    let blob = &seeds()[0];
    let bytes = blob.bytes();
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(Aligned::copy(&longer).model().unwrap_err(), Error::Checksum);
    let (body, _) = bytes.split_at(bytes.len() - 4);
    let mut padded = body.to_vec();
    padded.push(0);
    assert_eq!(
        Aligned::copy(&with_crc(&padded)).model().unwrap_err(),
        Error::Length
    );
    for version in [7, 9] {
        let mut other = body.to_vec();
        other[4] = version;
        let e = Aligned::copy(&with_crc(&other)).model().unwrap_err();
        assert_eq!(
            e,
            Error::Version {
                found: version.into()
            }
        );
        assert!(e.to_string().contains("recompile"), "{e}");
    }
    let mut other = bytes.to_vec();
    other[0] = b'X';
    assert_eq!(Aligned::copy(&other).model().unwrap_err(), Error::Magic);
}

/// Random edits of valid blobs, CRC recomputed: 120,000 blobs. The structural checks must
/// catch most of them, and each check must be reached: every error the loader can give for a
/// blob of the right version with a valid CRC occurs among the rejections.
#[test]
fn hundred_thousand_mutated_blobs_never_panic() {
    const BLOBS: usize = 120_000;
    let seeds = seeds();
    let mut rng = Pcg64::seed_from_u64(2024);
    let mut accepted = 0usize;
    let mut kinds = BTreeSet::new();
    for i in 0..BLOBS {
        let src = seeds[i % seeds.len()].bytes();
        let mut body = src[..src.len() - 4].to_vec();
        for _ in 0..rng.random_range(1..=4) {
            mutate(&mut body, &mut rng);
        }
        match exercise(&with_crc(&body), &mut rng) {
            Ok(()) => accepted += 1,
            Err(e) => {
                kinds.insert(kind(e));
            }
        }
    }
    eprintln!(
        "{BLOBS} mutated blobs, {accepted} still valid (value edits), none panicked; rejected as {kinds:?}"
    );
    assert!(
        accepted < BLOBS / 2,
        "too few mutations were caught: {accepted} of {BLOBS} accepted"
    );
    let want = [
        "Capacity",
        "Decode",
        "Format",
        "Index",
        "Inputs",
        "Length",
        "Names",
        "NonFinite",
        "Shape",
        "Task",
    ];
    let missing: Vec<_> = want.iter().filter(|k| !kinds.contains(**k)).collect();
    assert!(
        missing.is_empty(),
        "no mutation reached {missing:?}; rejected as {kinds:?}"
    );
}

/// One random edit; half of them within the first 48 bytes, where the header's structure is.
fn mutate(body: &mut Vec<u8>, rng: &mut impl Rng) {
    let i = if rng.random_bool(0.5) {
        rng.random_range(0..body.len().min(48))
    } else {
        rng.random_range(0..body.len())
    };
    match rng.random_range(0..6) {
        0 => body[i] = rng.random(),
        1 => body[i] ^= 1 << rng.random_range(0..8),
        2 => body[i] = [0, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)],
        3 => body.insert(i, rng.random()),
        4 if body.len() > 1 => {
            body.remove(i);
        }
        _ => {
            let j = rng.random_range(0..body.len());
            body.swap(i, j);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), seed in any::<u64>()) {
        let mut rng = Pcg64::seed_from_u64(seed);
        prop_assert!(exercise(&bytes, &mut rng).is_err());
    }

    #[test]
    fn random_bodies_behind_a_valid_prefix_and_crc_never_panic(tail in prop::collection::vec(any::<u8>(), 0..400), seed in any::<u64>()) {
        let mut body = b"SSNN\x01".to_vec();
        body.extend(tail);
        let mut rng = Pcg64::seed_from_u64(seed);
        let _ = exercise(&with_crc(&body), &mut rng);
    }
}

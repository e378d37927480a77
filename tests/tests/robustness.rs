//! No byte sequence makes the loader or the evaluator panic: random bytes, every truncation,
//! every single-bit flip, and over 100,000 random mutations of valid blobs whose CRC is
//! recomputed so that the structural checks, not the checksum, must catch them.

use proptest::prelude::*;
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64;
use spikeslab_compiler::blob::BlobBytes;
use spikeslab_runtime::{Activation, Error, Model, Task};
use spikeslab_tests::{Arch, ToBlob, random_inputs, random_network};

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn seeds() -> Vec<BlobBytes> {
    let archs = [
        Arch {
            task: Task::Regression,
            features: 12,
            inputs: 9,
            widths: vec![16, 8, 1],
            density: 1.0,
            activation: Activation::Relu,
        },
        Arch {
            task: Task::Classification,
            features: 30,
            inputs: 20,
            widths: vec![24, 4],
            density: 0.2,
            activation: Activation::Tanh,
        },
        Arch {
            task: Task::Regression,
            features: 5,
            inputs: 2,
            widths: vec![3, 2],
            density: 0.7,
            activation: Activation::Sigmoid,
        },
    ];
    archs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut net = random_network(a, i as u64);
            let nodes = net.inputs.len() + a.widths[..a.widths.len() - 1].iter().sum::<usize>();
            net.pips = (0..nodes).map(|k| (k % 10) as f32 / 9.0).collect();
            net.to_blob().unwrap()
        })
        .collect()
}

/// Loads `bytes`; when they load, evaluates them on a few inputs. Panics are the failure.
fn exercise(bytes: &[u8], rng: &mut Pcg64) -> bool {
    let aligned = BlobBytes::new(bytes);
    match Model::from_bytes(aligned.as_bytes()) {
        Ok(model) => {
            let mut out = vec![0.0; model.outputs()];
            for x in random_inputs(model.features(), 2, rng) {
                model.predict(&x, &mut out).unwrap();
            }
            let _ = model.classify(&vec![f32::NAN; model.features()]);
            true
        }
        Err(_) => false,
    }
}

fn with_crc(body: &[u8]) -> Vec<u8> {
    let mut v = body.to_vec();
    v.extend_from_slice(&CRC.checksum(body).to_le_bytes());
    v
}

#[test]
fn every_truncation_is_rejected() {
    for blob in seeds() {
        let bytes = blob.as_bytes();
        for len in 0..bytes.len() {
            let cut = BlobBytes::new(&bytes[..len]);
            assert!(
                Model::from_bytes(cut.as_bytes()).is_err(),
                "truncation to {len} bytes accepted"
            );
        }
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for blob in seeds() {
        let mut bytes = blob.as_bytes().to_vec();
        for bit in 0..bytes.len() * 8 {
            bytes[bit / 8] ^= 1 << (bit % 8);
            let flipped = BlobBytes::new(&bytes);
            assert!(
                Model::from_bytes(flipped.as_bytes()).is_err(),
                "bit {bit} flip accepted"
            );
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[test]
fn trailing_bytes_and_wrong_versions_are_rejected() {
    let blob = &seeds()[0];
    let bytes = blob.as_bytes();
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(
        Model::from_bytes(BlobBytes::new(&longer).as_bytes()).unwrap_err(),
        Error::Checksum
    );
    let (body, _) = bytes.split_at(bytes.len() - 4);
    let mut padded = body.to_vec();
    padded.push(0);
    assert_eq!(
        Model::from_bytes(BlobBytes::new(&with_crc(&padded)).as_bytes()).unwrap_err(),
        Error::Length
    );
    let mut v2 = body.to_vec();
    v2[4] = 2;
    assert_eq!(
        Model::from_bytes(BlobBytes::new(&with_crc(&v2)).as_bytes()).unwrap_err(),
        Error::Version { found: 2 }
    );
    let mut other = bytes.to_vec();
    other[0] = b'X';
    assert_eq!(
        Model::from_bytes(BlobBytes::new(&other).as_bytes()).unwrap_err(),
        Error::Magic
    );
}

/// Random edits of valid blobs, CRC recomputed: 120,000 blobs.
#[test]
fn hundred_thousand_mutated_blobs_never_panic() {
    let seeds = seeds();
    let mut rng = Pcg64::seed_from_u64(2024);
    let (mut total, mut accepted) = (0usize, 0usize);
    for i in 0..120_000 {
        let src = seeds[i % seeds.len()].as_bytes();
        let mut body = src[..src.len() - 4].to_vec();
        for _ in 0..rng.random_range(1..=4) {
            mutate(&mut body, &mut rng);
        }
        total += 1;
        accepted += usize::from(exercise(&with_crc(&body), &mut rng));
    }
    assert_eq!(total, 120_000);
    eprintln!("{total} mutated blobs, {accepted} still valid (value edits), none panicked");
    assert!(
        accepted < total / 2,
        "too few mutations were caught: {accepted} of {total} accepted"
    );
}

fn mutate(body: &mut Vec<u8>, rng: &mut impl Rng) {
    let i = rng.random_range(0..body.len());
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
        prop_assert!(!exercise(&bytes, &mut rng));
    }

    #[test]
    fn random_bodies_behind_a_valid_prefix_and_crc_never_panic(tail in prop::collection::vec(any::<u8>(), 0..400), seed in any::<u64>()) {
        let mut body = b"SSNN\x01".to_vec();
        body.extend(tail);
        let mut rng = Pcg64::seed_from_u64(seed);
        exercise(&with_crc(&body), &mut rng);
    }
}

//! Host evaluation speed of the runtime: predictions per second for a dense 64-128-64-10
//! classifier and for the same shape pruned to 10% of its edges (sparse layers), and the
//! blob bytes per retained weight of each.
//!
//! `cargo bench -p spikeslab-tests --bench predict`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_runtime::Scratch;
use spikeslab_tests::{Arch, ToBlob, random_inputs, random_network};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict");
    group.throughput(Throughput::Elements(1));
    for (name, density) in [
        ("dense 64-128-64-10", 1.0),
        ("pruned 10% 64-128-64-10", 0.1),
    ] {
        let arch = Arch::classifier_64_128_64_10(density);
        let blob = random_network(&arch, 1).to_blob().expect("valid network");
        let model = blob.model().expect("valid blob");
        let bytes = blob.as_bytes().len();
        let weights = model.weight_count();
        println!(
            "{name}: {bytes} blob bytes, {weights} weights, {:.2} bytes per weight",
            bytes as f64 / weights as f64
        );
        let x = random_inputs(64, 1, &mut Pcg64::seed_from_u64(2)).remove(0);
        let mut y = [0.0; 10];
        let mut scratch = Scratch::new();
        group.bench_function(name, |b| {
            b.iter(|| model.predict_with(&mut scratch, black_box(&x), &mut y));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

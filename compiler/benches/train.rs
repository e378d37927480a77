//! Training throughput of one variational step (sample, forward, KL, backward, Adam) on one
//! thread: rows per second (criterion's elements) and steps per second (its iterations),
//! for candle's autograd step (`train step`) and the fused one (`fused step`).
//!
//! `RAYON_NUM_THREADS=1 cargo bench -p spikeslab-compiler --bench train`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_compiler::bnn::{Bnn, Prior, normal};
use spikeslab_compiler::dataset::Rows;
use spikeslab_compiler::fused::Fused;
use spikeslab_compiler::network::Shape;
use spikeslab_compiler::train::{adam, step};
use spikeslab_runtime::Activation;

const BATCH: usize = 128;

const NETWORKS: [(&str, &[usize], usize); 2] = [
    ("8-50-1 regression", &[8, 50, 1], 0),
    ("64-128-64-10 classifier", &[64, 128, 64, 10], 10),
];

const PRIOR: Prior = Prior {
    sigma0: 1.3,
    inclusion: 0.01,
};

/// A freshly initialised network, one batch of random rows, and the random stream.
fn setup(widths: &[usize], classes: usize) -> (Bnn, Rows, Pcg64) {
    let mut rng = Pcg64::seed_from_u64(1);
    let d = widths[0];
    let shape = Shape {
        widths: widths.to_vec(),
        activation: Activation::Relu,
    };
    let bnn = Bnn::new(shape, classes == 0, &mut rng).expect("init");
    let y: Vec<f32> = if classes == 0 {
        normal(BATCH, &mut rng)
    } else {
        (0..BATCH).map(|i| (i % classes) as f32).collect()
    };
    let rows = Rows {
        x: normal(BATCH * d, &mut rng),
        y,
        d,
    };
    (bnn, rows, rng)
}

fn bench(c: &mut Criterion) {
    assert_eq!(
        std::env::var("RAYON_NUM_THREADS").as_deref(),
        Ok("1"),
        "run with RAYON_NUM_THREADS=1: the benchmark measures one thread"
    );
    let mut group = c.benchmark_group("fused step");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, widths, classes) in NETWORKS {
        let (bnn, rows, mut rng) = setup(widths, classes);
        let mut fused = Fused::new(&bnn, 5e-3).expect("parameters");
        group.bench_function(name, |b| {
            b.iter(|| {
                fused
                    .step(
                        black_box(&rows.x),
                        &rows.y,
                        1.0 / 2000.0,
                        0.5,
                        PRIOR,
                        &mut rng,
                    )
                    .expect("step")
            });
        });
    }
    group.finish();
    let mut group = c.benchmark_group("train step");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, widths, classes) in NETWORKS {
        let (bnn, rows, mut rng) = setup(widths, classes);
        let idx: Vec<usize> = (0..BATCH).collect();
        let (x, y) = rows.batch(&idx).expect("batch");
        let mut opt = adam(bnn.vars(), 5e-3).expect("optimiser");
        group.bench_function(name, |b| {
            b.iter(|| {
                step(
                    &bnn,
                    &mut opt,
                    black_box(&x),
                    &y,
                    1.0 / 2000.0,
                    0.5,
                    PRIOR,
                    &mut rng,
                )
                .expect("step")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

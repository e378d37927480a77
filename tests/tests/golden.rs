//! The committed demo models (f32 and int8) are reproducible: recompiling
//! `models/<name>.toml` gives the committed blob byte for byte, and the runtime gives the
//! committed outputs bit for bit
//! (`models/demo.expected`, written by `cargo run -p spikeslab-tests --bin golden -- models/demo.toml`).

use spikeslab_compiler::blob::BlobBytes;
use spikeslab_compiler::compile::{Options, compile};
use spikeslab_compiler::spec::Spec;
use spikeslab_tests::board::root;
use spikeslab_tests::{expected_lines, read_rows};

#[test]
fn recompiling_the_demo_reproduces_the_blob_and_outputs() {
    golden("demo");
}

#[test]
fn recompiling_the_int8_demo_reproduces_the_blob_and_outputs() {
    golden("demo-int8");
}

fn golden(name: &str) {
    let spec = Spec::load(&root().join(format!("models/{name}.toml"))).unwrap();
    let compiled = compile(
        &spec,
        &Options {
            quiet: true,
            baseline: false,
            jobs: None,
        },
    )
    .unwrap();
    let committed = std::fs::read(root().join(format!("models/{name}.postcard"))).unwrap();
    assert!(
        compiled.blob.as_bytes() == committed.as_slice(),
        "recompiling models/{name}.toml changed the blob"
    );
    let blob = BlobBytes::new(&committed);
    let model = blob.model().unwrap();
    let rows = read_rows(
        &std::fs::read(root().join(format!("models/{name}.inputs"))).unwrap(),
        model.features(),
    );
    let expected: Vec<String> =
        std::fs::read_to_string(root().join(format!("models/{name}.expected")))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    assert_eq!(rows.len(), 8);
    assert_eq!(expected_lines(&model, &rows).unwrap(), expected);
    let report = compiled.report.selection.unwrap();
    assert!(report.exact, "the demo no longer selects exactly x1..x10");
}

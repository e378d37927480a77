//! A tiny blob written out byte by byte from `FORMAT.md`: the loader must read exactly these
//! parts from it, and the encoder must write exactly these bytes from them.
//!
//! The model reads feature 1 of 2: `z = (x₁ − 0.5)·2`, `h = relu(3z − 1)`,
//! `y = 4·(0.25 − 2h) + 10`.

use spikeslab_runtime::{
    Activation, Aligned, Error, InputMap, Layer, Meta, Model, Names, Params, Parts, Task, Text,
    Weights, heapless,
};

#[rustfmt::skip]
static BLOB: Aligned<[u8; 80]> = Aligned([
    // header
    b'S', b'S', b'N', b'N', // magic
    0x08,                   // version 8
    0x00,                   // task: regression
    0x02,                   // features D = 2
    0x01,                   // inputs n = 1
    0x02,                   // two layers:
    0x01, 0x01, 0x00, 0x00, 0x00, // width 1, relu, dense, f32, no variances
    0x01, 0x00, 0x00, 0x00, 0x00, // width 1, identity, dense, f32, no variances
    0x00,                   // has_pips: false
    0x05,                   // names: 5 bytes,
    0x02, b'x', b'1',       //   input "x1"
    0x01, b'y',             //   output "y"
    0x01, b't',             // meta.name "t"
    0x01, b'0',             // meta.compiler "0"
    0x01, b'y',             // meta.target "y"
    0x00,                   // meta.metrics: none
    // 33 header bytes + pad length + arena length = 35: one zero brings the arena to 36
    0x01, 0x00,             // pad: 1 byte
    0x28,                   // arena: 40 bytes
    // arena, at offset 36
    0x01, 0x00, 0x00, 0x00, // input index 1 (u16), padded to 4
    0x00, 0x00, 0x00, 0x3F, // input mean 0.5
    0x00, 0x00, 0x00, 0x40, // input scale 2.0
    0x00, 0x00, 0x80, 0xBF, // layer 0 bias −1.0
    0x00, 0x00, 0x40, 0x40, // layer 0 weight 3.0
    0x00, 0x00, 0x80, 0x3E, // layer 1 bias 0.25
    0x00, 0x00, 0x00, 0xC0, // layer 1 weight −2.0
    0x00, 0x00, 0x20, 0x41, // output mean 10.0
    0x00, 0x00, 0x80, 0x40, // output scale 4.0
    0x00, 0x00, 0x00, 0x3F, // noise sd 0.5
    0x57, 0x1A, 0x47, 0xB8, // CRC-32/ISO-HDLC of the 76 bytes above
]);

fn parts() -> Parts<'static> {
    let mut layers = heapless::Vec::new();
    for (activation, bias, w) in [
        (Activation::Relu, &[-1.0f32], &[3.0f32]),
        (Activation::Identity, &[0.25], &[-2.0]),
    ] {
        layers
            .push(Layer {
                activation,
                params: Params::F32 {
                    bias,
                    weights: Weights::Dense(w),
                    variance: None,
                },
            })
            .unwrap();
    }
    Parts {
        task: Task::Regression,
        features: 2,
        inputs: &[1],
        input: InputMap::F32 {
            mean: &[0.5],
            scale: &[2.0],
        },
        layers,
        output_mean: &[10.0],
        output_scale: &[4.0],
        noise_sd: &[0.5],
        names: Names::from_bytes(b"\x02x1\x01y"),
        pips: &[],
        meta: Meta {
            name: Text::new("t"),
            compiler: Text::new("0"),
            target: Text::new("y"),
            metrics: heapless::Vec::new(),
        },
    }
}

#[test]
fn the_loader_reads_the_hand_written_parts() {
    let model = Model::from_bytes(&BLOB.0).unwrap();
    assert_eq!(model.parts(), &parts());
    assert_eq!(model.feature_index("x1"), Some(1));
    assert_eq!(model.feature_index("x"), None);
    assert_eq!(model.feature_index("y"), None);
    let inputs: Vec<&str> = model.input_names().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(inputs, ["x1"]);
    let out: Vec<&str> = model.output_names().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(out, ["y"]);
    assert_eq!(model.noise_sd(), &[0.5]);
    let mut y = [0.0];
    for (x1, want) in [(1.5, -29.0), (0.0, 11.0), (0.5, 10.0 + 4.0 * (0.25 - 0.0))] {
        model.predict(&[f32::NAN, x1], &mut y).unwrap();
        assert_eq!(y[0], want, "x₁ = {x1}");
    }
}

#[test]
fn the_encoder_writes_the_hand_written_bytes() {
    let mut buf = Aligned([0u8; 80]);
    assert_eq!(parts().encoded_len(), Ok(80));
    assert_eq!(parts().encode(&mut buf.0), Ok(80));
    assert_eq!(buf.0, BLOB.0);
    assert_eq!(
        parts().encode(&mut buf.0[..79]),
        Err(Error::BufferTooSmall { needed: 80 })
    );
    let mut names = [0u8; 5];
    assert_eq!(Names::write(["x1", "y"], &mut names), Ok(5));
    assert_eq!(Names::from_bytes(&names), parts().names);
}

#[test]
fn each_region_is_guarded() {
    let edit = |at: usize, v: u8| {
        let mut b = Aligned(BLOB.0);
        b.0[at] = v;
        Model::from_bytes(&b.0).map(|_| ())
    };
    assert_eq!(edit(0, b'X'), Err(Error::Magic));
    assert_eq!(edit(4, 1), Err(Error::Version { found: 1 }));
    assert_eq!(edit(76, 0x74), Err(Error::Checksum));
    assert_eq!(edit(39, 0x3E), Err(Error::Checksum));
}

/// Edits `at` to `v` and fixes the CRC, so that the edit reaches the checks behind it.
fn resealed(edits: &[(usize, u8)]) -> Result<(), Error> {
    let mut b = Aligned(BLOB.0);
    for &(at, v) in edits {
        b.0[at] = v;
    }
    let crc = spikeslab_runtime::crc32(&b.0[..76]);
    b.0[76..].copy_from_slice(&crc.to_le_bytes());
    Model::from_bytes(&b.0).map(|_| ())
}

#[test]
fn names_and_noise_are_checked() {
    assert_eq!(resealed(&[]), Ok(()));
    // the output named like nothing else is fine; an empty input name is not
    assert_eq!(resealed(&[(25, b'z')]), Ok(()));
    assert_eq!(resealed(&[(21, 0x00)]), Err(Error::Names { offset: 21 }));
    // the input's name claiming 3 bytes swallows the output's length: the output is missing
    assert_eq!(resealed(&[(21, 0x03)]), Err(Error::Names { offset: 25 }));
    // an empty output name
    assert_eq!(resealed(&[(24, 0x00)]), Err(Error::Names { offset: 24 }));
    // a negative noise sd
    assert_eq!(
        resealed(&[(75, 0xBF)]),
        Err(Error::NonFinite { offset: 72 })
    );
}

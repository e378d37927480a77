//! A tiny blob written out byte by byte from `FORMAT.md`: the loader must read exactly these
//! parts from it, and the encoder must write exactly these bytes from them.
//!
//! The model reads feature 1 of 2: `z = (x₁ − 0.5)·2`, `h = relu(3z − 1)`,
//! `y = 4·(0.25 − 2h) + 10`.

use spikeslab_runtime::{
    Activation, Aligned, Error, Layer, Meta, Model, Parts, Task, Text, Weights, heapless,
};

#[rustfmt::skip]
static BLOB: Aligned<[u8; 64]> = Aligned([
    // header
    b'S', b'S', b'N', b'N', // magic
    0x01,                   // version 1
    0x00,                   // task: regression
    0x02,                   // features D = 2
    0x01,                   // inputs n = 1
    0x02,                   // two layers:
    0x01, 0x01, 0x00,       //   width 1, relu, dense
    0x01, 0x00, 0x00,       //   width 1, identity, dense
    0x00,                   // has_pips: false
    0x01, b't',             // meta.name "t"
    0x01, b'0',             // meta.compiler "0"
    0x00,                   // meta.metrics: none
    // 21 header bytes + pad length + arena length = 23: one zero brings the arena to 24
    0x01, 0x00,             // pad: 1 byte
    0x24,                   // arena: 36 bytes
    // arena, at offset 24
    0x01, 0x00, 0x00, 0x00, // input index 1 (u16), padded to 4
    0x00, 0x00, 0x00, 0x3F, // input mean 0.5
    0x00, 0x00, 0x00, 0x40, // input scale 2.0
    0x00, 0x00, 0x80, 0xBF, // layer 0 bias −1.0
    0x00, 0x00, 0x40, 0x40, // layer 0 weight 3.0
    0x00, 0x00, 0x80, 0x3E, // layer 1 bias 0.25
    0x00, 0x00, 0x00, 0xC0, // layer 1 weight −2.0
    0x00, 0x00, 0x20, 0x41, // output mean 10.0
    0x00, 0x00, 0x80, 0x40, // output scale 4.0
    0x0C, 0xB4, 0x3F, 0x13, // CRC-32/ISO-HDLC of the 60 bytes above
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
                bias,
                weights: Weights::Dense(w),
            })
            .unwrap();
    }
    Parts {
        task: Task::Regression,
        features: 2,
        inputs: &[1],
        input_mean: &[0.5],
        input_scale: &[2.0],
        layers,
        output_mean: &[10.0],
        output_scale: &[4.0],
        pips: &[],
        meta: Meta {
            name: Text::new("t"),
            compiler: Text::new("0"),
            metrics: heapless::Vec::new(),
        },
    }
}

#[test]
fn the_loader_reads_the_hand_written_parts() {
    let model = Model::from_bytes(&BLOB.0).unwrap();
    assert_eq!(model.parts(), &parts());
    let mut y = [0.0];
    for (x1, want) in [(1.5, -29.0), (0.0, 11.0), (0.5, 10.0 + 4.0 * (0.25 - 0.0))] {
        model.predict(&[f32::NAN, x1], &mut y).unwrap();
        assert_eq!(y[0], want, "x₁ = {x1}");
    }
}

#[test]
fn the_encoder_writes_the_hand_written_bytes() {
    let mut buf = Aligned([0u8; 64]);
    assert_eq!(parts().encoded_len(), Ok(64));
    assert_eq!(parts().encode(&mut buf.0), Ok(64));
    assert_eq!(buf.0, BLOB.0);
    assert_eq!(
        parts().encode(&mut buf.0[..63]),
        Err(Error::BufferTooSmall { needed: 64 })
    );
}

#[test]
fn each_region_is_guarded() {
    let edit = |at: usize, v: u8| {
        let mut b = Aligned(BLOB.0);
        b.0[at] = v;
        Model::from_bytes(&b.0).map(|_| ())
    };
    assert_eq!(edit(0, b'X'), Err(Error::Magic));
    assert_eq!(edit(4, 2), Err(Error::Version { found: 2 }));
    assert_eq!(edit(60, 0x0D), Err(Error::Checksum));
    assert_eq!(edit(31, 0x3E), Err(Error::Checksum));
}

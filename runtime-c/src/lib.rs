//! The C API of the spikeslab runtime: the same evaluator, bit for bit, behind `spikeslab.h`.
//!
//! Built per target as a static library (packaged as `libspikeslab.a`); `runtime-c/package.sh` builds
//! every Cortex-M variant and packages them with the header, a `CMake` package file and a
//! Makefile fragment. Nothing here allocates, and no call can panic: every pointer is
//! checked for null and alignment, every length against the model, and a model struct is
//! read only after [`spikeslab_load`] filled it.
//!
//! The header is generated from this file by cbindgen (`cbindgen.toml`); the test
//! `header_is_current` fails when the committed `include/spikeslab.h` is stale, and
//! `SPIKESLAB_BLESS=1 cargo test -p spikeslab-c header` rewrites it.
// Bare metal gets `core` only; a host build (tests, C programs on the host) links `std`
// for its panic handler.
#![cfg_attr(target_os = "none", no_std)]
#![allow(non_camel_case_types)]

use core::ffi::c_char;
use core::mem::{align_of, size_of};
use core::slice;

use spikeslab_runtime::{
    self as rt, DistScratch, Error, Model, NumberFormat, Prediction, Scratch, Task,
};

mod panic;

/// Version of this library, `MAJOR.MINOR.PATCH`.
pub const SPIKESLAB_VERSION_MAJOR: u32 = 0;
/// See [`SPIKESLAB_VERSION_MAJOR`].
pub const SPIKESLAB_VERSION_MINOR: u32 = 1;
/// See [`SPIKESLAB_VERSION_MAJOR`].
pub const SPIKESLAB_VERSION_PATCH: u32 = 0;
/// The blob format version this library reads; blobs of another version are refused with
/// `SPIKESLAB_STATUS_VERSION` (recompile them).
pub const SPIKESLAB_FORMAT_VERSION: u32 = 8;
/// Most layers (hidden and output) of a model.
pub const SPIKESLAB_MAX_LAYERS: u32 = 8;
/// Most nodes in one layer, and so most read inputs and outputs.
pub const SPIKESLAB_MAX_WIDTH: u32 = 256;
/// Longest input or output name, in bytes.
pub const SPIKESLAB_MAX_NAME: u32 = 127;
/// Bytes of a [`spikeslab_scratch_t`]: the working memory of [`spikeslab_predict`].
pub const SPIKESLAB_SCRATCH_BYTES: usize = 2048;
/// Bytes of a [`spikeslab_dist_scratch_t`]: the working memory of [`spikeslab_predict_dist`].
pub const SPIKESLAB_DIST_SCRATCH_BYTES: usize = 4096;
/// `SPIKESLAB_SCRATCH_BYTES / 4`.
pub const SPIKESLAB_SCRATCH_FLOATS: usize = 512;
/// `SPIKESLAB_DIST_SCRATCH_BYTES / 4`.
pub const SPIKESLAB_DIST_SCRATCH_FLOATS: usize = 1024;
/// Bytes of a [`spikeslab_model_t`] on a target with 32-bit pointers (every Cortex-M).
#[cfg(target_pointer_width = "32")]
pub const SPIKESLAB_MODEL_BYTES: usize = 752;
/// Bytes of a [`spikeslab_model_t`] on a target with 64-bit pointers (a host, for tests).
#[cfg(target_pointer_width = "64")]
pub const SPIKESLAB_MODEL_BYTES: usize = 1496;
/// `SPIKESLAB_MODEL_BYTES / 8`.
#[cfg(target_pointer_width = "32")]
pub const SPIKESLAB_MODEL_WORDS: usize = 94;
/// `SPIKESLAB_MODEL_BYTES / 8`.
#[cfg(target_pointer_width = "64")]
pub const SPIKESLAB_MODEL_WORDS: usize = 187;
/// Alignment of a [`spikeslab_model_t`], in bytes.
pub const SPIKESLAB_MODEL_ALIGN: u32 = 8;

/// What a call did: `SPIKESLAB_STATUS_OK` (0), or why it refused. The statuses from
/// `SPIKESLAB_STATUS_MAGIC` to `SPIKESLAB_STATUS_NO_POSTERIOR` are the Rust runtime's errors,
/// with the same meaning; the others are the C API's own.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum spikeslab_status_t {
    /// Success.
    SPIKESLAB_STATUS_OK = 0,
    /// The blob does not start with the magic bytes `SSNN`: not a spikeslab model.
    SPIKESLAB_STATUS_MAGIC = 1,
    /// The blob has another format version (detail: the version found): recompile it.
    SPIKESLAB_STATUS_VERSION = 2,
    /// The CRC-32 at the blob's end does not match: corrupt or truncated.
    SPIKESLAB_STATUS_CHECKSUM = 3,
    /// The header is not a valid encoding of this format version.
    SPIKESLAB_STATUS_DECODE = 4,
    /// The blob (or a float array) is not 4-byte aligned in memory.
    SPIKESLAB_STATUS_ALIGN = 5,
    /// The model exceeds the capacities (`SPIKESLAB_MAX_LAYERS`, `SPIKESLAB_MAX_WIDTH`).
    SPIKESLAB_STATUS_CAPACITY = 6,
    /// The output layer does not fit the task.
    SPIKESLAB_STATUS_TASK = 7,
    /// The input map is invalid.
    SPIKESLAB_STATUS_INPUTS = 8,
    /// A layer's sizes do not chain (detail: the layer, from 0).
    SPIKESLAB_STATUS_SHAPE = 9,
    /// A layer's number formats do not fit (detail: the layer, from 0).
    SPIKESLAB_STATUS_FORMAT = 10,
    /// A sparse index is out of range (detail: its byte offset in the blob).
    SPIKESLAB_STATUS_INDEX = 11,
    /// The input or output names are invalid (detail: the byte offset).
    SPIKESLAB_STATUS_NAMES = 12,
    /// A stored number is not finite or out of range (detail: the byte offset).
    SPIKESLAB_STATUS_NON_FINITE = 13,
    /// The arena length or padding does not match the header.
    SPIKESLAB_STATUS_LENGTH = 14,
    /// The feature array has the wrong length (detail: the length expected).
    SPIKESLAB_STATUS_INPUT_LEN = 15,
    /// The output array has the wrong length (detail: the length expected).
    SPIKESLAB_STATUS_OUTPUT_LEN = 16,
    /// `spikeslab_predict_dist` on a model without posterior variances: compile it with
    /// `uncertainty = true`.
    SPIKESLAB_STATUS_NO_POSTERIOR = 17,
    /// A pointer argument is null where an array or a struct is needed.
    SPIKESLAB_STATUS_NULL = 18,
    /// The model struct was not filled by a successful `spikeslab_load`.
    SPIKESLAB_STATUS_NOT_LOADED = 19,
    /// An input or output index is past the model's count.
    SPIKESLAB_STATUS_RANGE = 20,
    /// The output array overlaps the feature array or the scratch.
    SPIKESLAB_STATUS_OVERLAP = 21,
    /// An error of a newer runtime that this API does not know.
    SPIKESLAB_STATUS_OTHER = 22,
}

use spikeslab_status_t as S;

/// Where a model's validated views of a blob are kept: [`SPIKESLAB_MODEL_BYTES`] bytes that
/// only this library reads or writes. Zero it, or fill it with [`spikeslab_load`], before
/// any other call takes it.
#[repr(C)]
pub struct spikeslab_model_t {
    /// Not to be touched.
    pub _private: [u64; SPIKESLAB_MODEL_WORDS],
}

/// The working memory of [`spikeslab_predict`] ([`SPIKESLAB_SCRATCH_BYTES`] bytes); any
/// contents will do. One per concurrent caller.
#[repr(C)]
pub struct spikeslab_scratch_t {
    /// Not to be touched.
    pub _private: [f32; SPIKESLAB_SCRATCH_FLOATS],
}

/// The working memory of [`spikeslab_predict_dist`] ([`SPIKESLAB_DIST_SCRATCH_BYTES`]
/// bytes); any contents will do.
#[repr(C)]
pub struct spikeslab_dist_scratch_t {
    /// Not to be touched.
    pub _private: [f32; SPIKESLAB_DIST_SCRATCH_FLOATS],
}

/// The predictive distribution of one output.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct spikeslab_prediction_t {
    /// Regression: the predictive mean on the target's scale. Classification: the class's
    /// probability with the weights' uncertainty folded in.
    pub mean: f32,
    /// The variance from the weights' posterior (epistemic): regression, of the output on the
    /// target's scale; classification, of the class's logit. It grows on unfamiliar inputs.
    pub epistemic: f32,
    /// Regression: the noise variance `σ_ε²` on the target's scale. 0 for classification.
    pub noise: f32,
}

/// A name in the blob: `len` bytes of UTF-8 at `ptr`, **not** NUL-terminated (print it with
/// `printf("%.*s", (int)name.len, name.ptr)`). It lives as long as the blob.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct spikeslab_name_t {
    /// First byte.
    pub ptr: *const c_char,
    /// Bytes, 1 to [`SPIKESLAB_MAX_NAME`].
    pub len: usize,
}

/// What [`spikeslab_model_t`] holds once loaded; the tag is its first word.
#[repr(C)]
struct Loaded {
    tag: u32,
    model: Model<'static>,
}

/// [`Loaded::tag`] of a loaded model ("SSLD").
const TAG: u32 = 0x444c_5353;

const _: () = {
    assert!(size_of::<Loaded>() <= size_of::<spikeslab_model_t>());
    assert!(size_of::<Loaded>() + 8 > size_of::<spikeslab_model_t>());
    assert!(align_of::<Loaded>() <= align_of::<spikeslab_model_t>());
    assert!(align_of::<spikeslab_model_t>() == SPIKESLAB_MODEL_ALIGN as usize);
    assert!(size_of::<spikeslab_model_t>() == SPIKESLAB_MODEL_BYTES);
    assert!(SPIKESLAB_MODEL_WORDS * 8 == SPIKESLAB_MODEL_BYTES);
    assert!(SPIKESLAB_SCRATCH_FLOATS * 4 == SPIKESLAB_SCRATCH_BYTES);
    assert!(SPIKESLAB_DIST_SCRATCH_FLOATS * 4 == SPIKESLAB_DIST_SCRATCH_BYTES);
    assert!(size_of::<Scratch>() == size_of::<spikeslab_scratch_t>());
    assert!(align_of::<Scratch>() <= align_of::<spikeslab_scratch_t>());
    assert!(size_of::<spikeslab_scratch_t>() == rt::EVAL_BUFFER_BYTES);
    assert!(size_of::<DistScratch>() == size_of::<spikeslab_dist_scratch_t>());
    assert!(align_of::<DistScratch>() <= align_of::<spikeslab_dist_scratch_t>());
    assert!(size_of::<spikeslab_dist_scratch_t>() == rt::DIST_BUFFER_BYTES);
    assert!(size_of::<Prediction>() == size_of::<spikeslab_prediction_t>());
    assert!(SPIKESLAB_FORMAT_VERSION == rt::FORMAT_VERSION as u32);
    assert!(SPIKESLAB_MAX_LAYERS as usize == rt::MAX_LAYERS);
    assert!(SPIKESLAB_MAX_WIDTH as usize == rt::MAX_WIDTH);
    assert!(SPIKESLAB_MAX_NAME as usize == rt::MAX_NAME);
};

/// The status and detail of a runtime error.
fn status_of(e: Error) -> (S, u32) {
    match e {
        Error::Magic => (S::SPIKESLAB_STATUS_MAGIC, 0),
        Error::Version { found } => (S::SPIKESLAB_STATUS_VERSION, u32::from(found)),
        Error::Checksum => (S::SPIKESLAB_STATUS_CHECKSUM, 0),
        Error::Decode => (S::SPIKESLAB_STATUS_DECODE, 0),
        Error::Align => (S::SPIKESLAB_STATUS_ALIGN, 0),
        Error::Capacity => (S::SPIKESLAB_STATUS_CAPACITY, 0),
        Error::Task => (S::SPIKESLAB_STATUS_TASK, 0),
        Error::Inputs => (S::SPIKESLAB_STATUS_INPUTS, 0),
        Error::Shape { layer } => (S::SPIKESLAB_STATUS_SHAPE, u32::from(layer)),
        Error::Format { layer } => (S::SPIKESLAB_STATUS_FORMAT, u32::from(layer)),
        Error::Index { offset } => (S::SPIKESLAB_STATUS_INDEX, offset),
        Error::Names { offset } => (S::SPIKESLAB_STATUS_NAMES, offset),
        Error::NonFinite { offset } => (S::SPIKESLAB_STATUS_NON_FINITE, offset),
        Error::Length => (S::SPIKESLAB_STATUS_LENGTH, 0),
        Error::InputLen { expected } => (S::SPIKESLAB_STATUS_INPUT_LEN, u32::from(expected)),
        Error::OutputLen { expected } => (S::SPIKESLAB_STATUS_OUTPUT_LEN, u32::from(expected)),
        Error::NoPosterior => (S::SPIKESLAB_STATUS_NO_POSTERIOR, 0),
        _ => (S::SPIKESLAB_STATUS_OTHER, 0),
    }
}

/// Writes `detail` where `out` points, when it is not null.
fn set_detail(out: *mut u32, detail: u32) {
    if !out.is_null() && out.is_aligned() {
        // SAFETY: `out` is non-null and aligned; the caller passes a writable `uint32_t`
        // or null (the documented contract of every `detail` argument).
        unsafe { out.write(detail) };
    }
}

/// The loaded model behind `model`, or why there is none.
fn loaded<'m>(model: *const spikeslab_model_t) -> Result<&'m Model<'static>, S> {
    if model.is_null() {
        return Err(S::SPIKESLAB_STATUS_NULL);
    }
    if !model.is_aligned() {
        return Err(S::SPIKESLAB_STATUS_ALIGN);
    }
    let loaded = model.cast::<Loaded>();
    // SAFETY: `model` points to a `spikeslab_model_t` (size and alignment checked above
    // and at compile time); its first word is a plain `u32` in any state the caller may
    // have left it (zeroed, or written by `spikeslab_load`).
    let tag = unsafe { loaded.cast::<u32>().read() };
    if tag != TAG {
        return Err(S::SPIKESLAB_STATUS_NOT_LOADED);
    }
    // SAFETY: the tag is only ever set by `spikeslab_load` together with a valid `Model`
    // in the same struct (and cleared when a load fails), so the model is initialised. Its
    // blob outlives it by the contract of `spikeslab_load`.
    Ok(unsafe { &(*loaded).model })
}

/// `len` values at `ptr` as a slice; null is allowed only when `len` is 0.
fn slice_of<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], S> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(S::SPIKESLAB_STATUS_NULL);
    }
    if !ptr.is_aligned() {
        return Err(S::SPIKESLAB_STATUS_ALIGN);
    }
    if len > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(S::SPIKESLAB_STATUS_RANGE);
    }
    // SAFETY: non-null, aligned, and the size fits `isize`; the caller guarantees `len`
    // readable values that no one writes during the call.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

/// Whether `[a, a + a_bytes)` and `[b, b + b_bytes)` share a byte.
fn overlaps(a: usize, a_bytes: usize, b: usize, b_bytes: usize) -> bool {
    a < b.wrapping_add(b_bytes) && b < a.wrapping_add(a_bytes)
}

/// The result of a call as a status.
fn status(r: Result<(), S>) -> S {
    r.err().unwrap_or(S::SPIKESLAB_STATUS_OK)
}

/// Validates the blob of `len` bytes at `blob` and fills `*model` with views into it.
///
/// The blob is read in place: it must stay in memory, unchanged, for as long as the model
/// is used (a `const` array in flash does). It must be 4-byte aligned.
///
/// Checks the magic bytes, the format version, the CRC-32, the header, the capacities, the
/// shapes, every index and every stored number, exactly as the Rust runtime's
/// `Model::from_bytes` does. On failure `*model` is marked not loaded, and when `detail` is
/// not null it receives the status's detail: the version found (`VERSION`), the layer
/// (`SHAPE`, `FORMAT`), or the byte offset from the blob's start (`INDEX`, `NAMES`,
/// `NON_FINITE`); 0 otherwise.
///
/// # Safety
/// `model` is null or points to a writable `spikeslab_model_t`; `blob` is null or points
/// to `len` readable bytes that outlive the model; `detail` is null or points to a
/// writable `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_load(
    model: *mut spikeslab_model_t,
    blob: *const u8,
    len: usize,
    detail: *mut u32,
) -> spikeslab_status_t {
    set_detail(detail, 0);
    if model.is_null() {
        return S::SPIKESLAB_STATUS_NULL;
    }
    if !model.is_aligned() {
        return S::SPIKESLAB_STATUS_ALIGN;
    }
    let slot = model.cast::<Loaded>();
    // SAFETY: `model` is non-null, aligned, and points to a writable `spikeslab_model_t`,
    // which holds a `Loaded` (checked at compile time); the tag is a plain `u32`.
    unsafe { slot.cast::<u32>().write(0) };
    if blob.is_null() {
        return S::SPIKESLAB_STATUS_NULL;
    }
    if len > isize::MAX as usize {
        return S::SPIKESLAB_STATUS_RANGE;
    }
    // SAFETY: `blob` is non-null with `len` readable bytes (the caller's contract) that
    // stay unchanged for the model's life, which is what the `'static` stands for here.
    let bytes: &'static [u8] = unsafe { slice::from_raw_parts(blob, len) };
    match Model::from_bytes(bytes) {
        Ok(m) => {
            // SAFETY: as above; `Loaded` fits the struct, and writing does not read the
            // old contents (a `Model` has no drop glue).
            unsafe {
                slot.write(Loaded { tag: TAG, model: m });
            }
            S::SPIKESLAB_STATUS_OK
        }
        Err(e) => {
            let (s, d) = status_of(e);
            set_detail(detail, d);
            s
        }
    }
}

/// A short description of `status` (a `spikeslab_status_t`), NUL-terminated and static;
/// `"unknown status"` for any other number.
#[unsafe(no_mangle)]
pub extern "C" fn spikeslab_status_name(status: i32) -> *const c_char {
    let s: &'static core::ffi::CStr = match status {
        0 => c"ok",
        1 => c"not a spikeslab model (bad magic bytes)",
        2 => c"another blob format version: recompile the model",
        3 => c"CRC-32 mismatch: the blob is corrupt or truncated",
        4 => c"the blob header is not a valid encoding of this format version",
        5 => c"not 4-byte aligned in memory",
        6 => c"the model exceeds the runtime's capacities",
        7 => c"the output layer does not fit the task",
        8 => c"invalid input map",
        9 => c"a layer has inconsistent sizes",
        10 => c"a layer's number formats do not fit",
        11 => c"sparse index out of range",
        12 => c"invalid input or output name",
        13 => c"invalid stored number",
        14 => c"the arena length or padding does not match the header",
        15 => c"wrong number of input values",
        16 => c"wrong number of outputs",
        17 => c"the model carries no posterior variances: compile it with uncertainty = true",
        18 => c"null pointer",
        19 => c"the model was not loaded",
        20 => c"index out of range",
        21 => c"the output array overlaps another argument",
        22 => c"error of a newer runtime",
        _ => c"unknown status",
    };
    s.as_ptr()
}

/// Length of the raw feature vector that [`spikeslab_predict`] takes; 0 when `model` is
/// not loaded.
///
/// # Safety
/// `model` is null or points to a `spikeslab_model_t` (zeroed or loaded).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_features(model: *const spikeslab_model_t) -> usize {
    loaded(model).map_or(0, Model::features)
}

/// Number of outputs (1 for a scalar regression, the class count of a classifier); 0 when
/// `model` is not loaded.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_outputs(model: *const spikeslab_model_t) -> usize {
    loaded(model).map_or(0, Model::outputs)
}

/// Number of raw features the model reads (the others may hold anything, and their sensors
/// may stay off); 0 when `model` is not loaded.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_input_count(model: *const spikeslab_model_t) -> usize {
    loaded(model).map_or(0, |m| m.inputs().len())
}

/// The `i`-th read input (in increasing order of feature index): its index in the raw
/// feature vector into `*feature` and its name into `*name` (either may be null).
///
/// # Safety
/// `model` as [`spikeslab_features`]; `feature` and `name` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_input(
    model: *const spikeslab_model_t,
    i: usize,
    feature: *mut u16,
    name: *mut spikeslab_name_t,
) -> spikeslab_status_t {
    status((|| {
        let m = loaded(model)?;
        let index = *m.inputs().get(i).ok_or(S::SPIKESLAB_STATUS_RANGE)?;
        let text = m.input_names().nth(i).ok_or(S::SPIKESLAB_STATUS_RANGE)?;
        write_out(feature, index)?;
        write_out(name, name_of(text.as_bytes()))
    })())
}

/// The name of output `k`: a classifier's class label, or a regression's target name.
///
/// # Safety
/// `model` as [`spikeslab_features`]; `name` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_output_name(
    model: *const spikeslab_model_t,
    k: usize,
    name: *mut spikeslab_name_t,
) -> spikeslab_status_t {
    status((|| {
        let m = loaded(model)?;
        let text = m.output_names().nth(k).ok_or(S::SPIKESLAB_STATUS_RANGE)?;
        write_out(name, name_of(text.as_bytes()))
    })())
}

/// The position in the raw feature vector of the read input called `name` (NUL-terminated;
/// at most [`SPIKESLAB_MAX_NAME`] bytes are compared, so an unterminated string is read no
/// further): where firmware puts that sensor's reading. -1 when the model does not read it
/// or is not loaded.
///
/// # Safety
/// `model` as [`spikeslab_features`]; `name` null or a readable C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_feature_index(
    model: *const spikeslab_model_t,
    name: *const c_char,
) -> i32 {
    let Ok(m) = loaded(model) else { return -1 };
    if name.is_null() {
        return -1;
    }
    let mut len = 0;
    while len <= SPIKESLAB_MAX_NAME as usize {
        // SAFETY: `name` is a C string: every byte up to and including its NUL is
        // readable, and the loop stops at the NUL.
        if unsafe { name.wrapping_add(len).read() } == 0 {
            break;
        }
        len += 1;
    }
    if len == 0 || len > SPIKESLAB_MAX_NAME as usize {
        return -1;
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    let bytes = unsafe { slice::from_raw_parts(name.cast::<u8>(), len) };
    m.inputs()
        .iter()
        .zip(m.input_names())
        .find(|(_, n)| n.as_bytes() == bytes)
        .map_or(-1, |(&i, _)| i32::from(i))
}

/// Whether the model is a classifier (its outputs are class probabilities); false for a
/// regression or when not loaded.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_is_classifier(model: *const spikeslab_model_t) -> bool {
    loaded(model).is_ok_and(|m| m.task() == Task::Classification)
}

/// Whether the model computes in 8-bit integers (its first layer is int8). Its inputs and
/// outputs are `float` all the same: [`spikeslab_predict`] quantises and dequantises.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_is_int8(model: *const spikeslab_model_t) -> bool {
    loaded(model).is_ok_and(|m| {
        m.layers()
            .first()
            .is_some_and(|l| l.format() == NumberFormat::Int8)
    })
}

/// Whether the model carries its weights' posterior, so that [`spikeslab_predict_dist`]
/// works.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_has_posterior(model: *const spikeslab_model_t) -> bool {
    loaded(model).is_ok_and(Model::has_posterior)
}

/// The epistemic sd above which an input is unlike the training data (the 99th
/// percentile of the validation rows' largest `sqrt(epistemic)`, which the compiler stores):
/// firmware compares `sqrt(p.epistemic)` of [`spikeslab_predict_dist`]'s outputs with it.
/// NaN when the model has no posterior or no limit, or is not loaded.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_epistemic_limit(model: *const spikeslab_model_t) -> f32 {
    loaded(model)
        .ok()
        .and_then(|m| m.epistemic_limit())
        .unwrap_or(f32::NAN)
}

/// Number of stored weights (kept edges); 0 when not loaded.
///
/// # Safety
/// As [`spikeslab_features`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_weight_count(model: *const spikeslab_model_t) -> usize {
    loaded(model).map_or(0, Model::weight_count)
}

/// Evaluates the model on a raw feature vector of `n_features` values (only the read
/// inputs are looked at) and writes its `n_out` outputs: regression outputs on the
/// target's scale, or class probabilities. The bits equal the Rust runtime's, on the host
/// and on every core.
///
/// `SPIKESLAB_STATUS_INPUT_LEN` / `OUTPUT_LEN` when `n_features` or `n_out` differ from
/// [`spikeslab_features`] / [`spikeslab_outputs`]. A NaN or infinite read input propagates
/// to the outputs; it is not an error.
///
/// # Safety
/// `model` as [`spikeslab_features`]; `scratch` null or a writable scratch; `features` null
/// or `n_features` readable floats; `out` null or `n_out` writable floats not overlapping
/// `features` or `scratch` (checked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_predict(
    model: *const spikeslab_model_t,
    scratch: *mut spikeslab_scratch_t,
    features: *const f32,
    n_features: usize,
    out: *mut f32,
    n_out: usize,
) -> spikeslab_status_t {
    let m = match loaded(model) {
        Ok(m) => m,
        Err(s) => return s,
    };
    match arguments::<_, Scratch, _, _>(m, scratch, features, n_features, out, n_out) {
        Ok((scratch, x, y)) => match m.predict_with(scratch, x, y) {
            Ok(()) => S::SPIKESLAB_STATUS_OK,
            Err(e) => status_of(e).0,
        },
        Err(s) => s,
    }
}

/// The predictive distribution of every output (see [`spikeslab_prediction_t`]), for a
/// raw feature vector as [`spikeslab_predict`] reads it: diagonal moment propagation of
/// the weights' posterior, one pass, about two to three times `spikeslab_predict`'s work
/// on an f32 model. An int8 model's is computed in f32 from its codes (soft-float on cores
/// without an FPU: there it costs tens of times its integer `spikeslab_predict`).
///
/// `SPIKESLAB_STATUS_NO_POSTERIOR` for a model compiled without `uncertainty = true`.
///
/// # Safety
/// As [`spikeslab_predict`], with `n_out` writable predictions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_predict_dist(
    model: *const spikeslab_model_t,
    scratch: *mut spikeslab_dist_scratch_t,
    features: *const f32,
    n_features: usize,
    out: *mut spikeslab_prediction_t,
    n_out: usize,
) -> spikeslab_status_t {
    let m = match loaded(model) {
        Ok(m) => m,
        Err(s) => return s,
    };
    let out = out.cast::<Prediction>();
    match arguments::<_, DistScratch, _, _>(m, scratch, features, n_features, out, n_out) {
        Ok((scratch, x, y)) => match m.predict_dist_with(scratch, x, y) {
            Ok(()) => S::SPIKESLAB_STATUS_OK,
            Err(e) => status_of(e).0,
        },
        Err(s) => s,
    }
}

/// The arguments of a prediction as the runtime takes them: the lengths are the model's
/// (the runtime's `INPUT_LEN` / `OUTPUT_LEN` otherwise, which also bounds them), every
/// pointer non-null and aligned, and the output apart from the features and the scratch.
fn arguments<'a, C, R, X, Y>(
    m: &Model<'_>,
    scratch: *mut C,
    features: *const X,
    n_features: usize,
    out: *mut Y,
    n_out: usize,
) -> Result<(&'a mut R, &'a [X], &'a mut [Y]), S> {
    const { assert!(size_of::<R>() <= size_of::<C>() && align_of::<R>() <= align_of::<C>()) };
    if n_features != m.features() {
        return Err(S::SPIKESLAB_STATUS_INPUT_LEN);
    }
    if n_out != m.outputs() {
        return Err(S::SPIKESLAB_STATUS_OUTPUT_LEN);
    }
    if scratch.is_null() || features.is_null() || out.is_null() {
        return Err(S::SPIKESLAB_STATUS_NULL);
    }
    if !scratch.is_aligned() || !features.is_aligned() || !out.is_aligned() {
        return Err(S::SPIKESLAB_STATUS_ALIGN);
    }
    // Both lengths are at most 65,535 values (a model's), so the byte counts do not
    // overflow, and the ends of real arrays do not wrap.
    let (y, y_bytes) = (out as usize, n_out * size_of::<Y>());
    let x_bytes = n_features * size_of::<X>();
    if overlaps(y, y_bytes, features as usize, x_bytes)
        || overlaps(y, y_bytes, scratch as usize, size_of::<C>())
    {
        return Err(S::SPIKESLAB_STATUS_OVERLAP);
    }
    // SAFETY: non-null and aligned for `C`, so for `R` (checked at compile time); `R` is
    // the runtime's `Scratch` or `DistScratch`, `repr(C)` arrays of `f32` for which every
    // bit pattern is valid; the caller gives the struct to this call alone.
    let scratch = unsafe { &mut *scratch.cast::<R>() };
    // SAFETY: non-null, aligned, `n_features` readable values by the caller's contract
    // (a size far below `isize::MAX`), not written during the call.
    let x = unsafe { slice::from_raw_parts(features, n_features) };
    // SAFETY: non-null, aligned, `n_out` writable values by the caller's contract, apart
    // from the features and the scratch (checked above).
    let y = unsafe { slice::from_raw_parts_mut(out, n_out) };
    Ok((scratch, x, y))
}

/// The index of the largest of `n` scores (ties: the first), or -1 when `n` is 0, a score
/// is NaN or `scores` is null: a classifier's most probable class.
///
/// # Safety
/// `scores` null or `n` readable floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spikeslab_argmax(scores: *const f32, n: usize) -> i32 {
    slice_of(scores, n)
        .ok()
        .and_then(rt::argmax)
        .and_then(|i| i32::try_from(i).ok())
        .unwrap_or(-1)
}

/// The library's version, `"MAJOR.MINOR.PATCH"`, NUL-terminated and static.
#[unsafe(no_mangle)]
pub extern "C" fn spikeslab_version() -> *const c_char {
    VERSION.as_ptr()
}

const VERSION: &core::ffi::CStr = c"0.1.0";

/// Writes `value` where `out` points, when it is not null.
fn write_out<T>(out: *mut T, value: T) -> Result<(), S> {
    if out.is_null() {
        return Ok(());
    }
    if !out.is_aligned() {
        return Err(S::SPIKESLAB_STATUS_ALIGN);
    }
    // SAFETY: non-null, aligned, and writable by the caller's contract; `T` is `u16` or
    // `spikeslab_name_t`, neither with drop glue.
    unsafe { out.write(value) };
    Ok(())
}

fn name_of(bytes: &[u8]) -> spikeslab_name_t {
    spikeslab_name_t {
        ptr: bytes.as_ptr().cast(),
        len: bytes.len(),
    }
}

#[cfg(test)]
mod tests;

/*
 * spikeslab.h: the C API of the spikeslab runtime (C99; also compiles as C++).
 *
 * Generated from runtime-c/src/lib.rs by cbindgen: do not edit.
 *
 * Every size is a #define; nothing allocates; no function panics. A function that can
 * fail returns a spikeslab_status_t: SPIKESLAB_STATUS_OK (0) or why it refused, and
 * spikeslab_status_name() names it. Link one static library per core:
 *   thumbv6m-none-eabi (Cortex-M0/M0+), thumbv7m-none-eabi (M3),
 *   thumbv7em-none-eabi (M4/M7, soft float), thumbv7em-none-eabihf (M4F/M7F, -mfloat-abi=hard).
 */

#ifndef SPIKESLAB_H
#define SPIKESLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* The model struct's size depends on the width of a pointer. */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define SPIKESLAB_POINTER_64 1
#else
#define SPIKESLAB_POINTER_32 1
#endif

#ifdef __cplusplus
extern "C" {
#endif
/**
 * Called if the library ever panics (no API call can: this is a last resort). Define it
 * in the firmware to log and reset; the library's weak default spins forever. It must not
 * return.
 */
void spikeslab_panic_hook(void);
#ifdef __cplusplus
}
#endif

/**
 * Version of this library, `MAJOR.MINOR.PATCH`.
 */
#define SPIKESLAB_VERSION_MAJOR 0

/**
 * See [`SPIKESLAB_VERSION_MAJOR`].
 */
#define SPIKESLAB_VERSION_MINOR 1

/**
 * See [`SPIKESLAB_VERSION_MAJOR`].
 */
#define SPIKESLAB_VERSION_PATCH 0

/**
 * The blob format version this library reads; blobs of another version are refused with
 * `SPIKESLAB_STATUS_VERSION` (recompile them).
 */
#define SPIKESLAB_FORMAT_VERSION 8

/**
 * Most layers (hidden and output) of a model.
 */
#define SPIKESLAB_MAX_LAYERS 8

/**
 * Most nodes in one layer, and so most read inputs and outputs.
 */
#define SPIKESLAB_MAX_WIDTH 256

/**
 * Longest input or output name, in bytes.
 */
#define SPIKESLAB_MAX_NAME 127

/**
 * Bytes of a [`spikeslab_scratch_t`]: the working memory of [`spikeslab_predict`].
 */
#define SPIKESLAB_SCRATCH_BYTES 2048

/**
 * Bytes of a [`spikeslab_dist_scratch_t`]: the working memory of [`spikeslab_predict_dist`].
 */
#define SPIKESLAB_DIST_SCRATCH_BYTES 4096

/**
 * `SPIKESLAB_SCRATCH_BYTES / 4`.
 */
#define SPIKESLAB_SCRATCH_FLOATS 512

/**
 * `SPIKESLAB_DIST_SCRATCH_BYTES / 4`.
 */
#define SPIKESLAB_DIST_SCRATCH_FLOATS 1024

#if defined(SPIKESLAB_POINTER_32)
/**
 * Bytes of a [`spikeslab_model_t`] on a target with 32-bit pointers (every Cortex-M).
 */
#define SPIKESLAB_MODEL_BYTES 752
#endif

#if defined(SPIKESLAB_POINTER_64)
/**
 * Bytes of a [`spikeslab_model_t`] on a target with 64-bit pointers (a host, for tests).
 */
#define SPIKESLAB_MODEL_BYTES 1496
#endif

#if defined(SPIKESLAB_POINTER_32)
/**
 * `SPIKESLAB_MODEL_BYTES / 8`.
 */
#define SPIKESLAB_MODEL_WORDS 94
#endif

#if defined(SPIKESLAB_POINTER_64)
/**
 * `SPIKESLAB_MODEL_BYTES / 8`.
 */
#define SPIKESLAB_MODEL_WORDS 187
#endif

/**
 * Alignment of a [`spikeslab_model_t`], in bytes.
 */
#define SPIKESLAB_MODEL_ALIGN 8

/**
 * What a call did: `SPIKESLAB_STATUS_OK` (0), or why it refused. The statuses from
 * `SPIKESLAB_STATUS_MAGIC` to `SPIKESLAB_STATUS_NO_POSTERIOR` are the Rust runtime's errors,
 * with the same meaning; the others are the C API's own.
 */
enum spikeslab_status_t
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Success.
   */
  SPIKESLAB_STATUS_OK = 0,
  /**
   * The blob does not start with the magic bytes `SSNN`: not a spikeslab model.
   */
  SPIKESLAB_STATUS_MAGIC = 1,
  /**
   * The blob has another format version (detail: the version found): recompile it.
   */
  SPIKESLAB_STATUS_VERSION = 2,
  /**
   * The CRC-32 at the blob's end does not match: corrupt or truncated.
   */
  SPIKESLAB_STATUS_CHECKSUM = 3,
  /**
   * The header is not a valid encoding of this format version.
   */
  SPIKESLAB_STATUS_DECODE = 4,
  /**
   * The blob (or a float array) is not 4-byte aligned in memory.
   */
  SPIKESLAB_STATUS_ALIGN = 5,
  /**
   * The model exceeds the capacities (`SPIKESLAB_MAX_LAYERS`, `SPIKESLAB_MAX_WIDTH`).
   */
  SPIKESLAB_STATUS_CAPACITY = 6,
  /**
   * The output layer does not fit the task.
   */
  SPIKESLAB_STATUS_TASK = 7,
  /**
   * The input map is invalid.
   */
  SPIKESLAB_STATUS_INPUTS = 8,
  /**
   * A layer's sizes do not chain (detail: the layer, from 0).
   */
  SPIKESLAB_STATUS_SHAPE = 9,
  /**
   * A layer's number formats do not fit (detail: the layer, from 0).
   */
  SPIKESLAB_STATUS_FORMAT = 10,
  /**
   * A sparse index is out of range (detail: its byte offset in the blob).
   */
  SPIKESLAB_STATUS_INDEX = 11,
  /**
   * The input or output names are invalid (detail: the byte offset).
   */
  SPIKESLAB_STATUS_NAMES = 12,
  /**
   * A stored number is not finite or out of range (detail: the byte offset).
   */
  SPIKESLAB_STATUS_NON_FINITE = 13,
  /**
   * The arena length or padding does not match the header.
   */
  SPIKESLAB_STATUS_LENGTH = 14,
  /**
   * The feature array has the wrong length (detail: the length expected).
   */
  SPIKESLAB_STATUS_INPUT_LEN = 15,
  /**
   * The output array has the wrong length (detail: the length expected).
   */
  SPIKESLAB_STATUS_OUTPUT_LEN = 16,
  /**
   * `spikeslab_predict_dist` on a model without posterior variances: compile it with
   * `uncertainty = true`.
   */
  SPIKESLAB_STATUS_NO_POSTERIOR = 17,
  /**
   * A pointer argument is null where an array or a struct is needed.
   */
  SPIKESLAB_STATUS_NULL = 18,
  /**
   * The model struct was not filled by a successful `spikeslab_load`.
   */
  SPIKESLAB_STATUS_NOT_LOADED = 19,
  /**
   * An input or output index is past the model's count.
   */
  SPIKESLAB_STATUS_RANGE = 20,
  /**
   * The output array overlaps the feature array or the scratch.
   */
  SPIKESLAB_STATUS_OVERLAP = 21,
  /**
   * An error of a newer runtime that this API does not know.
   */
  SPIKESLAB_STATUS_OTHER = 22,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum spikeslab_status_t spikeslab_status_t;
#else
typedef int32_t spikeslab_status_t;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Where a model's validated views of a blob are kept: [`SPIKESLAB_MODEL_BYTES`] bytes that
 * only this library reads or writes. Zero it, or fill it with [`spikeslab_load`], before
 * any other call takes it.
 */
typedef struct {
  /**
   * Not to be touched.
   */
  uint64_t _private[SPIKESLAB_MODEL_WORDS];
} spikeslab_model_t;

/**
 * A name in the blob: `len` bytes of UTF-8 at `ptr`, **not** NUL-terminated (print it with
 * `printf("%.*s", (int)name.len, name.ptr)`). It lives as long as the blob.
 */
typedef struct {
  /**
   * First byte.
   */
  const char *ptr;
  /**
   * Bytes, 1 to [`SPIKESLAB_MAX_NAME`].
   */
  size_t len;
} spikeslab_name_t;

/**
 * The working memory of [`spikeslab_predict`] ([`SPIKESLAB_SCRATCH_BYTES`] bytes); any
 * contents will do. One per concurrent caller.
 */
typedef struct {
  /**
   * Not to be touched.
   */
  float _private[SPIKESLAB_SCRATCH_FLOATS];
} spikeslab_scratch_t;

/**
 * The working memory of [`spikeslab_predict_dist`] ([`SPIKESLAB_DIST_SCRATCH_BYTES`]
 * bytes); any contents will do.
 */
typedef struct {
  /**
   * Not to be touched.
   */
  float _private[SPIKESLAB_DIST_SCRATCH_FLOATS];
} spikeslab_dist_scratch_t;

/**
 * The predictive distribution of one output.
 */
typedef struct {
  /**
   * Regression: the predictive mean on the target's scale. Classification: the class's
   * probability with the weights' uncertainty folded in.
   */
  float mean;
  /**
   * The variance from the weights' posterior (epistemic): regression, of the output on the
   * target's scale; classification, of the class's logit. It grows on unfamiliar inputs.
   */
  float epistemic;
  /**
   * Regression: the noise variance `σ_ε²` on the target's scale. 0 for classification.
   */
  float noise;
} spikeslab_prediction_t;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Validates the blob of `len` bytes at `blob` and fills `*model` with views into it.
 *
 * The blob is read in place: it must stay in memory, unchanged, for as long as the model
 * is used (a `const` array in flash does). It must be 4-byte aligned.
 *
 * Checks the magic bytes, the format version, the CRC-32, the header, the capacities, the
 * shapes, every index and every stored number, exactly as the Rust runtime's
 * `Model::from_bytes` does. On failure `*model` is marked not loaded, and when `detail` is
 * not null it receives the status's detail: the version found (`VERSION`), the layer
 * (`SHAPE`, `FORMAT`), or the byte offset from the blob's start (`INDEX`, `NAMES`,
 * `NON_FINITE`); 0 otherwise.
 *
 * # Safety
 * `model` is null or points to a writable `spikeslab_model_t`; `blob` is null or points
 * to `len` readable bytes that outlive the model; `detail` is null or points to a
 * writable `uint32_t`.
 */
spikeslab_status_t spikeslab_load(spikeslab_model_t *model,
                                  const uint8_t *blob,
                                  size_t len,
                                  uint32_t *detail);

/**
 * A short description of `status` (a `spikeslab_status_t`), NUL-terminated and static;
 * `"unknown status"` for any other number.
 */
const char *spikeslab_status_name(int32_t status);

/**
 * Length of the raw feature vector that [`spikeslab_predict`] takes; 0 when `model` is
 * not loaded.
 *
 * # Safety
 * `model` is null or points to a `spikeslab_model_t` (zeroed or loaded).
 */
size_t spikeslab_features(const spikeslab_model_t *model);

/**
 * Number of outputs (1 for a scalar regression, the class count of a classifier); 0 when
 * `model` is not loaded.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
size_t spikeslab_outputs(const spikeslab_model_t *model);

/**
 * Number of raw features the model reads (the others may hold anything, and their sensors
 * may stay off); 0 when `model` is not loaded.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
size_t spikeslab_input_count(const spikeslab_model_t *model);

/**
 * The `i`-th read input (in increasing order of feature index): its index in the raw
 * feature vector into `*feature` and its name into `*name` (either may be null).
 *
 * # Safety
 * `model` as [`spikeslab_features`]; `feature` and `name` null or writable.
 */
spikeslab_status_t spikeslab_input(const spikeslab_model_t *model,
                                   size_t i,
                                   uint16_t *feature,
                                   spikeslab_name_t *name);

/**
 * The name of output `k`: a classifier's class label, or a regression's target name.
 *
 * # Safety
 * `model` as [`spikeslab_features`]; `name` null or writable.
 */
spikeslab_status_t spikeslab_output_name(const spikeslab_model_t *model,
                                         size_t k,
                                         spikeslab_name_t *name);

/**
 * The position in the raw feature vector of the read input called `name` (NUL-terminated;
 * at most [`SPIKESLAB_MAX_NAME`] bytes are compared, so an unterminated string is read no
 * further): where firmware puts that sensor's reading. -1 when the model does not read it
 * or is not loaded.
 *
 * # Safety
 * `model` as [`spikeslab_features`]; `name` null or a readable C string.
 */
int32_t spikeslab_feature_index(const spikeslab_model_t *model, const char *name);

/**
 * Whether the model is a classifier (its outputs are class probabilities); false for a
 * regression or when not loaded.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
bool spikeslab_is_classifier(const spikeslab_model_t *model);

/**
 * Whether the model computes in 8-bit integers (its first layer is int8). Its inputs and
 * outputs are `float` all the same: [`spikeslab_predict`] quantises and dequantises.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
bool spikeslab_is_int8(const spikeslab_model_t *model);

/**
 * Whether the model carries its weights' posterior, so that [`spikeslab_predict_dist`]
 * works.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
bool spikeslab_has_posterior(const spikeslab_model_t *model);

/**
 * The epistemic sd above which an input is unlike the training data (the 99th
 * percentile of the validation rows' largest `sqrt(epistemic)`, which the compiler stores):
 * firmware compares `sqrt(p.epistemic)` of [`spikeslab_predict_dist`]'s outputs with it.
 * NaN when the model has no posterior or no limit, or is not loaded.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
float spikeslab_epistemic_limit(const spikeslab_model_t *model);

/**
 * Number of stored weights (kept edges); 0 when not loaded.
 *
 * # Safety
 * As [`spikeslab_features`].
 */
size_t spikeslab_weight_count(const spikeslab_model_t *model);

/**
 * Evaluates the model on a raw feature vector of `n_features` values (only the read
 * inputs are looked at) and writes its `n_out` outputs: regression outputs on the
 * target's scale, or class probabilities. The bits equal the Rust runtime's, on the host
 * and on every core.
 *
 * `SPIKESLAB_STATUS_INPUT_LEN` / `OUTPUT_LEN` when `n_features` or `n_out` differ from
 * [`spikeslab_features`] / [`spikeslab_outputs`]. A NaN or infinite read input propagates
 * to the outputs; it is not an error.
 *
 * # Safety
 * `model` as [`spikeslab_features`]; `scratch` null or a writable scratch; `features` null
 * or `n_features` readable floats; `out` null or `n_out` writable floats not overlapping
 * `features` or `scratch` (checked).
 */
spikeslab_status_t spikeslab_predict(const spikeslab_model_t *model,
                                     spikeslab_scratch_t *scratch,
                                     const float *features,
                                     size_t n_features,
                                     float *out,
                                     size_t n_out);

/**
 * The predictive distribution of every output (see [`spikeslab_prediction_t`]), for a
 * raw feature vector as [`spikeslab_predict`] reads it: diagonal moment propagation of
 * the weights' posterior, one pass, about two to three times `spikeslab_predict`'s work
 * on an f32 model. An int8 model's is computed in f32 from its codes (soft-float on cores
 * without an FPU: there it costs tens of times its integer `spikeslab_predict`).
 *
 * `SPIKESLAB_STATUS_NO_POSTERIOR` for a model compiled without `uncertainty = true`.
 *
 * # Safety
 * As [`spikeslab_predict`], with `n_out` writable predictions.
 */
spikeslab_status_t spikeslab_predict_dist(const spikeslab_model_t *model,
                                          spikeslab_dist_scratch_t *scratch,
                                          const float *features,
                                          size_t n_features,
                                          spikeslab_prediction_t *out,
                                          size_t n_out);

/**
 * The index of the largest of `n` scores (ties: the first), or -1 when `n` is 0, a score
 * is NaN or `scores` is null: a classifier's most probable class.
 *
 * # Safety
 * `scores` null or `n` readable floats.
 */
int32_t spikeslab_argmax(const float *scores, size_t n);

/**
 * The library's version, `"MAJOR.MINOR.PATCH"`, NUL-terminated and static.
 */
const char *spikeslab_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SPIKESLAB_H */

/* What every C board of spikeslab runs, through the C API alone: load the embedded model,
 * print which raw features it reads, evaluate every embedded row and print each output's
 * bit pattern (y[row][k]=xxxxxxxx; for a model with a posterior also
 * d[row][k]=mean,epistemic,noise), then "done". The first row's spikeslab_predict runs
 * between bench_start and bench_end, which the instruction-counting QEMU plugin brackets,
 * with the free stack painted so that its peak is printed as stack=N. Errors print
 * "error: ..." and exit with failure. */
#include <stdint.h>
#include <string.h>

#include "semihost.h"
#include "spikeslab.h"

extern const uint8_t board_blob[], board_blob_end[];
extern const uint8_t board_inputs[], board_inputs_end[];
extern uint32_t __bss_end[], __stack_top[];

/* Most outputs whose predictive distribution is printed. */
#define MAX_DIST_OUTPUTS 16

static spikeslab_model_t model;
static spikeslab_scratch_t scratch;
static float out[SPIKESLAB_MAX_WIDTH];

/* noipa: no inlining, and no identical-code folding of the two (GCC merges them under -flto). */
void bench_start(void) __attribute__((noipa));
void bench_end(void) __attribute__((noipa));
void bench_start(void) { __asm__ volatile("" ::: "memory"); }
void bench_end(void) { __asm__ volatile("" ::: "memory"); }

static int fail(const char *what, spikeslab_status_t status) {
    host_puts("error: ");
    host_puts(what);
    host_puts(": ");
    host_puts(spikeslab_status_name(status));
    host_puts("\n");
    return 1;
}

static void print_index(char tag, size_t row, size_t k) {
    char head[2] = {tag, '['};
    host_write(head, 2);
    host_putu((uint32_t)row);
    host_puts("][");
    host_putu((uint32_t)k);
    host_puts("]=");
}

static uint32_t bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Stack painting: fill the free RAM below the stack with a pattern, later find the deepest
 * overwritten word. */
#define PATTERN 0x5A5AA5A5u

static uint32_t *paint(void) {
    uint32_t *end = (uint32_t *)((uintptr_t)__builtin_frame_address(0) - 64u);
    for (volatile uint32_t *p = __bss_end; p < end; p++) {
        *p = PATTERN;
    }
    return end;
}

static uint32_t peak(const uint32_t *end) {
    const volatile uint32_t *p = __bss_end;
    while (p < end && *p == PATTERN) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

/* spikeslab_predict_dist's outputs of one row; a frame of its own, so that its 4 KiB of
 * working memory is not held beside main's (the micro:bit has 16 KiB of RAM). */
static __attribute__((noinline)) int print_dist(const float *x, size_t d, size_t row) {
    spikeslab_dist_scratch_t dist_scratch;
    spikeslab_prediction_t dist[MAX_DIST_OUTPUTS];
    size_t k = spikeslab_outputs(&model);
    if (k > MAX_DIST_OUTPUTS) {
        return fail("predict_dist", SPIKESLAB_STATUS_RANGE);
    }
    spikeslab_status_t s = spikeslab_predict_dist(&model, &dist_scratch, x, d, dist, k);
    if (s != SPIKESLAB_STATUS_OK) {
        return fail("predict_dist", s);
    }
    for (size_t j = 0; j < k; j++) {
        print_index('d', row, j);
        host_puthex(bits(dist[j].mean));
        host_puts(",");
        host_puthex(bits(dist[j].epistemic));
        host_puts(",");
        host_puthex(bits(dist[j].noise));
        host_puts("\n");
    }
    return 0;
}

int main(void) {
    uint32_t detail = 0;
    spikeslab_status_t s =
        spikeslab_load(&model, board_blob, (size_t)(board_blob_end - board_blob), &detail);
    if (s != SPIKESLAB_STATUS_OK) {
        return fail("load", s);
    }
    size_t n = spikeslab_input_count(&model);
    for (size_t i = 0; i < n; i++) {
        uint16_t feature;
        spikeslab_name_t name;
        s = spikeslab_input(&model, i, &feature, &name);
        if (s != SPIKESLAB_STATUS_OK) {
            return fail("input", s);
        }
        host_puts("input[");
        host_putu((uint32_t)i);
        host_puts("]=");
        host_putu(feature);
        host_puts(" ");
        host_write(name.ptr, name.len);
        host_puts("\n");
    }
    size_t d = spikeslab_features(&model);
    size_t k = spikeslab_outputs(&model);
    size_t rows = (size_t)(board_inputs_end - board_inputs) / (4u * d);
    const float *x = (const float *)(const void *)board_inputs;
    for (size_t row = 0; row < rows; row++, x += d) {
        if (row == 0) {
            uint32_t *painted = paint();
            bench_start();
            s = spikeslab_predict(&model, &scratch, x, d, out, k);
            bench_end();
            host_puts("stack=");
            host_putu(peak(painted));
            host_puts("\n");
        } else {
            s = spikeslab_predict(&model, &scratch, x, d, out, k);
        }
        if (s != SPIKESLAB_STATUS_OK) {
            return fail("predict", s);
        }
        for (size_t j = 0; j < k; j++) {
            print_index('y', row, j);
            host_puthex(bits(out[j]));
            host_puts("\n");
        }
        if (spikeslab_has_posterior(&model) && print_dist(x, d, row) != 0) {
            return 1;
        }
    }
    host_puts("done\n");
    return 0;
}

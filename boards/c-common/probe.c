/* The smallest useful firmware: load, predict once on the first row, exit (success when
 * every output is finite). Its flash minus that of empty.c (same startup and data) is the
 * runtime's code size through the C API. */
#include <stdint.h>
#include <string.h>

#include "spikeslab.h"

extern const uint8_t board_blob[], board_blob_end[];
extern const uint8_t board_inputs[], board_inputs_end[];

static spikeslab_model_t model;
static spikeslab_scratch_t scratch;
static float out[SPIKESLAB_MAX_WIDTH];

int main(void) {
    if (spikeslab_load(&model, board_blob, (size_t)(board_blob_end - board_blob), 0) !=
        SPIKESLAB_STATUS_OK) {
        return 1;
    }
    size_t d = spikeslab_features(&model), k = spikeslab_outputs(&model);
    if (spikeslab_predict(&model, &scratch, (const float *)(const void *)board_inputs, d, out,
                          k) != SPIKESLAB_STATUS_OK) {
        return 1;
    }
    for (size_t j = 0; j < k; j++) {
        uint32_t u;
        memcpy(&u, &out[j], sizeof u);
        if ((u & 0x7F800000u) == 0x7F800000u) { /* NaN or infinite */
            return 1;
        }
    }
    return 0;
}

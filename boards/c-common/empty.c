/* The same startup, exit and data as probe.c, without the runtime: the baseline it is
 * measured against. */
#include <stdint.h>

extern const uint8_t board_blob[], board_blob_end[];
extern const uint8_t board_inputs[], board_inputs_end[];

int main(void) {
    const uint8_t *volatile blob = board_blob;
    const uint8_t *volatile inputs = board_inputs;
    return blob != board_blob_end && inputs != board_inputs_end ? 0 : 1;
}

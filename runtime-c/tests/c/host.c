/* The C API on the host: loads the blob named on the command line and prints, for each row
 * of its .inputs file, the lines a board prints (input[i]=..., y[row][k]=..., d[...]=...).
 * Compiled with -std=c99 -Wall -Wextra -Werror -pedantic, and the header also as C++. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spikeslab.h"

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    /* malloc's alignment suits the blob's 4 bytes. */
    buf = (unsigned char *)malloc((size_t)n + 4);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static unsigned long bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (unsigned long)u;
}

int main(int argc, char **argv) {
    static spikeslab_model_t model;
    static spikeslab_scratch_t scratch;
    static spikeslab_dist_scratch_t dist_scratch;
    static float out[SPIKESLAB_MAX_WIDTH];
    static spikeslab_prediction_t dist[SPIKESLAB_MAX_WIDTH];
    size_t blob_len, inputs_len, i, row, j, d, k;
    unsigned char *blob, *inputs;
    uint32_t detail = 0;
    spikeslab_status_t s;
    if (argc != 3) {
        fprintf(stderr, "usage: host model.postcard model.inputs\n");
        return 2;
    }
    blob = read_file(argv[1], &blob_len);
    inputs = read_file(argv[2], &inputs_len);
    s = spikeslab_load(&model, blob, blob_len, &detail);
    if (s != SPIKESLAB_STATUS_OK) {
        printf("error: %s (detail %lu)\n", spikeslab_status_name(s), (unsigned long)detail);
        return 1;
    }
    for (i = 0; i < spikeslab_input_count(&model); i++) {
        uint16_t feature;
        spikeslab_name_t name;
        if (spikeslab_input(&model, i, &feature, &name) != SPIKESLAB_STATUS_OK) {
            return 1;
        }
        printf("input[%lu]=%u %.*s\n", (unsigned long)i, (unsigned)feature, (int)name.len, name.ptr);
    }
    d = spikeslab_features(&model);
    k = spikeslab_outputs(&model);
    for (row = 0; (row + 1) * d * 4 <= inputs_len; row++) {
        const float *x = (const float *)(const void *)(inputs + row * d * 4);
        s = spikeslab_predict(&model, &scratch, x, d, out, k);
        if (s != SPIKESLAB_STATUS_OK) {
            printf("error: %s\n", spikeslab_status_name(s));
            return 1;
        }
        for (j = 0; j < k; j++) {
            printf("y[%lu][%lu]=%08lx\n", (unsigned long)row, (unsigned long)j, bits(out[j]));
        }
        if (spikeslab_has_posterior(&model)) {
            s = spikeslab_predict_dist(&model, &dist_scratch, x, d, dist, k);
            if (s != SPIKESLAB_STATUS_OK) {
                printf("error: %s\n", spikeslab_status_name(s));
                return 1;
            }
            for (j = 0; j < k; j++) {
                printf("d[%lu][%lu]=%08lx,%08lx,%08lx\n", (unsigned long)row, (unsigned long)j,
                       bits(dist[j].mean), bits(dist[j].epistemic), bits(dist[j].noise));
            }
        }
    }
    free(blob);
    free(inputs);
    return 0;
}

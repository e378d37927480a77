/* QEMU TCG plugin (plugin API version 1, declared in qemu-plugin-api.h): counts how often
 * each guest instruction address executes between the first execution of PC `start` and the
 * next of PC `end`, and writes "pc count" lines (hex address, decimal count) to the file `out`.
 * Joined with `arm-none-eabi-nm -S` or `objdump -d`, it gives instructions per function
 * and per loop of one inference.
 * usage: -plugin ./libpcprofile.so,start=0x...,end=0x...,out=profile.txt
 * build: gcc -O2 -shared -fPIC -o libpcprofile.so qemu-pcprofile.c */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-api.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* Thumb code: every instruction address is even; flash images here are below 8 MiB. */
#define SLOTS (1u << 22)
static uint64_t counts[SLOTS];
static uint64_t start_pc = UINT64_MAX, end_pc = UINT64_MAX;
static int inside;
static char out_path[512] = "pcprofile.txt";

static void on_insn(unsigned int vcpu, void *u)
{
    uint64_t pc = (uint64_t)(uintptr_t)u;
    if (pc == start_pc)
        inside = 1;
    if (pc == end_pc)
        inside = 0;
    if (inside && pc / 2 < SLOTS)
        counts[pc / 2]++;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)pc);
    }
}

static void at_exit(qemu_plugin_id_t id, void *u)
{
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "pcprofile: cannot write %s\n", out_path);
        return;
    }
    for (uint64_t i = 0; i < SLOTS; i++)
        if (counts[i])
            fprintf(f, "%" PRIx64 " %" PRIu64 "\n", i * 2, counts[i]);
    fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "start=", 6))
            start_pc = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "end=", 4))
            end_pc = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "out=", 4))
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}

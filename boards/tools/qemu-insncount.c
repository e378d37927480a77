/* Minimal QEMU TCG plugin (plugin API version 1, QEMU 6.x..8.1; Debian bookworm ships 7.2).
 * Debian ships neither plugins nor qemu-plugin.h: qemu-plugin-api.h declares what is used.
 * Counts executed guest instructions in total and between the first execution of
 * PC `start` and the next execution of PC `end`.
 * usage: -plugin ./libinsncount.so,start=0x...,end=0x...   (prints to stderr at exit) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "qemu-plugin-api.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t count, at_start, at_end, start_pc = UINT64_MAX, end_pc = UINT64_MAX;
static int started, ended;

static void on_start(unsigned int vcpu, void *u) { if (!started) { started = 1; at_start = count; } }
static void on_end(unsigned int vcpu, void *u) { if (started && !ended) { ended = 1; at_end = count; } }

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc == start_pc)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_pc)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &count, 1);
    }
}

static void at_exit(qemu_plugin_id_t id, void *u)
{
    fprintf(stderr, "insncount: total=%" PRIu64 " between=%" PRIu64 "%s\n", count,
            at_end - at_start, (started && ended) ? "" : " (markers not hit)");
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "start=", 6)) start_pc = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "end=", 4)) end_pc = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}

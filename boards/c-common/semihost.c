#include "semihost.h"

enum { SYS_OPEN = 0x01, SYS_WRITE = 0x05, SYS_EXIT = 0x18 };
enum { ADP_STOPPED_APPLICATION_EXIT = 0x20026, ADP_STOPPED_RUN_TIME_ERROR = 0x20023 };

/* `bkpt 0xab` with the operation in r0 and its argument block in r1. */
static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* The host's stdout: the file ":tt" opened for writing (mode 4, "w"). */
static uint32_t stdout_handle(void) {
    static uint32_t handle;
    static int open;
    if (!open) {
        static const char tt[] = ":tt";
        const uint32_t block[3] = {(uint32_t)(uintptr_t)tt, 4, sizeof tt - 1};
        handle = semihost(SYS_OPEN, block);
        open = 1;
    }
    return handle;
}

void host_write(const char *s, size_t len) {
    if (len > 0) {
        const uint32_t block[3] = {stdout_handle(), (uint32_t)(uintptr_t)s, (uint32_t)len};
        semihost(SYS_WRITE, block);
    }
}

void host_puts(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    host_write(s, n);
}

void host_putu(uint32_t v) {
    char buf[10];
    size_t i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    host_write(buf + i, sizeof buf - i);
}

void host_puthex(uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    char buf[8];
    for (int i = 7; i >= 0; i--) {
        buf[i] = digits[v & 0xFu];
        v >>= 4;
    }
    host_write(buf, sizeof buf);
}

void host_exit(int ok) {
    semihost(SYS_EXIT, (const void *)(uintptr_t)(ok ? ADP_STOPPED_APPLICATION_EXIT
                                                     : ADP_STOPPED_RUN_TIME_ERROR));
    for (;;) {
    }
}

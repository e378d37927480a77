/* Semihosting (ARM's debug-host calls, which QEMU serves with -semihosting-config
 * enable=on): text to the host's stdout and the exit status. */
#ifndef BOARD_SEMIHOST_H
#define BOARD_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Writes a NUL-terminated string. */
void host_puts(const char *s);
/* Writes `len` bytes. */
void host_write(const char *s, size_t len);
/* Writes `v` in decimal. */
void host_putu(uint32_t v);
/* Writes `v` as eight lowercase hex digits. */
void host_puthex(uint32_t v);
/* Ends the QEMU run with status 0 (ok) or 1. */
void host_exit(int ok) __attribute__((noreturn));

#endif

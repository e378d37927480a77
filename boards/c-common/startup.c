/* Reset and the vector table: copy .data from flash, zero .bss, turn the FPU on where
 * there is one, run main, and exit QEMU with its status. A fault exits with failure. */
#include <stdint.h>

#include "semihost.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
int main(void);

void reset_handler(void) __attribute__((noreturn));
void fault_handler(void) __attribute__((noreturn));

void reset_handler(void) {
    for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) {
        *d++ = *s++;
    }
    for (uint32_t *d = __bss_start; d < __bss_end;) {
        *d++ = 0;
    }
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 (the FPU). */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    host_exit(main() == 0);
}

void fault_handler(void) {
    host_puts("error: fault\n");
    host_exit(0);
}

/* Initial stack pointer, reset, NMI, hard fault, and the rest (M3/M4 faults, SVC, ...). */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    reset_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    0,
    0,
    0,
    0,
    fault_handler,
    fault_handler,
    0,
    fault_handler,
    fault_handler,
};

/* The library's panic hook (no API call can panic; this is the last resort). */
void spikeslab_panic_hook(void) {
    host_puts("error: spikeslab panicked\n");
    host_exit(0);
}

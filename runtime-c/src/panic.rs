//! The static library's panic handler on bare-metal targets. No call of the API can panic
//! (every index and length is checked first), but a `staticlib` must still name a handler:
//! it calls `spikeslab_panic_hook`, which firmware may define to log and reset; the weak
//! default here spins.

#[cfg(all(feature = "panic-handler", target_os = "none", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        fn spikeslab_panic_hook() -> !;
    }
    // SAFETY: the symbol is the firmware's `void spikeslab_panic_hook(void)` (declared
    // `noreturn` in the header) or the weak default below, which never returns.
    unsafe { spikeslab_panic_hook() }
}

// The weak default of the hook: `b .` in Thumb. A strong definition in the firmware wins.
#[cfg(all(feature = "panic-handler", target_os = "none", target_arch = "arm"))]
core::arch::global_asm!(
    ".section .text.spikeslab_panic_hook,\"ax\",%progbits",
    ".weak spikeslab_panic_hook",
    ".type spikeslab_panic_hook,%function",
    ".thumb_func",
    "spikeslab_panic_hook:",
    "b spikeslab_panic_hook",
    ".size spikeslab_panic_hook, . - spikeslab_panic_hook",
);

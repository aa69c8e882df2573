//! The allocator of the `debias` binary and of the benches: mimalloc, as datafusion-cli uses
//! (many small per-row allocations, freed on another thread than the one that made them),
//! tuned for a batch job.

pub use mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (mimalloc.h), linked in with [`MiMalloc`].
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc.h (the same in mimalloc 2 and 3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Keeps freed memory for reuse instead of handing it back to the system 10 ms after it is
/// freed (mimalloc's default): every batch's buffers would otherwise be mapped afresh, and
/// zeroed by the kernel, over and over (4% of the CPU time of `debias apply`). The process's
/// memory then stays at its peak until it exits, which the streaming pipeline bounds. The
/// `MIMALLOC_PURGE_DELAY` environment variable still decides when set.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options (an integer); any value is valid for it.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

//! The allocator of the `debias` binary and of the benches: mimalloc, as datafusion-cli uses
//! (many small per-row allocations, freed on another thread than the one that made them),
//! tuned for a batch job.

pub use mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (mimalloc.h), linked in with [`MiMalloc`].
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    /// mimalloc's `mi_version`: major · 10000 + minor · 100 + patch (e.g. 30302).
    fn mi_version() -> std::ffi::c_int;
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// The C library's `prctl(2)`.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

/// `PR_SET_THP_DISABLE` in `<linux/prctl.h>`.
#[cfg(target_os = "linux")]
const PR_SET_THP_DISABLE: std::ffi::c_int = 41;

/// `mi_option_purge_delay` in mimalloc.h (the same in mimalloc 2 and 3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// `mi_option_allow_thp` in mimalloc.h: its place in the options enum differs between
/// mimalloc 2 (37) and 3 (43), as vendored by libmimalloc-sys 0.1.49.
fn option_allow_thp() -> Option<std::ffi::c_int> {
    // SAFETY: a function of mimalloc without arguments or side effects.
    match unsafe { mi_version() } / 10000 {
        2 => Some(37),
        3 => Some(43),
        _ => None,
    }
}

/// Tunes mimalloc for `debias`'s batch jobs, unless the corresponding `MIMALLOC_*` variable
/// is set:
///
/// - freed memory is kept for reuse instead of handed back to the system 10 ms after it is
///   freed (mimalloc's default): every batch's buffers would otherwise be mapped afresh, and
///   zeroed by the kernel, over and over (4% of the CPU time of `debias apply`). The
///   process's memory then stays at its peak until it exits, which the streaming pipeline
///   bounds (`MIMALLOC_PURGE_DELAY`);
/// - no transparent huge pages asked for (mimalloc's default asks for them with `madvise`,
///   overriding a system set to `madvise`): faulting in and zeroing 2 MiB pages made the
///   kernel time of a `debias apply` of 59 MB swing between 0.1 and 0.6 s from run to run
///   (BENCHMARKS.md); with 4 KiB pages it stays near 0.1 s (`MIMALLOC_ALLOW_THP`). mimalloc
///   reads that option when the process starts and has mapped its first arena, with the
///   advice, by the time `main` runs, so setting the option here only covers later mappings;
///   on Linux the process is therefore also marked as not wanting them (`PR_SET_THP_DISABLE`,
///   what mimalloc itself does when the variable is 0), which covers the mappings made
///   before.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options (an integer); any value is valid for it.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        if let Some(option) = option_allow_thp() {
            // SAFETY: as above (a boolean option).
            unsafe { mi_option_set(option, 0) };
        }
        // SAFETY: `prctl` with an option that takes one integer argument; it only sets a flag
        // of this process's memory map. Failure (an old kernel) leaves huge pages allowed.
        #[cfg(target_os = "linux")]
        unsafe {
            let (yes, unused): (std::ffi::c_ulong, std::ffi::c_ulong) = (1, 0);
            prctl(PR_SET_THP_DISABLE, yes, unused, unused, unused)
        };
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The process's "may use transparent huge pages" flag, as the kernel reports it.
    fn thp_enabled() -> Option<bool> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("THP_enabled:"))?;
        Some(line.split_whitespace().nth(1)? != "0")
    }

    #[test]
    fn tuning_turns_huge_pages_off_for_the_whole_process() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() || thp_enabled().is_none() {
            return; // the user chose, or a kernel without the field (before 5.0)
        }
        super::tune();
        assert_eq!(thp_enabled(), Some(false));
    }
}

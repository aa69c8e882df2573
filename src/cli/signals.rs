//! Stopping a run: SIGINT (Ctrl-C), SIGTERM and SIGHUP remove the run's temporary outputs
//! (`.DEST.tmp-PID` and the output's lock) and exit with 128 + the signal (130, 143, 129), so an
//! interrupted run leaves nothing behind. The signals are blocked in every thread and taken by
//! one thread that waits for them; kill -9 cannot be caught, and its leftovers are removed by
//! the next run on the same output.

/// Installs the handling; call before any other thread is started (threads inherit the mask).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: plain POSIX calls on a sigset_t owned here; `sigwait` runs on its own thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("debias-signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                if libc::sigwait(&set, &mut sig) == 0 {
                    debias::artifact::remove_temporaries();
                    eprintln!(
                        "\nstopped by signal {sig}; temporary outputs removed, nothing written"
                    );
                    std::process::exit(128 + sig);
                }
            });
        if spawned.is_err() {
            // Without the waiting thread the signals must keep their default action.
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

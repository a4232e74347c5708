//! Gives memory the process freed back to the system while a command runs.
//!
//! glibc keeps freed memory in its per-thread arenas for reuse, and the pieces a long import
//! frees in between live ones are never at an arena's top, so they stay in the process's
//! resident set: a 10M-event import peaked at 641 MB of RSS with 297 MB of heap in use.
//! `malloc_trim` hands every free page of every arena back (with `MADV_DONTNEED`). Pages handed
//! back are faulted in again when reused, which costs system time: trimming every second from
//! the start made a 1M-event fetch (3 s) about 10% slower for 60 MB less, and a 10M-event
//! import 476-507 MB instead of 627-641 MB. A command that ends within a few seconds never
//! gathers much, so the first trim waits (docs/PERFORMANCE.md).

use std::time::Duration;

/// When the first trim comes: after the run of a 1M-event import or fetch.
const FIRST_AFTER: Duration = Duration::from_secs(4);
/// How often freed memory is handed back after that.
const EVERY: Duration = Duration::from_secs(1);

/// Starts a thread that hands freed memory back, first after [`FIRST_AFTER`], then every
/// [`EVERY`], for the life of the process.
pub fn return_freed_memory_in_background() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let _ = std::thread::Builder::new().name("mpd-trim".into()).spawn(|| {
            std::thread::sleep(FIRST_AFTER);
            loop {
                #[allow(unsafe_code, reason = "malloc_trim has no preconditions")]
                // SAFETY: malloc_trim only takes glibc's own arena locks; any thread may call it.
                unsafe {
                    libc::malloc_trim(0);
                }
                std::thread::sleep(EVERY);
            }
        });
    }
}

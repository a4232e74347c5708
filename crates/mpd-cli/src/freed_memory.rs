//! Keeps the memory a command frees reusable and gives it back to the system while it runs.
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

/// Caps glibc's malloc arenas at one per core (glibc allows eight per core). A thread takes
/// its own arena when the others are busy, and memory freed in one arena is reused only by
/// that arena: a fetch, whose requests decode on several threads while the writer encodes
/// on others, kept 450 MB resident for a 200 MB peak of live memory; with one arena per
/// core, 320 MB at the same speed (docs/PERFORMANCE.md). A limit the user set
/// (`MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`) is left as it is.
/// Call before any thread starts.
pub fn one_arena_per_core() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if user_sets_arena_max(
            std::env::var_os("MALLOC_ARENA_MAX").is_some(),
            std::env::var("GLIBC_TUNABLES").ok().as_deref(),
        ) {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        #[allow(unsafe_code, reason = "mallopt has no preconditions")]
        // SAFETY: mallopt only sets a limit glibc reads when a thread next needs an arena.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Whether the environment already chose glibc's arena limit.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn user_sets_arena_max(malloc_arena_max: bool, glibc_tunables: Option<&str>) -> bool {
    malloc_arena_max
        || glibc_tunables.is_some_and(|tunables| tunables.contains("glibc.malloc.arena_max="))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arena_limit_the_user_set_is_kept() {
        assert!(!user_sets_arena_max(false, None));
        assert!(user_sets_arena_max(true, None));
        assert!(user_sets_arena_max(false, Some("glibc.malloc.arena_max=8")));
        assert!(user_sets_arena_max(
            false,
            Some("glibc.malloc.trim_threshold=1:glibc.malloc.arena_max=4")
        ));
        assert!(!user_sets_arena_max(false, Some("glibc.malloc.trim_threshold=4194304")));
    }
}

//! The `mpd` binary: everything is in the library's [`mpd_cli::run`].

fn main() -> std::process::ExitCode {
    mpd_cli::one_arena_per_core();
    mpd_cli::return_freed_memory_in_background();
    mpd_cli::run(std::env::args_os())
}

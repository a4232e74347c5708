//! The `mpd` binary: everything is in the library's [`mpd_cli::run`].

fn main() -> std::process::ExitCode {
    mpd_cli::run(std::env::args_os())
}

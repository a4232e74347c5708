//! Folds identical machine code in the optimised `mpd` binary (the linker's `--icf=all`):
//! generic code instantiated for many types often compiles to the same bytes, and folding it
//! took the release binary from 191 to 182 MB (docs/PERFORMANCE.md). Only where the linker is
//! known to be LLD, which Rust uses by default on x86-64 Linux: a linker configured by hand
//! (`RUSTC_LINKER`, `-C linker=…`, `-fuse-ld=…`) may not know the flag. Builds with debug
//! info (the `profiling` profile, tests) keep every function at its own address for `perf`.

use std::env;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let optimised_without_debug_info = var("PROFILE") == "release" && var("DEBUG") == "false";
    let default_lld = var("TARGET") == "x86_64-unknown-linux-gnu";
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let linker_chosen_by_hand = env::var_os("RUSTC_LINKER").is_some()
        || flags.contains("linker")
        || flags.contains("fuse-ld");
    if optimised_without_debug_info && default_lld && !linker_chosen_by_hand {
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
    }
}

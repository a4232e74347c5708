//! Layering rules of PRODUCT.md §2, checked from `cargo metadata` rather than trusted to comments.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{Runner, cargo};

const LEAVES: [&str; 4] = ["mpd-config", "mpd-api", "mpd-decode", "mpd-store"];

/// External crates that belong to exactly one of our crates (plus the test kit and xtask where noted).
const OWNED: [(&str, &[&str]); 8] = [
    ("figment", &["mpd-config"]),
    ("hyper-rustls", &["mpd-api"]),
    ("rustls", &["mpd-api"]),
    ("simd-json", &["mpd-decode"]),
    ("clap", &["mpd-cli"]),
    ("tracing-subscriber", &["mpd-cli"]),
    ("indicatif", &["mpd-cli"]),
    ("anyhow", &["mpd-cli", "xtask"]),
];

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner) -> Result<()> {
    println!("$ cargo metadata --no-deps (layering rules)");
    if runner.explain() {
        return Ok(());
    }
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)?;
    let problems = check(&normal_dependencies(&metadata));
    if problems.is_empty() {
        println!("tidy: layering ok");
        return Ok(());
    }
    for problem in &problems {
        println!("tidy: {problem}");
    }
    bail!("{} layering problem(s)", problems.len())
}

/// Package name → names of its normal (non-dev, non-build) dependencies.
fn normal_dependencies(metadata: &Value) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        let deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        map.insert(name, deps);
    }
    map
}

fn check(deps: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (package, package_deps) in deps {
        let ours: Vec<&String> = package_deps.iter().filter(|d| d.starts_with("mpd-")).collect();
        if LEAVES.contains(&package.as_str()) || package == "mpd-testkit" {
            for dep in &ours {
                problems.push(format!("{package} is a leaf but depends on {dep}"));
            }
        }
        if package == "mpd-cli" {
            for dep in ours.iter().filter(|d| d.as_str() != "mpd-service") {
                problems.push(format!("mpd-cli must reach {dep} through mpd-service"));
            }
        }
        for (external, owners) in OWNED {
            if package_deps.iter().any(|d| d == external) && !owners.contains(&package.as_str()) {
                problems.push(format!(
                    "{package} depends on {external}, which only {owners:?} may use"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(p, d)| ((*p).to_owned(), d.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn a_leaf_depending_on_a_leaf_is_reported() {
        let problems = check(&deps(&[("mpd-api", &["mpd-config", "hyper"])]));
        assert_eq!(problems, vec!["mpd-api is a leaf but depends on mpd-config".to_owned()]);
    }

    #[test]
    fn the_cli_reaching_past_the_service_is_reported() {
        let problems = check(&deps(&[("mpd-cli", &["mpd-service", "mpd-store"])]));
        assert_eq!(problems, vec!["mpd-cli must reach mpd-store through mpd-service".to_owned()]);
    }

    #[test]
    fn an_owned_crate_used_elsewhere_is_reported() {
        let problems = check(&deps(&[("mpd-service", &["clap"])]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("clap"));
    }

    #[test]
    fn the_intended_shape_passes() {
        let problems = check(&deps(&[
            ("mpd-cli", &["mpd-service", "clap", "anyhow"]),
            ("mpd-service", &["mpd-api", "mpd-config", "mpd-decode", "mpd-store", "mpd-testkit"]),
            ("mpd-api", &["hyper-rustls"]),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
    }
}

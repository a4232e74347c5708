//! Layering rules of docs/ARCHITECTURE.md, checked from `cargo metadata` and the sources rather
//! than trusted to comments: which crate may depend on which, which external crates belong to
//! one crate, the test kit only in tests and behind the `demo` feature, and a `//!` line at the
//! top of every source file.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{Runner, cargo};

const LEAVES: [&str; 5] = ["mpd-config", "mpd-api", "mpd-decode", "mpd-store", "mpd-where"];

/// External crates that belong to exactly one of our crates (plus the test kit and xtask where noted).
const OWNED: [(&str, &[&str]); 16] = [
    ("datafusion", &["mpd-store"]),
    ("datafusion-functions-json", &["mpd-store"]),
    ("deltalake", &["mpd-store"]),
    ("parquet", &["mpd-store"]),
    ("hyper", &["mpd-api", "mpd-testkit"]),
    ("hyper-util", &["mpd-api", "mpd-testkit"]),
    ("figment", &["mpd-config"]),
    ("hyper-rustls", &["mpd-api"]),
    ("rustls", &["mpd-api"]),
    ("simdutf8", &["mpd-decode"]),
    ("clap", &["mpd-cli"]),
    ("tracing-subscriber", &["mpd-cli"]),
    ("indicatif", &["mpd-cli"]),
    ("anyhow", &["mpd-cli", "xtask"]),
    ("pyo3", &["mpd-python"]),
    ("rmcp", &["mpd-mcp"]),
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
    let mut problems = check(&normal_dependencies(&metadata));
    problems.extend(check_test_kit(&metadata));
    problems.extend(test_kit_in_lean_build()?);
    for root in ["crates", "xtask"] {
        problems.extend(files_without_module_doc(std::path::Path::new(root))?);
    }
    if problems.is_empty() {
        println!("tidy: layering ok");
        return Ok(());
    }
    for problem in &problems {
        println!("tidy: {problem}");
    }
    bail!("{} layering problem(s)", problems.len())
}

/// The test kit (the mock) may be a normal dependency only as an optional one that a feature
/// named `demo` switches on: everything else reaches it as a dev-dependency.
fn check_test_kit(metadata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        let normal_kit = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["kind"].is_null() && d["name"] == "mpd-testkit");
        let Some(kit) = normal_kit else { continue };
        let behind_demo = package["features"]["demo"]
            .as_array()
            .is_some_and(|enables| enables.iter().any(|f| f == "dep:mpd-testkit"));
        if kit["optional"] != true || !behind_demo {
            problems.push(format!(
                "{name} depends on mpd-testkit outside tests; make it optional behind the `demo` feature"
            ));
        }
    }
    problems
}

/// `cargo tree` of the binary without default features must not reach the test kit.
#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
fn test_kit_in_lean_build() -> Result<Vec<String>> {
    println!("$ cargo tree -e normal -p mpd-cli --no-default-features");
    let output = cargo()
        .args([
            "tree",
            "-e",
            "normal",
            "-p",
            "mpd-cli",
            "--no-default-features",
            "--prefix",
            "none",
        ])
        .output()
        .context("cannot run cargo tree")?;
    if !output.status.success() {
        bail!("cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let tree = String::from_utf8_lossy(&output.stdout);
    Ok(if tree.lines().any(|line| line.starts_with("mpd-testkit ")) {
        vec!["mpd-cli --no-default-features still builds mpd-testkit".to_owned()]
    } else {
        Vec::new()
    })
}

/// Rust files under `root` whose first line is not a `//!` module doc.
fn files_without_module_doc(root: &std::path::Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target" && n != "fixtures") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                if !starts_with_module_doc(&text) {
                    problems.push(format!("{} does not open with a `//!` line", path.display()));
                }
            }
        }
    }
    problems.sort();
    Ok(problems)
}

fn starts_with_module_doc(text: &str) -> bool {
    text.lines().find(|line| !line.trim().is_empty()).is_some_and(|line| line.starts_with("//!"))
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
                // The mock evaluates the `where` language the service renders, with one parser.
                if package == "mpd-testkit" && dep.as_str() == "mpd-where" {
                    continue;
                }
                problems.push(format!("{package} is a leaf but depends on {dep}"));
            }
        }
        if package == "mpd-ingest" {
            for dep in ours.iter().filter(|d| !["mpd-store", "mpd-decode"].contains(&d.as_str())) {
                problems.push(format!(
                    "mpd-ingest may use only mpd-store and mpd-decode, but depends on {dep}"
                ));
            }
        }
        if package == "mpd-live" {
            // The client it is given, and the `where` language its `--local` twins translate.
            for dep in ours.iter().filter(|d| !["mpd-api", "mpd-where"].contains(&d.as_str())) {
                problems.push(format!(
                    "mpd-live may use only mpd-api and mpd-where, but depends on {dep}"
                ));
            }
        }
        if package == "mpd-cli" {
            // The mock is the demo's, behind its feature (checked by `check_test_kit`); the
            // MCP server is a front of its own that `mpd mcp` starts.
            let allowed = ["mpd-service", "mpd-testkit", "mpd-mcp"];
            for dep in ours.iter().filter(|d| !allowed.contains(&d.as_str())) {
                problems.push(format!("mpd-cli must reach {dep} through mpd-service"));
            }
        }
        if package == "mpd-mcp" {
            for dep in ours.iter().filter(|d| d.as_str() != "mpd-service") {
                problems.push(format!("mpd-mcp must reach {dep} through mpd-service"));
            }
        }
        if package == "mpd-python" {
            // A front like the CLI: the use cases through the facade, and the CLI itself for
            // the `mpd` command a Python install provides.
            for dep in ours.iter().filter(|d| !["mpd-service", "mpd-cli"].contains(&d.as_str())) {
                problems.push(format!("mpd-python must reach {dep} through mpd-service"));
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
    fn the_python_module_reaching_past_the_service_is_reported() {
        let problems = check(&deps(&[("mpd-python", &["mpd-service", "mpd-cli", "mpd-store"])]));
        assert_eq!(problems, vec!["mpd-python must reach mpd-store through mpd-service"]);
        let problems = check(&deps(&[
            ("mpd-mcp", &["mpd-service", "mpd-store", "rmcp"]),
            ("mpd-cli", &["mpd-service", "mpd-mcp", "rmcp"]),
        ]));
        assert_eq!(
            problems,
            vec![
                "mpd-cli depends on rmcp, which only [\"mpd-mcp\"] may use",
                "mpd-mcp must reach mpd-store through mpd-service",
            ]
        );
        let problems = check(&deps(&[("mpd-service", &["pyo3"])]));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn live_queries_reaching_the_store_are_reported() {
        let problems = check(&deps(&[("mpd-live", &["mpd-api", "mpd-store"])]));
        assert_eq!(
            problems,
            vec!["mpd-live may use only mpd-api and mpd-where, but depends on mpd-store"]
        );
        let problems = check(&deps(&[("mpd-ingest", &["mpd-store", "mpd-api"])]));
        assert_eq!(
            problems,
            vec!["mpd-ingest may use only mpd-store and mpd-decode, but depends on mpd-api"]
        );
    }

    #[test]
    fn an_owned_crate_used_elsewhere_is_reported() {
        let problems = check(&deps(&[("mpd-service", &["clap"])]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("clap"));
    }

    fn package(name: &str, kit: Value, features: Value) -> Value {
        serde_json::json!({"packages": [{"name": name, "dependencies": [kit], "features": features}]})
    }

    #[test]
    fn the_test_kit_as_a_plain_dependency_is_reported() {
        let kit = serde_json::json!({"name": "mpd-testkit", "kind": null, "optional": false});
        let problems = check_test_kit(&package("mpd-service", kit, serde_json::json!({})));
        assert_eq!(
            problems,
            vec![
                "mpd-service depends on mpd-testkit outside tests; make it optional behind the `demo` feature"
            ]
        );
    }

    #[test]
    fn the_test_kit_behind_demo_or_in_tests_passes() {
        let optional = serde_json::json!({"name": "mpd-testkit", "kind": null, "optional": true});
        let demo = serde_json::json!({"demo": ["dep:mpd-testkit"]});
        assert!(check_test_kit(&package("mpd-service", optional.clone(), demo)).is_empty());
        let other = serde_json::json!({"mock": ["dep:mpd-testkit"]});
        assert_eq!(check_test_kit(&package("mpd-service", optional, other)).len(), 1);
        let dev = serde_json::json!({"name": "mpd-testkit", "kind": "dev", "optional": false});
        assert!(check_test_kit(&package("mpd-cli", dev, serde_json::json!({}))).is_empty());
    }

    #[test]
    fn a_file_must_open_with_a_module_doc() {
        assert!(starts_with_module_doc("\n//! What this is.\nuse x;"));
        assert!(!starts_with_module_doc("use x;\n//! late"));
        assert!(!starts_with_module_doc("/// an item doc\nfn f() {}"));
        assert!(!starts_with_module_doc(""));
    }

    #[test]
    fn the_intended_shape_passes() {
        let problems = check(&deps(&[
            ("mpd-cli", &["mpd-service", "clap", "anyhow"]),
            ("mpd-service", &["mpd-api", "mpd-config", "mpd-decode", "mpd-ingest", "mpd-live"]),
            ("mpd-live", &["mpd-api", "mpd-where"]),
            ("mpd-ingest", &["mpd-store", "mpd-decode"]),
            ("mpd-api", &["hyper-rustls"]),
            ("mpd-python", &["mpd-service", "mpd-cli", "pyo3"]),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
    }
}

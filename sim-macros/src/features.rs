//! The package's features, read from its `Cargo.toml` at compile time.
//!
//! The replay command a failure prints must build the test binary with the
//! features it was built with: a test behind a feature (or in a target with
//! `required-features`) is otherwise not built, and the command runs nothing
//! and passes. Which features are on is known only to the compiled crate:
//! the expansion asks `cfg!(feature = "..")` for each feature the manifest
//! declares, and hands the answers to the harness.

use std::path::Path;

/// The features the package being compiled declares, and those its
/// `default` feature lists; `None` when it declares none (or the manifest
/// cannot be read, which only costs the replay command its feature flags).
pub(crate) fn declared() -> Option<(Vec<String>, Vec<String>)> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let text = std::fs::read_to_string(Path::new(&dir).join("Cargo.toml")).ok()?;
    let features = parse(&text);
    if features.is_empty() {
        return None;
    }
    let default = features
        .iter()
        .find(|(name, _)| name == "default")
        .map(|(_, enables)| enables.clone())
        .unwrap_or_default();
    Some((
        features.into_iter().map(|(name, _)| name).collect(),
        default,
    ))
}

/// The `[features]` table of a manifest: each feature with the plain
/// feature names it enables (`dep:x` and `x/y` entries are not features of
/// this package and are left out). A small reader for the common layout,
/// one `name = [..]` per entry, possibly spread over lines.
pub(crate) fn parse(manifest: &str) -> Vec<(String, Vec<String>)> {
    let mut features: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_table = false;
    let mut pending: Option<(String, String)> = None;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some((name, mut list)) = pending.take() {
            list.push_str(line);
            if line.contains(']') {
                features.push((name, entries(&list)));
            } else {
                pending = Some((name, list));
            }
            continue;
        }
        if line.starts_with('[') {
            in_table = line == "[features]";
            continue;
        }
        if !in_table {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"').to_owned();
        if name.is_empty() {
            continue;
        }
        if value.contains(']') || !value.contains('[') {
            features.push((name, entries(value)));
        } else {
            pending = Some((name, value.to_owned()));
        }
    }
    features
}

/// The plain feature names in a list such as `["a", "dep:b", "c/d"]`.
fn entries(list: &str) -> Vec<String> {
    list.split(',')
        .map(|entry| {
            entry
                .trim()
                .trim_matches(['[', ']'])
                .trim()
                .trim_matches('"')
                .to_owned()
        })
        .filter(|entry| !entry.is_empty() && !entry.contains([':', '/']))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_features_table() {
        let manifest = r#"
[package]
name = "x"
default = "not a feature"

[features]
default = ["tokio", "dep:serde"] # a comment
tokio = ["dep:tokio", "sim/tokio"]
"slow-tests" = []
long = [
    "tokio",
    "extra",
]
extra = []

[dependencies]
tokio = { version = "1", optional = true }
"#;
        let features = parse(manifest);
        let names: Vec<&str> = features.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["default", "tokio", "slow-tests", "long", "extra"]);
        assert_eq!(features[0].1, ["tokio"]);
        assert!(features[1].1.is_empty());
        assert_eq!(features[3].1, ["tokio", "extra"]);
        assert!(parse("[package]\nname = \"y\"\n").is_empty());
    }
}

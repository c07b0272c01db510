//! The crate's lower layer (its data structures) imports nothing from the
//! modules built around `Handle` (see ARCHITECTURE.md, "Layers of the
//! crate"): each lower module can be read and tested alone. This test reads
//! the sources and fails on an import that crosses upwards.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The lower layer, as paths of modules (`task::info` is `src/task/info.rs`).
const LOWER: &[&str] = &[
    "id",
    "error",
    "seed",
    "timer",
    "trace",
    "task::info",
    "table",
    "tasks",
    "policy",
    "run_queue",
    "prefetch",
    "decisions",
    "explore::tape",
    "explore::pct",
    "explore::exhaustive",
    "explore::shrink",
    "failure",
    "watchdog",
];

/// The source file of module `path`.
fn file_of(src: &Path, path: &str) -> PathBuf {
    let rel = path.replace("::", "/");
    let flat = src.join(format!("{rel}.rs"));
    if flat.exists() {
        flat
    } else {
        src.join(rel).join("mod.rs")
    }
}

/// Every `.rs` file of a module: its own, and its submodules' if it is a
/// directory.
fn files_of(src: &Path, path: &str) -> Vec<PathBuf> {
    let file = file_of(src, path);
    let mut files = vec![file.clone()];
    if file.ends_with("mod.rs") {
        let mut dirs = vec![file.parent().unwrap().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") && p != file {
                    files.push(p);
                }
            }
        }
    }
    files
}

/// The crate paths a file refers to (`crate::a::b`, `crate::{a::b, c}`),
/// outside comments and its unit tests.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let code: String = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        rest = use_tree(rest, String::new(), &mut paths);
    }
    paths
}

/// Reads one use tree (`a::b`, `a::{b, c::{D, e}}`) after `prefix`, adds
/// its paths, and returns what follows it.
fn use_tree<'a>(text: &'a str, prefix: String, paths: &mut BTreeSet<String>) -> &'a str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let path = format!("{prefix}{}", &text[..end]);
    let rest = &text[end..];
    let Some(mut rest) = rest.strip_prefix('{') else {
        paths.insert(path.trim_end_matches(':').to_string());
        return rest;
    };
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return after;
        }
        rest = use_tree(rest, path.clone(), paths);
        rest = rest.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest);
        if !rest.starts_with(|c: char| {
            c.is_whitespace() || c == '}' || c.is_ascii_alphanumeric() || c == '_'
        }) {
            return rest;
        }
    }
}

/// Whether `path` (`a::b::C`) names something in the lower layer.
fn is_lower(path: &str) -> bool {
    LOWER
        .iter()
        .any(|m| path == *m || path.starts_with(&format!("{m}::")))
}

#[test]
fn the_lower_layer_imports_only_the_lower_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut crossings = Vec::new();
    for module in LOWER {
        for file in files_of(&src, module) {
            let source = fs::read_to_string(&file).unwrap();
            for path in crate_paths(&source) {
                // Items of the crate root (`crate::Runtime` in a doc link
                // survives no filter above; the root re-exports only).
                let first = path.split("::").next().unwrap();
                if first.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                    continue;
                }
                if !is_lower(&path) {
                    crossings.push(format!("{} imports crate::{path}", file.display()));
                }
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "the lower layer reaches up (move the item down, or pass what is needed in):\n{}",
        crossings.join("\n")
    );
}

#[test]
fn the_scan_sees_imports() {
    let paths = crate_paths(
        "use crate::id::TaskId;\nuse crate::{trace::Event, task::info::{JoinError, WaitPoint}};\n\
         // crate::executor in a comment\nfn f() { crate::error::panic_message(p); }\n",
    );
    assert!(paths.contains("id::TaskId"), "{paths:?}");
    assert!(paths.contains("trace::Event"), "{paths:?}");
    assert!(paths.contains("task::info::JoinError"), "{paths:?}");
    assert!(paths.contains("task::info::WaitPoint"), "{paths:?}");
    assert!(paths.contains("error::panic_message"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.starts_with("executor")),
        "{paths:?}"
    );
    assert!(is_lower("task::info::JoinError"));
    assert!(!is_lower("task::JoinHandle"));
    assert!(!is_lower("executor::Handle"));
}

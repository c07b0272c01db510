//! What a test run leaves behind: the replay command, the regression file,
//! the JSON report lines and the log file.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Test;
use super::env::{Regressions, Settings, parse_u64};

/// The `cargo test` command that runs exactly `test`: in the same package
/// and target, built with the same features, and run even when it is
/// `#[ignore]`d (else the command would run nothing and pass).
pub(crate) fn cargo_command(test: &Test) -> String {
    // A build with `--cfg sim` (the tokio layer on the simulation) must be
    // replayed with it: without it a `#[tokio::test]` runs on real tokio
    // and a `#![cfg(sim)]` file has no test at all.
    let rustflags = if cfg!(sim) {
        "RUSTFLAGS=\"--cfg sim\" "
    } else {
        ""
    };
    format!(
        "{rustflags}cargo test -p {}{} {} -- {} --exact{}",
        test.package,
        feature_flags(test.features, test.default_features),
        target_selector(test.file, test.crate_name),
        test.path(),
        if test.ignored {
            " --include-ignored"
        } else {
            ""
        }
    )
}

/// The `cargo` flags that build the features the test binary was built
/// with: ` --no-default-features` when `default` is declared but was off,
/// and ` --features a,b` for the enabled features `default` does not
/// already bring. Nothing when the features are unknown.
fn feature_flags(features: Option<&[(&str, bool)]>, default: &[&str]) -> String {
    let Some(features) = features else {
        return String::new();
    };
    let default_on = features
        .iter()
        .find(|(name, _)| *name == "default")
        .map(|&(_, on)| on);
    let mut flags = String::new();
    if default_on == Some(false) {
        flags.push_str(" --no-default-features");
    }
    let brought = |name: &str| default_on == Some(true) && default.contains(&name);
    let extra: Vec<&str> = features
        .iter()
        .filter(|&&(name, on)| on && name != "default" && !brought(name))
        .map(|&(name, _)| name)
        .collect();
    if !extra.is_empty() {
        flags.push_str(&format!(" --features {}", extra.join(",")));
    }
    flags
}

/// The `cargo test` target flag for a test defined in `file`: `--test`,
/// `--example`, `--bin` or `--lib`, told apart by where the file lives.
fn target_selector(file: &str, crate_name: &str) -> String {
    let parts: Vec<&str> = file.split(['/', '\\']).collect();
    let stem = |i: usize| -> String {
        // `tests/foo.rs` is target `foo`; `tests/foo/main.rs` is target `foo`.
        match parts.get(i + 2) {
            Some(_) => parts[i + 1].to_owned(),
            None => parts[i + 1].trim_end_matches(".rs").to_owned(),
        }
    };
    for (i, part) in parts.iter().enumerate().rev() {
        if i + 1 >= parts.len() {
            continue;
        }
        let in_src = i > 0 && parts[i - 1] == "src";
        match *part {
            "tests" if !in_src => return format!("--test {}", stem(i)),
            "examples" if !in_src => return format!("--example {}", stem(i)),
            "bin" if in_src => return format!("--bin {}", stem(i)),
            _ => {}
        }
    }
    if file.ends_with("src/main.rs") {
        format!("--bin {}", crate_name.replace('_', "-"))
    } else {
        "--lib".to_owned()
    }
}

/// The regression file of `test`, unless disabled.
pub(crate) fn regression_file(test: &Test, settings: &Settings) -> Option<PathBuf> {
    let dir = match settings.regressions.as_ref().unwrap_or(&Regressions::On) {
        Regressions::Off => return None,
        Regressions::On => std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join("sim-regressions"),
        Regressions::Dir(dir) => dir.clone(),
    };
    Some(dir.join(format!("{}.txt", test.id().replace("::", "."))))
}

/// A failing run saved in a regression file: a seed, or a replay string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Saved {
    Seed(u64),
    Tape(String),
}

impl Saved {
    fn text(&self) -> String {
        match self {
            Saved::Seed(seed) => format!("{seed:#x}"),
            Saved::Tape(tape) => tape.clone(),
        }
    }
}

/// The runs saved in a regression file, in order (none if it is missing).
pub(crate) fn load_regressions(path: &Path) -> Vec<Saved> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            if line.starts_with("sim") {
                Some(Saved::Tape(line.to_owned()))
            } else {
                parse_u64(line).map(Saved::Seed)
            }
        })
        .collect()
}

/// Appends `saved` to the regression file unless it is there already.
pub(crate) fn save_regression(
    path: &Path,
    test: &Test,
    saved: &Saved,
    note: &str,
) -> io::Result<()> {
    if load_regressions(path).contains(saved) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let new = !path.exists();
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let mut text = String::new();
    if new {
        text.push_str(&format!(
            "# Seeds and replay strings that failed the sim test `{}`. Later runs replay them first.\n\
             # Keep this file in version control. One per line; `#` starts a comment.\n",
            test.id()
        ));
    }
    let note = note.lines().next().unwrap_or_default();
    text.push_str(&format!("{} # {note}\n", saved.text()));
    file.write_all(text.as_bytes())
}

/// One line of the `SIM_REPORT` file.
#[derive(Debug, Serialize)]
pub(crate) struct Record<'a> {
    pub(crate) test: &'a str,
    /// `0x..`: a JSON number loses a `u64`'s precision above 2^53.
    pub(crate) seed: String,
    pub(crate) outcome: &'a str,
    pub(crate) failure: Option<&'a str>,
    pub(crate) fingerprint: String,
    pub(crate) virtual_time_ns: u64,
    pub(crate) steps: u64,
    pub(crate) wall_ms: f64,
    /// The replay command, for a failing seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) replay: Option<String>,
}

/// Appends one JSON line; a single `write` of the whole line, so lines from
/// tests running in parallel do not interleave.
pub(crate) fn append_record(path: &Path, record: &Record<'_>) -> io::Result<()> {
    let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
    line.push('\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

/// Where the full log of a failing run is written: `target/sim-logs/` next
/// to the test binary when it can be found, else the temp directory.
pub(crate) fn log_file(test: &Test, seed: u64) -> PathBuf {
    let target = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|dir| dir.file_name().is_some_and(|n| n == "target"))
            .map(Path::to_path_buf)
    });
    target
        .unwrap_or_else(std::env::temp_dir)
        .join("sim-logs")
        .join(format!("{}-{seed:#x}.log", test.id().replace("::", ".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_selectors() {
        assert_eq!(
            target_selector("tests/net_udp.rs", "net_udp"),
            "--test net_udp"
        );
        assert_eq!(
            target_selector("sim-net/tests/net-tcp.rs", "net_tcp"),
            "--test net-tcp"
        );
        assert_eq!(target_selector("tests/zoo/main.rs", "zoo"), "--test zoo");
        assert_eq!(target_selector("examples/zoo.rs", "zoo"), "--example zoo");
        assert_eq!(target_selector("src/bin/tool.rs", "tool"), "--bin tool");
        assert_eq!(target_selector("src/main.rs", "my_app"), "--bin my-app");
        assert_eq!(target_selector("src/lib.rs", "my_lib"), "--lib");
        assert_eq!(target_selector("sim-net/src/tcp.rs", "sim_net"), "--lib");
        assert_eq!(target_selector("src/tests/helpers.rs", "x"), "--lib");
    }

    #[test]
    fn feature_flags_rebuild_the_same_binary() {
        assert_eq!(feature_flags(None, &[]), "");
        assert_eq!(feature_flags(Some(&[]), &[]), "");
        // Only what `default` does not bring.
        let on = [
            ("default", true),
            ("tokio", true),
            ("serde", true),
            ("x", false),
        ];
        assert_eq!(feature_flags(Some(&on), &["serde"]), " --features tokio");
        // `default` declared but off.
        let off = [("default", false), ("tokio", true)];
        assert_eq!(
            feature_flags(Some(&off), &["tokio"]),
            " --no-default-features --features tokio"
        );
        // No `default` at all.
        assert_eq!(
            feature_flags(Some(&[("a", true), ("b", true), ("c", false)]), &[]),
            " --features a,b"
        );
    }
}

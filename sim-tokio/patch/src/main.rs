//! `sim-tokio-patch`: writes the directory a project patches crates.io's
//! `tokio` with, so that the crates it does not own (hyper-util's
//! `TokioExecutor`, `axum::serve`, tonic's transport, reqwest, tower) run on
//! the simulation when built with `--cfg sim`.
//!
//! ```text
//! cargo run --manifest-path path/to/sim/Cargo.toml -p sim-tokio-patch -- OUT [--tokio VERSION]
//! ```
//!
//! A crate that names `sim-tokio` as its `tokio` routes its own code; a
//! dependency still names crates.io's `tokio`, and only `[patch.crates-io]`
//! reaches it. The patch must be a package named `tokio`, and it needs the
//! real tokio underneath, which crates.io's `tokio` can no longer name (it
//! is the patch itself): hence a renamed copy. sim-net, sim-fs and the `sim`
//! facade implement tokio's I/O traits, so they must name that copy too, or
//! the graph has a cycle (`tokio` -> `sim-net` -> `tokio`). OUT gets:
//!
//! - `real-tokio/`: tokio's published source, unchanged but for its
//!   package name (`sim-real-tokio`; the library is still `tokio`);
//! - `tokio/`: the patch: a package named `tokio`, of the same version,
//!   forwarding every feature, whose library is `sim-tokio`'s source
//!   (real tokio re-exported in normal builds; the simulation under
//!   `--cfg sim`);
//! - `sim-net/`, `sim-fs/` and `sim/`: manifests for this checkout's sources whose
//!   tokio is `real-tokio`: a project that patches tokio depends on `sim`
//!   through `OUT/sim`;
//! - `README.md`: the lines to add, as printed at the end.
//!
//! Every manifest is made from this checkout's own (its dependencies,
//! features and versions), so regenerate after updating sim; paths are
//! absolute, so regenerate after moving it.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use toml::{Table, Value};

/// The package name of the renamed copy of tokio.
const REAL: &str = "sim-real-tokio";

/// sim-tokio's feature that is left out of the patch, with the optional
/// dependencies only it enables: hyper depends on tokio, which would be
/// the patch itself (a cycle). Patched, hyper-util's own tokio glue is
/// routed anyway.
const LEFT_OUT: &str = "hyper";

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("sim-tokio-patch: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What went wrong, said for the person who ran the command.
#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn error(message: impl Into<String>) -> Error {
    Error(message.into())
}

const USAGE: &str = "usage: sim-tokio-patch OUT [--tokio VERSION] [--also futures-timer]\n\
    Writes into OUT the packages a project patches crates.io's `tokio` with \
    (VERSION: the tokio to wrap, default the one this checkout of sim is tested with); \
    `--also futures-timer` patches `futures-timer` too (its `Delay` on virtual time).";

/// Crates besides tokio that can be patched, each with the shim source
/// (in `sim-tokio/patch/shims/`) and the version requirement fetched.
const ALSO: &[(&str, &str, &str)] = &[("futures-timer", "futures_timer.rs", "3")];

/// The command line: the output directory and, optionally, tokio's version.
#[derive(Debug, PartialEq)]
struct Args {
    out: PathBuf,
    tokio: Option<String>,
    also: Vec<&'static str>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, Error> {
        let mut out = None;
        let mut tokio = None;
        let mut also = Vec::new();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-h" | "--help" => return Err(error(USAGE)),
                "--tokio" => match args.next() {
                    Some(version) if is_version(&version) => tokio = Some(version),
                    Some(other) => {
                        return Err(error(format!(
                            "`--tokio {other}`: expected an exact version such as 1.47.1\n{USAGE}"
                        )));
                    }
                    None => return Err(error(format!("`--tokio` needs a version\n{USAGE}"))),
                },
                "--also" => match args.next() {
                    Some(name) => match ALSO.iter().find(|(known, _, _)| *known == name) {
                        Some((known, _, _)) => also.push(*known),
                        None => {
                            let known: Vec<&str> = ALSO.iter().map(|(n, _, _)| *n).collect();
                            return Err(error(format!(
                                "`--also {name}`: the crates that can be patched are {}\n{USAGE}",
                                known.join(", ")
                            )));
                        }
                    },
                    None => return Err(error(format!("`--also` needs a crate\n{USAGE}"))),
                },
                flag if flag.starts_with('-') => {
                    return Err(error(format!("unknown option `{flag}`\n{USAGE}")));
                }
                path if out.is_none() => out = Some(PathBuf::from(path)),
                extra => return Err(error(format!("unexpected argument `{extra}`\n{USAGE}"))),
            }
        }
        let out = out.ok_or_else(|| error(format!("missing OUT directory\n{USAGE}")))?;
        Ok(Args { out, tokio, also })
    }
}

/// `MAJOR.MINOR.PATCH`, digits only: the one form `=VERSION` pins exactly.
fn is_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn run(args: impl Iterator<Item = String>) -> Result<String, Error> {
    let args = Args::parse(args)?;
    let sim = checkout()?;
    let workspace = read_toml(&sim.join("Cargo.toml"))?;
    let version = match args.tokio {
        Some(version) => version,
        None => locked_version(&read_toml(&sim.join("Cargo.lock"))?, "tokio")?,
    };
    fs::create_dir_all(&args.out)
        .map_err(|e| error(format!("creating {}: {e}", args.out.display())))?;
    let out = args
        .out
        .canonicalize()
        .map_err(|e| error(format!("{}: {e}", args.out.display())))?;

    let fetched = fetch(&out, "tokio", &format!("={version}"))?;
    copy_real(&fetched, &out.join("real-tokio"), REAL)?;

    let ctx = Context::new(&sim, &out, &workspace)?;
    let net = ctx.transplant(&sim.join("sim-net"), "sim-net", None, &[])?;
    write_toml(&out.join("sim-net/Cargo.toml"), &net)?;
    let disk = ctx.transplant(&sim.join("sim-fs"), "sim-fs", None, &[])?;
    write_toml(&out.join("sim-fs/Cargo.toml"), &disk)?;
    let facade = ctx.transplant(&sim, "sim", None, &[])?;
    write_toml(&out.join("sim/Cargo.toml"), &facade)?;
    let layer_dir = sim.join("sim-tokio");
    let layer = read_toml(&layer_dir.join("Cargo.toml"))?;
    let mut shim = ctx.transplant(
        &layer_dir,
        "tokio",
        Some(&version),
        &left_out_dependencies(&layer),
    )?;
    shim.insert("features".into(), forwarded(&fetched.features).into());
    write_toml(&out.join("tokio/Cargo.toml"), &shim)?;

    let mut also = Vec::new();
    for name in &args.also {
        let (_, source, requirement) = ALSO
            .iter()
            .find(|(known, _, _)| known == name)
            .unwrap_or_else(|| unreachable!("checked when parsing"));
        let fetched = fetch(&out, name, requirement)?;
        let real_name = format!("sim-real-{name}");
        copy_real(&fetched, &out.join(format!("real-{name}")), &real_name)?;
        let shim = small_shim(
            &ctx,
            name,
            &fetched,
            &sim.join("sim-tokio/patch/shims").join(source),
        );
        write_toml(&out.join(name).join("Cargo.toml"), &shim)?;
        also.push((*name, fetched.version));
    }

    let summary = instructions(&out, &sim, &version, &also);
    fs::write(out.join("README.md"), format!("{summary}\n"))
        .map_err(|e| error(format!("writing README.md: {e}")))?;
    Ok(summary)
}

/// The sim checkout this binary was built from (it lives in
/// `sim-tokio/patch`).
fn checkout() -> Result<PathBuf, Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.canonicalize().map_err(|e| {
        error(format!(
            "the sim checkout this was built from ({}) is gone: {e}; rebuild from the checkout",
            dir.display()
        ))
    })
}

fn read_toml(path: &Path) -> Result<Table, Error> {
    let text =
        fs::read_to_string(path).map_err(|e| error(format!("reading {}: {e}", path.display())))?;
    text.parse()
        .map_err(|e| error(format!("parsing {}: {e}", path.display())))
}

fn write_toml(path: &Path, table: &Table) -> Result<(), Error> {
    let text =
        toml::to_string(table).map_err(|e| error(format!("writing {}: {e}", path.display())))?;
    let header = "# Written by sim-tokio-patch: regenerate rather than edit.\n\n";
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| error(format!("{}: {e}", dir.display())))?;
    }
    fs::write(path, format!("{header}{text}"))
        .map_err(|e| error(format!("writing {}: {e}", path.display())))
}

/// The version of `name` in a `Cargo.lock`.
fn locked_version(lock: &Table, name: &str) -> Result<String, Error> {
    lock.get("package")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_table)
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|p| p.get("version").and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| {
            error(format!(
                "sim's Cargo.lock has no `{name}`: pass --tokio VERSION"
            ))
        })
}

/// A package's published source, as cargo downloaded it.
struct Fetched {
    dir: PathBuf,
    version: String,
    features: Vec<String>,
}

/// Asks cargo for `name` at `requirement` (`=1.54.1`, `3`), downloading it
/// if it is not in cargo's cache yet, through a throwaway manifest.
fn fetch(out: &Path, name: &str, requirement: &str) -> Result<Fetched, Error> {
    let dir = out.join(".fetch");
    fs::create_dir_all(&dir).map_err(|e| error(format!("{}: {e}", dir.display())))?;
    let manifest = format!(
        "[package]\nname = \"sim-tokio-patch-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
         [lib]\npath = \"lib.rs\"\n\n[dependencies]\n{name} = \"{requirement}\"\n\n[workspace]\n"
    );
    fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| error(e.to_string()))?;
    fs::write(dir.join("lib.rs"), "").map_err(|e| error(e.to_string()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .map_err(|e| error(format!("running cargo metadata: {e}")))?;
    fs::remove_dir_all(&dir).map_err(|e| error(format!("{}: {e}", dir.display())))?;
    if !output.status.success() {
        return Err(error(format!(
            "cargo could not get {name} {requirement}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| error(format!("reading cargo metadata: {e}")))?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .ok_or_else(|| error(format!("cargo metadata does not list {name} {requirement}")))?;
    let version = package["version"]
        .as_str()
        .ok_or_else(|| error("cargo metadata gave no version"))?
        .to_owned();
    let manifest = package["manifest_path"]
        .as_str()
        .ok_or_else(|| error("cargo metadata gave no manifest path"))?;
    let features = package["features"]
        .as_object()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default();
    Ok(Fetched {
        version,
        dir: Path::new(manifest)
            .parent()
            .ok_or_else(|| error("a manifest path without a directory"))?
            .to_owned(),
        features,
    })
}

/// `fetched`'s source copied to `to`, its package renamed `package`.
fn copy_real(fetched: &Fetched, to: &Path, package: &str) -> Result<(), Error> {
    if to.exists() {
        fs::remove_dir_all(to).map_err(|e| error(format!("{}: {e}", to.display())))?;
    }
    copy_dir(&fetched.dir, to)?;
    let renamed = rename_real(read_toml(&to.join("Cargo.toml"))?, package);
    write_toml(&to.join("Cargo.toml"), &renamed)
}

/// The patch for a small crate: a package named `name`, of the fetched
/// version, whose library is `source` (the real crate, named `real`,
/// re-exported normally; the simulation's under `--cfg sim`).
fn small_shim(ctx: &Context<'_>, name: &str, fetched: &Fetched, source: &Path) -> Table {
    let mut manifest: Table = toml::from_str(&format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         publish = false\n\n[lints.rust]\nunexpected_cfgs = \"allow\"\n",
        version = fetched.version
    ))
    .unwrap_or_else(|e| unreachable!("a constant manifest: {e}"));
    let mut lib = Table::new();
    lib.insert("path".into(), path_value(source));
    manifest.insert("lib".into(), lib.into());
    manifest.insert(
        "features".into(),
        forwarded_to(&fetched.features, "real").into(),
    );
    let mut real = Table::new();
    real.insert("package".into(), format!("sim-real-{name}").into());
    real.insert(
        "path".into(),
        path_value(&ctx.out.join(format!("real-{name}"))),
    );
    let mut deps = Table::new();
    deps.insert("real".into(), real.into());
    manifest.insert("dependencies".into(), deps.into());
    let mut runtime = Table::new();
    runtime.insert("path".into(), path_value(&ctx.sim.join("sim-runtime")));
    let mut sim_deps = Table::new();
    sim_deps.insert("sim-runtime".into(), runtime.into());
    let mut cfg = Table::new();
    cfg.insert("dependencies".into(), sim_deps.into());
    let mut target = Table::new();
    target.insert("cfg(sim)".into(), cfg.into());
    manifest.insert("target".into(), target.into());
    manifest
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(|e| error(format!("{}: {e}", to.display())))?;
    let entries = fs::read_dir(from).map_err(|e| error(format!("{}: {e}", from.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| error(e.to_string()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry
            .file_type()
            .map_err(|e| error(e.to_string()))?
            .is_dir()
        {
            copy_dir(&source, &target)?;
        } else {
            fs::copy(&source, &target)
                .map_err(|e| error(format!("copying {}: {e}", source.display())))?;
        }
    }
    Ok(())
}

/// tokio's manifest, renamed: the package is `sim-real-tokio`, the library
/// still `tokio`. Its tests and benches are dropped (a path dependency's
/// are never built).
fn rename_real(mut manifest: Table, package: &str) -> Table {
    let mut library = None;
    if let Some(Value::Table(table)) = manifest.get_mut("package") {
        library = table
            .get("name")
            .and_then(Value::as_str)
            .map(|name| name.replace('-', "_"));
        table.insert("name".into(), package.into());
    }
    let lib = manifest.entry("lib").or_insert_with(|| Table::new().into());
    if let (Value::Table(lib), Some(library)) = (lib, library) {
        lib.entry("name").or_insert_with(|| library.into());
    }
    for section in ["test", "bench", "example", "dev-dependencies"] {
        manifest.remove(section);
    }
    if let Some(Value::Table(targets)) = manifest.get_mut("target") {
        for (_, target) in targets.iter_mut() {
            if let Value::Table(target) = target {
                target.remove("dev-dependencies");
            }
        }
    }
    manifest
}

/// The dependencies only sim-tokio's [`LEFT_OUT`] feature enables.
fn left_out_dependencies(layer: &Table) -> Vec<String> {
    layer
        .get("features")
        .and_then(|f| f.get(LEFT_OUT))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str()?.strip_prefix("dep:"))
        .map(str::to_owned)
        .collect()
}

/// Every feature of real tokio, forwarded to it, so a crate's
/// `features = [...]` for tokio means what it always did.
fn forwarded(features: &[String]) -> Table {
    forwarded_to(features, "tokio")
}

/// Every feature of `features`, forwarded to the dependency `dep`.
fn forwarded_to(features: &[String], dep: &str) -> Table {
    let mut table = Table::new();
    table.insert("default".into(), Value::Array(Vec::new()));
    for feature in features.iter().filter(|f| *f != "default") {
        table.insert(
            feature.clone(),
            Value::Array(vec![format!("{dep}/{feature}").into()]),
        );
    }
    table
}

/// Where the generated manifests point.
struct Context<'a> {
    sim: &'a Path,
    out: &'a Path,
    /// `[workspace.package]` and `[workspace.dependencies]` of the checkout.
    package: Table,
    dependencies: Table,
}

impl<'a> Context<'a> {
    fn new(sim: &'a Path, out: &'a Path, workspace: &Table) -> Result<Context<'a>, Error> {
        let section = |name: &str| {
            workspace
                .get("workspace")
                .and_then(|w| w.get(name))
                .and_then(Value::as_table)
                .cloned()
                .ok_or_else(|| error(format!("sim's Cargo.toml has no [workspace.{name}]")))
        };
        Ok(Context {
            sim,
            out,
            package: section("package")?,
            dependencies: section("dependencies")?,
        })
    }

    /// A manifest for the package in `dir`, built from its source there:
    /// named `name` (at `version`, or the workspace's), its library at the
    /// checkout's source, its features and (non-dev) dependencies as the
    /// checkout has them, but tokio is the renamed copy and sim-net the
    /// generated one. Dependencies named in `drop` and its tests, benches
    /// and lints are left out.
    fn transplant(
        &self,
        dir: &Path,
        name: &str,
        version: Option<&str>,
        drop: &[String],
    ) -> Result<Table, Error> {
        let source = read_toml(&dir.join("Cargo.toml"))?;
        let field = |key: &str| -> Option<Value> {
            match source.get("package")?.get(key)? {
                Value::Table(t) if t.get("workspace") == Some(&Value::Boolean(true)) => {
                    self.package.get(key).cloned()
                }
                value => Some(value.clone()),
            }
        };
        let mut package = Table::new();
        package.insert("name".into(), name.into());
        let version = match version {
            Some(v) => v.into(),
            None => field("version").ok_or_else(|| error("a package without a version"))?,
        };
        package.insert("version".into(), version);
        for key in ["edition", "license", "description"] {
            if let Some(value) = field(key) {
                package.insert(key.into(), value);
            }
        }
        package.insert("publish".into(), false.into());
        for key in [
            "autobins",
            "autoexamples",
            "autotests",
            "autobenches",
            "build",
        ] {
            package.insert(key.into(), false.into());
        }

        let mut manifest = Table::new();
        manifest.insert("package".into(), package.into());
        // `cfg(sim)` and a left-out feature are expected: sim's own CI lints
        // these sources; a project building them should not see warnings.
        let lints: Table =
            toml::from_str("[rust]\nunexpected_cfgs = \"allow\"\n").expect("a constant table");
        manifest.insert("lints".into(), lints.into());
        let mut lib = Table::new();
        lib.insert("path".into(), path_value(&dir.join("src/lib.rs")));
        manifest.insert("lib".into(), lib.into());
        if let Some(Value::Table(features)) = source.get("features") {
            let mut features = features.clone();
            features.retain(|feature, enables| {
                let enables_dropped = enables.as_array().is_some_and(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .any(|e| drop.iter().any(|d| e == format!("dep:{d}")))
                });
                !enables_dropped && !drop.iter().any(|d| d == feature)
            });
            manifest.insert("features".into(), features.into());
        }
        if let Some(Value::Table(deps)) = source.get("dependencies") {
            manifest.insert(
                "dependencies".into(),
                self.dependencies(dir, deps, drop)?.into(),
            );
        }
        if let Some(Value::Table(targets)) = source.get("target") {
            let mut out = Table::new();
            for (cfg, target) in targets {
                if let Some(Value::Table(deps)) = target.get("dependencies") {
                    let mut section = Table::new();
                    section.insert(
                        "dependencies".into(),
                        self.dependencies(dir, deps, drop)?.into(),
                    );
                    out.insert(cfg.clone(), section.into());
                }
            }
            manifest.insert("target".into(), out.into());
        }
        Ok(manifest)
    }

    fn dependencies(&self, dir: &Path, deps: &Table, drop: &[String]) -> Result<Table, Error> {
        let mut out = Table::new();
        for (name, spec) in deps.iter().filter(|(name, _)| !drop.contains(*name)) {
            out.insert(name.clone(), self.dependency(dir, name, spec)?.into());
        }
        Ok(out)
    }

    /// One dependency, made to stand outside the checkout's workspace.
    fn dependency(&self, dir: &Path, name: &str, spec: &Value) -> Result<Table, Error> {
        let mut spec = as_table(spec);
        let mut base_dir = dir;
        if spec.remove("workspace") == Some(Value::Boolean(true)) {
            let inherited = self.dependencies.get(name).ok_or_else(|| {
                error(format!(
                    "`{name}` is inherited but not in [workspace.dependencies]"
                ))
            })?;
            let mut merged = as_table(inherited);
            let mut features = list(merged.get("features"));
            features.extend(list(spec.get("features")));
            for (key, value) in spec {
                merged.insert(key, value);
            }
            if !features.is_empty() {
                merged.insert("features".into(), features.into());
            }
            spec = merged;
            base_dir = self.sim;
        }
        let package = spec
            .get("package")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_owned();
        match package.as_str() {
            "tokio" => {
                spec.remove("version");
                spec.insert("package".into(), REAL.into());
                spec.insert("path".into(), path_value(&self.out.join("real-tokio")));
            }
            "sim-net" | "sim-fs" => {
                spec.remove("version");
                spec.insert("path".into(), path_value(&self.out.join(&package)));
            }
            _ => {
                if let Some(path) = spec.get("path").and_then(Value::as_str) {
                    let path = base_dir.join(path);
                    spec.remove("version");
                    spec.insert("path".into(), path_value(&path));
                }
            }
        }
        Ok(spec)
    }
}

/// A dependency spec as a table (`"1.0"` is `{ version = "1.0" }`).
fn as_table(spec: &Value) -> Table {
    match spec {
        Value::Table(table) => table.clone(),
        other => {
            let mut table = Table::new();
            table.insert("version".into(), other.clone());
            table
        }
    }
}

fn list(value: Option<&Value>) -> Vec<Value> {
    value.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// A path for a manifest, without `..` (the checkout's own dirs are
/// canonical; `src/lib.rs` under them is appended).
fn path_value(path: &Path) -> Value {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    path.display().to_string().into()
}

fn instructions(out: &Path, sim: &Path, version: &str, also: &[(&str, String)]) -> String {
    let out = out.display();
    let patches: String = also
        .iter()
        .map(|(name, _)| format!("{name} = {{ path = \"{out}/{name}\" }}\n"))
        .collect();
    let versions: String = also
        .iter()
        .map(|(name, version)| format!(", {name} {version}"))
        .collect();
    format!(
        "sim-tokio-patch: tokio {version}{versions}, routed to the simulation of {sim} under `--cfg sim`.\n\
         \n\
         Add to your workspace's root Cargo.toml (keep `tokio = \"1\"` in your dependencies as it is):\n\
         \n\
         [patch.crates-io]\n\
         tokio = {{ path = \"{out}/tokio\" }}\n\
         {patches}\
         \n\
         and depend on sim through this directory (not the checkout), so that sim and tokio\n\
         share one simulated network:\n\
         \n\
         [dev-dependencies]\n\
         sim = {{ path = \"{out}/sim\" }}\n\
         \n\
         Then `cargo test` runs on real tokio, and `RUSTFLAGS=\"--cfg sim\" cargo test` on the\n\
         simulation, your dependencies' tokio calls included.",
        sim = sim.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, Error> {
        Args::parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_are_checked() {
        assert_eq!(
            args(&["out", "--tokio", "1.47.1"]).unwrap(),
            Args {
                out: "out".into(),
                tokio: Some("1.47.1".into()),
                also: Vec::new(),
            }
        );
        assert_eq!(
            args(&["out", "--also", "futures-timer"]).unwrap().also,
            ["futures-timer"]
        );
        assert_eq!(args(&["out"]).unwrap().tokio, None);
        for (bad, says) in [
            (&["--tokio", "1.47"][..], "exact version"),
            (&["out", "--tokio"][..], "needs a version"),
            (&[][..], "missing OUT"),
            (&["out", "--fast"][..], "unknown option `--fast`"),
            (&["out", "again"][..], "unexpected argument `again`"),
            (
                &["out", "--also", "mio"][..],
                "can be patched are futures-timer",
            ),
            (&["out", "--also"][..], "needs a crate"),
        ] {
            let err = args(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn the_real_copy_is_renamed_and_keeps_its_library_name() {
        let renamed = rename_real(
            table(
                "[package]\nname = \"tokio\"\nversion = \"1.0.0\"\n[[test]]\nname = \"t\"\n\
             [dev-dependencies]\nx = \"1\"\n[target.'cfg(unix)'.dev-dependencies]\ny = \"1\"\n",
            ),
            REAL,
        );
        assert_eq!(renamed["package"]["name"].as_str(), Some(REAL));
        assert_eq!(renamed["lib"]["name"].as_str(), Some("tokio"));
        assert!(renamed.get("test").is_none() && renamed.get("dev-dependencies").is_none());
        assert!(
            renamed["target"]["cfg(unix)"]
                .get("dev-dependencies")
                .is_none()
        );
    }

    #[test]
    fn every_feature_is_forwarded() {
        let features = forwarded(&["default".into(), "net".into(), "parking_lot".into()]);
        assert_eq!(features["default"].as_array().unwrap().len(), 0);
        assert_eq!(
            features["net"].as_array().unwrap()[0].as_str(),
            Some("tokio/net")
        );
        assert_eq!(
            features["parking_lot"].as_array().unwrap()[0].as_str(),
            Some("tokio/parking_lot")
        );
    }

    #[test]
    fn a_small_crate_is_patched_over_its_renamed_self() {
        let sim = checkout().unwrap();
        let workspace = read_toml(&sim.join("Cargo.toml")).unwrap();
        let ctx = Context::new(&sim, Path::new("/generated"), &workspace).unwrap();
        let fetched = Fetched {
            dir: PathBuf::from("/registry/futures-timer-3.0.4"),
            version: "3.0.4".into(),
            features: vec!["default".into(), "wasm-bindgen".into()],
        };
        let source = sim.join("sim-tokio/patch/shims/futures_timer.rs");
        let shim = small_shim(&ctx, "futures-timer", &fetched, &source);
        assert_eq!(shim["package"]["name"].as_str(), Some("futures-timer"));
        assert_eq!(shim["package"]["version"].as_str(), Some("3.0.4"));
        assert!(Path::new(shim["lib"]["path"].as_str().unwrap()).exists());
        assert_eq!(
            shim["dependencies"]["real"]["package"].as_str(),
            Some("sim-real-futures-timer")
        );
        assert_eq!(
            shim["features"]["wasm-bindgen"].as_array().unwrap()[0].as_str(),
            Some("real/wasm-bindgen")
        );
        let runtime = shim["target"]["cfg(sim)"]["dependencies"]["sim-runtime"]["path"].as_str();
        assert!(runtime.unwrap().ends_with("sim-runtime"));
        // The renamed copy keeps its library name.
        let renamed = rename_real(
            table("[package]\nname = \"futures-timer\"\nversion = \"3.0.4\"\n"),
            "sim-real-futures-timer",
        );
        assert_eq!(renamed["lib"]["name"].as_str(), Some("futures_timer"));
    }

    /// The manifests of this checkout, transplanted: tokio is the renamed
    /// copy everywhere, sim-net and sim-fs the generated ones, workspace dependencies
    /// are spelled out, hyper's glue is left out of the patch.
    #[test]
    fn the_checkout_is_transplanted() {
        let sim = checkout().unwrap();
        let out = Path::new("/generated");
        let workspace = read_toml(&sim.join("Cargo.toml")).unwrap();
        let ctx = Context::new(&sim, out, &workspace).unwrap();

        let layer_dir = sim.join("sim-tokio");
        let layer = read_toml(&layer_dir.join("Cargo.toml")).unwrap();
        let drop = left_out_dependencies(&layer);
        assert!(drop.contains(&"hyper".to_string()), "{drop:?}");
        let shim = ctx
            .transplant(&layer_dir, "tokio", Some("1.2.3"), &drop)
            .unwrap();
        assert_eq!(shim["package"]["name"].as_str(), Some("tokio"));
        assert_eq!(shim["package"]["version"].as_str(), Some("1.2.3"));
        let lib = shim["lib"]["path"].as_str().unwrap();
        assert!(lib.ends_with("sim-tokio/src/lib.rs"), "{lib}");
        assert!(shim["dependencies"].get("hyper").is_none());
        assert!(shim["features"].get(LEFT_OUT).is_none());
        let in_sim = &shim["target"]["cfg(sim)"]["dependencies"];
        assert_eq!(in_sim["tokio"]["package"].as_str(), Some(REAL));
        assert_eq!(
            in_sim["tokio"]["path"].as_str(),
            Some("/generated/real-tokio")
        );
        assert_eq!(
            in_sim["sim-net"]["path"].as_str(),
            Some("/generated/sim-net")
        );
        assert_eq!(in_sim["sim-fs"]["path"].as_str(), Some("/generated/sim-fs"));
        let runtime = in_sim["sim-runtime"]["path"].as_str().unwrap();
        assert!(runtime.ends_with("sim-runtime") && Path::new(runtime).is_absolute());
        assert!(in_sim["futures"].get("version").is_some());

        let net = ctx
            .transplant(&sim.join("sim-net"), "sim-net", None, &[])
            .unwrap();
        assert_eq!(net["dependencies"]["tokio"]["package"].as_str(), Some(REAL));
        assert_eq!(
            net["dependencies"]["tokio"]["optional"].as_bool(),
            Some(true)
        );
        assert!(net.get("dev-dependencies").is_none());
        assert_eq!(
            net["lints"]["rust"]["unexpected_cfgs"].as_str(),
            Some("allow")
        );

        let disk = ctx
            .transplant(&sim.join("sim-fs"), "sim-fs", None, &[])
            .unwrap();
        assert_eq!(
            disk["dependencies"]["tokio"]["package"].as_str(),
            Some(REAL)
        );

        let facade = ctx.transplant(&sim, "sim", None, &[]).unwrap();
        assert_eq!(
            facade["dependencies"]["sim-fs"]["path"].as_str(),
            Some("/generated/sim-fs")
        );
        assert_eq!(
            facade["dependencies"]["sim-net"]["path"].as_str(),
            Some("/generated/sim-net")
        );
        assert!(facade.get("workspace").is_none());
        assert!(facade["features"].get("tokio").is_some());
    }
}

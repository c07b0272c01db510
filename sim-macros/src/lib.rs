//! The `#[sim::test]` attribute, re-exported by [`sim`](https://docs.rs/sim)
//! as `sim::test`.
//!
//! The attribute turns an `async fn` into an ordinary `#[test]` that runs it
//! under `sim::harness::run`: once per seed, each run on a fresh simulation
//! with its own virtual clock, and a failing run reported with the seed that
//! replays it. Its arguments are read at compile time, so a misspelled name
//! or a malformed value is a compile error pointing at it.
//!
//! # Arguments
//!
//! All are optional, in any order, separated by commas; each may be given
//! once. A missing argument leaves the harness's default.
//!
//! | argument | value | meaning |
//! |---|---|---|
//! | `seeds = 1000` | integer > 0 | How many seeds to run the test under. |
//! | `seed = 0x2a` | integer (`u64`, hex is fine) | Run exactly this seed, to replay a failure. Not together with `seeds`. |
//! | `max_time = "10m"` | duration string, > 0 | The most virtual time a run may take before it fails. |
//! | `max_steps = 1_000_000` | integer > 0 | The most polls a run may take before it fails. |
//! | `check_determinism` | bare flag | Run every seed twice and fail if the two runs' fingerprints differ. |
//! | `leaks = "deny"` | `"allow"`, `"warn"` or `"deny"` | What to do about tasks still alive when the test returns: nothing, print a warning, or fail the run. |
//! | `explore = "pct"` | `"random"` (default), `"pct"`, `"exhaustive"` or `"portfolio"` | How runs are explored: seeded random scheduling, PCT, every schedule depth first, or random and PCT in turn. |
//! | `depth = 3` | an integer from 1 to 64 | PCT's depth: how many specific orderings a bug may need (default 3). Only with `explore = "pct"` (a compile error otherwise). |
//! | `max_schedules = 100_000` | an integer greater than zero | The exhaustive search's budget of schedules (default 100,000). Only with `explore = "exhaustive"` (a compile error otherwise). |
//! | `preemption_bound = 2` | an integer | Bounds the exhaustive search to schedules with at most this many preemptions, fewest first. Only with `explore = "exhaustive"` (a compile error otherwise). |
//! | `fault_bound = 1` | an integer | Bounds the exhaustive search to schedules with at most this many faults (messages lost or duplicated, `buggify!` sites firing), fewest first, each fault tried at every place in the run, the earliest first. Only with `explore = "exhaustive"` (a compile error otherwise). |
//! | `task_panics = "join"` | `"fail"` (default) or `"join"` | What a panic in a spawned task does: fail the run, or go to its `JoinHandle` (`.await` gives a `JoinError` with `is_panic()`; as with tokio, the panic of a task whose handle was dropped is lost). |
//! | `nemesis` | bare flag | Strike every run with the built-in nemesis (`sim::nemesis`): kills and restarts, pauses, partitions, lossy and slow links, clock jumps of the nodes the test builds, a random subset of kinds per seed (swarm testing). `sim::nemesis::heal().await` stops it and repairs everything, for a liveness check. |
//!
//! A duration string is one or more `<integer><unit>` parts, added up, with
//! the units `ns`, `us`, `ms`, `s`, `m`, `h` and `d`: `"250ms"`, `"2s"`,
//! `"10m"`, `"1h30m"`. It is parsed here, at compile time.
//!
//! The function must be an `async fn` with no parameters and no generics,
//! returning `()` or a `Result<(), E>` with `E: Debug`; an `Err` fails the
//! run like a panic. Other attributes (`#[ignore]`, `#[should_panic]`, doc
//! comments, lint levels) are kept, on the generated test.
//!
//! # Expansion
//!
//! The function is kept unchanged as an item inside the generated test,
//! which passes it to the harness together with a `sim::harness::Test`
//! describing the test and the arguments given. For
//!
//! ```text
//! #[sim::test(seeds = 1000, max_time = "10m")]
//! #[ignore]
//! async fn reply_arrives() { /* body */ }
//! ```
//!
//! the output is
//!
//! ```text
//! #[::core::prelude::v1::test]
//! #[ignore]
//! fn reply_arrives() {
//!     async fn reply_arrives() { /* body */ }
//!     ::sim::harness::run(
//!         ::sim::harness::Test::new(
//!             "reply_arrives",
//!             ::core::module_path!(),
//!             ::core::file!(),
//!             ::core::env!("CARGO_PKG_NAME"),
//!             ::core::env!("CARGO_CRATE_NAME"),
//!         )
//!         .seeds(1000)
//!         .max_time(::core::time::Duration::from_nanos(600000000000)),
//!         reply_arrives,
//!     )
//! }
//! ```
//!
//! Only the arguments that were given become builder calls, in the order of
//! the table above: `.seed(42)`, `.max_steps(1000000)`,
//! `.check_determinism(true)`, `.leaks(::sim::harness::Leaks::Deny)`. The
//! call to `run` carries the span of the return type, so a return type the
//! harness does not accept is reported on it.
//!
//! Two more calls serve the replay command a failure prints: `.ignored(true)`
//! when the function has `#[ignore]` (the command adds `--include-ignored`),
//! and, when the package's `Cargo.toml` declares features,
//! `.cargo_features(&[("name", ::core::cfg!(feature = "name")), ..], &[..])`:
//! each declared feature with whether this build enabled it, and those
//! `default` enables, so the command builds the same test binary.
//!
//! # Errors
//!
//! Every mistake found is reported in one compilation, each at the token it
//! is about: an unknown argument (with the accepted ones, and a suggestion
//! when the name is close to one), a value of the wrong kind, negative, zero
//! where it must be greater than zero, too large for a `u64`, a malformed
//! duration or `leaks` value, an argument given twice, `seed` with `seeds`,
//! an argument the strategy ignores (`depth` without `explore = "pct"`,
//! `max_schedules`, `preemption_bound` or `fault_bound` without
//! `explore = "exhaustive"`), a value given to `check_determinism`, and a
//! function that is not `async`, takes parameters, is generic, `unsafe` or
//! `extern`, or already has a `#[test]` attribute. `tests/ui/` in the `sim` package pins each message.
//!
//! # Adding an argument
//!
//! The arguments are a table (`ARGS` in `args.rs`): name, kind of value,
//! the `Test` method it calls, an example for messages, the arguments it
//! excludes, and the argument value it needs to mean something. A new argument is a new row, and a new kind of value when none
//! fits; the parser, the errors and the list of accepted names follow.
#![forbid(unsafe_code)]

mod args;
mod duration;
mod error;
mod expand;
mod features;
mod select;
mod tokio;

/// Turns an `async fn` into an ordinary `#[test]` that runs it under
/// `sim::harness::run`, once per seed.
///
/// Written `#[sim::test]` or `#[sim::test(seeds = 1000, ..)]`; the
/// `sim_macros` crate docs describe the arguments, the expansion and the
/// compile errors.
#[proc_macro_attribute]
pub fn test(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::test(args.into(), item.into()).into()
}

/// `#[tokio::test]` of the tokio layer built with `--cfg sim`: tokio's
/// arguments, checked as tokio checks them, and the test run like
/// `#[sim::test]` (many seeds, failures replayable from `SIM_SEED`).
/// Re-exported as `sim_tokio::test`; not meant to be named directly.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn tokio_test(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    tokio::test(args.into(), item.into()).into()
}

/// `#[tokio::main]` of the tokio layer built with `--cfg sim`: `main` runs
/// its body on one simulation (seed from `SIM_SEED`, 0 when unset).
/// Re-exported as `sim_tokio::main`; not meant to be named directly.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn tokio_main(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    tokio::main(args.into(), item.into()).into()
}

/// The body of the tokio layer's `select!`, called by it as
/// `select_inner!($crate; ...)`: tokio's syntax, with the branch polled
/// first chosen by the simulation. Not meant to be named directly.
#[doc(hidden)]
#[proc_macro]
pub fn select_inner(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    select::expand(input.into()).into()
}

//! The messages of `#[sim::test]`'s compile errors, and a way to report
//! several at once.
//!
//! Every message says what is wrong and what to write instead. Messages that
//! start with an argument name leave it bare (`max_time must be greater than
//! zero`); everything quoted inside a sentence is in backticks.

use std::fmt::Write as _;

use crate::args::{ARGS, Spec};
use crate::duration;

/// Collects errors so that one compilation reports every mistake, not only
/// the first.
#[derive(Default)]
pub(crate) struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// `Ok(())` when nothing was recorded, else every error combined.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.first.map_or(Ok(()), Err)
    }
}

/// The accepted argument names, as "`a`, `b` and `c`".
fn accepted() -> String {
    let names: Vec<String> = ARGS.iter().map(|spec| format!("`{}`", spec.name)).collect();
    list(&names, "and")
}

/// "a", "a or b", "a, b or c" (with `last` = "or").
pub(crate) fn list(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., final_item] => format!("{} {last} {final_item}", init.join(", ")),
    }
}

/// Where an argument name was expected.
pub(crate) fn expected_argument() -> String {
    format!(
        "expected an argument, like `seeds = 1000`; `#[sim::test]` accepts {}",
        accepted()
    )
}

/// A name that is not in the table.
pub(crate) fn unknown_argument(name: &str) -> String {
    let mut message = format!("unknown argument `{name}`");
    if let Some(close) = closest(name) {
        let _ = write!(message, " (did you mean `{close}`?)");
    }
    let _ = write!(message, "; `#[sim::test]` accepts {}", accepted());
    message
}

/// An argument written a second time.
pub(crate) fn given_twice(spec: &Spec) -> String {
    format!("{} is given twice; keep one", spec.name)
}

/// Two arguments that cannot be used together.
pub(crate) fn excluded(spec: &Spec, other: &str, why: &str) -> String {
    format!(
        "{} cannot be used together with `{other}`: {why}; keep one",
        spec.name
    )
}

/// An argument that does nothing without another argument's value:
/// `name` is `what`, and needs `other = "needed"`; `chosen` is the value
/// given to `other`, if any.
pub(crate) fn needs(
    name: &str,
    what: &str,
    other: &str,
    needed: &str,
    chosen: Option<&str>,
) -> String {
    match chosen {
        None => format!(
            "{name} is {what} and does nothing without `{other} = {needed:?}`; \
             add `{other} = {needed:?}`, or remove {name}"
        ),
        Some(chosen) => format!(
            "{name} is {what} and does nothing with `{other} = {chosen:?}`; \
             write `{other} = {needed:?}`, or remove {name}"
        ),
    }
}

/// An argument that needs a value, written bare.
pub(crate) fn needs_value(spec: &Spec) -> String {
    format!("{} needs a value, like `{}`", spec.name, spec.example)
}

/// An argument whose value was written in parentheses.
pub(crate) fn needs_equals(spec: &Spec) -> String {
    format!(
        "{} takes its value after `=`, like `{}`",
        spec.name, spec.example
    )
}

/// A flag given a value.
pub(crate) fn flag_value(spec: &Spec, meaning: &str) -> String {
    format!(
        "{} is a bare flag and takes no value: write `{}` to {meaning}, or leave it out",
        spec.name, spec.example
    )
}

/// A count or a duration of zero.
pub(crate) fn zero(spec: &Spec) -> String {
    format!(
        "{} must be greater than zero, like `{}`; leave it out for the default",
        spec.name, spec.example
    )
}

/// A number above the largest the argument accepts.
pub(crate) fn above_max(spec: &Spec, max: u64) -> String {
    format!(
        "{} must be at most {max}, like `{}`; leave it out for the default",
        spec.name, spec.example
    )
}

/// A negative number; `what` is the kind of integer expected.
pub(crate) fn negative(spec: &Spec, what: &str) -> String {
    format!(
        "{} cannot be negative: write {what}, like `{}`",
        spec.name, spec.example
    )
}

/// A number larger than `u64::MAX`.
pub(crate) fn too_large(spec: &Spec) -> String {
    format!("{} does not fit in a u64", spec.name)
}

/// An integer with a suffix other than `u64`.
pub(crate) fn suffix(spec: &Spec, suffix: &str) -> String {
    format!(
        "{} is a u64: remove the `{suffix}` suffix, like `{}`",
        spec.name, spec.example
    )
}

/// A value of the wrong kind for an integer argument; `what` is the kind of
/// integer expected.
pub(crate) fn expected_integer(spec: &Spec, what: &str) -> String {
    format!("{} expects {what}, like `{}`", spec.name, spec.example)
}

/// A value of the wrong kind for a duration argument.
pub(crate) fn expected_duration(spec: &Spec) -> String {
    format!(
        "{} expects a duration string, like `{}`",
        spec.name, spec.example
    )
}

/// A duration string that does not parse.
pub(crate) fn bad_duration(spec: &Spec, text: &str, reason: &str) -> String {
    format!(
        "invalid duration {text:?} for {}: {reason}; {}",
        spec.name,
        duration::FORMS
    )
}

/// A value outside a fixed set of strings.
pub(crate) fn expected_choice(spec: &Spec, options: &[String], found: Option<&str>) -> String {
    let mut message = format!("{} expects {}", spec.name, list(options, "or"));
    match found {
        Some(found) => {
            let _ = write!(message, ", found {found:?}");
        }
        None => {
            let _ = write!(message, ", like `{}`", spec.example);
        }
    }
    message
}

/// A function that is not `async`.
pub(crate) fn not_async(name: &str) -> String {
    format!("`#[sim::test]` functions must be `async`: write `async fn {name}()`")
}

/// An `unsafe fn`.
pub(crate) const UNSAFE: &str = "`#[sim::test]` functions cannot be `unsafe`: the harness calls \
     them as a safe function; put the `unsafe` code in an `unsafe` block inside";

/// An `extern "ABI" fn`.
pub(crate) const EXTERN: &str = "`#[sim::test]` functions cannot be `extern`: the harness calls \
     them as Rust functions; remove the ABI";

/// A function with parameters.
pub(crate) const PARAMETERS: &str = "`#[sim::test]` functions take no parameters: the harness \
     calls them once per seed with no arguments; read the seed inside with `sim::seed()` and \
     draw random values with `sim::rand`";

/// A generic function.
pub(crate) const GENERICS: &str = "`#[sim::test]` functions cannot be generic: the harness calls \
     them with no type, lifetime or const arguments; use concrete types, or call a generic \
     helper from the test";

/// A function that already has a test attribute.
pub(crate) fn already_test(attribute: &str) -> String {
    format!(
        "this function already has `#[{attribute}]`, and `#[sim::test]` makes it a test itself: \
         remove `#[{attribute}]`"
    )
}

/// An item that is not a function.
pub(crate) const NOT_A_FUNCTION: &str =
    "`#[sim::test]` can only be applied to an `async fn`, like `async fn reply_arrives() {}`";

/// The accepted name closest to a misspelled one, if any is close.
fn closest(name: &str) -> Option<&'static str> {
    ARGS.iter()
        .map(|spec| (edit_distance(name, spec.name), spec.name))
        .filter(|&(distance, candidate)| distance <= 2.min(candidate.len() / 2))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        let items = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(list(&items(&["a"]), "or"), "a");
        assert_eq!(list(&items(&["a", "b"]), "or"), "a or b");
        assert_eq!(list(&items(&["a", "b", "c"]), "and"), "a, b and c");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("seeds", "seeds"), 0);
        assert_eq!(edit_distance("seed", "seeds"), 1);
        assert_eq!(edit_distance("max_step", "max_steps"), 1);
        assert_eq!(edit_distance("laeks", "leaks"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn suggestions_only_for_close_names() {
        assert_eq!(closest("seedz"), Some("seeds"));
        assert_eq!(closest("max_step"), Some("max_steps"));
        assert_eq!(closest("maxtime"), Some("max_time"));
        assert_eq!(closest("check_determinsm"), Some("check_determinism"));
        assert_eq!(closest("leak"), Some("leaks"));
        assert_eq!(closest("explor"), Some("explore"));
        assert_eq!(closest("preemptions"), None);
        assert_eq!(closest("timeout"), None);
        assert_eq!(closest("s"), None);
    }
}

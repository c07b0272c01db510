//! The arguments of `#[sim::test(..)]`: one table, one parser.
//!
//! Each argument is a row of [`ARGS`]: its name, the kind of value it takes,
//! the `sim::harness::Test` method the value is handed to, and the arguments
//! it cannot be combined with. The parser, the checks, the messages and the
//! list of accepted names all follow from the table, so a new argument is a
//! new row, plus a new [`Kind`] when none of the existing ones fits.
//!
//! Parsing happens in two steps. [`RawArgs`] reads the syntax, `name`,
//! `name = value` or `name(..)`, and stops at the first syntax error; [`apply`]
//! then checks every argument against the table and reports all the mistakes
//! it finds together.

use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, Token, UnOp, token};

use crate::duration;
use crate::error::{self, Errors};

/// One argument `#[sim::test]` accepts.
pub(crate) struct Spec {
    /// The name the user writes.
    pub(crate) name: &'static str,
    /// What the value looks like, and what it becomes in the expansion.
    pub(crate) kind: Kind,
    /// The `sim::harness::Test` builder method the value is passed to.
    pub(crate) method: &'static str,
    /// How the argument is written, for messages.
    pub(crate) example: &'static str,
    /// Arguments this one cannot be used with, each with the reason.
    pub(crate) excludes: &'static [(&'static str, &'static str)],
    /// The argument and value without which this one does nothing, with
    /// what this one is for: `depth` needs `explore = "pct"`.
    pub(crate) needs: Option<Needs>,
}

/// An argument that only means something with another argument's value.
pub(crate) struct Needs {
    /// The other argument.
    pub(crate) arg: &'static str,
    /// Its value that makes this argument mean something.
    pub(crate) value: &'static str,
    /// What the argument is, completing "`name` is ...".
    pub(crate) what: &'static str,
}

/// The kind of value an argument takes.
pub(crate) enum Kind {
    /// An integer literal greater than zero, fitting in a `u64`: `seeds = 1000`.
    Count,
    /// An integer literal from 1 to `max`: `depth = 3`.
    CountUpTo {
        /// The largest value accepted.
        max: u64,
    },
    /// Any integer literal fitting in a `u64`, hex included: `seed = 0x2a`.
    U64,
    /// A duration string greater than zero, passed as a `Duration`:
    /// `max_time = "10m"`.
    Duration,
    /// A bare flag: `check_determinism`.
    Flag {
        /// What the flag does, completing "write `name` to ...".
        meaning: &'static str,
        /// What the method is given: `true`, or a path.
        passes: &'static str,
    },
    /// One of a few strings, passed as a variant of an enum in
    /// `sim::harness`: `leaks = "deny"`.
    Choice {
        /// The enum's name in `sim::harness`.
        enum_name: &'static str,
        /// Each accepted string with the variant it stands for.
        options: &'static [(&'static str, &'static str)],
    },
}

/// Why `seed` and `seeds` exclude each other.
const ONE_SEED_OR_MANY: &str = "`seed = N` runs exactly seed N, `seeds = N` runs N seeds";

/// Every argument `#[sim::test]` accepts, in the order the expansion calls
/// their methods.
pub(crate) const ARGS: &[Spec] = &[
    Spec {
        name: "seeds",
        kind: Kind::Count,
        method: "seeds",
        example: "seeds = 1000",
        excludes: &[("seed", ONE_SEED_OR_MANY)],
        needs: None,
    },
    Spec {
        name: "seed",
        kind: Kind::U64,
        method: "seed",
        example: "seed = 0x2a",
        excludes: &[("seeds", ONE_SEED_OR_MANY)],
        needs: None,
    },
    Spec {
        name: "max_time",
        kind: Kind::Duration,
        method: "max_time",
        example: "max_time = \"10m\"",
        excludes: &[],
        needs: None,
    },
    Spec {
        name: "max_steps",
        kind: Kind::Count,
        method: "max_steps",
        example: "max_steps = 1_000_000",
        excludes: &[],
        needs: None,
    },
    Spec {
        name: "check_determinism",
        kind: Kind::Flag {
            meaning: "run every seed twice and compare the runs",
            passes: "true",
        },
        method: "check_determinism",
        example: "check_determinism",
        excludes: &[],
        needs: None,
    },
    Spec {
        name: "leaks",
        kind: Kind::Choice {
            enum_name: "Leaks",
            options: &[("allow", "Allow"), ("warn", "Warn"), ("deny", "Deny")],
        },
        method: "leaks",
        example: "leaks = \"deny\"",
        excludes: &[],
        needs: None,
    },
    Spec {
        name: "explore",
        kind: Kind::Choice {
            enum_name: "Strategy",
            options: &[
                ("random", "Random"),
                ("pct", "Pct"),
                ("exhaustive", "Exhaustive"),
                ("portfolio", "Portfolio"),
            ],
        },
        method: "explore",
        example: "explore = \"exhaustive\"",
        excludes: &[],
        needs: None,
    },
    Spec {
        name: "depth",
        // As `sim::harness::MAX_DEPTH` and `SIM_DEPTH`.
        kind: Kind::CountUpTo { max: 64 },
        method: "depth",
        example: "depth = 3",
        excludes: &[],
        needs: Some(Needs {
            arg: "explore",
            value: "pct",
            what: "PCT's depth",
        }),
    },
    Spec {
        name: "max_schedules",
        kind: Kind::Count,
        method: "max_schedules",
        example: "max_schedules = 100_000",
        excludes: &[],
        needs: Some(Needs {
            arg: "explore",
            value: "exhaustive",
            what: "the exhaustive search's budget",
        }),
    },
    Spec {
        name: "preemption_bound",
        kind: Kind::U64,
        method: "preemption_bound",
        example: "preemption_bound = 2",
        excludes: &[],
        needs: Some(Needs {
            arg: "explore",
            value: "exhaustive",
            what: "the exhaustive search's preemption bound",
        }),
    },
    Spec {
        name: "fault_bound",
        kind: Kind::U64,
        method: "fault_bound",
        example: "fault_bound = 1",
        excludes: &[],
        needs: Some(Needs {
            arg: "explore",
            value: "exhaustive",
            what: "the exhaustive search's fault bound",
        }),
    },
    Spec {
        name: "task_panics",
        kind: Kind::Choice {
            enum_name: "TaskPanics",
            options: &[("fail", "Fail"), ("join", "Join")],
        },
        method: "task_panics",
        example: "task_panics = \"join\"",
        excludes: &[],
        needs: None,
    },
    Spec {
        name: "nemesis",
        kind: Kind::Flag {
            meaning: "strike every run with the built-in nemesis (`sim::nemesis`)",
            passes: "::sim::nemesis::start_default",
        },
        method: "setup",
        example: "nemesis",
        excludes: &[],
        needs: None,
    },
];

/// The arguments as written, before they are checked against [`ARGS`].
pub(crate) struct RawArgs {
    args: Vec<RawArg>,
}

/// One argument as written.
struct RawArg {
    name: Ident,
    value: RawValue,
}

/// The value part of an argument as written.
enum RawValue {
    /// `name`
    Bare,
    /// `name = value`
    Assign(Token![=], Expr),
    /// `name(..)`, which no argument takes yet but which reads naturally
    /// enough that it deserves its own message.
    Parens(TokenTree),
}

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
            if !input.peek(Ident) {
                return Err(input.error(error::expected_argument()));
            }
            let name = input.parse()?;
            let value = if input.peek(Token![=]) {
                RawValue::Assign(input.parse()?, input.parse()?)
            } else if input.peek(token::Paren) {
                RawValue::Parens(input.parse()?)
            } else {
                RawValue::Bare
            };
            args.push(RawArg { name, value });
            if !input.is_empty() {
                if !input.peek(Token![,]) {
                    return Err(input.error("expected `,` between arguments"));
                }
                input.parse::<Token![,]>()?;
            }
        }
        Ok(RawArgs { args })
    }
}

/// Checks the arguments against [`ARGS`] and returns the builder calls they
/// stand for (`.seeds(1000)`, ...), in table order.
///
/// Every mistake is reported, combined into one error.
pub(crate) fn apply(raw: &RawArgs) -> syn::Result<Vec<TokenStream>> {
    let mut errors = Errors::default();
    let mut given: Vec<usize> = Vec::new();
    let mut calls: Vec<(usize, TokenStream)> = Vec::new();
    // The string value of each argument given one, by table index.
    let mut strings: Vec<(usize, String)> = Vec::new();
    for arg in &raw.args {
        let name = arg.name.to_string();
        let Some(index) = ARGS.iter().position(|spec| spec.name == name) else {
            errors.push(syn::Error::new(
                arg.name.span(),
                error::unknown_argument(&name),
            ));
            continue;
        };
        let spec = &ARGS[index];
        if given.contains(&index) {
            errors.push(syn::Error::new(arg.name.span(), error::given_twice(spec)));
            continue;
        }
        for &(other, why) in spec.excludes {
            if given.iter().any(|&i| ARGS[i].name == other) {
                let message = error::excluded(spec, other, why);
                errors.push(syn::Error::new(arg.name.span(), message));
            }
        }
        given.push(index);
        if let RawValue::Assign(_, expr) = &arg.value {
            if let Some(Lit::Str(text)) = literal(expr) {
                strings.push((index, text.value()));
            }
        }
        match value(spec, arg) {
            Ok(value) => {
                let method = Ident::new(spec.method, Span::call_site());
                calls.push((index, quote!(.#method(#value))));
            }
            Err(error) => errors.push(error),
        }
    }
    // Arguments that the chosen strategy ignores would do nothing.
    for arg in &raw.args {
        let name = arg.name.to_string();
        let Some(Needs {
            arg: other,
            value: needed,
            what,
        }) = ARGS
            .iter()
            .find(|spec| spec.name == name)
            .and_then(|spec| spec.needs.as_ref())
        else {
            continue;
        };
        let other_index = ARGS.iter().position(|spec| spec.name == *other);
        let chosen = strings
            .iter()
            .find(|(index, _)| Some(*index) == other_index)
            .map(|(_, value)| value.as_str());
        if chosen != Some(*needed) {
            let message = error::needs(&name, what, other, needed, chosen);
            errors.push(syn::Error::new(arg.name.span(), message));
        }
    }
    errors.finish()?;
    calls.sort_by_key(|&(index, _)| index);
    Ok(calls.into_iter().map(|(_, call)| call).collect())
}

/// The expression an argument's value becomes, spanned at the user's value
/// so that a type error downstream points at it.
fn value(spec: &Spec, arg: &RawArg) -> syn::Result<TokenStream> {
    match (&spec.kind, &arg.value) {
        (Kind::Flag { passes, .. }, RawValue::Bare) => Ok(passes
            .parse()
            .unwrap_or_else(|_| unreachable!("`passes` is valid Rust"))),
        (Kind::Flag { meaning, .. }, RawValue::Assign(eq, expr)) => Err(syn::Error::new_spanned(
            quote!(#eq #expr),
            error::flag_value(spec, meaning),
        )),
        (Kind::Flag { meaning, .. }, RawValue::Parens(group)) => Err(syn::Error::new_spanned(
            group,
            error::flag_value(spec, meaning),
        )),
        (_, RawValue::Bare) => Err(syn::Error::new(arg.name.span(), error::needs_value(spec))),
        (_, RawValue::Parens(group)) => {
            Err(syn::Error::new_spanned(group, error::needs_equals(spec)))
        }
        (Kind::Count, RawValue::Assign(_, expr)) => {
            let (n, span) = integer(spec, expr, "an integer literal greater than zero")?;
            if n == 0 {
                return Err(syn::Error::new(span, error::zero(spec)));
            }
            Ok(spanned(Literal::u64_unsuffixed(n), span))
        }
        (Kind::CountUpTo { max }, RawValue::Assign(_, expr)) => {
            let (n, span) = integer(spec, expr, "an integer literal greater than zero")?;
            if n == 0 {
                return Err(syn::Error::new(span, error::zero(spec)));
            }
            if n > *max {
                return Err(syn::Error::new(span, error::above_max(spec, *max)));
            }
            Ok(spanned(Literal::u64_unsuffixed(n), span))
        }
        (Kind::U64, RawValue::Assign(_, expr)) => {
            let (n, span) = integer(spec, expr, "an integer literal (a u64; hex is fine)")?;
            Ok(spanned(Literal::u64_unsuffixed(n), span))
        }
        (Kind::Duration, RawValue::Assign(_, expr)) => {
            let Some(Lit::Str(text)) = literal(expr) else {
                return Err(syn::Error::new_spanned(
                    expr,
                    error::expected_duration(spec),
                ));
            };
            let nanos = duration::parse(&text.value()).map_err(|reason| {
                syn::Error::new(
                    text.span(),
                    error::bad_duration(spec, &text.value(), &reason),
                )
            })?;
            if nanos == 0 {
                return Err(syn::Error::new(text.span(), error::zero(spec)));
            }
            let nanos = spanned(Literal::u64_unsuffixed(nanos), text.span());
            Ok(quote!(::core::time::Duration::from_nanos(#nanos)))
        }
        (Kind::Choice { enum_name, options }, RawValue::Assign(_, expr)) => {
            let quoted: Vec<String> = options.iter().map(|(s, _)| format!("{s:?}")).collect();
            let Some(Lit::Str(text)) = literal(expr) else {
                let message = error::expected_choice(spec, &quoted, None);
                return Err(syn::Error::new_spanned(expr, message));
            };
            let chosen = text.value();
            let Some(&(_, variant)) = options.iter().find(|(s, _)| *s == chosen) else {
                let message = error::expected_choice(spec, &quoted, Some(&chosen));
                return Err(syn::Error::new(text.span(), message));
            };
            let enum_name = Ident::new(enum_name, Span::call_site());
            let variant = Ident::new(variant, text.span());
            Ok(quote!(::sim::harness::#enum_name::#variant))
        }
    }
}

/// A `u64` integer literal, with its span; `what` is the kind of integer
/// expected, for the messages.
fn integer(spec: &Spec, expr: &Expr, what: &str) -> syn::Result<(u64, Span)> {
    if let Expr::Unary(ExprUnary {
        op: UnOp::Neg(_),
        expr: inner,
        ..
    }) = expr
    {
        if let Some(Lit::Int(_)) = literal(inner) {
            return Err(syn::Error::new_spanned(expr, error::negative(spec, what)));
        }
    }
    let Some(Lit::Int(int)) = literal(expr) else {
        return Err(syn::Error::new_spanned(
            expr,
            error::expected_integer(spec, what),
        ));
    };
    if !matches!(int.suffix(), "" | "u64") {
        return Err(syn::Error::new(
            int.span(),
            error::suffix(spec, int.suffix()),
        ));
    }
    match int.base10_parse::<u64>() {
        Ok(n) => Ok((n, int.span())),
        Err(_) => Err(syn::Error::new(int.span(), error::too_large(spec))),
    }
}

/// The literal an expression is, if it is one.
fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        // A `$value:literal` passed through a `macro_rules!` arrives wrapped
        // in an invisible group.
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

/// A literal with the span of the user's token.
fn spanned(mut literal: Literal, span: Span) -> TokenStream {
    literal.set_span(span);
    literal.into_token_stream()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builder calls for `args`, as a string of tokens.
    fn calls(args: &str) -> String {
        let raw: RawArgs = syn::parse_str(args).expect("syntax");
        let calls = apply(&raw).expect("valid arguments");
        quote!(#(#calls)*).to_string()
    }

    /// Every error message for `args`, in order.
    fn errors(args: &str) -> Vec<String> {
        let raw: RawArgs = syn::parse_str(args).expect("syntax");
        let Err(error) = apply(&raw) else {
            panic!("`{args}` was accepted");
        };
        error.into_iter().map(|e| e.to_string()).collect()
    }

    /// The one error message for `args`.
    fn error(args: &str) -> String {
        let mut all = errors(args);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    /// The syntax error for `args`.
    fn syntax_error(args: &str) -> String {
        match syn::parse_str::<RawArgs>(args) {
            Ok(_) => panic!("`{args}` parsed"),
            Err(error) => error.to_string(),
        }
    }

    const ACCEPTED: &str = "`#[sim::test]` accepts `seeds`, `seed`, `max_time`, `max_steps`, \
        `check_determinism`, `leaks`, `explore`, `depth`, `max_schedules`, `preemption_bound`, \
        `fault_bound`, `task_panics` and `nemesis`";

    #[test]
    fn no_arguments_no_calls() {
        assert_eq!(calls(""), "");
    }

    #[test]
    fn each_argument_becomes_its_call() {
        assert_eq!(calls("seeds = 1000"), quote!(.seeds(1000)).to_string());
        assert_eq!(calls("seeds = 1_000u64"), quote!(.seeds(1000)).to_string());
        assert_eq!(calls("seed = 0x2a"), quote!(.seed(42)).to_string());
        assert_eq!(calls("seed = 0"), quote!(.seed(0)).to_string());
        assert_eq!(
            calls("seed = 18446744073709551615"),
            quote!(.seed(18446744073709551615)).to_string()
        );
        assert_eq!(
            calls("max_time = \"10m\""),
            quote!(.max_time(::core::time::Duration::from_nanos(600000000000))).to_string()
        );
        assert_eq!(
            calls("max_steps = 1_000_000"),
            quote!(.max_steps(1000000)).to_string()
        );
        assert_eq!(
            calls("check_determinism"),
            quote!(.check_determinism(true)).to_string()
        );
        for (text, variant) in [("allow", "Allow"), ("warn", "Warn"), ("deny", "Deny")] {
            let variant = Ident::new(variant, Span::call_site());
            assert_eq!(
                calls(&format!("leaks = {text:?}")),
                quote!(.leaks(::sim::harness::Leaks::#variant)).to_string()
            );
        }
    }

    #[test]
    fn calls_follow_the_table_order() {
        assert_eq!(
            calls(
                "leaks = \"warn\", check_determinism, max_steps = 5, max_time = \"1s\", seeds = 3,"
            ),
            quote!(
                .seeds(3)
                .max_time(::core::time::Duration::from_nanos(1000000000))
                .max_steps(5)
                .check_determinism(true)
                .leaks(::sim::harness::Leaks::Warn)
            )
            .to_string()
        );
    }

    #[test]
    fn every_argument_has_a_distinct_name_and_valid_exclusions() {
        for (i, spec) in ARGS.iter().enumerate() {
            assert!(ARGS[..i].iter().all(|other| other.name != spec.name));
            for (other, _) in spec.excludes {
                let other = ARGS.iter().find(|s| s.name == *other).expect("known");
                assert!(
                    other.excludes.iter().any(|(name, _)| *name == spec.name),
                    "{} excludes {} but not the other way round",
                    spec.name,
                    other.name
                );
            }
        }
    }

    #[test]
    fn unknown_arguments_list_the_accepted_ones() {
        assert_eq!(
            error("timeout = \"1s\""),
            format!("unknown argument `timeout`; {ACCEPTED}")
        );
        assert_eq!(
            error("seedz = 3"),
            format!("unknown argument `seedz` (did you mean `seeds`?); {ACCEPTED}")
        );
        assert_eq!(
            error("max_step = 3"),
            format!("unknown argument `max_step` (did you mean `max_steps`?); {ACCEPTED}")
        );
    }

    #[test]
    fn exploration_arguments() {
        assert_eq!(
            calls("explore = \"pct\", depth = 2"),
            quote!(.explore(::sim::harness::Strategy::Pct).depth(2)).to_string()
        );
        assert_eq!(
            calls("explore = \"exhaustive\", max_schedules = 5000, preemption_bound = 0"),
            quote!(
                .explore(::sim::harness::Strategy::Exhaustive)
                .max_schedules(5000)
                .preemption_bound(0)
            )
            .to_string()
        );
        assert_eq!(
            calls("fault_bound = 2, explore = \"exhaustive\", preemption_bound = 1"),
            quote!(
                .explore(::sim::harness::Strategy::Exhaustive)
                .preemption_bound(1)
                .fault_bound(2)
            )
            .to_string()
        );
        assert_eq!(
            error("explore = \"random\", fault_bound = 1"),
            "fault_bound is the exhaustive search's fault bound and does nothing with \
             `explore = \"random\"`; write `explore = \"exhaustive\"`, or remove fault_bound"
        );
        assert_eq!(
            error("explore = \"dfs\""),
            "explore expects \"random\", \"pct\", \"exhaustive\" or \"portfolio\", found \"dfs\""
        );
        assert_eq!(
            error("explore = \"pct\", depth = 0"),
            "depth must be greater than zero, like `depth = 3`; leave it out for the default"
        );
        assert_eq!(
            calls("explore = \"pct\", depth = 64"),
            quote!(.explore(::sim::harness::Strategy::Pct).depth(64)).to_string()
        );
        assert_eq!(
            error("explore = \"pct\", depth = 65"),
            "depth must be at most 64, like `depth = 3`; leave it out for the default"
        );
    }

    #[test]
    fn arguments_the_strategy_ignores_are_errors() {
        assert_eq!(
            error("depth = 2"),
            "depth is PCT's depth and does nothing without `explore = \"pct\"`; \
             add `explore = \"pct\"`, or remove depth"
        );
        assert_eq!(
            error("explore = \"portfolio\", depth = 2"),
            "depth is PCT's depth and does nothing with `explore = \"portfolio\"`; \
             write `explore = \"pct\"`, or remove depth"
        );
        assert_eq!(
            error("max_schedules = 10"),
            "max_schedules is the exhaustive search's budget and does nothing without \
             `explore = \"exhaustive\"`; add `explore = \"exhaustive\"`, or remove max_schedules"
        );
        assert_eq!(
            errors("explore = \"pct\", preemption_bound = 1, max_schedules = 5"),
            [
                "preemption_bound is the exhaustive search's preemption bound and does nothing \
                 with `explore = \"pct\"`; write `explore = \"exhaustive\"`, or remove \
                 preemption_bound",
                "max_schedules is the exhaustive search's budget and does nothing with \
                 `explore = \"pct\"`; write `explore = \"exhaustive\"`, or remove max_schedules"
            ]
        );
    }

    #[test]
    fn task_panics_is_fail_or_join() {
        assert_eq!(
            calls("task_panics = \"join\""),
            quote!(.task_panics(::sim::harness::TaskPanics::Join)).to_string()
        );
        assert_eq!(
            error("task_panics = \"ignore\""),
            "task_panics expects \"fail\" or \"join\", found \"ignore\""
        );
    }

    #[test]
    fn counts_must_be_integers_greater_than_zero() {
        assert_eq!(
            error("seeds = 0"),
            "seeds must be greater than zero, like `seeds = 1000`; leave it out for the default"
        );
        assert_eq!(
            error("max_steps = 0"),
            "max_steps must be greater than zero, like `max_steps = 1_000_000`; \
             leave it out for the default"
        );
        assert_eq!(
            error("seeds = -5"),
            "seeds cannot be negative: write an integer literal greater than zero, \
             like `seeds = 1000`"
        );
        let wrong_kind = "seeds expects an integer literal greater than zero, like `seeds = 1000`";
        assert_eq!(error("seeds = \"1000\""), wrong_kind);
        assert_eq!(error("seeds = 1e3"), wrong_kind);
        assert_eq!(error("seeds = N"), wrong_kind);
        assert_eq!(error("seeds = 10 * 10"), wrong_kind);
        assert_eq!(
            error("seeds = 18446744073709551616"),
            "seeds does not fit in a u64"
        );
        assert_eq!(
            error("seeds = 10i32"),
            "seeds is a u64: remove the `i32` suffix, like `seeds = 1000`"
        );
    }

    #[test]
    fn seeds_are_u64_literals() {
        assert_eq!(
            error("seed = -1"),
            "seed cannot be negative: write an integer literal (a u64; hex is fine), \
             like `seed = 0x2a`"
        );
        assert_eq!(
            error("seed = \"0x2a\""),
            "seed expects an integer literal (a u64; hex is fine), like `seed = 0x2a`"
        );
        assert_eq!(
            error("seed = 0x1_0000_0000_0000_0000"),
            "seed does not fit in a u64"
        );
    }

    #[test]
    fn durations_are_checked_at_compile_time() {
        assert_eq!(
            calls("max_time = \"1h30m\""),
            quote!(.max_time(::core::time::Duration::from_nanos(5400000000000))).to_string()
        );
        assert_eq!(
            error("max_time = \"0s\""),
            "max_time must be greater than zero, like `max_time = \"10m\"`; \
             leave it out for the default"
        );
        assert_eq!(
            error("max_time = \"10 minutes\""),
            "invalid duration \"10 minutes\" for max_time: expected a unit after `10`, found ` `; \
             write one or more `<integer><unit>` parts with the units ns, us, ms, s, m, h and d, \
             like \"10m\", \"1h30m\" or \"250ms\""
        );
        assert!(error("max_time = \"10min\"").contains(": `min` is not a unit; write one or more"));
        let wrong_kind = "max_time expects a duration string, like `max_time = \"10m\"`";
        assert_eq!(error("max_time = 600"), wrong_kind);
        assert_eq!(error("max_time = 10m"), wrong_kind);
        assert_eq!(error("max_time = Duration::from_secs(1)"), wrong_kind);
    }

    #[test]
    fn check_determinism_is_a_bare_flag() {
        let message = "check_determinism is a bare flag and takes no value: write \
            `check_determinism` to run every seed twice and compare the runs, or leave it out";
        assert_eq!(error("check_determinism = true"), message);
        assert_eq!(error("check_determinism(true)"), message);
    }

    #[test]
    fn leaks_is_one_of_three_strings() {
        assert_eq!(
            error("leaks = \"strict\""),
            "leaks expects \"allow\", \"warn\" or \"deny\", found \"strict\""
        );
        assert_eq!(
            error("leaks = \"Deny\""),
            "leaks expects \"allow\", \"warn\" or \"deny\", found \"Deny\""
        );
        assert_eq!(
            error("leaks = deny"),
            "leaks expects \"allow\", \"warn\" or \"deny\", like `leaks = \"deny\"`"
        );
    }

    #[test]
    fn values_are_written_after_an_equals_sign() {
        assert_eq!(error("seeds"), "seeds needs a value, like `seeds = 1000`");
        assert_eq!(
            error("leaks"),
            "leaks needs a value, like `leaks = \"deny\"`"
        );
        assert_eq!(
            error("seeds(1000)"),
            "seeds takes its value after `=`, like `seeds = 1000`"
        );
    }

    #[test]
    fn arguments_given_twice_or_together_are_errors() {
        assert_eq!(
            error("seeds = 1, seeds = 2"),
            "seeds is given twice; keep one"
        );
        assert_eq!(
            error("check_determinism, check_determinism"),
            "check_determinism is given twice; keep one"
        );
        assert_eq!(
            error("seed = 1, seeds = 2"),
            "seeds cannot be used together with `seed`: `seed = N` runs exactly seed N, \
             `seeds = N` runs N seeds; keep one"
        );
        assert_eq!(
            error("seeds = 2, seed = 1"),
            "seed cannot be used together with `seeds`: `seed = N` runs exactly seed N, \
             `seeds = N` runs N seeds; keep one"
        );
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        assert_eq!(
            errors("seedz = 1, seeds = 0, max_time = \"soon\", seeds = 2, leaks = \"no\""),
            [
                format!("unknown argument `seedz` (did you mean `seeds`?); {ACCEPTED}"),
                "seeds must be greater than zero, like `seeds = 1000`; leave it out for the default"
                    .to_owned(),
                format!(
                    "invalid duration \"soon\" for max_time: expected a number at `soon`; {}",
                    duration::FORMS
                ),
                "seeds is given twice; keep one".to_owned(),
                "leaks expects \"allow\", \"warn\" or \"deny\", found \"no\"".to_owned(),
            ]
        );
    }

    #[test]
    fn syntax_errors_stop_the_parse() {
        assert_eq!(
            syntax_error("1000"),
            format!("expected an argument, like `seeds = 1000`; {ACCEPTED}")
        );
        assert_eq!(
            syntax_error("seeds = 1 seed = 2"),
            "expected `,` between arguments"
        );
        assert_eq!(
            syntax_error("seeds ="),
            "unexpected end of input, expected an expression"
        );
    }
}

//! `#[tokio::main]` and `#[tokio::test]` for the tokio layer built with
//! `--cfg sim`: the same arguments as tokio's, checked the same way, and the
//! function run on a simulation instead of a tokio runtime.
//!
//! tokio's arguments choose a scheduler flavor, a thread count and whether
//! time starts paused. A simulation has one answer to each (one thread,
//! virtual time that never runs on its own), so the arguments are validated
//! (the source must also build against real tokio) and have nothing left to
//! configure. `crate = "path"` names the tokio layer when it is not `tokio`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, Meta, Path, Token};

use crate::expand;

/// The tokio arguments understood, with the values each accepts.
fn check(args: TokenStream, is_test: bool) -> syn::Result<Path> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut krate: Path = syn::parse_quote!(::tokio);
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            return Err(syn::Error::new_spanned(
                &meta,
                "expected `name = value`: tokio's arguments are `flavor`, `worker_threads`, \
                 `start_paused`, `crate` and `unhandled_panic`",
            ));
        };
        let name = nv
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let lit = match &nv.value {
            Expr::Lit(ExprLit { lit, .. }) => lit,
            other => {
                return Err(syn::Error::new_spanned(other, "expected a literal value"));
            }
        };
        match (name.as_str(), lit) {
            ("flavor", Lit::Str(s))
                if matches!(
                    s.value().as_str(),
                    "current_thread" | "multi_thread" | "local"
                ) => {}
            ("flavor", _) => {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`flavor` is \"current_thread\", \"multi_thread\" or \"local\"",
                ));
            }
            ("worker_threads", Lit::Int(i)) if i.base10_parse::<usize>().is_ok_and(|n| n > 0) => {}
            ("worker_threads", _) => {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`worker_threads` is an integer greater than zero",
                ));
            }
            ("start_paused", Lit::Bool(_)) => {}
            ("start_paused", _) => {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`start_paused` is `true` or `false`",
                ));
            }
            ("unhandled_panic", Lit::Str(s))
                if matches!(s.value().as_str(), "ignore" | "shutdown_runtime") => {}
            ("unhandled_panic", _) => {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`unhandled_panic` is \"ignore\" or \"shutdown_runtime\"",
                ));
            }
            ("crate", Lit::Str(s)) => krate = s.parse()?,
            ("crate", _) => {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`crate` is a path in a string: `crate = \"my_tokio\"`",
                ));
            }
            _ => {
                let what = if is_test {
                    "tokio::test"
                } else {
                    "tokio::main"
                };
                return Err(syn::Error::new_spanned(
                    &nv.path,
                    format!(
                        "unknown argument of `#[{what}]`: the accepted ones are `flavor`, \
                         `worker_threads`, `start_paused`, `crate` and `unhandled_panic`. \
                         Settings of the simulation (seeds, limits, exploration) come from the \
                         `SIM_*` environment variables"
                    ),
                ));
            }
        }
    }
    Ok(krate)
}

/// `#[tokio::test]`: an ordinary test that runs the function under the
/// sim harness (many seeds, replayable failures), like `#[sim::test]`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let krate = match check(args, true) {
        Ok(krate) => krate,
        Err(err) => return err.into_compile_error(),
    };
    match expand::function(item) {
        Ok(function) => expand::emit(function, &[], &quote!(#krate::__private::sim)),
        Err(err) => err.into_compile_error(),
    }
}

/// `#[tokio::main]`: `main` runs its body on one simulation whose seed
/// comes from `SIM_SEED` (0 when unset).
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let krate = match check(args, false) {
        Ok(krate) => krate,
        Err(err) => return err.into_compile_error(),
    };
    let function = match syn::parse2::<syn::ItemFn>(item) {
        Ok(function) => function,
        Err(err) => return err.into_compile_error(),
    };
    if function.sig.asyncness.is_none() {
        return syn::Error::new_spanned(
            function.sig.fn_token,
            "`#[tokio::main]` goes on an `async fn`",
        )
        .into_compile_error();
    }
    let syn::ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    sig.asyncness = None;
    quote! {
        #(#attrs)*
        #vis #sig {
            #krate::__private::run_main(async move #block)
        }
    }
}

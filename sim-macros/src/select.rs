//! `select!` for the tokio layer: tokio's syntax and semantics, with the
//! branch polled first chosen by the simulation (a decision on the tape).
//!
//! Input, as the tokio layer's `select!` forwards it:
//! `<crate path>; [biased;] <branch>,* [else => <expr>]`, where a branch is
//! `<pattern> = <future> [, if <precondition>] => <handler>`.
//!
//! The expansion evaluates every precondition and every future expression in
//! branch order (as tokio does: a disabled branch's future is created but
//! never polled), then polls the enabled futures starting at the branch the
//! simulation picks (`biased;`: the first), rotating. The first that
//! completes with a value matching its pattern wins; one whose value does
//! not match is disabled. The futures are dropped before the winning handler
//! runs, so handlers may use what the futures borrowed, and `return`,
//! `break`, `continue` and `?` in a handler act on the enclosing function
//! or loop.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat, Path, Token};

struct Branch {
    pat: Pat,
    future: Expr,
    condition: Option<Expr>,
    handler: Expr,
}

struct Select {
    krate: Path,
    biased: bool,
    branches: Vec<Branch>,
    otherwise: Option<Expr>,
}

impl Parse for Select {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let krate = if input.peek(Token![$]) {
            // `$crate` arrives as a single identifier from macro_rules; accept
            // the two-token spelling too.
            input.parse::<Token![$]>()?;
            let ident: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            Path::from(ident)
        } else {
            Path::parse_mod_style(input)?
        };
        input.parse::<Token![;]>()?;
        let biased = if input.peek(syn::Ident) && input.fork().parse::<syn::Ident>()? == "biased" {
            input.parse::<syn::Ident>()?;
            input.parse::<Token![;]>()?;
            true
        } else {
            false
        };
        let mut branches = Vec::new();
        let mut otherwise = None;
        while !input.is_empty() {
            if input.peek(Token![else]) {
                input.parse::<Token![else]>()?;
                input.parse::<Token![=>]>()?;
                otherwise = Some(input.parse::<Expr>()?);
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
                if !input.is_empty() {
                    return Err(input.error("the `else` branch of `select!` must come last"));
                }
                break;
            }
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>()?;
            let future = input.call(Expr::parse_without_eager_brace)?;
            let condition = if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            input.parse::<Token![=>]>()?;
            let handler = input.parse::<Expr>()?;
            let is_block = matches!(handler, Expr::Block(_));
            if input.is_empty() {
            } else if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else if !is_block {
                return Err(input.error("expected `,` after a `select!` branch's handler"));
            }
            branches.push(Branch {
                pat,
                future,
                condition,
                handler,
            });
        }
        if branches.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "`select!` needs at least one branch: `<pattern> = <future> => <handler>`",
            ));
        }
        if branches.len() > 64 {
            return Err(syn::Error::new(
                Span::call_site(),
                "`select!` takes at most 64 branches",
            ));
        }
        Ok(Select {
            krate,
            biased,
            branches,
            otherwise,
        })
    }
}

/// Removes `mut` and `ref` from bindings, so a pattern can be tested against
/// a reference to the value before the value is moved into it.
struct Clean;

impl VisitMut for Clean {
    fn visit_pat_ident_mut(&mut self, pat: &mut syn::PatIdent) {
        pat.mutability = None;
        pat.by_ref = None;
        syn::visit_mut::visit_pat_ident_mut(self, pat);
    }
}

/// Expands the tokio layer's `select!`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Select>(input) {
        Ok(select) => emit(select),
        Err(err) => err.into_compile_error(),
    }
}

fn emit(select: Select) -> TokenStream {
    let Select {
        krate,
        biased,
        branches,
        otherwise,
    } = select;
    let n = branches.len();
    let futures: Vec<_> = (0..n).map(|i| format_ident!("__sim_future_{i}")).collect();
    let variants: Vec<_> = (0..n).map(|i| format_ident!("_{i}")).collect();
    let types: Vec<_> = (0..n).map(|i| format_ident!("__T{i}")).collect();

    let setup = branches
        .iter()
        .zip(&futures)
        .enumerate()
        .map(|(i, (b, f))| {
            let condition = b
                .condition
                .as_ref()
                .map_or_else(|| quote!(true), |c| quote!(#c));
            let future = &b.future;
            quote! {
                if !(#condition) {
                    __sim_disabled |= 1u64 << #i;
                }
                let mut #f = ::core::pin::pin!(::core::future::IntoFuture::into_future(#future));
            }
        });

    let arms = branches
        .iter()
        .zip(&futures)
        .zip(&variants)
        .enumerate()
        .map(|(i, ((b, f), v))| {
            let mut clean = b.pat.clone();
            Clean.visit_pat_mut(&mut clean);
            quote! {
                #i => {
                    let __sim_out = match ::core::future::Future::poll(#f.as_mut(), __sim_cx) {
                        ::core::task::Poll::Ready(out) => out,
                        ::core::task::Poll::Pending => {
                            __sim_pending = true;
                            continue;
                        }
                    };
                    __sim_disabled |= 1u64 << #i;
                    #[allow(unused_variables, unused_mut, unreachable_patterns, clippy::match_single_binding)]
                    match &__sim_out {
                        #clean => {}
                        _ => continue,
                    }
                    return ::core::task::Poll::Ready(__SimSelect::#v(__sim_out));
                }
            }
        });

    let handlers = branches.iter().zip(&variants).map(|(b, v)| {
        let pat = &b.pat;
        let handler = &b.handler;
        quote!(__SimSelect::#v(#pat) => #handler,)
    });
    let otherwise = match otherwise {
        Some(expr) => quote!(#expr),
        None => quote!(::core::panic!(
            "all branches of `select!` are disabled (their preconditions were false or their \
             patterns did not match) and there is no `else` branch"
        )),
    };
    let start = if biased {
        quote!(0usize)
    } else {
        quote!(#krate::__private::select_start(#n, __sim_disabled))
    };

    quote! {{
        enum __SimSelect<#(#types),*> {
            #(#variants(#types),)*
            __Disabled,
        }
        let mut __sim_disabled: u64 = 0;
        #(#setup)*
        let __sim_output = ::core::future::poll_fn(|__sim_cx| {
            let __sim_start: usize = #start;
            let mut __sim_pending = false;
            for __sim_i in 0..#n {
                let __sim_branch = (__sim_start + __sim_i) % #n;
                if __sim_disabled & (1u64 << __sim_branch) != 0 {
                    continue;
                }
                match __sim_branch {
                    #(#arms)*
                    _ => ::core::unreachable!(),
                }
            }
            if __sim_pending {
                ::core::task::Poll::Pending
            } else {
                ::core::task::Poll::Ready(__SimSelect::__Disabled)
            }
        })
        .await;
        #[allow(unreachable_patterns)]
        match __sim_output {
            #(#handlers)*
            __SimSelect::__Disabled => #otherwise,
            _ => ::core::unreachable!("`select!` checked the pattern before choosing the branch"),
        }
    }}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tokio_syntax() {
        let s: Select = syn::parse2(quote! {
            ::tokio; biased;
            Some(v) = rx.recv(), if open => { v }
            _ = sleep(d) => 0,
            else => 1,
        })
        .unwrap();
        assert!(s.biased);
        assert_eq!(s.branches.len(), 2);
        assert!(s.branches[0].condition.is_some());
        assert!(s.otherwise.is_some());
    }

    #[test]
    fn a_missing_comma_after_an_expression_handler_is_an_error() {
        let err = syn::parse2::<Select>(quote! { k; a = f => 1 b = g => 2 })
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected `,`"), "{err}");
    }
}

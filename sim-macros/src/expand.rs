//! The expansion of `#[sim::test]`: check the function, then wrap it in an
//! ordinary `#[test]` that hands it to `sim::harness::run`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{Attribute, ItemFn, ReturnType};

use crate::args::{self, RawArgs};
use crate::error::{self, Errors};
use crate::features;

/// Expands `#[sim::test(args)] item`, or returns the compile errors it has.
///
/// Mistakes in the arguments and in the function are all reported at once.
/// On error nothing but the errors is emitted: the function is not a test
/// until they are fixed, and emitting it anyway would only add errors about
/// an `async fn` marked `#[test]`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let calls = syn::parse2::<RawArgs>(args).and_then(|raw| args::apply(&raw));
    let function = function(item);
    match (calls, function) {
        (Ok(calls), Ok(function)) => emit(function, &calls, &quote!(::sim)),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            first.into_compile_error()
        }
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error.into_compile_error(),
    }
}

/// Parses the item and checks that it is a function the harness can call.
pub(crate) fn function(item: TokenStream) -> syn::Result<ItemFn> {
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        // Another kind of item: say what the attribute goes on, where `fn`
        // was expected. Anything else is a syntax error rustc reports better.
        Err(not_fn) => match syn::parse2::<syn::Item>(item) {
            Ok(_) => return Err(syn::Error::new(not_fn.span(), error::NOT_A_FUNCTION)),
            Err(_) => return Err(not_fn),
        },
    };
    let mut errors = Errors::default();
    for attr in &function.attrs {
        if let Some(path) = test_attribute(attr) {
            errors.push(syn::Error::new_spanned(attr, error::already_test(&path)));
        }
    }
    let sig = &function.sig;
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(unsafety, error::UNSAFE));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(abi, error::EXTERN));
    }
    if sig.asyncness.is_none() {
        let name = sig.ident.unraw().to_string();
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            error::not_async(&name),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&sig.generics, error::GENERICS));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(where_clause, error::GENERICS));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let inputs = sig.paren_token.span.join();
        errors.push(syn::Error::new(inputs, error::PARAMETERS));
    }
    errors.finish()?;
    Ok(function)
}

/// The path of a test attribute (`test`, `core::prelude::v1::test`,
/// `tokio::test`, ...), written as the user wrote it.
///
/// Any attribute whose last segment is `test` makes the function a test for
/// some harness, and a function is run by one harness only.
fn test_attribute(attr: &Attribute) -> Option<String> {
    let path = attr.path();
    if path.segments.last()?.ident != "test" {
        return None;
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let leading = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    Some(format!("{leading}{}", segments.join("::")))
}

/// The test: the user's function, unchanged but for its visibility and
/// attributes, inside an ordinary `#[test]` that runs it under the harness
/// (`root` is the path of the crate with the `harness` module: `::sim`).
pub(crate) fn emit(function: ItemFn, calls: &[TokenStream], root: &TokenStream) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let name = &sig.ident;
    let test_name = name.unraw().to_string();
    // The call to the harness carries the span of the return type, so that a
    // return type the harness cannot judge (neither `()` nor a
    // `Result<(), E>`) is reported there rather than on the attribute.
    let span = match &sig.output {
        ReturnType::Default => Span::call_site(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    // The replay command must run the test even when it is ignored, and
    // build it with the features this build has.
    let ignored = attrs
        .iter()
        .any(|attr| attr.path().is_ident("ignore"))
        .then(|| quote!(.ignored(true)));
    let features = features::declared().map(|(features, default)| {
        let names = features.iter();
        let checks = features.iter();
        quote! {
            .cargo_features(
                &[#((#names, ::core::cfg!(feature = #checks))),*],
                &[#(#default),*],
            )
        }
    });
    let test = quote! {
        #root::harness::Test::new(
            #test_name,
            ::core::module_path!(),
            ::core::file!(),
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_CRATE_NAME"),
        )
        #(#calls)*
        #ignored
        #features
    };
    let run = quote_spanned!(span=> #root::harness::run(#test, #name));
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            #sig #block
            #run
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `#[sim::test(args)] item`, as a string of tokens.
    fn expand(args: TokenStream, item: TokenStream) -> String {
        test(args, item).to_string()
    }

    /// The messages of the `compile_error!`s in the expansion.
    fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        let calls = syn::parse2::<RawArgs>(args).and_then(|raw| args::apply(&raw));
        let mut messages: Vec<String> = Vec::new();
        if let Err(error) = calls {
            messages.extend(error.into_iter().map(|e| e.to_string()));
        }
        if let Err(error) = function(item) {
            messages.extend(error.into_iter().map(|e| e.to_string()));
        }
        messages
    }

    #[test]
    fn the_function_goes_inside_an_ordinary_test() {
        let expansion = expand(
            quote!(seeds = 1000),
            quote! {
                /// Says hi.
                #[ignore]
                #[should_panic(expected = "boom")]
                #[allow(unused)]
                async fn reply_arrives() {
                    let x = 1;
                }
            },
        );
        let expected = quote! {
            #[::core::prelude::v1::test]
            #[doc = r" Says hi."]
            #[ignore]
            #[should_panic(expected = "boom")]
            #[allow(unused)]
            fn reply_arrives() {
                async fn reply_arrives() {
                    let x = 1;
                }
                ::sim::harness::run(
                    ::sim::harness::Test::new(
                        "reply_arrives",
                        ::core::module_path!(),
                        ::core::file!(),
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::env!("CARGO_CRATE_NAME"),
                    )
                    .seeds(1000)
                    .ignored(true),
                    reply_arrives
                )
            }
        };
        assert_eq!(expansion, expected.to_string());
    }

    #[test]
    fn the_return_type_and_visibility_are_kept() {
        let expansion = expand(
            quote!(),
            quote! {
                pub(crate) async fn r#fallible() -> Result<(), MyError> {
                    Err(MyError)
                }
            },
        );
        let expected = quote! {
            #[::core::prelude::v1::test]
            pub(crate) fn r#fallible() {
                async fn r#fallible() -> Result<(), MyError> {
                    Err(MyError)
                }
                ::sim::harness::run(
                    ::sim::harness::Test::new(
                        "fallible",
                        ::core::module_path!(),
                        ::core::file!(),
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::env!("CARGO_CRATE_NAME"),
                    ),
                    r#fallible
                )
            }
        };
        assert_eq!(expansion, expected.to_string());
    }

    #[test]
    fn every_argument_reaches_the_builder() {
        let expansion = expand(
            quote!(
                leaks = "deny",
                check_determinism,
                max_steps = 1_000_000,
                max_time = "10m",
                seed = 7
            ),
            quote!(
                async fn t() {}
            ),
        );
        let builder = quote! {
            .seed(7)
            .max_time(::core::time::Duration::from_nanos(600000000000))
            .max_steps(1000000)
            .check_determinism(true)
            .leaks(::sim::harness::Leaks::Deny),
            t
        };
        assert!(expansion.contains(&builder.to_string()), "{expansion}");
    }

    #[test]
    fn the_function_must_be_a_plain_async_fn() {
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    fn reply_arrives() {}
                )
            ),
            ["`#[sim::test]` functions must be `async`: write `async fn reply_arrives()`"]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    async fn f(seed: u64) {}
                )
            ),
            [error::PARAMETERS]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    async fn f<T>() {}
                )
            ),
            [error::GENERICS]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    async fn f<'a>() {}
                )
            ),
            [error::GENERICS]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    async fn f()
                    where
                        u8: Copy,
                    {
                    }
                )
            ),
            [error::GENERICS]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    async unsafe fn f() {}
                )
            ),
            [error::UNSAFE]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    async extern "C" fn f() {}
                )
            ),
            [error::EXTERN]
        );
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    struct Reply;
                )
            ),
            [error::NOT_A_FUNCTION]
        );
        // A syntax error keeps syn's own message.
        let syntax = errors(quote!(), quote!(async fn f() -> {}));
        assert!(syntax[0].starts_with("expected one of"), "{syntax:?}");
    }

    #[test]
    fn a_second_test_attribute_is_an_error() {
        for (attribute, path) in [
            (quote!(#[test]), "test"),
            (
                quote!(#[::core::prelude::v1::test]),
                "::core::prelude::v1::test",
            ),
            (
                quote!(#[tokio::test(flavor = "current_thread")]),
                "tokio::test",
            ),
            (quote!(#[sim::test]), "sim::test"),
        ] {
            assert_eq!(
                errors(quote!(), quote!(#attribute async fn f() {})),
                [format!(
                    "this function already has `#[{path}]`, and `#[sim::test]` makes it a test \
                     itself: remove `#[{path}]`"
                )]
            );
        }
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    #[test_case(1)]
                    #[rstest]
                    async fn f() {}
                )
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn argument_and_function_errors_are_reported_together() {
        let expansion = expand(
            quote!(seeds = 0, check_determinism = true),
            quote!(
                fn f(x: u8) {}
            ),
        );
        assert_eq!(expansion.matches("compile_error").count(), 4, "{expansion}");
        assert!(!expansion.contains(":: sim :: harness"), "{expansion}");
    }
}

//! `pool_map!(f, items)`: a pool of threads, of processes, or of MPI ranks.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::quote;
use syn::Expr;

use super::site::Site;
use super::{Cx, common_builders, count_builder, local1, timeout_builder};

pub fn expand(cx: &Cx<'_>, func: &Expr, items: &Expr) -> TokenStream {
    let rt = cx.rt();
    let opts = local1("options");
    let mut builders = common_builders(cx);
    builders.extend(count_builder("workers", &cx.options.workers));
    builders.extend(count_builder("chunksize", &cx.options.chunksize));
    builders.extend(timeout_builder(cx));
    let name = cx.worker_name(func);
    let options = cx.options;
    // On threads, the runtime splits ranges, vectors, slices and arrays by
    // index where they are, and collects any other iterator first: autoref
    // specialization on `Items` picks the path (see `pool::Items`). On
    // processes, likewise, a range of integers is computed in the workers
    // rather than collected (see `process::Items`).
    let threads = !options.mpi && !options.processes;
    let engine = !options.mpi;
    // The call is located at the user's `func, items`: a function that cannot
    // be shared between the pool's threads is reported there, not on the
    // whole macro call.
    let site = Site::of(func).to(Site::of(items));
    let mode = match (options.catch, options.try_) {
        (false, false) => quote!(Unwrap),
        (true, false) => quote!(Catch),
        (false, true) => quote!(Try),
        (true, true) => quote!(TryCatch),
    };
    let mode = quote!(#rt::map::#mode);
    let (setup, body) = if engine {
        // A glob import: one of the two traits is always used, so the import
        // never trips `unused_imports` (an `allow` would be refused by a
        // crate that forbids the lint).
        let setup = quote!(use #rt::map::autoref::*;);
        let mut receiver = Group::new(
            Delimiter::Parenthesis,
            quote!(&&#rt::map::Items::new(#items)),
        );
        receiver.set_span(Span::call_site().located_at(site.first()));
        let backend = if threads {
            quote!(threads)
        } else {
            quote!(processes)
        };
        let method = site.locate(quote!(.select().#backend));
        let args = site.parens(quote!(&#opts, #mode, #name, #func));
        (setup, quote!(#receiver #method #args))
    } else {
        old_backends(cx, func, items, &opts, &name, site)
    };
    let options_type = if engine {
        quote!(#rt::map::MapOptions)
    } else {
        quote!(#rt::pool::PoolOptions)
    };
    quote! {{
        let #opts = #options_type::new() #builders;
        #setup
        #body
    }}
}

/// Processes and MPI, until they move to the engine.
fn old_backends(
    cx: &Cx<'_>,
    func: &Expr,
    items: &Expr,
    opts: &proc_macro2::Ident,
    name: &TokenStream,
    site: Site,
) -> (TokenStream, TokenStream) {
    let rt = cx.rt();
    let options = cx.options;
    let module = if options.mpi {
        quote!(mpi)
    } else {
        quote!(process)
    };
    let autoref = !options.mpi;
    let call = |function: TokenStream| -> TokenStream {
        if autoref {
            let mut receiver = Group::new(
                Delimiter::Parenthesis,
                quote!(&&#rt::#module::Items::new(#items)),
            );
            receiver.set_span(Span::call_site().located_at(site.first()));
            let method = site.locate(quote!(.process_select().#function));
            let args = site.parens(quote!(&#opts, #name, #func));
            quote!(#receiver #method #args)
        } else {
            site.call(
                quote!(#rt::#module::#function),
                quote!(&#opts, #name, #items, #func),
            )
        }
    };
    let select = if autoref {
        quote! {
            #[allow(unused_imports)]
            use #rt::process::{SelectCollected as _, SelectRange as _};
        }
    } else {
        TokenStream::new()
    };
    let body = match (options.catch, options.try_) {
        (false, false) => call(quote!(map_unwrap)),
        (true, false) => call(quote!(map)),
        (false, true) => {
            let each = call(quote!(try_map));
            quote!(#rt::outcome::try_all(#each))
        }
        (true, true) => {
            let each = call(quote!(try_map));
            cx.at_catch(quote!(#rt::outcome::try_catch_all), each)
        }
    };
    (select, body)
}

//! `pool_map!(f, items)`: a pool of threads, of processes, or of MPI ranks.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::quote;
use syn::Expr;

use super::site::Site;
use super::{
    Cx, common_builders, count_builder, local1, timeout_builder, unpolled_check, unpolled_import,
};
use crate::options::PoolOptions;

pub fn expand(cx: &Cx<'_, PoolOptions>, func: &Expr, items: &Expr) -> TokenStream {
    let rt = cx.rt();
    let opts = local1("options");
    let mut builders = common_builders(cx);
    builders.extend(count_builder("workers", &cx.options.workers));
    builders.extend(count_builder("chunksize", &cx.options.chunksize));
    builders.extend(timeout_builder(&cx.options.timeout));
    builders.extend(count_builder("buffer", &cx.options.buffer));
    builders.extend(count_builder("recycle", &cx.options.recycle));
    let name = cx.worker_name(func);
    let options = cx.options;
    // The engine splits ranges, vectors, slices and arrays by index where
    // they are (on processes, a range is computed in the workers), and
    // collects any other iterator first: autoref specialization on
    // `map::Items` picks the path. MPI ranks collect the items.
    let threads = !options.mpi && !options.processes;
    let engine = !options.mpi;
    // The call is located at the user's `func, items`: a function that cannot
    // be shared between the pool's threads is reported there, not on the
    // whole macro call.
    let site = Site::of(func).to(Site::of(items));
    let mode = match (cx.common.catch, cx.common.try_) {
        (false, false) => quote!(Unwrap),
        (true, false) => quote!(Catch),
        (false, true) => quote!(Try),
        (true, true) => quote!(TryCatch),
    };
    let mode = quote!(#rt::map::#mode);
    // `init = EXPR`: the state is built once per worker, and FUNC takes
    // `(&mut state, item)`; the `_with_init` entries take it before FUNC, so
    // that its type is known when FUNC's closure is checked.
    let init = options.init.as_ref().map(|init| quote!(#init,));
    let with_init = if init.is_some() { "_with_init" } else { "" };
    let streaming = options.stream || options.unordered;
    let (setup, body) = if streaming && engine {
        // A stream outlives the line: it takes the items (and on threads
        // FUNC) by value; its workers are its own threads, or processes
        // forked when it starts.
        let entry = if options.stream {
            "stream_in_order"
        } else {
            "stream_unordered"
        };
        let on = if threads { "" } else { "_on_processes" };
        let entry = proc_macro2::Ident::new(&format!("{entry}{on}{with_init}"), Span::call_site());
        // A borrow of a local was reported (`stream_borrows`): stand-ins
        // without the `'static` bounds, so that rustc does not report it too.
        let entry = if options.stream_borrows && threads {
            quote!(refused::#entry)
        } else {
            quote!(#entry)
        };
        let call = site.call(
            quote!(#rt::map::#entry),
            quote!(&#opts, #mode, #name, #items, #init #func),
        );
        (TokenStream::new(), call)
    } else if engine {
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
            "on_threads"
        } else {
            "on_processes"
        };
        let backend = proc_macro2::Ident::new(&format!("{backend}{with_init}"), Span::call_site());
        let method = site.locate(quote!(.select().#backend));
        let args = site.parens(quote!(&#opts, #mode, #name, #init #func));
        let call = quote!(#receiver #method #args);
        // On threads, a function that returns an `async fn`'s future is a
        // compile error on it (with `try`, a future is not a `Result`).
        let outputs = match (threads, cx.common.catch, cx.common.try_) {
            (true, false, false) => Some(quote!(of_outputs)),
            (true, true, false) => Some(quote!(of_each)),
            _ => None,
        };
        match outputs {
            Some(of) => {
                let outputs = local1("outputs");
                let import = unpolled_import(cx);
                // On a closure, at its body: what returns the future.
                let at = match func {
                    Expr::Closure(closure) => Site::of(&closure.body),
                    func => Site::of(func),
                };
                let check = unpolled_check(at, quote!(#rt::unpolled::Output::#of(&#outputs)));
                (setup, quote!(let #outputs = #call; #import #check #outputs))
            }
            None => (setup, call),
        }
    } else {
        // MPI: every rank collects the items (they must be the same).
        let entry = proc_macro2::Ident::new(&format!("on_mpi{with_init}"), Span::call_site());
        let call = site.call(
            quote!(#rt::map::#entry),
            quote!(&#opts, #mode, #name, #items, #init #func),
        );
        (TokenStream::new(), call)
    };
    let options_type = quote!(#rt::map::MapOptions);
    quote! {{
        let #opts = #options_type::new() #builders;
        #setup
        #body
    }}
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use crate::entry;
    use crate::kind::MacroKind::Pool;

    fn expand(input: TokenStream) -> String {
        entry(Pool, quote!([::fanout] #input)).to_string()
    }

    #[test]
    fn stream_and_unordered_call_the_stream_entries() {
        let out = expand(quote!(square, 0..; stream, buffer = 64));
        assert!(out.contains("map :: stream_in_order ("), "{out}");
        assert!(out.contains(". buffer ("), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
        let out = expand(quote!(fetch, urls; unordered, workers = 8));
        assert!(out.contains("map :: stream_unordered ("), "{out}");
    }

    #[test]
    fn refused_stream_combinations_keep_the_collecting_form() {
        let out = expand(quote!(square, 0..10; mpi, stream));
        assert!(
            out.contains("`stream` is not available with `mpi`"),
            "{out}"
        );
        assert!(out.contains("map :: on_mpi"), "{out}");
        let out = expand(quote!(square, 0..10; stream, timeout = d));
        assert!(
            out.contains("`timeout` is not available with `stream`"),
            "{out}"
        );
    }

    #[test]
    fn init_goes_before_the_function() {
        let out = expand(quote!(|db, id| db.lookup(id), ids; init = || connect()));
        assert!(out.contains("on_threads_with_init"), "{out}");
        assert!(out.contains("| | connect () , | db , id |"), "{out}");
        let out = expand(quote!(f, 0..4; stream, init = make));
        assert!(out.contains("stream_in_order_with_init"), "{out}");
        let out = expand(quote!(f, 0..; processes, unordered));
        assert!(out.contains("stream_unordered_on_processes ("), "{out}");
        let out = expand(quote!(simulate, params; processes, recycle = 100, init = make));
        assert!(out.contains("on_processes_with_init"), "{out}");
        assert!(out.contains(". recycle ("), "{out}");
        let out = expand(quote!(|gpu, x| gpu.run(x), jobs; mpi, init = || Gpu::open()));
        assert!(out.contains("map :: on_mpi_with_init (& "), "{out}");
        assert!(out.contains("| | Gpu :: open () , | gpu , x |"), "{out}");
    }
}

#![deny(missing_docs)]
//! Implementation detail of the [`fanout`](https://docs.rs/fanout) crate: its
//! procedural macros. Use them through `fanout`, which forwards its own path
//! (`$crate`) to them so that generated code reaches the runtime even when the
//! dependency is renamed.
//!
//! Each macro is parse → validate → expand:
//!
//! - `ast` parses the tokens into a typed model of the invocation that keeps
//!   them (so that errors point at them), and `options` parses the options;
//!   parsing collects and does not judge;
//! - `valid` checks the model, and is the only step that raises errors: it
//!   turns it into a `plan`, the typed options of each macro and its tasks as
//!   the workers run them (what it reported left out);
//! - `expand` turns a plan into code, and cannot fail.
//!
//! On an error the output is the `compile_error!` plus the best-effort
//! expansion, so that one mistake does not cascade and rust-analyzer keeps
//! working.
//!
//! Errors point at the user's tokens: `expand::site` places generated code
//! on them. `races` spots the data races the tokens show (a loop-form task
//! that assigns to a variable of the caller), `writes` the writes a child
//! process would make to its own copy of the caller's memory, `awaits`
//! an `.await` in a worker, and `stream_borrows` the locals a stream on
//! threads would borrow. No input makes a macro panic: the `fuzz` tests
//! feed the entry point thousands of mutated invocations. The code each form
//! generates is kept, pretty-printed, in `tests/expand/` and compared by
//! `expand::golden` (`FANOUT_BLESS=1 cargo test -p fanout-macros golden`
//! rewrites it).

mod ast;
mod awaits;
mod expand;
#[cfg(test)]
mod fuzz;
mod kind;
mod naming;
mod options;
mod plan;
mod races;
mod stream_borrows;
mod valid;
mod writes;

use crate::kind::MacroKind;

/// `fanout::spawn_threads!`: see the facade's documentation.
#[proc_macro]
pub fn spawn_threads(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    entry(MacroKind::Threads, input.into()).into()
}

/// `fanout::spawn_processes!`: see the facade's documentation.
#[proc_macro]
pub fn spawn_processes(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    entry(MacroKind::Processes, input.into()).into()
}

/// `fanout::pool_map!`: see the facade's documentation.
#[proc_macro]
pub fn pool_map(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    entry(MacroKind::Pool, input.into()).into()
}

/// `fanout::gather!`: see the facade's documentation.
#[proc_macro]
pub fn gather(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    entry(MacroKind::Gather, input.into()).into()
}

/// Parse → validate → expand; the errors, if any, as `compile_error!`s
/// before the best-effort expansion.
fn entry(kind: MacroKind, input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let call = ast::parse(kind, input);
    let (plan, error) = valid::check(&call);
    let expansion = expand::expand(&plan);
    let Some(error) = error else {
        return expansion;
    };
    let errors = error.to_compile_error();
    let rejected = &plan.rejected;
    // No `allow` here either: a crate that forbids a lint refuses any
    // `allow` of it (E0453), which would be a second error for one mistake.
    // The best-effort expansion diverges only where the whole invocation is
    // unusable (`plan::Run::Nothing`).
    quote::quote! {{
        #errors
        let _ = || { #(let _ = #rejected;)* };
        #expansion
    }}
}

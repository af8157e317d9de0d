#![deny(missing_docs)]
//! Implementation detail of the [`fanout`](https://docs.rs/fanout) crate: its
//! procedural macros. Use them through `fanout`, which forwards its own path
//! (`$crate`) to them so that generated code reaches the runtime even when the
//! dependency is renamed.
//!
//! Each macro is parse → validate → expand: `ast` builds a model that borrows
//! the user's tokens, `options` checks the options (the only step that raises
//! errors besides parsing), and `expand` generates code and cannot fail. On an
//! error the output is the `compile_error!` plus a best-effort expansion, so
//! that one mistake does not cascade and rust-analyzer keeps working.
//!
//! Errors point at the user's tokens: `expand::site` places generated code
//! on them, and `races` spots the data races the tokens show (a loop-form
//! task that assigns to a variable of the caller), `writes` the writes a
//! child process would make to its own copy of the caller's memory, and
//! `stream_borrows` the locals a stream on threads would borrow. No input
//! makes a macro panic: the `fuzz` tests feed the entry point thousands of
//! mutated invocations. The code each form generates is kept, pretty-printed, in
//! `tests/expand/` and compared by `expand::golden`
//! (`FANOUT_BLESS=1 cargo test -p fanout-macros golden` rewrites it).

mod ast;
mod awaits;
mod expand;
#[cfg(test)]
mod fuzz;
mod naming;
mod options;
mod races;
mod stream_borrows;
mod writes;

use proc_macro::TokenStream;

use crate::ast::MacroKind;

/// `fanout::spawn_threads!`: see the facade's documentation.
#[proc_macro]
pub fn spawn_threads(input: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Threads, input.into()).into()
}

/// `fanout::spawn_processes!`: see the facade's documentation.
#[proc_macro]
pub fn spawn_processes(input: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Processes, input.into()).into()
}

/// `fanout::pool_map!`: see the facade's documentation.
#[proc_macro]
pub fn pool_map(input: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Pool, input.into()).into()
}

/// `fanout::gather!`: see the facade's documentation.
#[proc_macro]
pub fn gather(input: TokenStream) -> TokenStream {
    expand::entry(MacroKind::Gather, input.into()).into()
}

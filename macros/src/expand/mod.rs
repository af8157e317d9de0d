//! Code generation from a checked [`Plan`]. Nothing here fails or judges:
//! validation reported the mistakes and decided what is left out of the
//! tasks, and whatever parsed is still expanded (best effort), next to the
//! errors, so rust-analyzer keeps completing the user's code.

mod gather;
mod groups;
mod pool;
mod site;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident};

use crate::options::{Common, Name};
use crate::plan::{self, Plan, Run};
use site::Site;

/// The expansion of a checked invocation.
pub fn expand(plan: &Plan) -> TokenStream {
    let krate = &plan.krate;
    let (name, code) = match &plan.run {
        Run::Nothing => return nothing(),
        Run::Threads { tasks, options } => {
            let spawn = groups::Spawn::Threads(options);
            let cx = Cx::new(&spawn, &options.common);
            (cx.name_setup(), groups::expand(&cx, tasks))
        }
        Run::Processes { tasks, options } => {
            let spawn = groups::Spawn::Processes(options);
            let cx = Cx::new(&spawn, &options.common);
            (cx.name_setup(), groups::expand(&cx, tasks))
        }
        Run::Pool(pool) => {
            let options = &pool.options;
            let cx = Cx::new(options, &options.common);
            (cx.name_setup(), pool::expand(&cx, &pool.func, &pool.items))
        }
        Run::Gather { tasks, options } => {
            let cx = Cx::new(&**options, &options.common);
            (cx.name_setup(), gather::expand(&cx, tasks))
        }
    };
    let alias = plan::runtime_alias();
    // Every expansion uses the alias: no `allow(unused_imports)`, which a
    // crate that forbids the lint would refuse.
    quote! {{
        use #krate::__private as #alias;
        #name
        #code
    }}
}

/// Nothing usable: a value of any type, so the caller's code still
/// type-checks around the reported error.
fn nothing() -> TokenStream {
    quote!(::core::panic!("fanout: invalid macro input"))
}

/// The body of a task's closure, spanned as the user's code. A call that
/// clippy would take for a redundant closure (`|| worker()`, `|i| worker(i)`,
/// `|s| s.len()`: the user's tokens, in a closure the macro wrote, and one
/// that the user cannot replace with `worker`) goes through `identity`,
/// located at the task. Only those: a body located at the task rather than
/// spanned as it is no longer the user's code to the borrow checker, which
/// then says "value" for the variables it names.
pub fn closure_body(task: &Expr, pat: Option<&syn::Pat>) -> TokenStream {
    let param = match pat {
        Some(syn::Pat::Ident(ident)) if ident.subpat.is_none() => Some(&ident.ident),
        _ => None,
    };
    let is_param = |expr: &Expr| match (expr, param) {
        (Expr::Path(path), Some(param)) => path.qself.is_none() && path.path.is_ident(param),
        _ => false,
    };
    let eta_reducible = match (task, pat) {
        (Expr::Call(call), None) => call.args.is_empty(),
        (Expr::Call(call), Some(_)) => call.args.len() == 1 && is_param(&call.args[0]),
        (Expr::MethodCall(call), Some(_)) => call.args.is_empty() && is_param(&call.receiver),
        _ => false,
    };
    if eta_reducible {
        Site::of(task).call(quote!(::core::convert::identity), task.to_token_stream())
    } else {
        task.to_token_stream()
    }
}

/// What every generator needs: the macro's options (`O`), and among them
/// those that every macro takes.
pub struct Cx<'a, O> {
    pub options: &'a O,
    pub common: &'a Common,
}

impl<'a, O> Cx<'a, O> {
    fn new(options: &'a O, common: &'a Common) -> Self {
        Cx { options, common }
    }

    /// The runtime, `$crate::__private`, through the alias that [`expand`]
    /// imports at the top of every expansion. A path that starts with this
    /// alias has a single hygiene context, so that [`Site`] can locate a
    /// whole call on the user's tokens (a path starting with `$crate` mixes
    /// the facade's context with the macro's, and rustc then reports the call
    /// on the whole macro invocation).
    pub fn rt(&self) -> TokenStream {
        plan::runtime_alias().to_token_stream()
    }

    /// `function(args)`, located at the `catch` option: with `try` and
    /// `catch`, the tasks' error type must be `From<fanout::Error>`, and the
    /// error that says it is not points at `catch` (rustc blames the argument,
    /// so it is a local located there too).
    pub fn at_catch(&self, function: TokenStream, args: TokenStream) -> TokenStream {
        match self.common.catch_at {
            Some(span) => {
                let site = Site::of(&Ident::new("catch", span));
                let outcomes = Ident::new("__fanout_caught", Span::mixed_site().located_at(span));
                let call = site.call(function, quote!(#outcomes));
                quote!({
                    let #outcomes = #args;
                    #call
                })
            }
            None => quote!(#function(#args)),
        }
    }

    /// `WorkerName::new("base")`: the `name` option, or the task's own name;
    /// with `name = EXPR`, a clone of the name read once by [`Cx::name_setup`].
    pub fn worker_name(&self, task: &Expr) -> TokenStream {
        let rt = self.rt();
        match &self.common.name {
            Some(Name::Dynamic(_)) => {
                let name = local1("name");
                quote!(::core::clone::Clone::clone(&#name))
            }
            Some(Name::Literal(name)) => {
                let base = name.value();
                quote!(#rt::WorkerName::new(#base))
            }
            None => {
                let base = crate::naming::base_name(task);
                quote!(#rt::WorkerName::new(#base))
            }
        }
    }

    /// With `name = EXPR`: `let __fanout_name = WorkerName::dynamic(&(EXPR));`,
    /// at the top of the expansion, so that the name is read once, before any
    /// worker starts. Spanned as the expression: a value that is not a string
    /// is reported there. Nothing for a literal name or none.
    pub fn name_setup(&self) -> TokenStream {
        let Some(Name::Dynamic(expr)) = &self.common.name else {
            return TokenStream::new();
        };
        let rt = self.rt();
        let name = local1("name");
        // `&(EXPR)`, spanning the user's expression: the name is copied, so
        // the caller's `String` is borrowed, never moved.
        let site = Site::of(expr);
        let borrow = site.at_first(quote!(&));
        let value = site.parens(expr.to_token_stream());
        let borrowed = quote!(#borrow #value);
        let dynamic = site.call(quote!(#rt::WorkerName::dynamic), borrowed);
        quote!(let #name = #dynamic;)
    }
}

/// The check that a task's output (`output`, a `unpolled::Output` of its
/// type) is not a future that a thread would return unpolled, located at the
/// task: `(&&&output).check_unpolled();`, after `use unpolled::autoref::*` (see
/// [`unpolled_import`]). The compile error for an `async fn`'s future lands
/// on the task; any other output, and one whose type is an error already, is
/// not reported.
pub fn unpolled_check(site: Site, output: TokenStream) -> TokenStream {
    let mut receiver =
        proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(&&&#output));
    receiver.set_span(Span::call_site().located_at(site.first()));
    let method = site.locate(quote!(.check_unpolled));
    let args = site.parens(TokenStream::new());
    quote!(#receiver #method #args;)
}

/// The traits of [`unpolled_check`], imported with a glob: one of them is
/// always used, so the import never trips `unused_imports`.
pub fn unpolled_import<O>(cx: &Cx<'_, O>) -> TokenStream {
    let rt = cx.rt();
    quote!(use #rt::unpolled::autoref::*;)
}

/// A name for a generated local that can never capture or shadow a user's.
pub fn local(name: &str, index: usize) -> Ident {
    Ident::new(&format!("__fanout_{name}{index}"), Span::mixed_site())
}

/// A single generated local.
pub fn local1(name: &str) -> Ident {
    format_ident!("__fanout_{}", name, span = Span::mixed_site())
}

/// How a task runs in a thread or a process: a path or a closure is run with
/// `Task::run` (the error for a non-task lands on it); any other expression is
/// evaluated in the worker.
pub fn task_body<O>(cx: &Cx<'_, O>, task: &Expr) -> TokenStream {
    match task {
        Expr::Path(_) | Expr::Closure(_) => {
            let rt = cx.rt();
            Site::of(task).call(quote!(#rt::Task::run), task.to_token_stream())
        }
        _ => task.to_token_stream(),
    }
}

/// The worker of a task in a list, as given to `Scope::spawn`: a path or a
/// closure is the task itself (it must implement `Task`; the error for one
/// that does not lands on it); any other expression becomes the body of a
/// closure located at the task, so that "cannot be sent between threads
/// safely" points at the task that captures the value.
pub fn task_worker(task: &Expr) -> TokenStream {
    match task {
        // Refused by validation (`?` in a task): the best-effort task gives
        // what the `?` would have, so that the outputs keep their types
        // (`Result` and `Option` both iterate over their one success).
        Expr::Try(tried) => {
            let inner = &tried.expr;
            let unwrapped: Expr = syn::parse_quote!(
                ::core::option::Option::unwrap(::core::iter::Iterator::next(
                    &mut ::core::iter::IntoIterator::into_iter(#inner)
                ))
            );
            task_worker(&unwrapped)
        }
        // Refused by validation (a task closure takes no arguments). The
        // best-effort task calls it with arguments that never exist, so that
        // its output keeps its type: `|| (|x: u32| x * 2)(unreachable!())`.
        Expr::Closure(closure) if !closure.inputs.is_empty() => {
            let typed = closure
                .inputs
                .iter()
                .all(|input| matches!(input, syn::Pat::Type(_)));
            let body = if typed {
                // Not `unreachable!()`: a diverging argument is an
                // "unreachable call", a second report for one mistake.
                let args = closure
                    .inputs
                    .iter()
                    .map(|_| quote!(::core::option::Option::None.unwrap()));
                quote!((#closure)(#(#args),*))
            } else {
                quote!(::core::unreachable!())
            };
            Site::of(task).closure(TokenStream::new(), body)
        }
        Expr::Path(_) | Expr::Closure(_) => task.to_token_stream(),
        _ => Site::of(task).closure_around(TokenStream::new(), closure_body(task, None)),
    }
}

/// Combines the outcomes `outcomes` (locals holding `Result<T, Error>`) of a
/// fixed list of tasks into what the macro returns, by the `catch`/`try` options.
///
/// The `match` needs no `allow(unreachable_patterns)`: its second arm is
/// reachable whatever the tasks' types (every outcome can be an `Err` holding
/// a `fanout::Error`), and rustc does not report the first arm when an output
/// type is uninhabited (`Ok(v)` of a `Result<Infallible, _>`).
pub fn finish_list<O>(cx: &Cx<'_, O>, outcomes: &[Ident]) -> TokenStream {
    let rt = cx.rt();
    let values: Vec<Ident> = (0..outcomes.len()).map(|k| local("v", k)).collect();
    let tuple = |items: &[TokenStream]| -> TokenStream {
        if items.len() == 1 {
            items[0].clone()
        } else {
            quote!((#(#items),*))
        }
    };
    let ok = quote!(::core::result::Result::Ok);
    let err = quote!(::core::result::Result::Err);
    let outcome_tuple = tuple(
        &outcomes
            .iter()
            .map(ToTokens::to_token_stream)
            .collect::<Vec<_>>(),
    );
    let value_tuple = tuple(
        &values
            .iter()
            .map(ToTokens::to_token_stream)
            .collect::<Vec<_>>(),
    );
    match (cx.common.catch, cx.common.try_) {
        (true, false) => outcome_tuple,
        (false, false) => {
            let patterns = tuple(&values.iter().map(|v| quote!(#ok(#v))).collect::<Vec<_>>());
            quote! {
                match #outcome_tuple {
                    #patterns => #value_tuple,
                    #outcome_tuple => #rt::outcome::raise([#(#outcomes.err()),*]),
                }
            }
        }
        (catch, true) => {
            let patterns = tuple(
                &values
                    .iter()
                    .map(|v| quote!(#ok(#ok(#v))))
                    .collect::<Vec<_>>(),
            );
            let combine = if catch {
                quote!(try_catch_error)
            } else {
                quote!(try_error)
            };
            let combined = cx.at_catch(
                quote!(#rt::outcome::#combine),
                quote!([#(#rt::outcome::erase(#outcomes)),*]),
            );
            quote! {
                match #outcome_tuple {
                    #patterns => #ok(#value_tuple),
                    #outcome_tuple => #err(#combined),
                }
            }
        }
    }
}

/// The same for the loop form, whose outcomes are a `Vec<Result<T, Error>>`.
pub fn finish_each<O>(cx: &Cx<'_, O>, outcomes: TokenStream) -> TokenStream {
    let rt = cx.rt();
    match (cx.common.catch, cx.common.try_) {
        (true, false) => outcomes,
        (false, false) => quote!(#rt::outcome::unwrap_all(#outcomes)),
        (false, true) => quote!(#rt::outcome::try_all(#outcomes)),
        (true, true) => cx.at_catch(quote!(#rt::outcome::try_catch_all), outcomes),
    }
}

/// `.progress(true)`, `.timeline(true)`: the option builders common to all.
pub fn common_builders<O>(cx: &Cx<'_, O>) -> TokenStream {
    let mut out = TokenStream::new();
    if cx.common.progress {
        out.extend(quote!(.progress(true)));
    }
    if cx.common.timeline {
        out.extend(quote!(.timeline(true)));
    }
    out
}

/// `.timeout(expr)` with the expression checked to be a `Duration` at its own span.
pub fn timeout_builder(timeout: &Option<Expr>) -> TokenStream {
    match timeout {
        Some(timeout) => {
            let span = timeout.span();
            quote_spanned!(span=> .timeout({
                let timeout: ::core::time::Duration = #timeout;
                timeout
            }))
        }
        None => TokenStream::new(),
    }
}

/// A count option (`workers = N`) checked to be a `usize` at its own span.
pub fn count_builder(method: &str, value: &Option<Expr>) -> TokenStream {
    match value {
        Some(value) => {
            let span = value.span();
            let method = Ident::new(method, span);
            quote_spanned!(span=> .#method({
                let count: usize = #value;
                count
            }))
        }
        None => TokenStream::new(),
    }
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

//! `.await` in a task that runs on a thread or in a child process: the task
//! is a plain closure there, so rustc would only say "`await` is only allowed
//! inside `async` functions and blocks". Found in the tokens, reported with
//! what to write instead, and left out of the best-effort expansion.

use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprAwait};

/// The first `.await` of `task` that is not inside an `async` block or
/// closure of its own.
pub fn first(task: &Expr) -> Option<&ExprAwait> {
    struct Find<'a>(Option<&'a ExprAwait>);
    impl<'a> Visit<'a> for Find<'a> {
        fn visit_expr_await(&mut self, awaited: &'a ExprAwait) {
            if self.0.is_none() {
                self.0 = Some(awaited);
            }
        }
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_expr_closure(&mut self, closure: &'a syn::ExprClosure) {
            if closure.asyncness.is_none() {
                syn::visit::visit_expr_closure(self, closure);
            }
        }
    }
    let mut find = Find(None);
    find.visit_expr(task);
    find.0
}

/// `task` with each such `EXPR.await` replaced by a value of any type (the
/// future is still type-checked), so that the compiler reports nothing more.
pub fn left_out(task: &Expr, runtime: &proc_macro2::TokenStream) -> Expr {
    struct Replace<'a>(&'a proc_macro2::TokenStream);
    impl VisitMut for Replace<'_> {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            if let Expr::Await(awaited) = expr {
                let future = &awaited.base;
                let rt = self.0;
                *expr = syn::parse_quote!({
                    let _ = #future;
                    #rt::outcome::left_out()
                });
                return;
            }
            if matches!(expr, Expr::Async(_)) {
                return;
            }
            if let Expr::Closure(closure) = expr
                && closure.asyncness.is_some()
            {
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    let mut task = task.clone();
    Replace(runtime).visit_expr_mut(&mut task);
    task
}

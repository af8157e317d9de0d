//! Writes a child process cannot send back, seen in the tokens.
//!
//! A process task runs in a forked child, on a copy of the caller's memory:
//! `spawn_processes!(counter += 1)` adds 1 to the child's copy of `counter`,
//! and `pool_map!(fill, pixels.chunks_mut(w); processes)` fills the child's
//! copy of `pixels`. Both compile, and both are lost when the child exits.
//! Validation reports them (in any process form: the comma list, the loop
//! form, the function of a process pool), and the task that expansion writes
//! is [`scan`]'s rewritten one, so that the compiler does not report the same
//! write a second time (in a `Fn` closure, "cannot assign to `counter`").
//!
//! The check is on tokens, so it is best effort: an assignment, a compound
//! assignment or a `&mut` borrow whose place starts at a variable the task
//! does not bind itself (by its pattern, the closure's parameters, or a
//! `let`, a closure, a `for` or a `match` inside it). Inside a `move`
//! closure (or `async move` block) a variable written as a whole is the
//! closure's own copy (`move || { n += 1; n }` returns it), so only writes
//! through a place (`rows[0] = 1`, `*r = 1`) count there. Methods that take
//! `&mut self` (`v.push(x)`) cannot be told from the tokens.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident};

use crate::races;

/// What a task writes to the caller's memory.
pub enum Write {
    /// `x = e`, `x += e`, `x[i] = e`, `x.f -= e`, `*x = e`.
    Assign {
        /// The variable the place starts at.
        target: Ident,
        /// The operator as written (`+=`, `=`...).
        op: String,
        /// The place is the variable itself (not a field, an element...).
        whole: bool,
    },
    /// `&mut x`, `&mut x[..]`.
    Borrow { target: Ident },
}

/// One lost write, with the tokens it covers (for the error's span).
pub struct Found {
    pub write: Write,
    pub tokens: TokenStream,
}

/// Every lost write in `task`, and the task without them (`None` when there
/// are none): an assignment becomes `{ let _ = (&place, value); }`, of the
/// same type `()`, and `&mut place` a shared borrow of the same type, so
/// that the user's code around them still type-checks, once.
pub fn scan(task: &Expr, bound: &[Ident]) -> (Vec<Found>, Option<Expr>) {
    let mut bound = bound.to_vec();
    let mut bindings = Bindings(&mut bound);
    bindings.visit_expr(task);
    let mut rewrite = Rewrite {
        bound: &bound,
        found: Vec::new(),
        moved: 0,
    };
    let mut fixed = task.clone();
    rewrite.visit_expr_mut(&mut fixed);
    let found = rewrite.found;
    let fixed = if found.is_empty() { None } else { Some(fixed) };
    (found, fixed)
}

/// The first part of an items expression that lends the caller's memory
/// mutably: a `*_mut` method (`chunks_mut`, `iter_mut`, `values_mut`) or
/// `&mut`. What it returns: the tokens, the method (or `&mut`), and the
/// variable it starts at, if any.
pub struct MutItems {
    pub tokens: TokenStream,
    pub how: String,
    pub target: Option<Ident>,
}

pub fn mut_items(items: &Expr) -> Option<MutItems> {
    let mut finder = MutItemsFinder(None);
    finder.visit_expr(items);
    finder.0
}

/// The variable a place expression starts at: `x` for `x`, `x.f`, `x[i]`,
/// `*x`, `(x)`.
fn root(place: &Expr) -> Option<&Ident> {
    match place {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
        Expr::Field(field) => root(&field.base),
        Expr::Index(index) => root(&index.expr),
        Expr::Paren(paren) => root(&paren.expr),
        Expr::Group(group) => root(&group.expr),
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => root(&unary.expr),
        _ => None,
    }
}

/// Collects every name a pattern inside the task binds (a superset of what
/// is in scope at any point: good enough to never flag a local).
struct Bindings<'a>(&'a mut Vec<Ident>);

impl<'ast> Visit<'ast> for Bindings<'_> {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.push(pat.ident.clone());
        syn::visit::visit_pat_ident(self, pat);
    }

    // Nested items and macros are opaque.
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_macro(&mut self, _: &'ast syn::Macro) {}
}

struct Rewrite<'a> {
    bound: &'a [Ident],
    found: Vec<Found>,
    /// Inside a `move` closure or `async move` block: a variable written
    /// as a whole there is the closure's own (`move || { n += 1; n }`).
    moved: usize,
}

impl Rewrite<'_> {
    /// The caller's variable that `place` writes to.
    fn target(&self, place: &Expr) -> Option<Ident> {
        root(place)
            .filter(|ident| !self.bound.contains(ident))
            .cloned()
    }

    fn assignment(&mut self, expr: &Expr) -> Option<Expr> {
        let (left, right, op) = races::parts(expr)?;
        let target = self.target(left)?;
        let whole = matches!(left, Expr::Path(_));
        if whole && self.moved > 0 {
            return None;
        }
        self.found.push(Found {
            write: Write::Assign { target, op, whole },
            tokens: expr.to_token_stream(),
        });
        let neutral = quote!(let _ = (&#left, #right););
        Some(Expr::Verbatim(braces(neutral, expr)))
    }

    fn borrow(&mut self, expr: &Expr) -> Option<Expr> {
        let Expr::Reference(reference) = expr else {
            return None;
        };
        reference.mutability?;
        let target = self.target(&reference.expr)?;
        if self.moved > 0 && matches!(&*reference.expr, Expr::Path(_)) {
            return None;
        }
        self.found.push(Found {
            write: Write::Borrow { target },
            tokens: expr.to_token_stream(),
        });
        // `&mut T` from a shared borrow, for the best-effort expansion only
        // (next to the error, the program never runs).
        let helper = Ident::new("__fanout_own_copy", Span::mixed_site());
        let place = &reference.expr;
        let body = quote! {
            fn #helper<T: ?::core::marker::Sized>(_: &T) -> &mut T {
                ::core::panic!("fanout: a write that a child process cannot send back")
            }
            #helper(&#place)
        };
        Some(Expr::Verbatim(braces(body, expr)))
    }
}

/// `{ body }`, the braces spanned at the last token of `at`.
fn braces(body: TokenStream, at: &Expr) -> TokenStream {
    let span = at
        .to_token_stream()
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |tt| tt.span());
    let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, body);
    group.set_span(span);
    proc_macro2::TokenTree::Group(group).into()
}

impl VisitMut for Rewrite<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Some(fixed) = self.assignment(expr).or_else(|| self.borrow(expr)) {
            *expr = fixed;
        }
    }

    fn visit_expr_closure_mut(&mut self, closure: &mut syn::ExprClosure) {
        let moved = usize::from(closure.capture.is_some());
        self.moved += moved;
        syn::visit_mut::visit_expr_closure_mut(self, closure);
        self.moved -= moved;
    }

    fn visit_expr_async_mut(&mut self, block: &mut syn::ExprAsync) {
        let moved = usize::from(block.capture.is_some());
        self.moved += moved;
        syn::visit_mut::visit_expr_async_mut(self, block);
        self.moved -= moved;
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
}

struct MutItemsFinder(Option<MutItems>);

impl<'ast> Visit<'ast> for MutItemsFinder {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        if self.0.is_some() {
            return;
        }
        // Innermost first: `pixels.chunks_mut(w).enumerate()` is reported on
        // `pixels.chunks_mut(w)`.
        syn::visit::visit_expr(self, expr);
        if self.0.is_some() {
            return;
        }
        self.0 = match expr {
            Expr::MethodCall(call) if call.method.to_string().ends_with("_mut") => Some(MutItems {
                tokens: expr.to_token_stream(),
                how: format!("{}", call.method),
                target: root(&call.receiver).cloned(),
            }),
            Expr::Reference(reference) if reference.mutability.is_some() => Some(MutItems {
                tokens: expr.to_token_stream(),
                how: "&mut".to_owned(),
                target: root(&reference.expr).cloned(),
            }),
            _ => None,
        };
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_macro(&mut self, _: &'ast syn::Macro) {}
}

#[cfg(test)]
mod tests {
    use super::{Write, mut_items, scan};
    use crate::races::idents;

    /// The writes found in `task` with `bound` names bound by the pattern.
    fn found(task: &str, pattern: &str) -> Vec<String> {
        let task: syn::Expr = syn::parse_str(task).unwrap();
        let pattern: syn::Pat =
            syn::parse::Parser::parse_str(syn::Pat::parse_single, pattern).unwrap();
        let (found, fixed) = scan(&task, &idents(&pattern));
        assert_eq!(found.is_empty(), fixed.is_none());
        found
            .iter()
            .map(|f| match &f.write {
                Write::Assign { target, op, .. } => format!("{target} {op}"),
                Write::Borrow { target } => format!("&mut {target}"),
            })
            .collect()
    }

    #[test]
    fn finds_writes_to_the_callers_variables_anywhere_in_the_task() {
        assert_eq!(found("counter += 1", "_"), ["counter +="]);
        assert_eq!(found("{ let x = i * 2; total += x; }", "i"), ["total +="]);
        assert_eq!(found("if i > 2 { last = i }", "i"), ["last ="]);
        assert_eq!(found("|| pixels[3] = 1", "_"), ["pixels ="]);
        assert_eq!(found("fill(&mut buf, i)", "i"), ["&mut buf"]);
        assert_eq!(found("*r = 0", "i"), ["r ="]);
        assert_eq!(found("{ a = 1; b -= 2 }", "i"), ["a =", "b -="]);
    }

    #[test]
    fn the_tasks_own_names_are_not_the_callers() {
        assert!(found("i += 1", "mut i").is_empty());
        assert!(found("row[0] = 1", "row").is_empty());
        assert!(found("{ let mut n = 0; n += i; n }", "i").is_empty());
        assert!(found("{ let mut v = vec![]; fill(&mut v); v }", "_").is_empty());
        assert!(found("(0..i).map(|mut k| { k += 1; k }).sum::<u32>()", "i").is_empty());
        assert!(found("{ for mut k in 0..i { k += 1; } }", "i").is_empty());
        // Reads, method calls and macros are not writes the tokens show.
        assert!(found("total + i", "i").is_empty());
        assert!(found("v.push(i)", "i").is_empty());
        assert!(found("println!(\"{}\", { x = 1; x })", "i").is_empty());
        // A `move` closure's captures are its own; a write through one is not.
        assert!(found("move || { n += 1; fill(&mut n); n }", "_").is_empty());
        assert_eq!(found("move || rows[0] = 1", "_"), ["rows ="]);
        assert_eq!(found("|| n += 1", "_"), ["n +="]);
    }

    #[test]
    fn a_rewritten_task_keeps_no_write() {
        let task: syn::Expr = syn::parse_str("{ let x = i; total += x; fill(&mut buf) }").unwrap();
        let (_, fixed) = scan(&task, &[]);
        let fixed = quote::ToTokens::to_token_stream(&fixed.unwrap()).to_string();
        assert!(!fixed.contains("+="), "{fixed}");
        assert!(!fixed.contains("& mut buf"), "{fixed}");
        assert!(fixed.contains("let _ = (& total , x)"), "{fixed}");
    }

    #[test]
    fn finds_items_that_lend_memory_mutably() {
        let items = |src: &str| {
            mut_items(&syn::parse_str(src).unwrap()).map(|m| {
                let target = m.target.map(|t| t.to_string()).unwrap_or_default();
                format!("{} {target}", m.how)
            })
        };
        assert_eq!(
            items("pixels.chunks_mut(w).enumerate()").as_deref(),
            Some("chunks_mut pixels")
        );
        assert_eq!(items("map.values_mut()").as_deref(), Some("values_mut map"));
        assert_eq!(items("&mut v").as_deref(), Some("&mut v"));
        assert_eq!(
            items("v.iter_mut().zip(0..)").as_deref(),
            Some("iter_mut v")
        );
        assert_eq!(items("pixels.chunks(w)"), None);
        assert_eq!(items("0..10"), None);
    }
}

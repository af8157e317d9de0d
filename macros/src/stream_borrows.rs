//! Borrows that a `pool_map!` stream on threads cannot hold, as far as the
//! tokens show them.
//!
//! A stream outlives the line that starts it: its workers are threads that
//! run while the caller iterates, so its function, its `init` and its items
//! must be `'static` (as for `std::thread::spawn`). rustc refuses a borrow of
//! a local with E0373 or E0597 and a note that points into fanout's runtime;
//! this module finds the common cases in the tokens and says what to do, on
//! the borrowing tokens. A proc macro sees no types, so the rules are
//! syntactic, and built never to refuse correct code:
//!
//! - a *local* is a plain, one-segment name that starts with a lowercase
//!   letter or `_`, or `self`. A name that starts with an uppercase letter is
//!   a constant, a static, a type or a variant (Rust's naming convention, which
//!   rustc's `non_upper_case_globals` lint enforces), so `&TABLE` and
//!   `NAMES.iter()` stay allowed, as do literals (`"abc".chars()`) and
//!   promoted constants (`&[1, 2, 3]`);
//! - ITEMS borrows a local when it is `&local` (or a field or index of it:
//!   `&v[..]`, `&cfg.items`), or a borrowing method (`iter`, `chars`,
//!   `windows`, ...) called on such a place, possibly followed by lazy
//!   adaptors (`v.iter().map(..).enumerate()`). Anything else (a call,
//!   `into_iter`, `collect`, a block) is left to rustc. The correct programs
//!   this refuses: those where the local `r` is itself a `&'static`
//!   reference and the items reach through it (`r.iter()`, `&r[..]`,
//!   `&r.field`); write `r` itself (a `&'static [T]` is iterable), or name
//!   the static (`TABLE.iter()`). `&r` alone always borrows the local;
//! - a closure (FUNC or `init`) without `move` borrows a local when it uses a
//!   name it does not bind itself where only a variable can be: an operand
//!   (`x + offset`, `-scale`), a method receiver (`offset.max(x)`), a field
//!   or indexing base (`cfg.scale`, `table[x]`), an index, or behind `&`. A
//!   name in call position or passed as an argument may be a function, and
//!   is left alone; so are the tokens of macros (`println!`), which are not
//!   parsed.
//!
//! What the rules miss still fails to compile, with rustc's error on the
//! user's tokens (see the runtime's stream entries).

use syn::visit::Visit;
use syn::{Expr, Ident};

/// Methods that return an iterator borrowing their receiver.
const BORROWING: &[&str] = &[
    "iter",
    "iter_mut",
    "chars",
    "char_indices",
    "bytes",
    "lines",
    "split_whitespace",
    "windows",
    "chunks",
    "chunks_exact",
    "keys",
    "values",
    "values_mut",
    "drain",
];

/// Lazy iterator adaptors: the result borrows what the receiver borrows.
const ADAPTORS: &[&str] = &[
    "map",
    "filter",
    "filter_map",
    "flat_map",
    "cloned",
    "copied",
    "enumerate",
    "zip",
    "take",
    "skip",
    "rev",
    "step_by",
    "chain",
    "inspect",
    "peekable",
    "take_while",
    "skip_while",
];

/// The errors for the borrows of a thread stream (`option`: `stream` or
/// `unordered`): its items, its function and its `init`.
pub fn check(func: &Expr, items: &Expr, init: Option<&Expr>, option: &str) -> Vec<syn::Error> {
    let outlives = format!("a pool_map! `{option}` on threads outlives the line");
    let collect = format!("or drop `{option}` and collect (the collecting form may borrow)");
    let mut errors = Vec::new();
    if let Some((borrow, local)) = borrowed_items(items) {
        errors.push(syn::Error::new_spanned(
            borrow,
            format!(
                "{outlives}, so its items cannot borrow `{local}`: move an owned value or an `Arc` in (`{local}.clone()`, the collection itself, or an `Arc` and indices), {collect}"
            ),
        ));
    }
    for (closure, what) in [(Some(func), "function"), (init, "`init`")] {
        if let Some(local) = closure.and_then(captured_local) {
            errors.push(syn::Error::new(
                local.span(),
                format!(
                    "{outlives}, so its {what} cannot borrow `{local}`: move an owned value or an `Arc` in (`move |...| ...` moves `{local}` in; clone it first if you use it after the line), {collect}"
                ),
            ));
        }
    }
    errors
}

/// The part of ITEMS that borrows a local, and the local.
fn borrowed_items(items: &Expr) -> Option<(&Expr, &Ident)> {
    match strip(items) {
        Expr::Reference(reference) => Some((items, place_root(&reference.expr)?)),
        Expr::MethodCall(call) => {
            let method = call.method.to_string();
            if BORROWING.contains(&method.as_str()) {
                Some((items, place_root(&call.receiver)?))
            } else if ADAPTORS.contains(&method.as_str()) {
                borrowed_items(&call.receiver)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The local a place expression (`x`, `x.f`, `x[i]`, `(x)`) starts from.
fn place_root(expr: &Expr) -> Option<&Ident> {
    match strip(expr) {
        Expr::Path(_) => local(expr),
        Expr::Field(field) => place_root(&field.base),
        Expr::Index(index) => place_root(&index.expr),
        _ => None,
    }
}

/// `expr` without parentheses and invisible groups.
fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => strip(&paren.expr),
        Expr::Group(group) => strip(&group.expr),
        other => other,
    }
}

/// The name of a local, if `expr` is one (see the module documentation).
fn local(expr: &Expr) -> Option<&Ident> {
    let Expr::Path(path) = strip(expr) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let ident = path.path.get_ident()?;
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let first = name.chars().next()?;
    (first.is_lowercase() || first == '_' && name.len() > 1).then_some(ident)
}

/// The first local that a closure without `move` uses where only a
/// variable can be, and does not bind itself.
fn captured_local(expr: &Expr) -> Option<&Ident> {
    let Expr::Closure(closure) = strip(expr) else {
        return None;
    };
    if closure.capture.is_some() {
        return None;
    }
    let mut bound = Bindings(Vec::new());
    bound.visit_expr_closure(closure);
    let mut uses = Uses {
        bound: bound.0,
        found: None,
    };
    uses.visit_expr(&closure.body);
    uses.found
}

/// Every name a pattern inside the closure binds (its parameters, `let`,
/// `match`, `for`, `if let`, nested closures): a superset of what is in
/// scope at any use, so that no use of a name the closure binds is taken
/// for a capture.
struct Bindings(Vec<String>);

impl Visit<'_> for Bindings {
    fn visit_pat_ident(&mut self, pat: &syn::PatIdent) {
        self.0.push(pat.ident.to_string());
        syn::visit::visit_pat_ident(self, pat);
    }
}

struct Uses<'a> {
    bound: Vec<String>,
    found: Option<&'a Ident>,
}

impl<'a> Uses<'a> {
    fn operand(&mut self, expr: &'a Expr) {
        if self.found.is_some() {
            return;
        }
        if let Some(ident) = local(expr)
            && !self.bound.contains(&ident.to_string())
        {
            self.found = Some(ident);
        }
    }
}

impl<'a> Visit<'a> for Uses<'a> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Binary(binary) => {
                self.operand(&binary.left);
                self.operand(&binary.right);
            }
            Expr::Unary(unary) => self.operand(&unary.expr),
            Expr::MethodCall(call) => self.operand(&call.receiver),
            Expr::Field(field) => self.operand(&field.base),
            Expr::Index(index) => {
                self.operand(&index.expr);
                self.operand(&index.index);
            }
            Expr::Reference(reference) => self.operand(&reference.expr),
            _ => {}
        }
        if self.found.is_none() {
            syn::visit::visit_expr(self, expr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(errors: &[syn::Error]) -> Vec<String> {
        errors.iter().map(syn::Error::to_string).collect()
    }

    fn errors(func: proc_macro2::TokenStream, items: proc_macro2::TokenStream) -> Vec<String> {
        let func: Expr = syn::parse2(func).unwrap();
        let items: Expr = syn::parse2(items).unwrap();
        messages(&check(&func, &items, None, "stream"))
    }

    #[test]
    fn borrowed_items_are_found() {
        for items in [
            quote!(&words),
            quote!(&words[..]),
            quote!(&cfg.items),
            quote!(words.iter()),
            quote!(text.chars()),
            quote!(words.iter().map(|w| w.len()).enumerate()),
            quote!(self.items.iter()),
            quote!(&mut v),
        ] {
            let found = errors(quote!(f), items.clone());
            assert_eq!(found.len(), 1, "{items}");
            assert!(found[0].contains("its items cannot borrow"), "{found:?}");
        }
    }

    #[test]
    fn captures_are_found() {
        for (func, local) in [
            (quote!(|x: u64| x + offset), "offset"),
            (quote!(|x| offset.max(x)), "offset"),
            (quote!(|x| cfg.scale * x), "cfg"),
            (quote!(|i: usize| table[i]), "table"),
            (quote!(|x| lookup(&index, x)), "index"),
            (
                quote!(|x| {
                    let y = x * 2;
                    y - base
                }),
                "base",
            ),
            (quote!(|x| -scale * x), "scale"),
        ] {
            let found = errors(func.clone(), quote!(0..10));
            assert_eq!(found.len(), 1, "{func}");
            assert!(
                found[0].contains(&format!("cannot borrow `{local}`")),
                "{found:?}"
            );
        }
    }

    #[test]
    fn correct_streams_are_left_alone() {
        for (func, items) in [
            (quote!(square), quote!(0..)),
            (quote!(square), quote!(v)),
            (quote!(move |x| x + offset), quote!(v.clone())),
            (quote!(move |x| shared.len() + x), quote!(0..10)),
            (quote!(|x| x * 2), quote!(&TABLE)),
            (quote!(|x| x + OFFSET), quote!(NAMES.iter())),
            (quote!(|c: char| c.is_alphabetic()), quote!("abc".chars())),
            (quote!(|x| x + 1), quote!(&[1, 2, 3])),
            (quote!(|x| apply(square, x)), quote!(v.into_iter())),
            (
                quote!(|x| helper(x)),
                quote!(words.iter().cloned().collect::<Vec<_>>()),
            ),
            (
                quote!(|(i, w): (usize, String)| w.len() + i),
                quote!(make()),
            ),
            (
                quote!(|x| {
                    let offset = 3;
                    x + offset
                }),
                quote!(0..4),
            ),
            (
                quote!(|x| match x {
                    Some(y) => y + 1,
                    None => 0,
                }),
                quote!(v),
            ),
            (
                quote!(|x| {
                    println!("{offset}");
                    x
                }),
                quote!(v),
            ),
            (quote!(|x| f::g(x) + module::VALUE), quote!(v)),
        ] {
            let found = errors(func.clone(), items.clone());
            assert!(found.is_empty(), "{func} over {items}: {found:?}");
        }
    }

    #[test]
    fn init_is_checked_too() {
        let func: Expr = syn::parse2(quote!(|db, id| db.lookup(id))).unwrap();
        let items: Expr = syn::parse2(quote!(ids)).unwrap();
        let init: Expr = syn::parse2(quote!(|| Db::connect(&url))).unwrap();
        let found = messages(&check(&func, &items, Some(&init), "unordered"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("its `init` cannot borrow `url`"),
            "{found:?}"
        );
        assert!(found[0].contains("drop `unordered`"), "{found:?}");
        let init: Expr = syn::parse2(quote!(move || Db::connect(&url))).unwrap();
        assert!(check(&func, &items, Some(&init), "stream").is_empty());
    }
}

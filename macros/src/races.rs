//! Races the macro can see in the tokens: a task that runs once per item, all
//! at the same time, and assigns to a variable of the caller.
//!
//! `spawn_threads!(for i in 0..5 => total += i)` would be a data race (or, in
//! child processes, an update made to a copy and lost). The compiler refuses
//! it too, but says "cannot assign to `total`, as it is a captured variable
//! in a `Fn` closure" about a closure the user never wrote. Validation
//! reports it in the user's terms, and the task that expansion writes is
//! [`neutralize`]d, so that the compiler does not report it a second time.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{BinOp, Expr, Ident};

/// An assignment `x = e` or `x op= e` to a plain variable `x` that is not one
/// of `bound` (the names the pattern or the closure binds).
pub struct Assignment<'a> {
    pub target: &'a Ident,
    pub value: &'a Expr,
    /// The operator as written (`+=`, `=`...), for messages.
    pub op: String,
}

/// The racy assignment at the top of `task`, if there is one.
pub fn assignment<'a>(task: &'a Expr, bound: &[Ident]) -> Option<Assignment<'a>> {
    let (left, value, op) = parts(task)?;
    let Expr::Path(path) = left else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let target = path.path.get_ident()?;
    if bound.contains(target) {
        return None;
    }
    Some(Assignment { target, value, op })
}

/// The task `x op= e` without its assignment: `{ let _ = (&x, e); }`, of the same type
/// `()`, still type-checking `e` and still "using" `x`.
pub fn neutralize(target: &Ident, value: &Expr) -> TokenStream {
    quote!({
        let _ = (&#target, #value);
    })
}

/// Every identifier in a pattern's tokens: a superset of the names it binds,
/// which is what [`assignment`] needs (a name that is also a path segment of
/// the pattern is not a captured variable anyway).
pub fn idents(tokens: &dyn ToTokens) -> Vec<Ident> {
    fn walk(stream: TokenStream, out: &mut Vec<Ident>) {
        for tt in stream {
            match tt {
                proc_macro2::TokenTree::Ident(ident) => out.push(ident),
                proc_macro2::TokenTree::Group(group) => walk(group.stream(), out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(tokens.to_token_stream(), &mut out);
    out
}

/// An assignment `place = value` or `place op= value` taken apart: the
/// place, the value and the operator as written (`+=`, `=`...).
pub fn parts(expr: &Expr) -> Option<(&Expr, &Expr, String)> {
    match expr {
        Expr::Assign(assign) => Some((&*assign.left, &*assign.right, "=".to_owned())),
        Expr::Binary(binary) if is_compound_assignment(&binary.op) => Some((
            &*binary.left,
            &*binary.right,
            binary.op.to_token_stream().to_string(),
        )),
        _ => None,
    }
}

fn is_compound_assignment(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

#[cfg(test)]
mod tests {
    use super::{assignment, idents};

    fn find(task: &str, pattern: &str) -> Option<String> {
        let task: syn::Expr = syn::parse_str(task).unwrap();
        let pattern: syn::Pat =
            syn::parse::Parser::parse_str(syn::Pat::parse_single, pattern).unwrap();
        assignment(&task, &idents(&pattern)).map(|a| format!("{} {}", a.target, a.op))
    }

    #[test]
    fn finds_assignments_to_captured_variables() {
        assert_eq!(find("total += i", "i").as_deref(), Some("total +="));
        assert_eq!(find("last = i", "i").as_deref(), Some("last ="));
        assert_eq!(find("i += 1", "mut i").as_deref(), None);
        assert_eq!(find("x.y += 1", "i").as_deref(), None);
        assert_eq!(find("*r += 1", "i").as_deref(), None);
        assert_eq!(find("total + i", "i").as_deref(), None);
        assert_eq!(find("total += k", "(k, v)").as_deref(), Some("total +="));
        assert_eq!(find("v += k", "(k, v)").as_deref(), None);
    }
}

//! Where generated code is reported: on the user's tokens.
//!
//! An error about a bound (`Send`, `Task`, `IntoFuture`) is reported at the
//! span of the generated expression that introduced it. Generated tokens
//! carry the macro call's span by default, so the caret would cover the whole
//! `fanout::spawn_threads!(...)` call. A [`Site`] (the first and last token of
//! a task) puts them on the user's tokens instead, in two ways:
//!
//! - [`Site::call`] *locates* a generated call there: its tokens keep the
//!   macro's hygiene (`located_at`) and its parentheses sit at the task's last
//!   token, so the call expression spans the whole task (a proc macro cannot
//!   join two spans on stable Rust, but the parser joins the first and last
//!   tokens of an expression for us). Its paths must start with a name of the
//!   macro's own context, such as the runtime alias `__fanout_rt`: a path
//!   starting with `$crate` mixes two contexts, and rustc then falls back to
//!   the whole macro call.
//! - [`Site::exact_call`] and [`Site::closure`] give generated tokens the
//!   user's spans *exactly*. The compiler then treats them as the user's code:
//!   an unmet bound is reported once per span and predicate, so every use of
//!   a task's type spanned this way collapses into one error; and the borrow
//!   checker names the variables a closure captures ("cannot borrow `total`
//!   as mutable"), where inside a macro's closure it says "value".
//!   Lints see that code too: a call in such a closure goes through
//!   `identity` (see `expand::closure_body`), so that clippy does not call
//!   `|i| worker(i)` a redundant closure, and tests/expansion_lints.rs checks
//!   the expansions under strict lints. No expansion carries an `allow`,
//!   which a crate that forbids the lint would refuse (E0453).

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;

/// The first and last token of some user tokens.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    first: Span,
    last: Span,
}

impl Site {
    /// The site of `tokens`; the macro call if there are none.
    pub fn of<T: ToTokens + ?Sized>(tokens: &T) -> Site {
        let mut stream = tokens.to_token_stream().into_iter();
        let Some(first) = stream.next() else {
            return Site::call_site();
        };
        let last = stream.last().unwrap_or_else(|| first.clone());
        Site {
            first: first.span(),
            last: last.span(),
        }
    }

    /// The macro call itself.
    pub fn call_site() -> Site {
        Site {
            first: Span::call_site(),
            last: Span::call_site(),
        }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Site) -> Site {
        Site {
            first: self.first,
            last: other.last,
        }
    }

    /// The span of the first token.
    pub fn first(self) -> Span {
        self.first
    }

    /// The span of the last token.
    pub fn last(self) -> Span {
        self.last
    }

    /// Generated tokens spanned exactly like the first user token.
    pub fn at_first(self, tokens: TokenStream) -> TokenStream {
        tokens
            .into_iter()
            .map(|tt| respan(tt, self.first))
            .collect()
    }

    /// Generated tokens, re-located at the first token of the site; their
    /// names resolve as before (generated locals stay hygienic).
    pub fn locate(self, tokens: TokenStream) -> TokenStream {
        relocate(tokens, self.first)
    }

    /// `(args)`, with parentheses located at the last token: an expression
    /// that starts at [`Site::locate`]d tokens and ends with these parentheses
    /// spans the whole site. `args` keep their own spans.
    pub fn parens(self, args: TokenStream) -> TokenStream {
        let mut group = Group::new(Delimiter::Parenthesis, args);
        group.set_span(Span::call_site().located_at(self.last));
        TokenTree::Group(group).into()
    }

    /// `|params| { body }` spanned exactly like the user's tokens: to the
    /// compiler the closure is the user's own code, so the borrow checker
    /// names the variables it captures ("cannot borrow `counter` as mutable")
    /// rather than calling each one "value" as it does inside a macro's
    /// closure, and errors about the closure cover the whole site.
    pub fn closure(self, params: TokenStream, body: TokenStream) -> TokenStream {
        let mut group = Group::new(Delimiter::Brace, body);
        group.set_span(self.last);
        self.closure_around(params, TokenTree::Group(group).into())
    }

    /// `|params| body` for a `body` that ends with the site's last token
    /// (the user's expression itself, or an [`Site::exact_call`]): no braces,
    /// which around a user's `{ block }` would trip `unused_braces`.
    pub fn closure_around(self, params: TokenStream, body: TokenStream) -> TokenStream {
        let pipe = TokenStream::from(TokenTree::Punct(proc_macro2::Punct::new(
            '|',
            proc_macro2::Spacing::Alone,
        )));
        let pipe = self.at_first(pipe);
        quote::quote!(#pipe #params #pipe #body)
    }

    /// `function(args)` spanned exactly like the user's tokens: the call's
    /// span is then *equal* to the span of the user's expression, and rustc
    /// reports an unmet bound only once per span and predicate. Every use of
    /// a task's type spanned this way collapses into the one error on the
    /// task. The names in `function` must resolve from the user's code (the
    /// runtime alias and the helpers of the expansion do).
    pub fn exact_call(self, function: TokenStream, args: TokenStream) -> TokenStream {
        // The path too spans the site (first token to last), as rustc also
        // reports bounds of a generic function on its path.
        let mut function: Vec<TokenTree> = function.into_iter().collect();
        let last = function.pop().map(|tt| respan(tt, self.last));
        let mut out: TokenStream = function
            .into_iter()
            .map(|tt| respan(tt, self.first))
            .chain(last)
            .collect();
        let mut group = Group::new(Delimiter::Parenthesis, args);
        group.set_span(self.last);
        out.extend([TokenTree::Group(group)]);
        out
    }

    /// `function(args)` reported on the whole site.
    pub fn call(self, function: TokenStream, args: TokenStream) -> TokenStream {
        let mut out = self.locate(function);
        out.extend(self.parens(args));
        out
    }
}

fn respan(tt: TokenTree, at: Span) -> TokenTree {
    match tt {
        TokenTree::Group(group) => {
            let stream = group.stream().into_iter().map(|t| respan(t, at)).collect();
            let mut moved = Group::new(group.delimiter(), stream);
            moved.set_span(at);
            TokenTree::Group(moved)
        }
        mut other => {
            other.set_span(at);
            other
        }
    }
}

fn relocate(tokens: TokenStream, at: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(group) => {
                let mut moved = Group::new(group.delimiter(), relocate(group.stream(), at));
                moved.set_span(group.span().located_at(at));
                TokenTree::Group(moved)
            }
            mut other => {
                other.set_span(other.span().located_at(at));
                other
            }
        })
        .collect()
}

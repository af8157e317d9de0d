//! The typed model of one invocation; it keeps the user's tokens so errors
//! and generated code can point at them.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, Pat, Token};

/// Which macro is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroKind {
    Threads,
    Processes,
    Pool,
    Gather,
}

impl MacroKind {
    pub fn macro_name(self) -> &'static str {
        match self {
            MacroKind::Threads => "spawn_threads!",
            MacroKind::Processes => "spawn_processes!",
            MacroKind::Pool => "pool_map!",
            MacroKind::Gather => "gather!",
        }
    }

    pub fn example(self) -> &'static str {
        match self {
            MacroKind::Threads => "spawn_threads!(print_numbers, print_letters)",
            MacroKind::Processes => "spawn_processes!(for i in 0..5 => worker(i))",
            MacroKind::Pool => "pool_map!(square, 0..10; workers = 5)",
            MacroKind::Gather => "gather!(task1(), task2())",
        }
    }
}

/// One invocation: `[$crate] TASKS [; OPTIONS]` or, for `pool_map!`,
/// `[$crate] FUNC, ITEMS [; OPTIONS]`.
pub struct Invocation {
    pub kind: MacroKind,
    /// The path of the facade crate, forwarded as `$crate` by its wrapper.
    pub krate: TokenStream,
    pub body: Body,
    pub options: Vec<RawOption>,
    /// Mistakes found while parsing that still allowed a best-effort model.
    pub errors: Vec<syn::Error>,
    /// The facade was built for a target without `fork` (`[$crate; no_fork]`).
    pub no_fork: bool,
    /// The facade's features that are off (`[$crate; no_pool, no_gather]`).
    pub off: FeaturesOff,
}

/// The features of the facade that are off, as its wrapper passes them: a
/// form or option that needs one of them is a compile error that names it.
#[derive(Clone, Copy, Default)]
pub struct FeaturesOff {
    pub threads: bool,
    pub pool: bool,
    pub processes: bool,
    pub gather: bool,
    pub progress: bool,
}

impl FeaturesOff {
    fn from_flags(flags: &[String]) -> FeaturesOff {
        let has = |flag: &str| flags.iter().any(|f| f == flag);
        FeaturesOff {
            threads: has("no_threads"),
            pool: has("no_pool"),
            processes: has("no_processes"),
            gather: has("no_gather"),
            progress: has("no_progress"),
        }
    }
}

pub enum Body {
    /// `a, b, c`
    List(Vec<Expr>),
    /// `for PAT in EXPR => TASK`
    Loop {
        for_token: Token![for],
        pat: Pat,
        iter: Expr,
        task: Expr,
    },
    /// `FUNC, ITEMS` (`pool_map!`)
    Map { func: Expr, items: Expr },
    /// Nothing usable could be parsed; only errors are reported.
    Broken,
}

/// One option as written: `catch` or `workers = 4`.
pub struct RawOption {
    pub name: Ident,
    pub value: Option<Expr>,
    /// The `=` and the value, for spans.
    pub eq: Option<Token![=]>,
}

impl Invocation {
    pub fn error(&mut self, error: syn::Error) {
        self.errors.push(error);
    }
}

/// Parses `tokens` as an invocation of `kind`. Never fails: a mistake that
/// stops parsing leaves `Body::Broken` and the error in `errors`.
pub fn parse(kind: MacroKind, tokens: TokenStream) -> Invocation {
    let mut tokens = tokens.into_iter().peekable();
    // The facade's `macro_rules!` wrapper passes `[$crate; FLAGS]` first: the
    // features that are off (`no_pool`, ...) and `no_fork` on targets without
    // `fork`; called directly, the macros fall back to `::fanout`, all on.
    let (krate, flags) = match tokens.peek() {
        Some(TokenTree::Group(group)) if group.delimiter() == proc_macro2::Delimiter::Bracket => {
            let mut krate = TokenStream::new();
            let mut flags = Vec::new();
            let mut in_flags = false;
            for token in group.stream() {
                match &token {
                    TokenTree::Punct(p) if p.as_char() == ';' => in_flags = true,
                    TokenTree::Ident(flag) if in_flags => flags.push(flag.to_string()),
                    TokenTree::Punct(p) if in_flags && p.as_char() == ',' => {}
                    _ => krate.extend([token]),
                }
            }
            tokens.next();
            (krate, flags)
        }
        _ => (quote::quote!(::fanout), Vec::new()),
    };
    let rest: TokenStream = tokens.collect();
    let mut invocation = Invocation {
        kind,
        krate,
        body: Body::Broken,
        options: Vec::new(),
        errors: Vec::new(),
        no_fork: flags.iter().any(|f| f == "no_fork"),
        off: FeaturesOff::from_flags(&flags),
    };
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        parse_body(&mut invocation, input)?;
        Ok(())
    };
    if let Err(error) = parser.parse2(rest) {
        invocation.error(error);
    }
    invocation
}

fn parse_body(invocation: &mut Invocation, input: ParseStream<'_>) -> syn::Result<()> {
    let kind = invocation.kind;
    if input.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "{} needs at least one task, for example `{}`",
                kind.macro_name(),
                kind.example()
            ),
        ));
    }
    invocation.body = if kind == MacroKind::Pool {
        parse_map(kind, input)?
    } else if input.peek(Token![for]) {
        parse_loop(kind, input, &mut invocation.errors)?
    } else {
        parse_list(invocation, input)?
    };
    if input.is_empty() {
        return Ok(());
    }
    let semi: Token![;] = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "expected `,` between tasks or `;` before the options, as in `{}`",
                kind.example()
            ),
        )
    })?;
    if input.is_empty() {
        return Err(syn::Error::new_spanned(
            semi,
            "expected options after `;`, for example `; catch` or `; name = \"io\"`; remove the `;` if there are none",
        ));
    }
    parse_options(invocation, input)
}

fn parse_list(invocation: &mut Invocation, input: ParseStream<'_>) -> syn::Result<Body> {
    let kind = invocation.kind;
    let mut tasks = Vec::new();
    while !input.is_empty() && !input.peek(Token![;]) {
        let task = parse_task(kind, input)?;
        match option_written_as_task(kind, &task) {
            // `spawn_threads!(a, b, name = "io")`: reported, and kept as the
            // option it was meant to be.
            Some((option, error)) => {
                invocation.options.push(option);
                invocation.error(error);
            }
            None => tasks.push(task),
        }
        if input.is_empty() || input.peek(Token![;]) {
            break;
        }
        input.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "expected `,` between tasks or `;` before the options, as in `{}`",
                    kind.example()
                ),
            )
        })?;
    }
    if tasks.is_empty() {
        return Err(input.error(format!(
            "{} needs at least one task before `;`, for example `{}`",
            kind.macro_name(),
            kind.example()
        )));
    }
    Ok(Body::List(tasks))
}

/// `name = "io"` written as a task, after a `,` rather than a `;`: the
/// option it was meant to be, and the error that says so. (A task that
/// assigns to a variable named like an option is taken for the option too;
/// the message shows how to write it as a task.)
fn option_written_as_task(kind: MacroKind, task: &Expr) -> Option<(RawOption, syn::Error)> {
    let Expr::Assign(assign) = task else {
        return None;
    };
    let name = match &*assign.left {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident()?.clone(),
        _ => return None,
    };
    if !crate::options::is_option(&name.to_string()) {
        return None;
    }
    let written = quote::ToTokens::to_token_stream(assign).to_string();
    let error = syn::Error::new_spanned(
        assign,
        format!(
            "options come after a `;`, not after a `,`: write `; {written}` after the tasks, as in `{}(job, other; name = \"io\")` (to assign to a variable `{name}` in a task, write `{{ {written} }}`)",
            kind.macro_name()
        ),
    );
    let option = RawOption {
        name,
        value: Some((*assign.right).clone()),
        eq: Some(assign.eq_token),
    };
    Some((option, error))
}

fn parse_task(kind: MacroKind, input: ParseStream<'_>) -> syn::Result<Expr> {
    input.parse::<Expr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "expected a task (a function, a closure or an expression such as `worker(i)`), as in `{}`",
                kind.example()
            ),
        )
    })
}

fn parse_loop(
    kind: MacroKind,
    input: ParseStream<'_>,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<Body> {
    let for_token: Token![for] = input.parse()?;
    let pat = Pat::parse_multi_with_leading_vert(input)?;
    input.parse::<Token![in]>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `in` after the pattern of the loop form: `{} for i in 0..5 => worker(i))`", loop_prefix(kind)),
        )
    })?;
    let iter = Expr::parse_without_eager_brace(input)?;
    if !input.peek(Token![=>]) {
        let span = if input.is_empty() {
            syn::spanned::Spanned::span(&iter)
        } else {
            input.span()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "expected `=>` after the items of the loop form, then the task: `{}for i in 0..5 => worker(i))`",
                loop_prefix(kind)
            ),
        ));
    }
    input.parse::<Token![=>]>()?;
    let task = parse_task(kind, input)?;
    if input.peek(Token![,]) {
        let comma: Token![,] = input.parse()?;
        if !input.is_empty() && !input.peek(Token![;]) {
            errors.push(syn::Error::new_spanned(
                comma,
                "the loop form takes one task: use `;` before options, or write the tasks as a list without `for`",
            ));
            // The tasks after the comma are left out; the loop form is still
            // expanded (so that no follow-on error or warning appears), and
            // the options after a `;` still count.
            while !input.is_empty() && !input.peek(Token![;]) {
                input.parse::<proc_macro2::TokenTree>()?;
            }
        }
    }
    Ok(Body::Loop {
        for_token,
        pat,
        iter,
        task,
    })
}

fn loop_prefix(kind: MacroKind) -> String {
    format!("{}(", kind.macro_name())
}

fn parse_map(kind: MacroKind, input: ParseStream<'_>) -> syn::Result<Body> {
    if input.peek(Token![for]) {
        return Err(input.error(
            "pool_map! takes a function and the items, not the loop form: `pool_map!(worker, 0..5)`; for one thread per item use `spawn_threads!(for i in 0..5 => worker(i))`",
        ));
    }
    let func: Expr = input.parse()?;
    if !input.peek(Token![,]) {
        let span = if input.is_empty() {
            syn::spanned::Spanned::span(&func)
        } else {
            input.span()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "pool_map! needs the items after the function: `pool_map!({}, items)`, as in `{}`",
                quote::ToTokens::to_token_stream(&func),
                kind.example()
            ),
        ));
    }
    input.parse::<Token![,]>()?;
    if input.is_empty() || input.peek(Token![;]) {
        return Err(input.error(
            "pool_map! needs the items after the function, for example `pool_map!(square, 0..10)`",
        ));
    }
    let items: Expr = input.parse()?;
    if input.peek(Token![,]) {
        let comma: Token![,] = input.parse()?;
        if !input.is_empty() {
            return Err(syn::Error::new_spanned(
                comma,
                "pool_map! takes one function and one collection of items; write options after `;`: `pool_map!(square, 0..10; workers = 5)`",
            ));
        }
    }
    Ok(Body::Map { func, items })
}

fn parse_options(invocation: &mut Invocation, input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() {
        if !(input.peek(Ident::peek_any)) {
            return Err(input.error("expected an option name, such as `catch` or `name = \"io\"`"));
        }
        let name = Ident::parse_any(input)?;
        let (eq, value) = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            if input.is_empty() || input.peek(Token![,]) {
                return Err(syn::Error::new_spanned(
                    eq,
                    format!("expected a value after `{name} =`"),
                ));
            }
            (Some(eq), Some(input.parse::<Expr>()?))
        } else {
            (None, None)
        };
        invocation.options.push(RawOption { name, value, eq });
        if input.is_empty() {
            break;
        }
        input
            .parse::<Token![,]>()
            .map_err(|e| syn::Error::new(e.span(), "expected `,` between options"))?;
    }
    Ok(())
}

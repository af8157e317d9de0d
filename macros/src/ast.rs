//! The typed model of one invocation, as written: the tasks (or function and
//! items) of its macro and its options, keeping the user's tokens so that
//! errors and generated code can point at them.
//!
//! Parsing collects and does not judge. A mistake that stops it is kept as
//! the syntax error, with what was parsed before it; a slip it can read past
//! (an option after a `,`, a second task in the loop form) is kept as a
//! [`Slip`]. `valid` reports both.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Pat, Token};

use crate::kind::MacroKind;
use crate::options::{self, RawOption};

/// One invocation: `[$crate] TASKS [; OPTIONS]` or, for `pool_map!`,
/// `[$crate] FUNC, ITEMS [; OPTIONS]`.
pub struct Call {
    /// The path of the facade crate, forwarded as `$crate` by its wrapper.
    pub krate: TokenStream,
    /// What the facade was built with.
    pub target: Target,
    pub form: Form,
    /// The options as written, in order: those written as tasks (see
    /// [`Slip::OptionAfterComma`]) first, then those after the `;`.
    pub options: Vec<RawOption>,
    pub slips: Vec<Slip>,
    /// The mistake that stopped parsing.
    pub syntax_error: Option<syn::Error>,
}

/// The macro and what it was given; `None` when nothing usable was parsed.
pub enum Form {
    Threads(Option<Tasks>),
    Processes(Option<Tasks>),
    Pool(Option<Box<Map>>),
    Gather(Option<Tasks>),
}

impl Form {
    pub fn kind(&self) -> MacroKind {
        match self {
            Form::Threads(_) => MacroKind::Threads,
            Form::Processes(_) => MacroKind::Processes,
            Form::Pool(_) => MacroKind::Pool,
            Form::Gather(_) => MacroKind::Gather,
        }
    }

    /// The tasks of `spawn_threads!`, `spawn_processes!` or `gather!`.
    pub fn tasks(&self) -> Option<&Tasks> {
        match self {
            Form::Threads(tasks) | Form::Processes(tasks) | Form::Gather(tasks) => tasks.as_ref(),
            Form::Pool(_) => None,
        }
    }
}

/// The features of the facade that are off, and whether its target has
/// `fork`, as its wrapper passes them (`[$crate; no_fork, no_pool]`).
#[derive(Clone, Copy, Default)]
pub struct Target {
    pub no_fork: bool,
    pub off: FeaturesOff,
}

/// The features of the facade that are off: a form or option that needs one
/// of them is a compile error that names it.
#[derive(Clone, Copy, Default)]
pub struct FeaturesOff {
    pub threads: bool,
    pub pool: bool,
    pub processes: bool,
    pub gather: bool,
    pub progress: bool,
}

impl Target {
    fn from_flags(flags: &[String]) -> Target {
        let has = |flag: &str| flags.iter().any(|f| f == flag);
        Target {
            no_fork: has("no_fork"),
            off: FeaturesOff {
                threads: has("no_threads"),
                pool: has("no_pool"),
                processes: has("no_processes"),
                gather: has("no_gather"),
                progress: has("no_progress"),
            },
        }
    }
}

/// The tasks of `spawn_threads!`, `spawn_processes!` and `gather!`.
#[derive(Clone)]
pub enum Tasks {
    /// `a, b, c`
    List(Vec<Expr>),
    /// `for PAT in EXPR => TASK`
    Loop(Box<Loop>),
}

#[derive(Clone)]
pub struct Loop {
    pub for_token: Token![for],
    pub pat: Pat,
    pub iter: Expr,
    pub task: Expr,
}

/// `FUNC, ITEMS` (`pool_map!`).
pub struct Map {
    pub func: Expr,
    pub items: Expr,
}

/// A slip that parsing reads past, for `valid` to report.
pub enum Slip {
    /// `spawn_threads!(a, b, name = "io")`: an option after a `,`, kept as
    /// the option it was meant to be (a task that assigns to a variable
    /// named like an option is taken for the option too).
    OptionAfterComma(syn::ExprAssign),
    /// `for i in xs => a(i), b(i)`: the loop form takes one task; the tasks
    /// after this comma are left out.
    SecondLoopTask(Token![,]),
}

/// Parses `tokens` as an invocation of `kind`. Never fails: a mistake that
/// stops parsing is kept in `syntax_error`.
pub fn parse(kind: MacroKind, tokens: TokenStream) -> Call {
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
    let form = match kind {
        MacroKind::Threads => Form::Threads(None),
        MacroKind::Processes => Form::Processes(None),
        MacroKind::Pool => Form::Pool(None),
        MacroKind::Gather => Form::Gather(None),
    };
    let mut call = Call {
        krate,
        target: Target::from_flags(&flags),
        form,
        options: Vec::new(),
        slips: Vec::new(),
        syntax_error: None,
    };
    let parser = |input: ParseStream<'_>| parse_body(&mut call, input);
    if let Err(error) = parser.parse2(rest) {
        call.syntax_error = Some(error);
    }
    call
}

fn parse_body(call: &mut Call, input: ParseStream<'_>) -> syn::Result<()> {
    let kind = call.form.kind();
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
    match &mut call.form {
        Form::Pool(map) => *map = Some(Box::new(parse_map(kind, input)?)),
        Form::Threads(tasks) | Form::Processes(tasks) | Form::Gather(tasks) => {
            *tasks = Some(if input.peek(Token![for]) {
                Tasks::Loop(Box::new(parse_loop(kind, input, &mut call.slips)?))
            } else {
                Tasks::List(parse_list(kind, input, &mut call.options, &mut call.slips)?)
            });
        }
    }
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
    options::parse(input, &mut call.options)
}

fn parse_list(
    kind: MacroKind,
    input: ParseStream<'_>,
    options: &mut Vec<RawOption>,
    slips: &mut Vec<Slip>,
) -> syn::Result<Vec<Expr>> {
    let mut tasks = Vec::new();
    while !input.is_empty() && !input.peek(Token![;]) {
        let task = parse_task(kind, input)?;
        let option = match &task {
            Expr::Assign(assign) => options::named_like_one(&assign.left).cloned(),
            _ => None,
        };
        match (task, option) {
            // `spawn_threads!(a, b, name = "io")`: kept as the option it
            // was meant to be.
            (Expr::Assign(assign), Some(name)) => {
                options.push(RawOption {
                    name,
                    value: Some((*assign.right).clone()),
                    eq: Some(assign.eq_token),
                });
                slips.push(Slip::OptionAfterComma(assign));
            }
            (task, _) => tasks.push(task),
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
    Ok(tasks)
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

fn parse_loop(kind: MacroKind, input: ParseStream<'_>, slips: &mut Vec<Slip>) -> syn::Result<Loop> {
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
            slips.push(Slip::SecondLoopTask(comma));
            // The tasks after the comma are left out; the loop form is still
            // expanded (so that no follow-on error or warning appears), and
            // the options after a `;` still count.
            while !input.is_empty() && !input.peek(Token![;]) {
                input.parse::<proc_macro2::TokenTree>()?;
            }
        }
    }
    Ok(Loop {
        for_token,
        pat,
        iter,
        task,
    })
}

fn loop_prefix(kind: MacroKind) -> String {
    format!("{}(", kind.macro_name())
}

fn parse_map(kind: MacroKind, input: ParseStream<'_>) -> syn::Result<Map> {
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
    Ok(Map { func, items })
}

//! The options of the macros: how they are written after the `;` (`catch`,
//! `workers = 4`), which macro takes which, and the typed options of each
//! macro, holding only the options it takes. Parsing here collects; `valid`
//! checks the names and values and fills the typed options.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Expr, Ident, LitStr, Token};

use crate::kind::MacroKind;

/// One option as written: `catch` or `workers = 4`.
pub struct RawOption {
    pub name: Ident,
    pub value: Option<Expr>,
    /// The `=` and the value, for spans.
    pub eq: Option<Token![=]>,
}

/// Parses the options after the `;`: `NAME [= VALUE], ...`.
pub fn parse(input: ParseStream<'_>, options: &mut Vec<RawOption>) -> syn::Result<()> {
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
        options.push(RawOption { name, value, eq });
        if input.is_empty() {
            break;
        }
        input
            .parse::<Token![,]>()
            .map_err(|e| syn::Error::new(e.span(), "expected `,` between options"))?;
    }
    Ok(())
}

/// The name of an option, when `place` (the left of a task `place = value`)
/// is written like one: `name` in `name = "io"`.
pub fn named_like_one(place: &Expr) -> Option<&Ident> {
    let Expr::Path(path) = place else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let name = path.path.get_ident()?;
    spec(&name.to_string()).map(|_| name)
}

/// Every option of every macro: name, takes a value, the macros it belongs to,
/// and what it does (for messages).
pub struct Spec {
    pub name: &'static str,
    pub value: Option<&'static str>,
    pub macros: &'static [MacroKind],
}

use MacroKind::{Gather, Pool, Processes, Threads};

pub const SPECS: &[Spec] = &[
    Spec {
        name: "catch",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "try",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "name",
        value: Some("name = \"io\""),
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "timeline",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "progress",
        value: None,
        macros: &[Threads, Processes, Pool, Gather],
    },
    Spec {
        name: "stack_size",
        value: Some("stack_size = 8 * 1024 * 1024"),
        macros: &[Threads],
    },
    Spec {
        name: "timeout",
        value: Some("timeout = Duration::from_secs(5)"),
        macros: &[Processes, Pool, Gather],
    },
    Spec {
        name: "workers",
        value: Some("workers = 4"),
        macros: &[Pool],
    },
    Spec {
        name: "chunksize",
        value: Some("chunksize = 100"),
        macros: &[Pool],
    },
    Spec {
        name: "processes",
        value: None,
        macros: &[Pool],
    },
    Spec {
        name: "mpi",
        value: None,
        macros: &[Pool],
    },
    Spec {
        name: "limit",
        value: Some("limit = 10"),
        macros: &[Gather],
    },
    Spec {
        name: "spawn",
        value: None,
        macros: &[Gather],
    },
    // gather!'s streams and races (issue 12).
    Spec {
        name: "stream",
        value: None,
        macros: &[Gather, Pool],
    },
    Spec {
        name: "unordered",
        value: None,
        macros: &[Gather, Pool],
    },
    Spec {
        name: "buffer",
        value: Some("buffer = 64"),
        macros: &[Gather, Pool],
    },
    Spec {
        name: "race",
        value: None,
        macros: &[Gather, Processes],
    },
    // pool_map!'s `init` and `recycle` (issue 12).
    Spec {
        name: "init",
        value: Some("init = || Db::connect(url)"),
        macros: &[Pool],
    },
    Spec {
        name: "recycle",
        value: Some("recycle = 100"),
        macros: &[Pool],
    },
];

/// The option named `name`, of any macro.
pub fn spec(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|spec| spec.name == name)
}

/// The options every macro takes.
#[derive(Default)]
pub struct Common {
    pub catch: bool,
    /// Where `catch` was written: with `try`, the tasks' error type must
    /// hold a `fanout::Error`, and an error about that points there.
    pub catch_at: Option<proc_macro2::Span>,
    pub try_: bool,
    pub name: Option<Name>,
    pub timeline: bool,
    pub progress: bool,
}

/// The value of `name = ...`.
pub enum Name {
    /// `name = "io"`: fixed when the program is compiled.
    Literal(LitStr),
    /// `name = EXPR`: any string, read once at run time, before the workers
    /// start (`name = format!("req-{id}")`, `name = who.as_str()`).
    Dynamic(Expr),
}

/// The options of `spawn_threads!`.
#[derive(Default)]
pub struct ThreadsOptions {
    pub common: Common,
    pub stack_size: Option<Expr>,
}

/// The options of `spawn_processes!`.
#[derive(Default)]
pub struct ProcessesOptions {
    pub common: Common,
    pub timeout: Option<Expr>,
    pub race: bool,
}

/// The options of `pool_map!`.
#[derive(Default)]
pub struct PoolOptions {
    pub common: Common,
    pub timeout: Option<Expr>,
    pub workers: Option<Expr>,
    pub chunksize: Option<Expr>,
    pub processes: bool,
    pub mpi: bool,
    // pool_map!'s streams, `init` and `recycle` (issue 12).
    pub stream: bool,
    pub unordered: bool,
    pub buffer: Option<Expr>,
    pub init: Option<Expr>,
    pub recycle: Option<Expr>,
    /// A stream on threads whose function, `init` or items borrow a local
    /// (reported, see `stream_borrows`): the expansion calls stand-ins
    /// without the `'static` bounds, so rustc does not report it again.
    pub stream_borrows: bool,
}

/// The options of `gather!`.
#[derive(Default)]
pub struct GatherOptions {
    pub common: Common,
    pub timeout: Option<Expr>,
    pub limit: Option<Expr>,
    pub spawn: bool,
    // gather!'s streams and races (issue 12).
    pub stream: bool,
    pub unordered: bool,
    pub race: bool,
    pub buffer: Option<Expr>,
}

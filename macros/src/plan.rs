//! The checked model of one invocation: what expansion writes, with every
//! decision taken by `valid` (which options hold, which backend runs the
//! tasks, what of a task is left out because it was reported).

use proc_macro2::{Span, TokenStream};
use syn::{Expr, Ident, Pat, Token};

use crate::ast;
use crate::options::{GatherOptions, PoolOptions, ProcessesOptions, ThreadsOptions};

/// An invocation, checked.
pub struct Plan {
    /// The path of the facade crate.
    pub krate: TokenStream,
    pub run: Run,
    /// Values of rejected options: still type-checked in a closure that never
    /// runs, so the user's imports and locals stay "used" next to the error.
    pub rejected: Vec<Expr>,
}

/// What the macro expands to.
pub enum Run {
    /// Nothing usable: the invocation did not parse, or the runtime it needs
    /// is not there (no `fork`, or its feature is off).
    Nothing,
    Threads {
        tasks: Tasks,
        options: Box<ThreadsOptions>,
    },
    Processes {
        tasks: Tasks,
        options: Box<ProcessesOptions>,
    },
    Pool(Box<Pool>),
    Gather {
        tasks: ast::Tasks,
        options: Box<GatherOptions>,
    },
}

/// `pool_map!`'s function and items.
pub struct Pool {
    /// The function, without what validation reported in it (a racy
    /// assignment on threads, a lost write in processes).
    pub func: Expr,
    pub items: Expr,
    pub options: PoolOptions,
}

/// The tasks of `spawn_threads!` and `spawn_processes!`.
pub enum Tasks {
    List(Vec<Task>),
    Loop(Box<Loop>),
}

/// `for PAT in ITER => TASK`.
pub struct Loop {
    pub for_token: Token![for],
    pub pat: Pat,
    pub iter: Expr,
    pub task: Task,
    /// The body of the worker when the task's assignment races (see
    /// `races`): the assignment neutralized, so that the compiler does not
    /// report it again.
    pub neutralized: Option<TokenStream>,
}

/// A thread or process task.
pub struct Task {
    /// The task with its `.await`s left out (validation reported them; a
    /// worker is a plain closure): its worker is named after it, and errors
    /// about it land on it.
    pub written: Expr,
    /// What its worker runs: `written`, or for a process task, `written`
    /// without the writes its child would lose (see `writes`).
    pub runs: Expr,
}

/// `__fanout_rt`: the alias of `$crate::__private` that every expansion
/// imports; the code that validation puts in a task reaches the runtime
/// through it too.
pub fn runtime_alias() -> Ident {
    Ident::new("__fanout_rt", Span::call_site())
}

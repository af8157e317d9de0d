//! # fanout
//!
//! One declarative line for each program of a Python concurrency tutorial.
#![deny(missing_docs)]

pub use fanout_runtime::{Error, ErrorKind, Result, Task, WorkerName, current_name, run};

#[doc(hidden)]
pub mod __private {
    pub use fanout_runtime::*;
}

#[doc(hidden)]
pub use fanout_macros as __macros;

/// Runs each task on its own OS thread.
#[macro_export]
macro_rules! spawn_threads {
    ($($input:tt)*) => { $crate::__macros::spawn_threads!{[$crate] $($input)*} };
}

/// Runs each task in its own forked child process.
#[macro_export]
macro_rules! spawn_processes {
    ($($input:tt)*) => { $crate::__macros::spawn_processes!{[$crate] $($input)*} };
}

/// Maps a function over items on a pool.
#[macro_export]
macro_rules! pool_map {
    ($($input:tt)*) => { $crate::__macros::pool_map!{[$crate] $($input)*} };
}

/// Awaits futures concurrently.
#[macro_export]
macro_rules! gather {
    ($($input:tt)*) => { $crate::__macros::gather!{[$crate] $($input)*} };
}

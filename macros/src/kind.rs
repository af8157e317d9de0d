//! Which macro is being expanded, and how messages name it.

/// One of the four macros.
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

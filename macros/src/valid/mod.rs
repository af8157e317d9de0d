//! Checks an invocation and decides what expansion writes: the only step
//! that raises errors. Independent mistakes are reported together (one
//! `syn::Error`, combined), and whatever is fine is kept in the [`Plan`], so
//! that the best-effort expansion stays close to what the user meant.
//!
//! The checks run in a fixed order, which is the order of the messages:
//! what parsing read past and where it stopped, each option as written
//! ([`options`]), the tasks ([`tasks`]), then the options that do not go
//! together and the target's missing features ([`combos`]).

mod combos;
mod options;
mod tasks;

use quote::ToTokens;
use syn::Expr;

use crate::ast::{self, Call, Form, Slip};
use crate::kind::MacroKind::{self, Gather, Pool, Processes, Threads};
use crate::options::{GatherOptions, PoolOptions, ProcessesOptions, ThreadsOptions};
use crate::plan::{self, Plan, Run};

/// The plan of `call`, and every mistake in it.
pub fn check(call: &Call) -> (Plan, Option<syn::Error>) {
    let kind = call.form.kind();
    let mut check = Check {
        call,
        errors: call
            .slips
            .iter()
            .map(|slip| slip_error(kind, slip))
            .collect(),
        rejected: Vec::new(),
    };
    check.errors.extend(call.syntax_error.clone());
    let run = match &call.form {
        Form::Threads(tasks) => check.threads(tasks.as_ref()),
        Form::Processes(tasks) => check.processes(tasks.as_ref()),
        Form::Pool(map) => check.pool(map.as_deref()),
        Form::Gather(tasks) => check.gather(tasks.as_ref()),
    };
    let error = check.errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    });
    let plan = Plan {
        krate: call.krate.clone(),
        run,
        rejected: check.rejected,
    };
    (plan, error)
}

/// Where the tasks of an invocation run: threads share the caller's memory,
/// processes (and MPI ranks) have a copy of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Threads,
    /// Forked processes, or the ranks of an MPI job.
    Processes {
        mpi: bool,
    },
}

impl Backend {
    fn of_pool(options: &PoolOptions) -> Backend {
        match options {
            PoolOptions { mpi: true, .. } => Backend::Processes { mpi: true },
            PoolOptions {
                processes: true, ..
            } => Backend::Processes { mpi: false },
            _ => Backend::Threads,
        }
    }
}

/// One invocation being checked: the mistakes found so far, and the values
/// of the options refused.
struct Check<'a> {
    call: &'a Call,
    errors: Vec<syn::Error>,
    rejected: Vec<Expr>,
}

impl Check<'_> {
    fn threads(&mut self, tasks: Option<&ast::Tasks>) -> Run {
        let mut options = ThreadsOptions::default();
        self.options(Threads, |option| options::set_threads(&mut options, option));
        let tasks = tasks.map(|tasks| tasks::spawned(Threads, tasks, &mut self.errors));
        self.progress_on_a_list(&mut options.common);
        if self.backend_off() {
            return Run::Nothing;
        }
        self.progress_off(&mut options.common);
        match tasks {
            Some(tasks) => Run::Threads {
                tasks,
                options: Box::new(options),
            },
            None => Run::Nothing,
        }
    }

    fn processes(&mut self, tasks: Option<&ast::Tasks>) -> Run {
        let mut options = ProcessesOptions::default();
        self.options(Processes, |option| {
            options::set_processes(&mut options, option)
        });
        let tasks = tasks.map(|tasks| tasks::spawned(Processes, tasks, &mut self.errors));
        if self.call.target.no_fork {
            self.errors.push(combos::no_fork(self.call));
        }
        self.progress_on_a_list(&mut options.common);
        if self.backend_off() {
            return Run::Nothing;
        }
        self.progress_off(&mut options.common);
        let target = self.call.target;
        match tasks {
            Some(tasks) if !target.no_fork && !target.off.processes => Run::Processes {
                tasks,
                options: Box::new(options),
            },
            _ => Run::Nothing,
        }
    }

    fn pool(&mut self, map: Option<&ast::Map>) -> Run {
        let mut options = PoolOptions::default();
        self.options(Pool, |option| options::set_pool(&mut options, option));
        combos::one_backend(self.call, &mut options, &mut self.errors);
        let checked_for = Backend::of_pool(&options);
        let func = map.map(|map| tasks::pool(map, checked_for, &mut self.errors));
        combos::check_pool_streams(
            self.call,
            &mut options,
            &mut self.errors,
            &mut self.rejected,
        );
        if self.call.target.no_fork && options.processes {
            self.errors.push(combos::no_fork(self.call));
            options.processes = false;
        }
        if self.backend_off() {
            return Run::Nothing;
        }
        combos::pool_processes_off(self.call, &mut options, &mut self.errors);
        self.progress_off(&mut options.common);
        let (Some(map), Some(func)) = (map, func) else {
            return Run::Nothing;
        };
        // The function was checked for the backend asked for. Without `fork`
        // (or its feature) the pool runs on threads instead, and its function
        // is the one that threads run; the mistakes reported are those of
        // the backend asked for.
        let func = if Backend::of_pool(&options) == checked_for {
            func
        } else {
            tasks::on_threads(&map.func).1
        };
        Run::Pool(Box::new(plan::Pool {
            func,
            items: map.items.clone(),
            options,
        }))
    }

    fn gather(&mut self, tasks: Option<&ast::Tasks>) -> Run {
        let mut options = GatherOptions::default();
        self.options(Gather, |option| options::set_gather(&mut options, option));
        if let Some(tasks) = tasks {
            tasks::gathered(tasks, &mut self.errors);
        }
        combos::check_gather_streams(
            self.call,
            tasks,
            &mut options,
            &mut self.errors,
            &mut self.rejected,
        );
        self.progress_on_a_list(&mut options.common);
        if self.backend_off() {
            return Run::Nothing;
        }
        self.progress_off(&mut options.common);
        match tasks {
            Some(tasks) => Run::Gather {
                tasks: tasks.clone(),
                options: Box::new(options),
            },
            None => Run::Nothing,
        }
    }

    /// Each option as written, in order (see [`options::take`]).
    fn options(
        &mut self,
        kind: MacroKind,
        set: impl FnMut(&crate::options::RawOption) -> syn::Result<()>,
    ) {
        options::take(
            kind,
            &self.call.options,
            &mut self.errors,
            &mut self.rejected,
            set,
        );
    }

    fn progress_on_a_list(&mut self, common: &mut crate::options::Common) {
        combos::progress_on_a_list(self.call, common, &mut self.errors);
    }

    fn progress_off(&mut self, common: &mut crate::options::Common) {
        combos::progress_off(self.call, common, &mut self.errors);
    }

    /// Whether the macro's own feature is off (reported): there is then no
    /// runtime to expand to. (Without `fork`, spawn_processes! has none
    /// either; that is reported on its own.)
    fn backend_off(&mut self) -> bool {
        let call = self.call;
        let (target, off) = (call.target, call.target.off);
        let feature_off = match call.form.kind() {
            Threads => off.threads,
            Processes => off.processes && !target.no_fork,
            Pool => off.pool,
            Gather => off.gather,
        };
        if feature_off {
            self.errors.push(combos::backend_feature_off(call));
        }
        feature_off
    }
}

/// What parsing read past (see [`Slip`]).
fn slip_error(kind: MacroKind, slip: &Slip) -> syn::Error {
    match slip {
        Slip::OptionAfterComma(assign) => {
            let name = assign.left.to_token_stream();
            let written = assign.to_token_stream().to_string();
            syn::Error::new_spanned(
                assign,
                format!(
                    "options come after a `;`, not after a `,`: write `; {written}` after the tasks, as in `{}(job, other; name = \"io\")` (to assign to a variable `{name}` in a task, write `{{ {written} }}`)",
                    kind.macro_name()
                ),
            )
        }
        Slip::SecondLoopTask(comma) => syn::Error::new_spanned(
            comma,
            "the loop form takes one task: use `;` before options, or write the tasks as a list without `for`",
        ),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::check;
    use crate::ast::{self, Slip};
    use crate::kind::MacroKind::{Pool, Threads};
    use crate::plan::{Run, Tasks};

    #[test]
    fn parsing_collects_and_validation_reports() {
        let call = ast::parse(Threads, quote!(a, b, name = "io"; cathc));
        assert!(call.syntax_error.is_none());
        assert!(matches!(call.slips[..], [Slip::OptionAfterComma(_)]));
        assert_eq!(call.options.len(), 2);
        let (plan, error) = check(&call);
        let error = error.expect("the slip and the unknown option are reported");
        assert_eq!(error.into_iter().count(), 2);
        let Run::Threads { tasks, options } = plan.run else {
            panic!("the list is still expanded");
        };
        assert!(matches!(&tasks, Tasks::List(list) if list.len() == 2));
        assert!(
            matches!(&options.common.name, Some(crate::options::Name::Literal(name)) if name.value() == "io")
        );
    }

    #[test]
    fn a_race_is_recorded_in_the_plan() {
        let (plan, error) = check(&ast::parse(Threads, quote!(for i in 0..5 => total += i)));
        assert!(error.is_some());
        let Run::Threads {
            tasks: Tasks::Loop(each),
            ..
        } = plan.run
        else {
            panic!("the loop is still expanded");
        };
        let body = each.neutralized.expect("the race is recorded").to_string();
        assert_eq!(body, "{ let _ = (& total , i) ; }");
        let (plan, error) = check(&ast::parse(Pool, quote!(|x: u32| total += x, 0..4)));
        assert!(error.is_some());
        let Run::Pool(pool) = plan.run else {
            panic!("the pool is still expanded");
        };
        let func = quote::ToTokens::to_token_stream(&pool.func).to_string();
        assert!(!func.contains("+="), "{func}");
    }
}

//! Each option as written: which belong to the macro, their values,
//! duplicates, and a did-you-mean for unknown names. An option that is fine
//! fills the macro's typed options.

use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Lit};

use crate::kind::MacroKind::{self, Gather, Processes, Threads};
use crate::options::{
    Common, GatherOptions, Name, PoolOptions, ProcessesOptions, RawOption, SPECS, Spec,
    ThreadsOptions, spec,
};

/// Checks `options` for `kind`, in order: mistakes are appended to
/// `errors` (the values of options of the wrong name or macro to
/// `rejected`), and each option that is fine goes to `set`.
pub fn take(
    kind: MacroKind,
    options: &[RawOption],
    errors: &mut Vec<syn::Error>,
    rejected: &mut Vec<Expr>,
    mut set: impl FnMut(&RawOption) -> syn::Result<()>,
) {
    let mut seen: Vec<&RawOption> = Vec::new();
    for option in options {
        let name = option.name.to_string();
        let Some(spec) = spec(&name) else {
            errors.push(unknown(kind, option));
            rejected.extend(option.value.clone());
            continue;
        };
        if !spec.macros.contains(&kind) {
            errors.push(misplaced(kind, option, spec));
            rejected.extend(option.value.clone());
            continue;
        }
        if let Some(first) = seen.iter().find(|s| s.name == option.name) {
            let mut error =
                syn::Error::new(option.name.span(), format!("duplicate option `{name}`"));
            error.combine(syn::Error::new(
                first.name.span(),
                format!("`{name}` was first given here"),
            ));
            errors.push(error);
            continue;
        }
        seen.push(option);
        match (spec.value, &option.value) {
            (None, Some(value)) => {
                let mut written = proc_macro2::TokenStream::new();
                option.eq.to_tokens(&mut written);
                value.to_tokens(&mut written);
                errors.push(syn::Error::new_spanned(
                    written,
                    format!("`{name}` is a flag and takes no value: write `{name}` alone"),
                ));
                continue;
            }
            (Some(usage), None) => {
                errors.push(syn::Error::new(
                    option.name.span(),
                    format!("`{name}` needs a value, for example `{usage}`"),
                ));
                continue;
            }
            _ => {}
        }
        if let Err(error) = set(option) {
            errors.push(error);
        }
    }
}

pub fn set_threads(options: &mut ThreadsOptions, option: &RawOption) -> syn::Result<()> {
    match option.name.to_string().as_str() {
        "stack_size" => {
            options.stack_size = Some(positive(
                option,
                "a thread needs a stack: give its size in bytes",
            )?)
        }
        _ => set_common(&mut options.common, option)?,
    }
    Ok(())
}

pub fn set_processes(options: &mut ProcessesOptions, option: &RawOption) -> syn::Result<()> {
    match option.name.to_string().as_str() {
        "timeout" => options.timeout = Some(duration(option)?),
        "race" => options.race = true,
        _ => set_common(&mut options.common, option)?,
    }
    Ok(())
}

pub fn set_pool(options: &mut PoolOptions, option: &RawOption) -> syn::Result<()> {
    match option.name.to_string().as_str() {
        "processes" => options.processes = true,
        "mpi" => options.mpi = true,
        "workers" => options.workers = Some(positive(option, "a pool needs at least one worker")?),
        "chunksize" => {
            options.chunksize = Some(positive(option, "a chunk holds at least one item")?)
        }
        "timeout" => options.timeout = Some(duration(option)?),
        // pool_map!'s streams, `init` and `recycle` (issue 12).
        "stream" => options.stream = true,
        "unordered" => options.unordered = true,
        "buffer" => {
            options.buffer = Some(positive(
                option,
                "with `buffer = 0` no item could ever be taken",
            )?)
        }
        "init" => options.init = option.value.clone(),
        "recycle" => {
            options.recycle = Some(positive(
                option,
                "a worker process runs at least one item before it is replaced",
            )?)
        }
        _ => set_common(&mut options.common, option)?,
    }
    Ok(())
}

pub fn set_gather(options: &mut GatherOptions, option: &RawOption) -> syn::Result<()> {
    match option.name.to_string().as_str() {
        "spawn" => options.spawn = true,
        "limit" => {
            options.limit = Some(positive(
                option,
                "with `limit = 0` no future could ever run",
            )?)
        }
        "timeout" => options.timeout = Some(duration(option)?),
        // gather!'s streams and races (issue 12).
        "stream" => options.stream = true,
        "unordered" => options.unordered = true,
        "race" => options.race = true,
        "buffer" => {
            options.buffer = Some(positive(
                option,
                "with `buffer = 0` no item could ever be taken",
            )?)
        }
        _ => set_common(&mut options.common, option)?,
    }
    Ok(())
}

/// The options of every macro; `take` has refused any other.
fn set_common(options: &mut Common, option: &RawOption) -> syn::Result<()> {
    match option.name.to_string().as_str() {
        "catch" => {
            options.catch = true;
            options.catch_at = Some(option.name.span());
        }
        "try" => options.try_ = true,
        "timeline" => options.timeline = true,
        "progress" => options.progress = true,
        "name" => options.name = Some(string_value(option)?),
        _ => {}
    }
    Ok(())
}

/// `name = "io"`, or any expression whose value is a string (its type is
/// checked by the compiler, on the user's tokens: see `Cx::name_setup`).
fn string_value(option: &RawOption) -> syn::Result<Name> {
    match &option.value {
        Some(Expr::Lit(lit)) => match &lit.lit {
            Lit::Str(s) if !s.value().is_empty() => Ok(Name::Literal(s.clone())),
            Lit::Str(s) => Err(syn::Error::new(s.span(), "a worker name cannot be empty")),
            other => Err(syn::Error::new(
                other.span(),
                "`name` takes a string, for example `name = \"io\"` or `name = format!(\"req-{id}\")`",
            )),
        },
        Some(other) => Ok(Name::Dynamic(other.clone())),
        None => Err(syn::Error::new(option.name.span(), "`name` needs a value")),
    }
}

/// A count that must not be zero; a literal 0 is caught here, other
/// expressions at run time.
fn positive(option: &RawOption, why: &str) -> syn::Result<Expr> {
    let value = option
        .value
        .clone()
        .ok_or_else(|| syn::Error::new(option.name.span(), "needs a value"))?;
    if let Expr::Lit(lit) = &value {
        match &lit.lit {
            Lit::Int(int) => {
                if int.base10_digits().trim_start_matches('0').is_empty() {
                    return Err(syn::Error::new(
                        int.span(),
                        format!("`{} = 0` is not allowed: {why}", option.name),
                    ));
                }
            }
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "`{}` takes a whole number, for example `{} = 4`",
                        option.name, option.name
                    ),
                ));
            }
        }
    }
    Ok(value)
}

fn duration(option: &RawOption) -> syn::Result<Expr> {
    let value = option
        .value
        .clone()
        .ok_or_else(|| syn::Error::new(option.name.span(), "needs a value"))?;
    if let Expr::Lit(lit) = &value
        && matches!(lit.lit, Lit::Int(_) | Lit::Float(_))
    {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`timeout` takes a `std::time::Duration`, not a bare number: write `timeout = Duration::from_secs({})` or `Duration::from_millis(...)`",
                quote::ToTokens::to_token_stream(&lit.lit)
            ),
        ));
    }
    Ok(value)
}

fn unknown(kind: MacroKind, option: &RawOption) -> syn::Error {
    let name = option.name.to_string();
    let known: Vec<&str> = SPECS
        .iter()
        .filter(|s| s.macros.contains(&kind))
        .map(|s| s.name)
        .collect();
    let suggestion = known
        .iter()
        .map(|k| (distance(&name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k);
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match suggestion {
        Some(k) => format!(
            "unknown option `{name}` for {}; did you mean `{k}`? (its options: {list})",
            kind.macro_name()
        ),
        None => format!(
            "unknown option `{name}` for {}; its options are {list}",
            kind.macro_name()
        ),
    };
    syn::Error::new(option.name.span(), message)
}

fn misplaced(kind: MacroKind, option: &RawOption, spec: &Spec) -> syn::Error {
    let name = spec.name;
    let message = match (name, kind) {
        ("timeout", Threads) => "`timeout` is not available on spawn_threads!: a running thread cannot be cancelled or killed from outside, so there is no way to stop it at a deadline. Run the tasks in child processes instead, which can be killed: `spawn_processes!(...; timeout = Duration::from_secs(5))`".to_owned(),
        ("processes", Threads | Processes) => format!(
            "`processes` is an option of pool_map!, not of {}; to run each task in its own process write `spawn_processes!(...)`",
            kind.macro_name()
        ),
        ("processes", Gather) => "`processes` is an option of pool_map!; gather! polls futures on the current task. To run work in processes use `spawn_processes!(...)` or `pool_map!(f, items; processes)`".to_owned(),
        ("race", Threads) => "`race` is not available on spawn_threads!: the losers of a race are cancelled, and a running thread cannot be cancelled or killed from outside. Race child processes, which can be killed (`spawn_processes!(solve_a(), solve_b(); race)`), or futures, which are dropped (`gather!(mirror_a(), mirror_b(); race)`)".to_owned(),
        ("stack_size", Processes) => "`stack_size` sets the stack of a thread; a forked process keeps the stack of the thread that forked it".to_owned(),
        _ => {
            let owners: Vec<&str> = spec.macros.iter().map(|m| m.macro_name()).collect();
            format!(
                "`{name}` is an option of {}, not of {}",
                owners.join(" and "),
                kind.macro_name()
            )
        }
    };
    syn::Error::new(option.name.span(), message)
}

/// Levenshtein distance, for the did-you-mean.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("cathc", "catch"), 2);
        assert_eq!(distance("worker", "workers"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}

//! Golden expansions: the code each macro form generates, pretty-printed, kept
//! in `macros/tests/expand/<macro>/<form>.rs` and compared, so that a change
//! to generated code shows in review as a diff of those files.
//!
//! Each file is the expansion of one invocation (named in its first line),
//! wrapped in `fn main() { let _ = ...; }` for prettyplease. They are read,
//! not compiled (`tests/expansion_lints.rs` compiles the real thing). After an
//! intended change to the expansion, rewrite them and review the diff:
//!
//! ```text
//! FANOUT_BLESS=1 cargo test -p fanout-macros golden
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

use crate::entry;
use crate::kind::MacroKind::{self, Gather, Pool, Processes, Threads};

const BLESS: &str = "FANOUT_BLESS";

/// `(file under tests/expand, macro, invocation as the user writes it)`.
const CASES: &[(&str, MacroKind, &str)] = &[
    ("spawn_threads/list", Threads, "print_numbers, worker(i)"),
    ("spawn_threads/loop", Threads, "for i in 0..5 => worker(i)"),
    (
        "spawn_threads/catch",
        Threads,
        "print_numbers, worker(i); catch",
    ),
    ("spawn_threads/try", Threads, "parse(a), parse(b); try"),
    (
        "spawn_threads/try-catch",
        Threads,
        "parse(a), parse(b); try, catch",
    ),
    (
        "spawn_threads/loop-try-catch",
        Threads,
        "for s in texts => parse(s); try, catch",
    ),
    (
        "spawn_threads/name",
        Threads,
        "print_numbers, || data.len(); name = \"io\"",
    ),
    (
        "spawn_threads/name-dynamic",
        Threads,
        "print_numbers, || data.len(); name = format!(\"req-{id}\")",
    ),
    (
        "spawn_threads/stack-size",
        Threads,
        "for i in 0..2 => worker(i); stack_size = 1 << 20",
    ),
    (
        "spawn_threads/timeline",
        Threads,
        "print_numbers, PrintLetters; timeline",
    ),
    (
        "spawn_threads/progress",
        Threads,
        "for i in 0..100 => worker(i); progress",
    ),
    (
        "spawn_threads/race-left-out",
        Threads,
        "for i in 0..5 => total += i",
    ),
    (
        "spawn_processes/list",
        Processes,
        "print_numbers, worker(3)",
    ),
    (
        "spawn_processes/loop",
        Processes,
        "for i in 0..5 => worker(i)",
    ),
    (
        "spawn_processes/timeout",
        Processes,
        "for i in 0..5 => worker(i); timeout = Duration::from_secs(5)",
    ),
    (
        "spawn_processes/catch",
        Processes,
        "print_numbers, worker(3); catch",
    ),
    (
        "spawn_processes/lost-write-left-out",
        Processes,
        "counter += 1, fill(&mut buf)",
    ),
    ("pool_map/threads", Pool, "square, 0..10"),
    ("pool_map/processes", Pool, "square, 0..10; processes"),
    (
        "pool_map/name-dynamic",
        Pool,
        "square, 0..10; name = who.as_str()",
    ),
    ("pool_map/mpi", Pool, "square, 0..10; mpi"),
    ("pool_map/catch", Pool, "square, 0..10; catch"),
    ("pool_map/try", Pool, "parse, texts; try"),
    ("pool_map/try-catch", Pool, "parse, texts; try, catch"),
    (
        "pool_map/workers",
        Pool,
        "|w: &&str| w.len(), &words; workers = 4",
    ),
    (
        "pool_map/chunksize",
        Pool,
        "square, 0..10; processes, workers = 2, chunksize = 100",
    ),
    (
        "pool_map/timeout-on-threads",
        Pool,
        "square, 0..10; timeout = Duration::from_secs(1)",
    ),
    ("gather/list", Gather, "task1(), task2()"),
    (
        "gather/loop",
        Gather,
        "for url in urls => fetch(&client, url)",
    ),
    (
        "gather/limit",
        Gather,
        "for url in urls => fetch(&client, url); limit = 2",
    ),
    ("gather/spawn", Gather, "for i in 0..5 => fetch(i); spawn"),
    (
        "gather/timeout",
        Gather,
        "task1(), task2(); catch, timeout = Duration::from_millis(50)",
    ),
    ("gather/try", Gather, "task1(), task2(); try"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand")
}

/// The golden file of one invocation.
fn render(kind: MacroKind, invocation: &str) -> String {
    let input: TokenStream = invocation.parse().expect("a golden case tokenizes");
    let output = entry(kind, quote!([::fanout] #input));
    let expr: syn::Expr = syn::parse2(output.clone())
        .unwrap_or_else(|e| panic!("{invocation}: not an expression ({e}): {output}"));
    let file: syn::File = syn::parse_quote! {
        fn main() {
            let _ = #expr;
        }
    };
    format!(
        "// {}{invocation})\n{}",
        kind.macro_name().replace('!', "!("),
        prettyplease::unparse(&file)
    )
}

/// The `.rs` files under `dir`, relative to it, without the extension.
fn existing(dir: &Path, under: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir.join(under)) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let relative = under.join(path.file_name().unwrap());
        if path.is_dir() {
            existing(dir, &relative, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.insert(relative.with_extension("").to_string_lossy().into_owned());
        }
    }
}

#[test]
fn golden_expansions_match_the_files() {
    let root = root();
    let bless = std::env::var_os(BLESS).is_some();
    let mut stale = BTreeSet::new();
    existing(&root, Path::new(""), &mut stale);
    let mut differ = Vec::new();
    for (name, kind, invocation) in CASES {
        stale.remove(*name);
        let expected = render(*kind, invocation);
        let path = root.join(format!("{name}.rs"));
        if bless {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &expected).unwrap();
        } else if fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            differ.push(format!("{name}.rs"));
        }
    }
    if bless {
        for name in &stale {
            fs::remove_file(root.join(format!("{name}.rs"))).unwrap();
        }
        return;
    }
    assert!(
        differ.is_empty() && stale.is_empty(),
        "the expansions differ from macros/tests/expand: {differ:?}; files of no case: {stale:?}.\n\
         If the change is intended, rewrite them and review the diff:\n\n    \
         {BLESS}=1 cargo test -p fanout-macros golden\n"
    );
}

#[test]
fn golden_names_are_unique_and_no_golden_is_a_test_target() {
    let names: BTreeSet<&str> = CASES.iter().map(|(name, ..)| *name).collect();
    assert_eq!(names.len(), CASES.len());
    // Cargo would build `tests/expand/main.rs` as an integration test.
    assert!(names.iter().all(|name| !name.ends_with("/main")));
}

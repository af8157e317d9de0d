//! No input makes a macro panic: thousands of random and mutated token
//! streams, built from real invocations, go through parse → validate →
//! expand ([`crate::entry`], what each `#[proc_macro]` calls).
//!
//! Each must come back as tokens that parse as an expression (the expansion
//! plus any `compile_error!`), without a panic. The generator is a small
//! xorshift with a fixed seed, so a failure names an input that reproduces.
//! Set `FANOUT_FUZZ_CASES` to run more cases than the default.

use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::quote;

use crate::kind::MacroKind::{self, Gather, Pool, Processes, Threads};

/// Real invocations, from the docs, the examples and the catalog of mistakes
/// (without the `[$crate]` that the facade adds).
fn corpus() -> Vec<(MacroKind, TokenStream)> {
    vec![
        (Threads, quote!(print_numbers, print_letters)),
        (Threads, quote!(PrintNumbers, PrintLetters)),
        (Threads, quote!(for i in 0..5 => worker(i))),
        (Threads, quote!(for i in 0..3 => data[i] * 2)),
        (
            Threads,
            quote!(for i in 0..2 => fanout::current_name(); name = "io"),
        ),
        (Threads, quote!(|| 1, || -> i32 { panic!("boom") }; catch)),
        (
            Threads,
            quote!(for s in ["1", "x"] => s.parse::<i32>(); try),
        ),
        (Threads, quote!(job; name = "a", name = "b")),
        (Threads, quote!(job; timeout = Duration::from_secs(1))),
        (Threads, quote!(job; cathc)),
        (Threads, quote!(job, other, name = "io")),
        (Threads, quote!(for i in 0..5 => total += i)),
        (Threads, quote!(|x: u32| x * 2)),
        (
            Threads,
            quote!(for (k, v) in pairs => work(k, v); name = "io", stack_size = 1 << 20, timeline),
        ),
        (
            Threads,
            quote!(for i in 0..100 => worker(i); progress, catch, try),
        ),
        (Threads, quote!()),
        (
            Processes,
            quote!(print_process_info("p1"), print_process_info("p2")),
        ),
        (
            Processes,
            quote!(for i in 0..3 => fanout::current_name().unwrap()),
        ),
        (
            Processes,
            quote!(|| std::thread::sleep(Duration::from_secs(10)); catch, timeout = Duration::from_millis(100)),
        ),
        (Processes, quote!(job; stack_size = 1 << 20)),
        (Processes, quote!(for i in 0..5 => total += i)),
        (Processes, quote!(counter += 1)),
        (
            Processes,
            quote!(for row in pixels.chunks_mut(w) => fill(row)),
        ),
        (
            Processes,
            quote!(for i in 0..4 => { let mut n = 0; n += i; fill(&mut buf, n); buf[0] = 1 }),
        ),
        (Pool, quote!(square, 0..10; workers = 5)),
        (Pool, quote!(square, 0..10; workers = 5, processes)),
        (Pool, quote!(|w: &&str| w.len(), &words)),
        (
            Pool,
            quote!(|s: &str| s.parse::<u8>(), ["1", "x", "3"]; try),
        ),
        (
            Pool,
            quote!(square, 0..10; workers = 0, chunksize = 2, timeout = d, mpi),
        ),
        (Pool, quote!(|x: i32| total += x, 0..10)),
        (
            Pool,
            quote!(|(y, row)| render(y, row), pixels.chunks_mut(w).enumerate(); processes),
        ),
        (Pool, quote!(|x: u32| { *slot = x; }, 0..4; mpi, processes)),
        (
            Pool,
            quote!(square, 0..10; timeout = Duration::from_secs(1)),
        ),
        (Pool, quote!(for i in 0..5 => worker(i))),
        (Pool, quote!(square)),
        (Gather, quote!(task("Task 1", 0.2), task("Task 2", 0.1))),
        (
            Gather,
            quote!(for i in 0..5 => task("worker", 0.01 * i as f64)),
        ),
        (
            Gather,
            quote!(async { 1 }, tokio::time::sleep(Duration::from_secs(10)); catch, timeout = Duration::from_millis(50)),
        ),
        (
            Gather,
            quote!(for url in urls => fetch(&client, url); limit = 2, spawn),
        ),
        (Gather, quote!(|| task(), task())),
        (Gather, quote!(work(), other(); spawn, try)),
        (
            Gather,
            quote!(for i in 0..5 => fetch(i); limit = 0, workers = 2),
        ),
    ]
}

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const PUNCT: &[char] = &[
    ',', ';', '=', '>', '<', '|', '&', '*', '+', '-', '.', ':', '!', '?', '#', '@', '$', '~', '^',
    '%', '/', '\'',
];

const WORDS: &[&str] = &[
    "for",
    "in",
    "move",
    "async",
    "await",
    "let",
    "if",
    "else",
    "match",
    "fn",
    "loop",
    "return",
    "break",
    "catch",
    "name",
    "timeout",
    "workers",
    "chunksize",
    "limit",
    "spawn",
    "processes",
    "progress",
    "timeline",
    "mpi",
    "stack_size",
    "cathc",
    "x",
    "i",
    "_",
    "self",
    "Self",
    "crate",
    "super",
    "worker",
    "task",
    "Duration",
    "unsafe",
    "static",
    "const",
    "dyn",
    "impl",
    "where",
    "true",
    "false",
    "r#try",
    "r#type",
];

fn random_token(rng: &mut Rng, depth: usize) -> TokenTree {
    match rng.below(10) {
        0..=2 => {
            let spacing = if rng.chance(3) {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            TokenTree::Punct(Punct::new(*rng.pick(PUNCT), spacing))
        }
        3..=5 => {
            let word = *rng.pick(WORDS);
            let ident = match word.strip_prefix("r#") {
                Some(raw) => Ident::new_raw(raw, Span::call_site()),
                None => Ident::new(word, Span::call_site()),
            };
            TokenTree::Ident(ident)
        }
        6..=7 => TokenTree::Literal(random_literal(rng)),
        _ => {
            let delimiter = *rng.pick(&[
                Delimiter::Parenthesis,
                Delimiter::Bracket,
                Delimiter::Brace,
                Delimiter::None,
            ]);
            let len = if depth > 2 { 0 } else { rng.below(4) };
            let stream = (0..len).map(|_| random_token(rng, depth + 1)).collect();
            TokenTree::Group(Group::new(delimiter, stream))
        }
    }
}

fn random_literal(rng: &mut Rng) -> Literal {
    match rng.below(9) {
        0 => Literal::u64_unsuffixed(*rng.pick(&[0, 1, 2, 5, 1 << 20, u64::MAX])),
        1 => Literal::i64_suffixed(-(rng.below(1000) as i64)),
        2 => Literal::f64_unsuffixed(*rng.pick(&[0.0, 0.5, 1e300])),
        3 => Literal::string(rng.pick::<&str>(&["", "io", "a b", "\"", "\u{1F600}"])),
        4 => Literal::character(*rng.pick(&['a', '\'', '\0'])),
        5 => Literal::byte_string(b"bytes"),
        6 => Literal::usize_suffixed(rng.below(10)),
        7 => "0x00".parse().unwrap_or_else(|_| Literal::u8_unsuffixed(0)),
        _ => Literal::u128_unsuffixed(u128::MAX),
    }
}

/// One random edit somewhere in `tokens` (possibly inside a group).
fn mutate(rng: &mut Rng, tokens: TokenStream, donor: &TokenStream) -> TokenStream {
    let mut trees: Vec<TokenTree> = tokens.into_iter().collect();
    // Sometimes descend into a group and edit there instead.
    let groups: Vec<usize> = trees
        .iter()
        .enumerate()
        .filter(|(_, tt)| matches!(tt, TokenTree::Group(_)))
        .map(|(k, _)| k)
        .collect();
    if !groups.is_empty() && rng.chance(3) {
        let k = *rng.pick(&groups);
        if let TokenTree::Group(group) = &trees[k] {
            let inner = mutate(rng, group.stream(), donor);
            let mut edited = Group::new(group.delimiter(), inner);
            edited.set_span(group.span());
            trees[k] = TokenTree::Group(edited);
        }
        return trees.into_iter().collect();
    }
    let len = trees.len();
    match rng.below(8) {
        // Drop a token.
        0 if len > 0 => {
            trees.remove(rng.below(len));
        }
        // Duplicate one.
        1 if len > 0 => {
            let k = rng.below(len);
            trees.insert(k, trees[k].clone());
        }
        // Swap two.
        2 if len > 1 => {
            let (a, b) = (rng.below(len), rng.below(len));
            trees.swap(a, b);
        }
        // Replace one with a random token.
        3 if len > 0 => {
            let k = rng.below(len);
            trees[k] = random_token(rng, 0);
        }
        // Truncate.
        4 => trees.truncate(rng.below(len + 1)),
        // Wrap a run of tokens in a group.
        5 if len > 0 => {
            let start = rng.below(len);
            let end = start + rng.below(len - start) + 1;
            let inner: TokenStream = trees.drain(start..end).collect();
            let delimiter = *rng.pick(&[Delimiter::Parenthesis, Delimiter::Brace, Delimiter::None]);
            trees.insert(start, TokenTree::Group(Group::new(delimiter, inner)));
        }
        // Splice in tokens of another real invocation.
        6 => {
            let donor: Vec<TokenTree> = donor.clone().into_iter().collect();
            if !donor.is_empty() {
                let start = rng.below(donor.len());
                let take = rng.below(donor.len() - start) + 1;
                let at = rng.below(len + 1);
                for (offset, tt) in donor[start..start + take].iter().enumerate() {
                    trees.insert(at + offset, tt.clone());
                }
            }
        }
        // Insert a random token.
        _ => trees.insert(rng.below(len + 1), random_token(rng, 0)),
    }
    trees.into_iter().collect()
}

/// Runs one input; `Ok(true)` if the output reports a mistake, `Err`
/// describes a failure.
fn check(kind: MacroKind, input: TokenStream, intact_krate: bool) -> Result<bool, String> {
    let shown = input.to_string();
    let outcome = catch_unwind(AssertUnwindSafe(|| crate::entry(kind, input)));
    let output = outcome.map_err(|_| format!("{kind:?} panicked on: {shown}"))?;
    if output.is_empty() {
        return Err(format!("{kind:?} returned no tokens for: {shown}"));
    }
    // With the facade's `[$crate]`, the output is always an expression: the
    // expansion, preceded by `compile_error!`s if the input had mistakes.
    if intact_krate && syn::parse2::<syn::Expr>(output.clone()).is_err() {
        return Err(format!(
            "{kind:?} expanded to tokens that are not an expression:\n  input: {shown}\n  output: {output}"
        ));
    }
    Ok(output.to_string().contains("compile_error"))
}

fn cases() -> usize {
    std::env::var("FANOUT_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12_000)
}

#[test]
fn no_input_makes_a_macro_panic() {
    let corpus = corpus();
    let kinds = [Threads, Processes, Pool, Gather];
    let mut rng = Rng(0x5EED_F00D_CAFE_D00D);
    let mut failures = Vec::new();
    let mut reported = 0;
    let krate = quote!([::fanout]);
    // The real invocations themselves.
    for (kind, input) in &corpus {
        for kind in [*kind, *rng.pick(&kinds)] {
            if let Err(failure) = check(kind, quote!(#krate #input), true) {
                failures.push(failure);
            }
        }
    }
    for case in 0..cases() {
        let (kind, seed) = rng.pick(&corpus).clone();
        // Now and then, feed an invocation to another macro.
        let kind = if rng.chance(5) {
            *rng.pick(&kinds)
        } else {
            kind
        };
        let donor = &rng.pick(&corpus).1;
        let (body, intact_krate) = if case % 10 == 0 {
            // Pure noise.
            let len = rng.below(16);
            ((0..len).map(|_| random_token(&mut rng, 0)).collect(), true)
        } else {
            let mut body = seed;
            for _ in 0..=rng.below(4) {
                body = mutate(&mut rng, body, donor);
            }
            (body, true)
        };
        let input = match case % 50 {
            // The facade's `[$crate]` itself mutated, or missing.
            1 => (mutate(&mut rng, quote!(#krate #body), donor), false),
            2 => (body, true),
            _ => (quote!(#krate #body), intact_krate),
        };
        match check(kind, input.0, input.1) {
            Ok(mistake) => reported += usize::from(mistake),
            Err(failure) => failures.push(failure),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed; the first ones:\n{}",
        failures.len(),
        cases(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The mutations do reach the error paths, and do not only break things.
    let share = reported * 100 / cases().max(1);
    assert!(
        (50..=98).contains(&share),
        "{share}% of the inputs reported a mistake"
    );
}

#[test]
fn the_real_invocations_that_are_right_expand_without_errors() {
    for (kind, input) in corpus().into_iter().take(7) {
        let output = crate::entry(kind, quote!([::fanout] #input)).to_string();
        assert!(!output.contains("compile_error"), "{input}: {output}");
    }
}

//! A macro or option whose cargo feature is off is a compile error on the
//! user's tokens that names the feature (README, "Features"). The default
//! build has every feature on, so this test writes two small crates under
//! `target/features-off/` that depend on fanout with some features off, runs
//! `cargo check` on them (in a target directory of their own: about ten
//! seconds the first time, mostly syn) and reads the errors.

use std::path::Path;
use std::process::Command;

/// One program of a scratch crate: its name, its source, the start of the
/// error it must give, and the token the error must point at.
struct Case {
    bin: &'static str,
    source: &'static str,
    message: &'static str,
    at: &'static str,
}

/// A crate that depends on fanout with `features` (and no default
/// features), one binary per case; `cargo check` must give each case's
/// error, on its token, and no other error.
fn check(name: &str, features: &str, cases: &[Case]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("features-off").join(name);
    let bins = dir.join("src").join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    let manifest = format!(
        "[package]\nname = \"features-off-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nfanout = {{ path = {root:?}, default-features = false, features = [{features}] }}\n\n\
         # Not a member of fanout's workspace.\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The versions fanout is tested with, so that nothing is resolved anew.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for case in cases {
        std::fs::write(bins.join(format!("{}.rs", case.bin)), case.source).unwrap();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--bins", "--keep-going", "--message-format=short"])
        .arg("--target-dir")
        .arg(root.join("target").join("features-off").join("target"))
        .current_dir(&dir)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("cannot run cargo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("src/bin/") && line.contains(": error"))
        .collect();
    for case in cases {
        let (line, column) = case
            .source
            .lines()
            .enumerate()
            .find_map(|(n, text)| text.find(case.at).map(|c| (n + 1, c + 1)))
            .unwrap_or_else(|| panic!("`{}` is not in {}.rs", case.at, case.bin));
        let expected = format!(
            "src/bin/{}.rs:{line}:{column}: error{}",
            case.bin, case.message
        );
        assert!(
            errors.iter().any(|e| e.starts_with(&expected)),
            "expected `{expected}...` among:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(errors.len(), cases.len(), "{}", errors.join("\n"));
}

#[test]
fn with_threads_and_pool_only_the_other_backends_name_their_feature() {
    check(
        "threads-pool",
        "\"threads\", \"pool\"",
        &[
            Case {
                bin: "processes",
                source: "fn main() {\n    let pids = fanout::spawn_processes!(std::process::id(), std::process::id());\n    println!(\"{pids:?}\");\n}\n",
                message: ": spawn_processes! needs fanout's `processes` feature, which is off: add `features = [\"processes\"]` to the fanout dependency in Cargo.toml (it brings serde, rmp-serde, stacker and libc), or turn the default features back on",
                at: "std::process::id(), std",
            },
            Case {
                bin: "pool_processes",
                source: "fn main() {\n    let squares = fanout::pool_map!(|x: u64| x * x, 0..4u64; processes);\n    println!(\"{squares:?}\");\n}\n",
                message: ": pool_map!(...; processes) needs fanout's `processes` feature, which is off",
                at: "processes)",
            },
            Case {
                bin: "gather",
                source: "async fn both() -> (u8, u8) {\n    fanout::gather!(async { 1 }, async { 2 })\n}\n\nfn main() {\n    drop(both());\n}\n",
                message: ": gather! needs fanout's `gather` feature, which is off: add `features = [\"gather\"]`",
                at: "async { 1 }",
            },
            Case {
                bin: "run",
                source: "fn main() {\n    let one = fanout::run(async { 1 });\n    println!(\"{one}\");\n}\n",
                message: "[E0277]: fanout::run needs fanout's `gather` feature",
                at: "async { 1 }",
            },
            Case {
                bin: "progress",
                source: "fn main() {\n    let doubled = fanout::spawn_threads!(for i in 0..3 => i * 2; progress);\n    println!(\"{doubled:?}\");\n}\n",
                message: ": `progress` needs fanout's `progress` feature, which is off: add `features = [\"progress\"]`",
                at: "progress)",
            },
        ],
    );
}

#[test]
fn with_no_feature_spawn_threads_and_pool_map_name_theirs() {
    check(
        "none",
        "",
        &[
            Case {
                bin: "threads",
                source: "fn main() {\n    let (a, b) = fanout::spawn_threads!(|| 1, || 2);\n    println!(\"{a} {b}\");\n}\n",
                message: ": spawn_threads! needs fanout's `threads` feature, which is off: add `features = [\"threads\"]` to the fanout dependency in Cargo.toml (it needs only std)",
                at: "|| 1",
            },
            Case {
                bin: "pool",
                source: "fn main() {\n    let next = fanout::pool_map!(|x: u8| x + 1, [1, 2]);\n    println!(\"{next:?}\");\n}\n",
                message: ": pool_map! needs fanout's `pool` feature, which is off: add `features = [\"pool\"]` to the fanout dependency in Cargo.toml (it brings rayon)",
                at: "|x: u8|",
            },
        ],
    );
}

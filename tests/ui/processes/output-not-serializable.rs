// Mistake: a task run in a child process returns a struct that serde cannot
// serialize; its output must cross back to the caller as bytes.
// Python: multiprocessing pickles the result when the child returns, and a
// value that cannot be pickled fails at run time, in the child.
// Fix: `#[derive(serde::Serialize, serde::Deserialize)]` on the struct, or
// return a serializable value (a `String`, a number, a `Vec` of them).
struct Report {
    lines: Vec<String>,
}

fn make_report() -> Report {
    Report {
        lines: vec!["done".to_owned()],
    }
}

fn main() {
    let report = fanout::spawn_processes!(make_report);
    println!("{}", report.lines.len());
}

// Mistake: `stream` (input order) and `unordered` (completion order) together.
// Python: `Pool.imap` against `Pool.imap_unordered`.
// Fix: one of them: `gather!(for i in 0..3 => fetch(i); unordered)`.
async fn fetch(i: u32) -> u32 {
    i
}

fn main() {
    fanout::run(async {
        let _ = fanout::gather!(for i in 0..3 => fetch(i); stream, unordered);
    });
}

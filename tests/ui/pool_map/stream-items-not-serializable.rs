// Mistake: a stream in processes over items that cannot be serialized.
// Python: `Pool.imap` pickles each item; an unpicklable one raises at run time.
// Fix: derive `serde::Serialize` and `serde::Deserialize` on the item type,
// or stream on threads (drop `processes`).
struct Job {
    size: u64,
}

fn main() {
    let jobs = vec![Job { size: 1 }, Job { size: 2 }];
    for _ in fanout::pool_map!(|job: Job| job.size, jobs; processes, stream) {}
}

// Mistake: the loop form without `=>` between the items and the task.
// Python: `[Thread(target=worker, args=(i,)) for i in range(5)]` has no arrow;
// fanout's loop form separates the items from the task with `=>`.
// Fix: `spawn_threads!(for i in 0..5 => worker(i))`.
fn worker(_: usize) {}

fn main() {
    fanout::spawn_threads!(for i in 0..5 worker(i));
}

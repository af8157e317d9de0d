// Mistake: a loop form followed by more tasks, as if it were a list.
// Python: `[Thread(target=f, args=(i,)) for i in range(3)] + [Thread(target=g)]`
// builds one list of threads.
// Fix: the loop form takes one task; run the others in their own
// spawn_threads! (or write every task in a list).

fn f(i: u32) -> u32 {
    i
}

fn g() -> u32 {
    0
}

fn main() {
    let out = fanout::spawn_threads!(for i in 0..3 => f(i), g());
    println!("{out:?}");
}

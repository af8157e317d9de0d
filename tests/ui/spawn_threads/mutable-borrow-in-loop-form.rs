// Mistake: the loop form's task assigns to a variable of the caller. Every
// iteration runs on its own thread at the same time as the others.
// Python: `for i in range(5): Thread(target=add, args=(i,)).start()` with
// `total += i` inside `add` is a race that loses updates without a word.
// Fix: return the value and combine the outputs:
// `let total: usize = spawn_threads!(for i in 0..5 => i).iter().sum();`
fn main() {
    let mut total = 0;
    fanout::spawn_threads!(for i in 0..5 => total += i);
    println!("{total}");
}

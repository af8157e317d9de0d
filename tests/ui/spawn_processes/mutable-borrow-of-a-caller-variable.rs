// Mistake: a process task borrows a variable of the caller mutably, to fill
// it. The child fills its own copy of the buffer, which is lost when it exits.
// Python: a `multiprocessing.Process` target that appends to a list it was
// given appends to the child's copy; the parent's list stays empty.
// Fix: return the values and let the caller write them:
// `let parts = spawn_processes!(for i in 0..4 => part(i)); for (i, p) in parts.into_iter().enumerate() { buf[i] = p }`.
fn fill(buf: &mut [u8; 4], i: usize) {
    buf[i] = 1;
}

fn main() {
    let mut buf = [0_u8; 4];
    fanout::spawn_processes!(for i in 0..4 => fill(&mut buf, i));
    println!("{buf:?}");
}

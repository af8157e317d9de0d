// Mistake: the items are mutable parts of the caller's image, for each task
// to fill its row. Each task runs in a child process and fills the child's
// copy of the row: the image stays as it was.
// Python: a `multiprocessing.Process` per row that writes into a list or a
// NumPy array it was given writes the child's copy; the parent's is unchanged.
// Fix: compute each row in its child, return it, and let the caller copy it:
// `let rows = spawn_processes!(for y in 0..h => render(y)); for (row, out) in pixels.chunks_mut(w).zip(rows) { row.copy_from_slice(&out) }`.
fn fill(row: &mut [u8]) {
    row.fill(255);
}

fn main() {
    let w = 4;
    let mut pixels = vec![0_u8; 4 * w];
    fanout::spawn_processes!(for row in pixels.chunks_mut(w) => fill(row));
    println!("{pixels:?}");
}

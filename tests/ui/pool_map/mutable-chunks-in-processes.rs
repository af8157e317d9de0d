// Mistake: a process pool given mutable rows of the caller's image to render
// into. Each worker process renders into its own copy of the rows: the image
// stays as it was.
// Python: `ProcessPoolExecutor().map(render, enumerate(rows))` pickles each
// row to the worker, which fills the copy; the parent's rows are unchanged.
// Fix: return each row and let the caller copy it:
// `let rows = pool_map!(|y| render(y), 0..h; processes); for (row, out) in pixels.chunks_mut(w).zip(rows) { row.copy_from_slice(&out) }`.
fn render(y: usize, row: &mut [u8]) {
    row.fill(u8::try_from(y).unwrap_or(0));
}

fn main() {
    let w = 4;
    let mut pixels = vec![0_u8; 4 * w];
    fanout::pool_map!(|(y, row)| render(y, row), pixels.chunks_mut(w).enumerate(); processes);
    println!("{pixels:?}");
}

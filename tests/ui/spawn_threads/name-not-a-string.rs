// Mistake: a worker name that is a number, not a string.
// Python: `Thread(name=request_id)` accepts anything and calls `str()` on it.
// Fix: `name` takes any string expression, read once before the workers start:
// `name = format!("req-{request_id}")` (workers `req-7-0`, `req-7-1`, ...), a
// `String`, or a `&str` such as `prefix.as_str()`. (Before, `name` took only a
// literal: `name = prefix` was refused even when `prefix` held a string.)
fn job() {}

fn main() {
    let request_id = 7u32;
    fanout::spawn_threads!(job; name = request_id);
}

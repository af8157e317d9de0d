// Mistake: `try` and `catch` together, with an error type that cannot hold a
// panic. With `catch`, a task that panics becomes an error too, so the
// combined error must be able to say "this task panicked".
// Python: `return_exceptions=True` puts any exception object in the results;
// Python has no error types to check.
// Fix: an error type that converts from `fanout::Error`, for example
// `Box<dyn std::error::Error + Send + Sync>` (`.map_err(Into::into)`), or
// leave out `catch`.
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

fn main() {
    fanout::run(async {
        let parsed =
            fanout::gather!(for text in ["1", "x"] => async move { parse(text) }; try, catch);
        println!("{parsed:?}");
    });
}

//! Stand-ins for public functions whose feature is off: each has a bound that
//! nothing implements, so that a call fails to compile with a message naming
//! the feature to turn on (as `map::on_mpi` does without `mpi`), instead of
//! "cannot find function".

/// Implemented by nothing: the bound that makes `fanout::run` fail to compile,
/// with a message that names the missing `gather` feature.
#[diagnostic::on_unimplemented(
    message = "fanout::run needs fanout's `gather` feature",
    label = "`gather` is off: fanout has no async runtime to run this future on",
    note = "add `features = [\"gather\"]` to the fanout dependency (it brings tokio, futures and pin-project-lite), or turn the default features back on"
)]
pub trait GatherFeature {}

/// Stands for `run` of the `gather` feature; cannot be called without it.
pub fn run<F: IntoFuture + GatherFeature>(future: F) -> F::Output {
    let _ = future;
    unreachable!("fanout: `GatherFeature` has no implementation")
}

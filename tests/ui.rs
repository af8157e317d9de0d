//! The compile-fail catalog: every mistake in tests/ui/<macro>/ must fail to
//! compile with the message in its .stderr file. One trybuild run for all.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
    // Without the `mpi` feature, `pool_map!(...; mpi)` must not compile, and
    // the error must say how to turn MPI on.
    #[cfg(not(feature = "mpi"))]
    cases.compile_fail("tests/mpi-off/*.rs");
}

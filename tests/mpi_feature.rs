//! Without the `mpi` feature, `pool_map!(...; mpi)` must not compile, and the
//! error must say how to turn MPI on (tests/mpi-off/*.stderr).

#[cfg(not(feature = "mpi"))]
#[test]
fn mpi_needs_the_feature() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/mpi-off/*.rs");
}

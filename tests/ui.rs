//! The compile-fail catalog: every mistake in tests/ui/<macro>/ must fail to
//! compile with the message in its .stderr file. One trybuild run for all.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
}

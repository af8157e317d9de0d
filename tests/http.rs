//! The tutorial's aiohttp example (examples/asyncio_http.rs) runs against its
//! own local server: three pages fetched concurrently with a real client.

#[path = "../examples/asyncio_http.rs"]
#[allow(dead_code)]
mod asyncio_http;

#[test]
fn fetches_every_page_concurrently_in_order() {
    common::set_speed(5.0); // each page answers in 0.1 s
    let fetched = asyncio_http::run();
    assert_eq!(fetched.pages.len(), 3);
    for (page, domain) in fetched.pages.iter().zip(asyncio_http::DOMAINS) {
        assert_eq!(*page, asyncio_http::page(domain));
        assert!(
            page.chars()
                .take(100)
                .collect::<String>()
                .contains("Example Domain")
        );
    }
    // Three 0.1 s answers: together well under the 0.3 s they take in a row;
    // with `limit = 2`, at least two rounds.
    assert!(
        fetched.together.as_secs_f64() < 0.25,
        "{:?}",
        fetched.together
    );
    assert!(
        fetched.limited.as_secs_f64() >= 0.19,
        "{:?}",
        fetched.limited
    );
}

#[allow(dead_code)]
#[path = "../examples/common/mod.rs"]
mod common;

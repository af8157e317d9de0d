//! A name computed at run time (`name = format!(...)`) is freed with its
//! workers: a server that names every request does not grow. Measured as the
//! resident memory of the process (Linux), in a test binary of its own so
//! that no other test allocates meanwhile.
#![cfg(target_os = "linux")]

/// Resident bytes of this process (`/proc/self/statm`, in pages of 4 KiB).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A long name (16 KiB), so that keeping one per call would show: 1 000
/// rounds keep 48 MiB if the names of their three macros stay.
fn request_name(id: usize) -> String {
    format!("request-{id:0>16376}")
}

fn one_round(id: usize) {
    let names = fanout::spawn_threads!(for _ in 0..2 => fanout::current_name().map(|n| n.len()); name = request_name(id));
    assert_eq!(names[1], Some(16_386));
    let who = request_name(id);
    let items = fanout::pool_map!(|x: u32| x + 1, 0..64; workers = 2, name = who.as_str());
    assert_eq!(items.len(), 64);
    let futures = fanout::run(async {
        fanout::gather!(for i in 0..3 => async move { i }; name = who.as_str())
    });
    assert_eq!(futures, [0, 1, 2]);
}

#[test]
fn dynamic_names_do_not_accumulate() {
    for id in 0..50 {
        one_round(id);
    }
    let before = resident();
    for id in 50..1_050 {
        one_round(id);
    }
    let grown = resident().saturating_sub(before);
    assert!(
        grown < 8 << 20,
        "1 000 rounds of dynamically named workers grew the process by {grown} bytes"
    );
}

fn square(i: u64) -> u64 {
    std::hint::black_box(i) * i
}
fn main() {
    for round in 0..200 {
        let t = std::time::Instant::now();
        let v =
            fanout::pool_map!(square, 0..100_000u64; processes, workers = 2, chunksize = 12_500);
        let e = t.elapsed();
        if round % 50 == 0 {
            println!("round {round}: {:?} {}", e, v.len());
        }
    }
}

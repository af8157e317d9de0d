use std::time::Instant;
fn main() {
    for _ in 0..3 {
        let t = Instant::now();
        let v = fanout::spawn_processes!(|| vec![7u8; 256 << 20]);
        let child = t.elapsed();
        let t = Instant::now();
        let w = fanout::spawn_threads!(|| vec![7u8; 256 << 20]);
        let thread = t.elapsed();
        let t = Instant::now();
        let p = fanout::pool_map!(|_: u32| vec![7u8; 256 << 20], 0..1u32; processes);
        let pool = t.elapsed();
        println!(
            "256 MiB Vec<u8>: child {child:?}, thread {thread:?}, process pool {pool:?} ({} {} {})",
            v.len(),
            w.len(),
            p[0].len()
        );
    }
}

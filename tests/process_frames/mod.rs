//! The process pool's frames, attacked: a worker pushes each frame's header
//! as two unaligned word stores (`Ring::push_tagged`), then a non-number's
//! payload. Every shape of output comes back exactly, in order, across many
//! wraps of the ring.
#![cfg(unix)]

use fanout::pool_map;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Inner {
    a: u8,
    b: Option<String>,
    c: Vec<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Outer {
    k: u64,
    name: String,
    inner: Vec<Inner>,
    r: Result<u16, String>,
    f: f64,
    ch: char,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Mixed {
    N(u64),
    S(String),
    Empty,
    B(Vec<u8>),
}

fn text(k: usize, len: usize) -> String {
    (0..len)
        .map(|j| (b'a' + ((k * 31 + j * 7) % 26) as u8) as char)
        .collect()
}

fn outer(k: u64) -> Outer {
    Outer {
        k,
        name: text(k as usize, (k % 50) as usize),
        inner: (0..(k % 4))
            .map(|j| Inner {
                a: (k + j) as u8,
                b: (j % 2 == 0).then(|| text(j as usize, (k % 9) as usize)),
                c: (0..j as i64).map(|x| x - k as i64).collect(),
            })
            .collect(),
        r: if k.is_multiple_of(3) {
            Ok(k as u16)
        } else {
            Err(text(0, (k % 5) as usize))
        },
        f: k as f64 / 7.0,
        ch: char::from_u32(0x41 + (k % 0x2000) as u32).unwrap_or('?'),
    }
}

#[test]
fn every_number_type_round_trips() {
    for workers in 1..=4usize {
        let u8s = pool_map!(|k: u32| (k % 256) as u8, 0..3000u32; processes, workers = workers, chunksize = 1);
        assert!(u8s.iter().enumerate().all(|(k, v)| *v == (k % 256) as u8));
        let i8s =
            pool_map!(|k: i64| (k % 256 - 128) as i8, 0..3000i64; processes, workers = workers);
        assert!(
            i8s.iter()
                .enumerate()
                .all(|(k, v)| *v == (k as i64 % 256 - 128) as i8)
        );
        let u16s = pool_map!(|k: u32| (k.wrapping_mul(40_503)) as u16, 0..3000u32; processes, workers = workers);
        assert!(
            u16s.iter()
                .enumerate()
                .all(|(k, v)| *v == (k as u32).wrapping_mul(40_503) as u16)
        );
        let u64s = pool_map!(|k: u64| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (u64::MAX << (k % 64)), 0..3000u64; processes, workers = workers);
        assert!(
            u64s.iter().enumerate().all(|(k, v)| *v
                == (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (u64::MAX << (k % 64)))
        );
        let i64s = pool_map!(|k: i64| i64::MIN + k * 3, 0..3000i64; processes, workers = workers, chunksize = 1);
        assert!(
            i64s.iter()
                .enumerate()
                .all(|(k, v)| *v == i64::MIN + k as i64 * 3)
        );
        let f64s = pool_map!(|k: u64| f64::from_bits(k.wrapping_mul(0x0123_4567_89ab_cdef)), 0..3000u64; processes, workers = workers);
        assert!(
            f64s.iter()
                .enumerate()
                .all(|(k, v)| v.to_bits() == (k as u64).wrapping_mul(0x0123_4567_89ab_cdef))
        );
        let bools = pool_map!(|k: u32| k % 3 == 1, 0..3000u32; processes, workers = workers);
        assert!(bools.iter().enumerate().all(|(k, v)| *v == (k % 3 == 1)));
        let chars = pool_map!(|k: u32| char::from_u32(k * 37 % 0xD000).unwrap(), 0..3000u32; processes, workers = workers);
        assert!(
            chars
                .iter()
                .enumerate()
                .all(|(k, v)| *v == char::from_u32(k as u32 * 37 % 0xD000).unwrap())
        );
        let f32s = pool_map!(|k: u32| f32::from_bits(k.wrapping_mul(2_654_435_761) & 0x7f7f_ffff), 0..3000u32; processes, workers = workers);
        assert!(f32s.iter().enumerate().all(|(k, v)| v.to_bits() == ((k as u32).wrapping_mul(2_654_435_761) & 0x7f7f_ffff)));
        let extremes = pool_map!(|k: usize| [0u64, 1, 255, 256, u64::MAX, u64::MAX - 1, 1 << 63, 1 << 56][k % 8], 0..800usize; processes, workers = workers);
        assert!(extremes.iter().enumerate().all(
            |(k, v)| *v == [0u64, 1, 255, 256, u64::MAX, u64::MAX - 1, 1 << 63, 1 << 56][k % 8]
        ));
    }
}

#[test]
fn half_a_million_numbers_wrap_the_ring_many_times() {
    for workers in [1usize, 2, 3] {
        let n = 500_000u64;
        let out = pool_map!(|k: u64| k ^ 0xa5a5_a5a5_a5a5_a5a5, 0..n; processes, workers = workers);
        assert_eq!(out.len(), n as usize);
        for (k, v) in out.iter().enumerate() {
            assert_eq!(
                *v,
                k as u64 ^ 0xa5a5_a5a5_a5a5_a5a5,
                "workers {workers} item {k}"
            );
        }
    }
    let out = pool_map!(|k: u64| k as u8, 0..200_000u64; processes, workers = 2, chunksize = 1);
    assert!(out.iter().enumerate().all(|(k, v)| *v == k as u8));
}

#[test]
fn strings_of_every_short_length_and_many_small_ones() {
    for workers in [1usize, 2, 4] {
        let out = pool_map!(|k: usize| text(k, k % 101), 0..5000usize; processes, workers = workers, chunksize = 1);
        for (k, s) in out.iter().enumerate() {
            assert_eq!(s, &text(k, k % 101), "workers {workers} item {k}");
        }
    }
    for workers in [1usize, 2, 3] {
        let out = pool_map!(|k: usize| text(k, 7 + k % 14), 0..200_000usize; processes, workers = workers);
        assert_eq!(out.len(), 200_000);
        for (k, s) in out.iter().enumerate() {
            assert_eq!(s, &text(k, 7 + k % 14), "workers {workers} item {k}");
        }
    }
}

#[test]
fn strings_larger_than_the_ring() {
    for workers in [1usize, 2, 3] {
        let sizes = [
            0usize,
            1,
            3 << 20,
            9,
            (1 << 20) - 9,
            1 << 20,
            (1 << 20) + 1,
            5 << 20,
            0,
            17,
        ];
        let out = pool_map!(|k: usize| {
            let len = [0usize, 1, 3 << 20, 9, (1 << 20) - 9, 1 << 20, (1 << 20) + 1, 5 << 20, 0, 17][k % 10];
            text(k, len)
        }, 0..20usize; processes, workers = workers, chunksize = 1);
        for (k, s) in out.iter().enumerate() {
            assert_eq!(s.len(), sizes[k % 10], "workers {workers} item {k}");
            assert!(
                s == &text(k, sizes[k % 10]),
                "workers {workers} item {k} differs"
            );
        }
        let bytes = pool_map!(|k: usize| vec![(k % 251) as u8; [2 << 20, 10, 0, (1 << 20) + 3][k % 4]], 0..12usize; processes, workers = workers);
        for (k, v) in bytes.iter().enumerate() {
            assert_eq!(v.len(), [2 << 20, 10, 0, (1 << 20) + 3][k % 4]);
            assert!(v.iter().all(|b| *b == (k % 251) as u8));
        }
    }
}

#[test]
fn nested_structs_options_results() {
    for workers in 1..=4usize {
        let out = pool_map!(outer, 0..4000u64; processes, workers = workers, chunksize = 1);
        for (k, o) in out.iter().enumerate() {
            assert_eq!(o, &outer(k as u64));
        }
        let opts = pool_map!(|k: u64| (!k.is_multiple_of(3)).then_some(k), 0..4000u64; processes, workers = workers);
        assert!(
            opts.iter()
                .enumerate()
                .all(|(k, o)| *o == (k % 3 != 0).then_some(k as u64))
        );
        let res = pool_map!(|k: u64| if k.is_multiple_of(2) { Ok(k as u8) } else { Err(text(k as usize, k as usize % 30)) }, 0..4000u64; processes, workers = workers);
        for (k, r) in res.iter().enumerate() {
            let want: Result<u8, String> = if k % 2 == 0 {
                Ok(k as u8)
            } else {
                Err(text(k, k % 30))
            };
            assert_eq!(r, &want);
        }
        let units = pool_map!(|_: u64| (), 0..3000u64; processes, workers = workers);
        assert_eq!(units.len(), 3000);
        let tuples = pool_map!(|k: u64| (k as u8, k as i16, text(k as usize, 3)), 0..3000u64; processes, workers = workers);
        assert!(
            tuples
                .iter()
                .enumerate()
                .all(|(k, t)| *t == (k as u8, k as i16, text(k, 3)))
        );
    }
}

fn mixed(k: u64) -> Mixed {
    match k % 7 {
        0 | 3 => Mixed::N(k.wrapping_mul(0xdead_beef)),
        1 => Mixed::S(text(k as usize, (k % 23) as usize)),
        2 => Mixed::Empty,
        4 => Mixed::B(vec![k as u8; (k % 3000) as usize]),
        5 => Mixed::S(String::new()),
        _ => Mixed::B(Vec::new()),
    }
}

#[test]
fn numbers_and_strings_in_one_map() {
    for workers in 1..=4usize {
        let out = pool_map!(mixed, 0..60_000u64; processes, workers = workers);
        for (k, m) in out.iter().enumerate() {
            assert_eq!(m, &mixed(k as u64), "workers {workers} item {k}");
        }
    }
    let out = pool_map!(mixed, 0..30_000u64; processes, workers = 2, chunksize = 1);
    assert!(out.iter().enumerate().all(|(k, m)| *m == mixed(k as u64)));
}

#[test]
fn catch_with_panics_interleaved() {
    for workers in 1..=4usize {
        let out = pool_map!(|k: u64| { assert!(k % 5 != 3, "p{k}"); k * k }, 0..20_000u64; processes, catch, workers = workers);
        for (k, o) in out.iter().enumerate() {
            if k % 5 == 3 {
                let e = o.as_ref().unwrap_err();
                assert_eq!(e.panic_message(), Some(format!("p{k}").as_str()));
                assert!(e.worker().ends_with(&format!("-{k}")), "{e}");
            } else {
                assert_eq!(o.as_ref().ok(), Some(&(k as u64 * k as u64)));
            }
        }
        let out = pool_map!(|k: u64| { assert!(k % 4 != 1, "{}", text(k as usize, k as usize % 40)); text(k as usize, k as usize % 60) }, 0..20_000u64; processes, catch, workers = workers, chunksize = 1);
        for (k, o) in out.iter().enumerate() {
            if k % 4 == 1 {
                assert_eq!(
                    o.as_ref().unwrap_err().panic_message(),
                    Some(text(k, k % 40).as_str())
                );
            } else {
                assert_eq!(o.as_ref().ok(), Some(&text(k, k % 60)));
            }
        }
        let out = pool_map!(|k: u64| { assert!(k % 9 != 2, "m{k}"); mixed(k) }, 0..20_000u64; processes, catch, workers = workers);
        for (k, o) in out.iter().enumerate() {
            match o {
                Ok(m) => assert_eq!(m, &mixed(k as u64)),
                Err(e) => {
                    assert_eq!(k % 9, 2);
                    assert_eq!(e.panic_message(), Some(format!("m{k}").as_str()));
                }
            }
        }
    }
}

#[test]
fn a_panic_with_a_huge_message_and_big_outputs_around_it() {
    let out = pool_map!(|k: usize| {
        assert!(k % 3 != 1, "{}", text(k, 2 << 20));
        text(k, 1 << 20)
    }, 0..9usize; processes, catch, workers = 2, chunksize = 1);
    for (k, o) in out.iter().enumerate() {
        if k % 3 == 1 {
            assert!(o.as_ref().unwrap_err().panic_message() == Some(text(k, 2 << 20).as_str()));
        } else {
            assert!(o.as_ref().unwrap() == &text(k, 1 << 20));
        }
    }
}

#[test]
fn tiny_inputs() {
    let empty: Vec<u64> = pool_map!(|k: u64| k, Vec::<u64>::new(); processes);
    assert!(empty.is_empty());
    assert_eq!(pool_map!(|k: u64| k + 1, 0..1u64; processes), [1]);
    assert_eq!(
        pool_map!(|k: u64| text(k as usize, 0), 0..1u64; processes, workers = 4),
        [String::new()]
    );
    assert_eq!(
        pool_map!(|k: u64| mixed(k), 0..2u64; processes, workers = 4),
        [mixed(0), mixed(1)]
    );
}

//! The thread pool's hot loop, attacked: the slot writer's position kept in
//! a thread-local only it writes, the worker's name read from it, and the
//! chunk's items a local when a failure stops the map.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::Duration;

use fanout::{WorkerName, pool_map};

fn name() -> String {
    fanout::current_name().unwrap()
}

/// A value that counts live instances (a leak or a double drop shows).
struct Counted {
    live: &'static AtomicIsize,
    value: String,
}

impl Counted {
    fn new(live: &'static AtomicIsize, value: String) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Counted { live, value }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = self.live.fetch_sub(1, Ordering::SeqCst);
        assert!(before > 0, "double drop of {}", self.value);
    }
}

#[test]
fn names_are_exact_for_every_chunksize_and_worker_count() {
    for len in [0usize, 1, 2, 3, 7, 64, 1000] {
        for workers in [1usize, 2, 3, 8] {
            for chunk in [1usize, 2, 3, 5, 1000] {
                let names = pool_map!(|_: usize| name(), 0..len; workers = workers, chunksize = chunk, name = "n");
                let want: Vec<String> = (0..len).map(|k| format!("n-{k}")).collect();
                assert_eq!(names, want, "len {len} workers {workers} chunk {chunk}");
            }
        }
    }
    assert_eq!(fanout::current_name(), None);
}

#[test]
fn a_panic_at_every_position_of_a_chunk_is_charged_to_its_item() {
    for chunk in [1usize, 2, 4, 7] {
        for bad in 0..16usize {
            // catch: every other outcome in its place, the names exact.
            let out = pool_map!(|x: usize| {
                let before = name();
                assert!(x != bad, "bad {x}");
                (before, name())
            }, 0..16; catch, workers = 2, chunksize = chunk, name = "c");
            for (k, o) in out.iter().enumerate() {
                if k == bad {
                    let e = o.as_ref().unwrap_err();
                    assert_eq!(e.worker(), format!("c-{k}"));
                    assert_eq!(e.to_string(), format!("worker `c-{k}` panicked: bad {k}"));
                } else {
                    let want = format!("c-{k}");
                    assert_eq!(
                        o.as_ref().unwrap(),
                        &(want.clone(), want),
                        "chunk {chunk} bad {bad}"
                    );
                }
            }
            // default mode: the panic names the item.
            let failed = catch_unwind(AssertUnwindSafe(
                || pool_map!(|x: usize| { assert!(x != bad, "bad {x}"); x }, 0..16; workers = 2, chunksize = chunk, name = "u"),
            ));
            let payload = failed.unwrap_err();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(
                message.contains(&format!("worker `u-{bad}` panicked")),
                "chunk {chunk} bad {bad}: {message}"
            );
            // try: an Err at every position.
            let tried: Result<Vec<usize>, String> = pool_map!(|x: usize| {
                if x == bad { Err(format!("e{x}")) } else { Ok(x) }
            }, 0..16; try, workers = 2, chunksize = chunk);
            assert_eq!(tried, Err(format!("e{bad}")));
        }
    }
}

#[test]
fn many_panics_in_catch_keep_each_outcome_in_place() {
    for chunk in [1usize, 3, 16, 1000] {
        let out = pool_map!(|x: usize| {
            assert!(x % 3 != 1, "p{x}");
            (x, name())
        }, 0..2000; catch, workers = 3, chunksize = chunk, name = "m");
        assert_eq!(out.len(), 2000);
        for (k, o) in out.iter().enumerate() {
            match o {
                Ok((x, n)) => {
                    assert!(k % 3 != 1);
                    assert_eq!((*x, n.as_str()), (k, format!("m-{k}").as_str()));
                }
                Err(e) => {
                    assert_eq!(k % 3, 1, "{e}");
                    assert_eq!(e.worker(), format!("m-{k}"));
                }
            }
        }
    }
}

#[test]
fn nested_maps_in_every_mode_keep_names_and_places() {
    let inner_plain = |tag: &str| {
        let v = pool_map!(|y: u32| (name(), y), 0..25; workers = 3, chunksize = 2, name = "in");
        for (k, (n, y)) in v.iter().enumerate() {
            assert_eq!(
                (n.as_str(), *y as usize),
                (format!("in-{k}").as_str(), k),
                "{tag}"
            );
        }
    };
    let item = |x: u32| {
        let before = name();
        inner_plain("plain");
        assert_eq!(name(), before);
        // a nested catch map with panics inside
        let c = pool_map!(|y: u32| { assert!(y % 4 != 2, "inner {y}"); (name(), y) }, 0..13; catch, workers = 2, name = "ic");
        for (k, o) in c.iter().enumerate() {
            match o {
                Ok((n, y)) => assert_eq!((n.clone(), *y as usize), (format!("ic-{k}"), k)),
                Err(e) => {
                    assert_eq!(k % 4, 2);
                    assert_eq!(e.worker(), format!("ic-{k}"));
                }
            }
        }
        assert_eq!(name(), before);
        // a nested default map that panics, caught by the item
        let r = catch_unwind(
            || pool_map!(|y: u32| { assert!(y != 5, "deep"); y }, 0..9; workers = 2, name = "ip"),
        );
        let msg = r
            .unwrap_err()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("worker `ip-5` panicked"), "{msg}");
        assert_eq!(name(), before);
        // a nested try map with an Err
        let t: Result<Vec<u32>, u32> =
            pool_map!(|y: u32| if y == 3 { Err(y) } else { Ok(y) }, 0..8; try, workers = 2);
        assert_eq!(t, Err(3));
        assert_eq!(name(), before);
        // a nested map with timeout and progress (the non-quiet path)
        let p = pool_map!(|y: u32| (name(), y), 0..10; workers = 2, progress, timeout = Duration::from_secs(30), name = "pr");
        for (k, (n, _)) in p.iter().enumerate() {
            assert_eq!(n, &format!("pr-{k}"));
        }
        assert_eq!(name(), before);
        assert!(x % 5 != 4, "outer {x}");
        (x, before, name())
    };
    for chunk in [1usize, 2, 7] {
        let caught = pool_map!(item, 0..20; catch, workers = 4, chunksize = chunk, name = "out");
        for (k, o) in caught.iter().enumerate() {
            if k % 5 == 4 {
                let e = o.as_ref().unwrap_err();
                assert_eq!(
                    e.to_string(),
                    format!("worker `out-{k}` panicked: outer {k}")
                );
            } else {
                let want = format!("out-{k}");
                assert_eq!(o.as_ref().unwrap(), &(k as u32, want.clone(), want));
            }
        }
    }
    // outer with progress (non-quiet), inner quiet
    let p = pool_map!(|x: u32| { let b = name(); inner_plain("p"); (x, b, name()) }, 0..8; workers = 3, progress, name = "op");
    for (k, (x, b, a)) in p.iter().enumerate() {
        assert_eq!(
            (*x as usize, b.clone(), a.clone()),
            (k, format!("op-{k}"), format!("op-{k}"))
        );
    }
    // outer try, each item runs a nested map
    let t: Result<Vec<(u32, String)>, String> = pool_map!(|x: u32| {
        inner_plain("t");
        if x == 11 { Err(name()) } else { Ok((x, name())) }
    }, 0..16; try, workers = 4, chunksize = 3, name = "ot");
    assert_eq!(t, Err("ot-11".to_owned()));
}

#[test]
fn deeply_nested_maps() {
    fn level(depth: u32) -> Vec<String> {
        if depth == 0 {
            return vec![name()];
        }
        let base = format!("d{depth}");
        let v = pool_map!(|_: u32| {
            let before = name();
            let inner = level(depth - 1);
            assert_eq!(name(), before);
            let mut out = vec![before];
            out.extend(inner);
            out
        }, 0..3; workers = 3, name = base.as_str());
        v.into_iter()
            .enumerate()
            .map(|(k, names)| {
                assert_eq!(names[0], format!("d{depth}-{k}"));
                names.join(",")
            })
            .collect()
    }
    let all = level(4);
    assert_eq!(all.len(), 3);
}

#[test]
fn entered_and_dropped_guards_inside_items_leave_names_right() {
    let names = pool_map!(|x: usize| {
        let before = name();
        {
            let _g = fanout::__private::enter(WorkerName::indexed("x", 99));
            assert_eq!(name(), "x-99");
            let inner = pool_map!(|_: u8| name(), 0..3u8; workers = 2, name = "y");
            assert_eq!(inner, ["y-0", "y-1", "y-2"]);
            assert_eq!(name(), "x-99");
        }
        let _h = fanout::__private::enter(WorkerName::new("plain"));
        assert_eq!(name(), "plain");
        drop(_h);
        assert_eq!(name(), before);
        (x, before)
    }, 0..50; workers = 3, chunksize = 4, name = "g");
    for (k, (x, n)) in names.iter().enumerate() {
        assert_eq!((*x, n.as_str()), (k, format!("g-{k}").as_str()));
    }
}

static LIVE_ITEMS: AtomicIsize = AtomicIsize::new(0);
static LIVE_OUTS: AtomicIsize = AtomicIsize::new(0);

#[test]
fn counted_items_and_outputs_drop_exactly_once() {
    for chunk in [1usize, 3, 8, 100] {
        for bad in [0usize, 1, 5, 7, 8, 39, 1000] {
            let items: Vec<Counted> = (0..40)
                .map(|k| Counted::new(&LIVE_ITEMS, format!("{k}")))
                .collect();
            let r = catch_unwind(AssertUnwindSafe(|| {
                pool_map!(|c: Counted| {
                    let k: usize = c.value.parse().unwrap();
                    assert!(k != bad, "bad");
                    Counted::new(&LIVE_OUTS, format!("out{k}-{}", vec![b'x'; k].len()))
                }, items; workers = 3, chunksize = chunk)
            }));
            match r {
                Ok(v) => {
                    assert!(bad >= 40);
                    for (k, c) in v.iter().enumerate() {
                        assert_eq!(c.value, format!("out{k}-{k}"));
                    }
                }
                Err(_) => assert!(bad < 40),
            }
            assert_eq!(
                LIVE_ITEMS.load(Ordering::SeqCst),
                0,
                "items chunk {chunk} bad {bad}"
            );
            assert_eq!(
                LIVE_OUTS.load(Ordering::SeqCst),
                0,
                "outs chunk {chunk} bad {bad}"
            );

            let items: Vec<Counted> = (0..40)
                .map(|k| Counted::new(&LIVE_ITEMS, format!("{k}")))
                .collect();
            let v = pool_map!(|c: Counted| {
                let k: usize = c.value.parse().unwrap();
                assert!(k != bad && k % 7 != 6, "bad");
                Counted::new(&LIVE_OUTS, format!("o{k}"))
            }, items; catch, workers = 2, chunksize = chunk);
            for (k, o) in v.iter().enumerate() {
                match o {
                    Ok(c) => assert_eq!(c.value, format!("o{k}")),
                    Err(e) => {
                        assert!(k == bad || k % 7 == 6);
                        assert!(e.worker().ends_with(&format!("-{k}")), "{e}");
                    }
                }
            }
            drop(v);
            assert_eq!(LIVE_ITEMS.load(Ordering::SeqCst), 0);
            assert_eq!(LIVE_OUTS.load(Ordering::SeqCst), 0);

            let items: Vec<Counted> = (0..40)
                .map(|k| Counted::new(&LIVE_ITEMS, format!("{k}")))
                .collect();
            let t: Result<Vec<Counted>, Counted> = pool_map!(|c: Counted| {
                let k: usize = c.value.parse().unwrap();
                if k == bad { Err(Counted::new(&LIVE_OUTS, "err".into())) } else { Ok(Counted::new(&LIVE_OUTS, format!("t{k}"))) }
            }, items; try, workers = 2, chunksize = chunk);
            match t {
                Ok(v) => {
                    assert!(bad >= 40);
                    assert!(
                        v.iter()
                            .enumerate()
                            .all(|(k, c)| c.value == format!("t{k}"))
                    );
                }
                Err(e) => assert_eq!(e.value, "err"),
            }
            assert_eq!(LIVE_ITEMS.load(Ordering::SeqCst), 0);
            assert_eq!(LIVE_OUTS.load(Ordering::SeqCst), 0);
        }
    }
}

#[test]
fn string_and_vec_outputs_with_panics_are_exact() {
    let out = pool_map!(|x: usize| {
        assert!(x % 11 != 10, "s{x}");
        (x.to_string().repeat(x % 13), vec![x as u8; x % 17])
    }, 0..3000; catch, workers = 3, chunksize = 5);
    for (k, o) in out.iter().enumerate() {
        match o {
            Ok((s, v)) => assert_eq!(
                (s.clone(), v.clone()),
                (k.to_string().repeat(k % 13), vec![k as u8; k % 17])
            ),
            Err(e) => assert_eq!(e.panic_message(), Some(format!("s{k}").as_str())),
        }
    }
}

#[test]
fn timeout_stops_and_names_are_right() {
    let started = AtomicUsize::new(0);
    let out = pool_map!(|x: usize| {
        started.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        (x, name())
    }, 0..2000; catch, workers = 2, chunksize = 50, timeout = Duration::from_millis(100), name = "to");
    for (k, o) in out.iter().enumerate() {
        if let Ok((x, n)) = o {
            assert_eq!((*x, n.as_str()), (k, format!("to-{k}").as_str()));
        }
    }
    assert!(started.load(Ordering::SeqCst) < 2000);
}

#[test]
fn streamed_names_and_nested_streams() {
    let s: Vec<(usize, String)> = pool_map!(|x: usize| {
        let inner: Vec<String> = pool_map!(|_: u8| name(), 0..4u8; stream, workers = 2, name = "si").collect();
        assert_eq!(inner, ["si-0", "si-1", "si-2", "si-3"]);
        (x, name())
    }, 0..30; stream, workers = 3, name = "so").collect();
    for (k, (x, n)) in s.iter().enumerate() {
        assert_eq!((*x, n.as_str()), (k, format!("so-{k}").as_str()));
    }
    // a pool_map on threads inside a streamed item and vice versa
    let v = pool_map!(|x: usize| {
        let inner: Vec<String> = pool_map!(|_: u8| name(), 0..3u8; stream, name = "vs").collect();
        assert_eq!(inner, ["vs-0", "vs-1", "vs-2"]);
        (x, name())
    }, 0..20; workers = 2, name = "vo");
    for (k, (x, n)) in v.iter().enumerate() {
        assert_eq!((*x, n.as_str()), (k, format!("vo-{k}").as_str()));
    }
}

#[test]
fn init_state_with_panics_and_nested_maps() {
    let out = pool_map!(|s: &mut Vec<usize>, x: usize| {
        s.push(x);
        let inner = pool_map!(|y: usize| y * 2, 0..5; workers = 2);
        assert_eq!(inner, [0, 2, 4, 6, 8]);
        assert!(x % 9 != 8, "i{x}");
        (x, name())
    }, 0..100; catch, workers = 3, chunksize = 4, init = Vec::new, name = "st");
    for (k, o) in out.iter().enumerate() {
        match o {
            Ok((x, n)) => assert_eq!((*x, n.as_str()), (k, format!("st-{k}").as_str())),
            Err(e) => assert_eq!(e.worker(), format!("st-{k}")),
        }
    }
}

#[test]
fn panics_inside_nested_maps_propagate_to_outer_catch() {
    for chunk in [1usize, 4] {
        let out = pool_map!(|x: usize| {
            let inner = pool_map!(|y: usize| { assert!(!(x.is_multiple_of(3) && y == 2), "in{x}"); y }, 0..4; workers = 2, name = "pi");
            (inner.len(), name())
        }, 0..30; catch, workers = 3, chunksize = chunk, name = "po");
        for (k, o) in out.iter().enumerate() {
            match o {
                Ok((n, nm)) => {
                    assert!(k % 3 != 0);
                    assert_eq!((*n, nm.as_str()), (4, format!("po-{k}").as_str()));
                }
                Err(e) => {
                    assert_eq!(k % 3, 0, "{e}");
                    assert_eq!(e.worker(), format!("po-{k}"));
                    assert!(e.to_string().contains("worker `pi-2` panicked"), "{e}");
                }
            }
        }
    }
}

#[test]
fn nested_maps_that_grow_the_pool_mid_map() {
    // Inner maps asking for more workers than the pool has replace it while
    // the outer map runs on the old one (a cross-pool wait that runs outer
    // items on this thread meanwhile).
    for round in 0..3usize {
        let out = pool_map!(|x: usize| {
            let before = name();
            let w = 8 + 4 * round + x % 5;
            let inner = pool_map!(|y: usize| { assert!(y != 7 || x.is_multiple_of(2), "g"); (y, name()) }, 0..20; catch, workers = w, chunksize = 1, name = "gi");
            for (k, o) in inner.iter().enumerate() {
                match o {
                    Ok((y, n)) => assert_eq!((*y, n.as_str()), (k, format!("gi-{k}").as_str())),
                    Err(e) => assert_eq!(e.worker(), format!("gi-{k}")),
                }
            }
            assert_eq!(name(), before);
            (x, before)
        }, 0..24; workers = 3, chunksize = 2, name = "go");
        for (k, (x, n)) in out.iter().enumerate() {
            assert_eq!((*x, n.as_str()), (k, format!("go-{k}").as_str()));
        }
    }
}

//! spawn_processes! and pool_map!(...; processes): forked children that
//! return typed results and survive every way a child can die.
#![cfg(unix)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use fanout::{ErrorKind, pool_map, spawn_processes};

fn pid() -> u32 {
    std::process::id()
}

fn square(x: u64) -> u64 {
    x * x
}

fn worker(i: usize) -> (usize, u32) {
    (i * 10, pid())
}

/// The message of the panic that `f` raises.
fn panic_text(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    fanout::__private::panic_message(&*payload)
}

fn segfault() -> u32 {
    // SAFETY: raising a signal is always allowed; this one kills the child.
    unsafe { libc::raise(libc::SIGSEGV) };
    0
}

// ---------------------------------------------------------------- basics

#[test]
fn outputs_come_back_in_order_from_other_processes() {
    let (a, b, c) = spawn_processes!(|| 1u8, || "two".to_owned(), pid);
    assert_eq!((a, b.as_str()), (1, "two"));
    assert_ne!(c, pid());

    let out = spawn_processes!(for i in 0..5 => worker(i));
    let values: Vec<usize> = out.iter().map(|(v, _)| *v).collect();
    assert_eq!(values, [0, 10, 20, 30, 40]);
    let pids: HashSet<u32> = out.iter().map(|(_, p)| *p).collect();
    assert_eq!(pids.len(), 5, "one process per task");
    assert!(!pids.contains(&pid()));
}

#[test]
fn current_name_in_the_child() {
    let names = spawn_processes!(for i in 0..5 => { let _ = i; fanout::current_name() });
    assert_eq!(names[3].as_deref(), Some("task-3"));
    let (a, b) = spawn_processes!(fanout::current_name(), fanout::current_name(); name = "job");
    assert_eq!((a.as_deref(), b.as_deref()), (Some("job"), Some("job")));
    assert_eq!(fanout::current_name(), None);
}

#[test]
fn large_outputs_do_not_deadlock() {
    let (small, eight, thirty_two) = spawn_processes!(
        || vec![1u8; 10],
        || vec![8u8; 8 << 20],
        || vec![32u8; 32 << 20],
    );
    assert_eq!(small.len(), 10);
    assert_eq!(eight.len(), 8 << 20);
    assert!(eight.iter().all(|&b| b == 8));
    assert_eq!(thirty_two.len(), 32 << 20);
    assert!(thirty_two.iter().all(|&b| b == 32));
}

#[test]
fn tasks_capture_values_that_are_not_send() {
    let shared = Rc::new(vec![1, 2, 3]);
    let other = Rc::clone(&shared);
    let (sum, count) = spawn_processes!(
        || shared.iter().sum::<i32>(),
        || Rc::strong_count(&other)
    );
    assert_eq!((sum, count), (6, 2));
}

#[test]
fn a_child_cannot_change_the_callers_memory() {
    let counter = Cell::new(1);
    let log = RefCell::new(vec!["parent"]);
    let seen = spawn_processes!(|| {
        counter.set(99);
        log.borrow_mut().push("child");
        (counter.get(), log.borrow().len())
    });
    assert_eq!(seen, (99, 2), "the child sees its own changes");
    assert_eq!(counter.get(), 1, "the caller does not");
    assert_eq!(*log.borrow(), ["parent"]);
}

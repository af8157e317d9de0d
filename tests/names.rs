//! Worker names given at run time (`name = EXPR`), through every macro, and
//! the names the operating system shows for fanout's workers.

use fanout::{gather, pool_map, spawn_processes, spawn_threads};

fn request_name(id: u32) -> String {
    format!("req-{id}")
}

#[test]
fn a_str_expression_names_the_workers_of_a_loop() {
    let who = request_name(7);
    let names = spawn_threads!(for _ in 0..3 => fanout::current_name(); name = who.as_str());
    assert_eq!(
        names,
        [Some("req-7-0"), Some("req-7-1"), Some("req-7-2")].map(|n| n.map(str::to_owned))
    );
    assert_eq!(fanout::current_name(), None);
}

#[test]
fn a_string_expression_names_the_tasks_of_a_list() {
    let id = 3;
    let (a, b) = spawn_threads!(
        fanout::current_name(),
        std::thread::current().name().map(str::to_owned);
        name = format!("job-{id}")
    );
    assert_eq!(a.as_deref(), Some("job-3"));
    // The OS thread is named too.
    assert_eq!(b.as_deref(), Some("job-3"));
}

#[test]
fn a_string_variable_is_borrowed_not_moved() {
    let who = String::from("batch");
    let names = spawn_threads!(for _ in 0..2 => fanout::current_name().unwrap(); name = who);
    assert_eq!(names, ["batch-0", "batch-1"]);
    // `who` is still the caller's.
    assert_eq!(who, "batch");
}

#[test]
fn the_name_is_read_once_before_any_worker_starts() {
    let reads = std::sync::atomic::AtomicUsize::new(0);
    let next = || {
        reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        "once".to_owned()
    };
    let names = spawn_threads!(for _ in 0..4 => fanout::current_name().unwrap(); name = next());
    assert_eq!(names, ["once-0", "once-1", "once-2", "once-3"]);
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_task_is_reported_under_the_dynamic_name() {
    let who = request_name(9);
    let outcomes = spawn_threads!(for i in 0..2 => {
        assert!(i != 1, "boom");
        i
    }; catch, name = who.as_str());
    assert_eq!(outcomes[0].as_ref().ok(), Some(&0));
    let error = outcomes[1].as_ref().unwrap_err();
    assert_eq!(error.worker(), "req-9-1");
    assert_eq!(error.to_string(), "worker `req-9-1` panicked: boom");
}

#[test]
fn pool_items_on_threads_carry_the_dynamic_name() {
    let who = request_name(11);
    let names =
        pool_map!(|_: u32| fanout::current_name().unwrap(), 0..4; workers = 2, name = who.as_str());
    assert_eq!(names, ["req-11-0", "req-11-1", "req-11-2", "req-11-3"]);
    let outcomes = pool_map!(|x: u32| 10 / (x - 2), 0..4; catch, name = &who);
    let error = outcomes[2].as_ref().unwrap_err();
    assert_eq!(error.worker(), "req-11-2");
    assert!(
        error.to_string().starts_with("worker `req-11-2` panicked"),
        "{error}"
    );
    // Streams too.
    let streamed: Vec<String> =
        pool_map!(|_: u32| fanout::current_name().unwrap(), 0..3; stream, name = who.clone())
            .collect();
    assert_eq!(streamed, ["req-11-0", "req-11-1", "req-11-2"]);
}

#[test]
fn pool_items_in_processes_carry_the_dynamic_name() {
    let who = request_name(12);
    let names = pool_map!(|_: u32| fanout::current_name().unwrap(), 0..4; processes, workers = 2, name = who.as_str());
    assert_eq!(names, ["req-12-0", "req-12-1", "req-12-2", "req-12-3"]);
    let outcomes = pool_map!(|x: u32| {
        assert!(x != 1, "no ones");
        x
    }, 0..3; processes, catch, name = who.as_str());
    let error = outcomes[1].as_ref().unwrap_err();
    assert_eq!(error.worker(), "req-12-1");
    assert_eq!(error.panic_message(), Some("no ones"));
}

#[test]
fn child_processes_carry_the_dynamic_name() {
    let who = request_name(13);
    let names = spawn_processes!(for _ in 0..2 => fanout::current_name(); name = who.as_str());
    assert_eq!(names[1].as_deref(), Some("req-13-1"));
    let (ok, failed) = spawn_processes!(
        fanout::current_name(),
        || -> u32 { panic!("child failed") };
        catch, name = format!("{who}-x")
    );
    assert_eq!(ok.unwrap().as_deref(), Some("req-13-x"));
    let error = failed.unwrap_err();
    assert_eq!(error.worker(), "req-13-x");
    assert!(error.to_string().contains("`req-13-x`"), "{error}");
    assert!(error.to_string().contains("child failed"), "{error}");
}

#[test]
fn futures_carry_the_dynamic_name() {
    let who = request_name(14);
    fanout::run(async {
        let each = gather!(for _ in 0..2 => async { fanout::current_name() }; name = who.as_str());
        assert_eq!(each[1].as_deref(), Some("req-14-1"));
        let (a, b) = gather!(
            async { fanout::current_name() },
            async { fanout::current_name() };
            name = who.clone()
        );
        assert_eq!(
            (a.as_deref(), b.as_deref()),
            (Some("req-14"), Some("req-14"))
        );
        let failed = gather!(async { panic!("gone") }; catch, name = format!("{who}-f"));
        let failed: Result<(), fanout::Error> = failed;
        assert_eq!(
            failed.unwrap_err().to_string(),
            "worker `req-14-f` panicked: gone"
        );
    });
}

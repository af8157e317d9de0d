//! The name a worker's thread goes by outside fanout: in panic messages and
//! in the system's thread list (`/proc/self/task/*/comm`, `ps -L`, `top -H`,
//! gdb's `info threads`), so that both say what fanout's errors say.
//!
//! std names a thread once, when it starts, and spawn_threads! starts each
//! thread under its worker's name. The items of a pool run on threads that
//! outlive them (`fanout-pool-k`), and futures on the caller's thread, so two
//! mechanisms take over, each cheap enough for 100 000 cheap items:
//!
//! - **Panic messages**: a panic hook, installed once per process (at the
//!   first pool, stream, gather or process group), reports a panic inside a
//!   worker whose thread is named otherwise as std's default hook would,
//!   under the worker's name: `thread 'div-2' (4750) panicked at src/main.rs:4:5:`
//!   (with std's backtrace under `RUST_BACKTRACE`, trimmed as std trims it).
//!   It does so only when the hook it replaces is std's default hook; a hook
//!   the program set before is called as it was (it can ask
//!   [`current_name`](crate::current_name)), and a hook set after replaces or
//!   wraps fanout's, as the program asked. Panics outside workers, and in
//!   threads already named after their worker, go to the previous hook.
//! - **The system's name** (Linux, with the `processes` feature, which brings
//!   libc): a pool thread takes its map's base (`div`) when a worker starts
//!   on it, only if its name differs (a system call, about 1 µs, once per
//!   worker per map; none when the same map runs again, and some 60
//!   instructions to find that out); the full name (`div-2`,
//!   the base cut so that the index stays within the system's 15 bytes)
//!   while an item's panic is reported, so a debugger stopped at the panic
//!   or a core dump of a `panic = "abort"` program names the item; the base
//!   again once the panic is caught. A parked pool thread keeps the base of
//!   the last map it ran. Child processes (spawn_processes!, process pools)
//!   take their worker's name, so `ps` lists them by it. Nothing is set per
//!   item: an item costs what it did.

use std::cell::Cell;
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
use std::sync::Mutex;
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
use std::sync::atomic::{AtomicBool, Ordering};

use crate::name::WorkerName;
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
use crate::name::current_worker;

/// The system keeps 15 bytes of a thread's name (16 with the final NUL).
const OS_NAME_LEN: usize = 15;

thread_local! {
    /// The name fanout last gave this thread in the system, NUL-padded; all
    /// zeros if fanout never named it (the caller's thread under gather!,
    /// which fanout leaves alone).
    static OS_NAME: Cell<[u8; OS_NAME_LEN]> = const { Cell::new([0; OS_NAME_LEN]) };
}

/// A thread's name as the system keeps it, NUL-padded.
pub(crate) type OsName = [u8; OS_NAME_LEN];

/// `name` as the system can keep it: at most 15 bytes, cut at a character
/// boundary, the index kept whole (`print_numbers-12` becomes
/// `print_number-12`, not `print_numbers-1`).
pub(crate) fn os_name(name: &WorkerName) -> OsName {
    let mut index_text = [0u8; 21];
    let suffix: &[u8] = match name.index() {
        Some(index) => {
            let mut digits = index_text.len();
            let mut rest = index;
            loop {
                digits -= 1;
                index_text[digits] = b'0' + (rest % 10) as u8;
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
            digits -= 1;
            index_text[digits] = b'-';
            &index_text[digits..]
        }
        None => &[],
    };
    let base = name.base();
    let room = OS_NAME_LEN.saturating_sub(suffix.len());
    let mut cut = base.len().min(room);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = [0u8; OS_NAME_LEN];
    out[..cut].copy_from_slice(&base.as_bytes()[..cut]);
    let tail = suffix.len().min(OS_NAME_LEN - cut);
    out[cut..cut + tail].copy_from_slice(&suffix[..tail]);
    out
}

/// Gives the calling thread `name` in the system, unless fanout gave it that
/// name last (then nothing is done: no system call).
#[inline]
pub(crate) fn name_os_thread(name: &WorkerName) {
    name_os_thread_as(os_name(name));
}

/// [`name_os_thread`] with the name as the system keeps it ([`os_name`]),
/// made beforehand: a parent makes it for its child before the fork, so that
/// the child does not map the pages of the code and of the text that make it.
#[inline]
pub(crate) fn name_os_thread_as(wanted: OsName) {
    if OS_NAME.with(Cell::get) != wanted {
        OS_NAME.with(|cell| cell.set(wanted));
        set_os_name(&wanted);
    }
}

/// For a thread std named after its worker (spawn_threads!): std keeps the
/// first 15 bytes of a longer name, which can cut its index
/// (`print_numbers-12` would show as `print_numbers-1`); such a thread is
/// renamed with its index whole. Nothing is done for a name that fits.
#[cfg(feature = "threads")]
#[inline]
pub(crate) fn keep_the_index(name: &WorkerName) {
    if let Some(index) = name.index() {
        let digits = index.checked_ilog10().unwrap_or(0) as usize + 1;
        if name.base().len() + 1 + digits > OS_NAME_LEN {
            name_os_thread(name);
        }
    }
}

/// Sets the system's name of the calling thread.
#[cfg(all(target_os = "linux", feature = "processes"))]
fn set_os_name(name: &[u8; OS_NAME_LEN]) {
    crate::sys::set_thread_name(name);
}

/// The calling thread's id in the system, as std's message shows it.
#[cfg(all(target_os = "linux", feature = "processes"))]
fn os_thread_id() -> Option<u32> {
    Some(crate::sys::thread_id())
}

/// Without libc (or off Linux), no id: the message gives the name alone.
#[cfg(all(
    not(all(target_os = "linux", feature = "processes")),
    any(feature = "pool", feature = "gather", all(unix, feature = "processes"))
))]
fn os_thread_id() -> Option<u32> {
    None
}

/// Without libc (or off Linux), the system's names stay std's.
#[cfg(not(all(target_os = "linux", feature = "processes")))]
fn set_os_name(_: &[u8; OS_NAME_LEN]) {}

/// Installs fanout's panic hook, once per process (see the [module](self)
/// docs); a no-op once done, or while this thread panics (the hook cannot be
/// changed then: the next group tries again).
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
pub(crate) fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.load(Ordering::Acquire) || std::thread::panicking() {
        return;
    }
    static INSTALL: Mutex<()> = Mutex::new(());
    let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if INSTALLED.load(Ordering::Acquire) {
        return;
    }
    let previous = std::panic::take_hook();
    // `take_hook` hands out std's default hook when no hook is set: taking
    // it a second time gives it for certain, and the two are the same hook
    // exactly when the program had set none (a false "not the same" only
    // leaves std's message as it was).
    let default = std::panic::take_hook();
    let replaces_default = std::ptr::eq(&*previous, &*default);
    drop(default);
    std::panic::set_hook(Box::new(move |info| {
        if !report(info, replaces_default) {
            previous(info);
        }
    }));
    INSTALLED.store(true, Ordering::Release);
}

/// Whether a note about `RUST_BACKTRACE` was printed (once per process, as
/// std's own hook does).
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
static BACKTRACE_NOTE: AtomicBool = AtomicBool::new(false);

/// Reports a panic inside a worker whose thread is named otherwise, under
/// the worker's name; `false` if the previous hook is to report it.
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
fn report(info: &std::panic::PanicHookInfo<'_>, replaces_default: bool) -> bool {
    let Some(worker) = current_worker() else {
        return false;
    };
    if OS_NAME.with(Cell::get) != [0; OS_NAME_LEN] {
        // A thread fanout names in the system: named after the item while
        // its panic is reported (`name_os_thread` puts the base back).
        name_os_thread(&worker);
    }
    let name = worker.to_string();
    if !replaces_default || std::thread::current().name() == Some(name.as_str()) {
        return false;
    }
    let mut text = String::from("\nthread '");
    text.push_str(&name);
    text.push('\'');
    if let Some(id) = os_thread_id() {
        text.push_str(&format!(" ({id})"));
    }
    text.push_str(" panicked");
    if let Some(location) = info.location() {
        text.push_str(&format!(" at {location}"));
    }
    text.push_str(":\n");
    text.push_str(info.payload_as_str().unwrap_or("Box<dyn Any>"));
    text.push('\n');
    match std::env::var("RUST_BACKTRACE").as_deref() {
        Ok("0") | Err(_) => {
            if !BACKTRACE_NOTE.swap(true, Ordering::Relaxed) {
                text.push_str(
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
                );
            }
        }
        Ok(style) => {
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            text.push_str("stack backtrace:\n");
            if style == "full" {
                text.push_str(&backtrace);
            } else {
                text.push_str(&short_backtrace(&backtrace));
                text.push_str("note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n");
            }
        }
    }
    // One write, so that reports from several threads do not interleave
    // (and through std's printing, which a test's output capture sees).
    eprint!("{text}");
    true
}

/// The frames of `backtrace` (std's `Backtrace` printed) between std's
/// markers, renumbered from 0, as std's own short backtraces: without the
/// panic machinery (this hook's frames included) above the code that
/// panicked, nor the thread's start below it.
#[cfg(any(feature = "pool", feature = "gather", all(unix, feature = "processes")))]
fn short_backtrace(backtrace: &str) -> String {
    let mut frames: Vec<String> = Vec::new();
    for line in backtrace.lines() {
        let trimmed = line.trim_start();
        let starts_frame = trimmed.split_once(": ").is_some_and(|(number, _)| {
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
        });
        match frames.last_mut() {
            Some(frame) if !starts_frame => {
                frame.push_str(line);
                frame.push('\n');
            }
            _ => frames.push(format!(
                "{}\n",
                trimmed.split_once(": ").map_or(trimmed, |(_, rest)| rest)
            )),
        }
    }
    let start = frames
        .iter()
        .position(|frame| frame.contains("__rust_end_short_backtrace"))
        .map_or(0, |end| end + 1);
    let end = frames
        .iter()
        .position(|frame| frame.contains("__rust_begin_short_backtrace"))
        .filter(|&begin| begin >= start)
        .unwrap_or(frames.len());
    let mut out = String::new();
    for (number, frame) in frames[start..end].iter().enumerate() {
        out.push_str(&format!("{number:>4}: {frame}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::os_name;
    use crate::WorkerName;

    fn shown(name: &WorkerName) -> String {
        let bytes = os_name(name);
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8(bytes[..end].to_vec()).unwrap()
    }

    #[test]
    fn os_names_keep_the_index_within_fifteen_bytes() {
        assert_eq!(shown(&WorkerName::indexed("div", 2)), "div-2");
        assert_eq!(shown(&WorkerName::new("div")), "div");
        assert_eq!(
            shown(&WorkerName::indexed("print_numbers", 12)),
            "print_number-12"
        );
        assert_eq!(
            shown(&WorkerName::new("a_very_long_worker_name")),
            "a_very_long_wor"
        );
        // Cut at a character boundary: `é` is two bytes.
        assert_eq!(shown(&WorkerName::indexed("ééééééé", 3)), "éééééé-3");
        assert_eq!(
            shown(&WorkerName::indexed("x", usize::MAX)),
            "-18446744073709"
        );
    }
}

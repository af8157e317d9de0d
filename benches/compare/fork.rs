//! The hand-written process baselines: fork + pipe + waitpid with libc, the
//! least a program can do to run work in child processes and read the results.

use std::io;

/// Forks one child per item; child `i` writes `f(i)` as 8 raw bytes to its
/// pipe and leaves with `_exit`. The parent reads every pipe and reaps every
/// child, in order.
pub fn each(n: u64, f: fn(u64) -> u64) -> Vec<u64> {
    let mut children = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (read, write) = pipe();
        // SAFETY: the child only computes, writes to its pipe and `_exit`s.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", io::Error::last_os_error()),
            0 => {
                let bytes = f(i).to_ne_bytes();
                write_all(write, &bytes);
                // SAFETY: leaving the child without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            pid => {
                close(write);
                children.push((pid, read));
            }
        }
    }
    read_each(children)
}

/// [`each`] with the guarantees fanout gives every child, written by hand:
/// the std stdio locks held across the fork (so that no other thread holds
/// them there: the child can print) and stdout flushed before it, the child
/// dying with its parent (`PR_SET_PDEATHSIG`, and `getppid` in case the
/// parent died first), a crash ending it by its signal (`SIGSEGV` and
/// `SIGBUS` back to their default), and its stdout flushed at the end.
pub fn each_guarded(n: u64, f: fn(u64) -> u64) -> Vec<u64> {
    use std::io::Write as _;
    let parent = std::process::id();
    let mut children = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (read, write) = pipe();
        let mut stdout = io::stdout().lock();
        let _ = stdout.flush();
        let locks = (stdout, io::stderr().lock());
        // SAFETY: the child releases the locks this thread took, computes,
        // writes to its pipe and `_exit`s.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", io::Error::last_os_error()),
            0 => {
                drop(locks);
                // SAFETY: plain system calls on this process.
                unsafe {
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    );
                    if libc::getppid().unsigned_abs() != parent {
                        libc::_exit(1);
                    }
                    libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                    libc::signal(libc::SIGBUS, libc::SIG_DFL);
                }
                let bytes = f(i).to_ne_bytes();
                write_all(write, &bytes);
                let _ = io::stdout().flush();
                // SAFETY: leaving the child without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            pid => {
                drop(locks);
                close(write);
                children.push((pid, read));
            }
        }
    }
    read_each(children)
}

/// The parent's side of [`each`] and [`each_guarded`]: reads each child's
/// 8 bytes from its pipe and reaps it, in order.
fn read_each(children: Vec<(libc::pid_t, libc::c_int)>) -> Vec<u64> {
    children
        .into_iter()
        .map(|(pid, read)| {
            let mut bytes = [0u8; 8];
            read_exact(read, &mut bytes);
            close(read);
            reap(pid);
            u64::from_ne_bytes(bytes)
        })
        .collect()
}

/// Forks `workers` children; worker `w` computes `f` over its contiguous share
/// of `0..n` and writes the outputs as raw bytes to its pipe. The parent reads
/// all pipes at once (poll) straight into the output vector.
pub fn split(n: u64, workers: u64, f: fn(u64) -> u64) -> Vec<u64> {
    let bounds = |w: u64| (n * w / workers, n * (w + 1) / workers);
    let mut children = Vec::with_capacity(workers as usize);
    for w in 0..workers {
        let (read, write) = pipe();
        // SAFETY: the child only computes, writes to its pipe and `_exit`s.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", io::Error::last_os_error()),
            0 => {
                let (start, end) = bounds(w);
                let mut buffer = [0u64; 1024];
                let mut item = start;
                while item < end {
                    let count = ((end - item) as usize).min(buffer.len());
                    for (slot, i) in buffer[..count].iter_mut().zip(item..) {
                        *slot = f(i);
                    }
                    write_all(write, as_bytes(&buffer[..count]));
                    item += count as u64;
                }
                // SAFETY: leaving the child without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            pid => {
                close(write);
                children.push((pid, read));
            }
        }
    }
    let mut out = vec![0u64; n as usize];
    // Each worker's bytes land in its own share of `out`.
    let mut filled: Vec<usize> = vec![0; workers as usize];
    let mut open: Vec<bool> = vec![true; workers as usize];
    let bytes = as_bytes_mut(&mut out);
    while open.iter().any(|o| *o) {
        let mut fds: Vec<libc::pollfd> = children
            .iter()
            .zip(&open)
            .filter(|(_, o)| **o)
            .map(|((_, fd), _)| libc::pollfd {
                fd: *fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            panic!("poll: {}", io::Error::last_os_error());
        }
        for pollfd in fds.iter().filter(|p| p.revents != 0) {
            let w = children
                .iter()
                .position(|(_, fd)| *fd == pollfd.fd)
                .unwrap();
            let (start, end) = bounds(w as u64);
            let share = &mut bytes[start as usize * 8..end as usize * 8];
            let free = &mut share[filled[w]..];
            // SAFETY: reading into the unfilled part of this worker's share.
            let got = unsafe { libc::read(pollfd.fd, free.as_mut_ptr().cast(), free.len()) };
            match got {
                0 => open[w] = false,
                got if got > 0 => filled[w] += got as usize,
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                _ => panic!("read: {}", io::Error::last_os_error()),
            }
        }
    }
    for (w, (pid, read)) in children.into_iter().enumerate() {
        let (start, end) = bounds(w as u64);
        assert_eq!(
            filled[w],
            (end - start) as usize * 8,
            "worker {w} sent too little"
        );
        close(read);
        reap(pid);
    }
    out
}

/// [`split`] with what fanout's process pool promises per item, written by
/// hand: each worker publishes every answer as its item ends (a value in
/// memory shared with the parent, then a count of answers stored with
/// `Release`), so that a worker's crash loses none of the answers it gave
/// and the parent can take them while the worker runs; the parent takes
/// what was published every 100 µs. No framing, no checks, no names: the
/// least a pool can do and still answer per item.
pub fn split_answering(n: u64, workers: u64, f: fn(u64) -> u64) -> Vec<u64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let bounds = |w: u64| (n * w / workers, n * (w + 1) / workers);
    // Per worker: a count of answers on a line of its own, then the answers.
    let len = |w: u64| {
        let (start, end) = bounds(w);
        64 + 8 * (end - start) as usize
    };
    let mut shared = Vec::with_capacity(workers as usize);
    for w in 0..workers {
        // SAFETY: a fresh shared anonymous mapping, unmapped below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len(w),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(
            base,
            libc::MAP_FAILED,
            "mmap: {}",
            io::Error::last_os_error()
        );
        shared.push(base.cast::<u64>());
    }
    // SAFETY (the helpers): each mapping is `len(w)` bytes, its first u64
    // the count, the answers 64 bytes in; the count is only accessed
    // atomically, each answer written by the worker before the count that
    // covers it is stored, and read by the parent after loading that count.
    let count = |base: *mut u64| unsafe { &*base.cast::<AtomicU64>() };
    let answers = |base: *mut u64| unsafe { base.cast::<u8>().add(64).cast::<u64>() };
    let mut children = Vec::with_capacity(workers as usize);
    for w in 0..workers {
        // SAFETY: the child only computes, writes its shared answers and `_exit`s.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", io::Error::last_os_error()),
            0 => {
                let (start, end) = bounds(w);
                let base = shared[w as usize];
                for (k, i) in (start..end).enumerate() {
                    // SAFETY: slot `k` of this worker's answers (see above).
                    unsafe { answers(base).add(k).write(f(i)) };
                    count(base).store(k as u64 + 1, Ordering::Release);
                }
                // SAFETY: leaving the child without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            pid => children.push(pid),
        }
    }
    let mut out = vec![0u64; n as usize];
    let mut taken = vec![0u64; workers as usize];
    loop {
        let mut done = true;
        for w in 0..workers {
            let (start, end) = bounds(w);
            let base = shared[w as usize];
            let published = count(base).load(Ordering::Acquire);
            let from = taken[w as usize];
            for k in from..published {
                // SAFETY: answer `k` was written before the count covering it.
                out[(start + k) as usize] = unsafe { answers(base).add(k as usize).read() };
            }
            taken[w as usize] = published;
            done &= published == end - start;
        }
        if done {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    for (w, pid) in children.into_iter().enumerate() {
        reap(pid);
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(shared[w].cast(), len(w as u64)) };
    }
    out
}

/// The floor of [`each`]: forks `n` children that `_exit` at once, and reaps
/// them. No pipe, no output.
pub fn bare(n: u64) {
    let children: Vec<libc::pid_t> = (0..n)
        .map(|_| {
            // SAFETY: the child only `_exit`s.
            match unsafe { libc::fork() } {
                -1 => panic!("fork: {}", io::Error::last_os_error()),
                // SAFETY: leaving the child without running the parent's destructors.
                0 => unsafe { libc::_exit(0) },
                pid => pid,
            }
        })
        .collect();
    for pid in children {
        reap(pid);
    }
}

/// Forks one child that writes the length of `f()` (8 bytes) and then its
/// bytes to a pipe; the parent reads them into a vector of that length.
pub fn bytes(f: fn() -> Vec<u8>) -> Vec<u8> {
    let (read, write) = pipe();
    // SAFETY: the child only computes, writes to its pipe and `_exit`s.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", io::Error::last_os_error()),
        0 => {
            let bytes = f();
            write_all(write, &(bytes.len() as u64).to_ne_bytes());
            write_all(write, &bytes);
            // SAFETY: leaving the child without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        pid => {
            close(write);
            let mut len = [0u8; 8];
            read_exact(read, &mut len);
            let mut bytes = vec![0u8; u64::from_ne_bytes(len) as usize];
            read_exact(read, &mut bytes);
            close(read);
            reap(pid);
            bytes
        }
    }
}

/// Forks one child per argument, child `i` writing `f(args[i])` to its pipe;
/// returns the first output to arrive, after killing (SIGKILL) and reaping the
/// other children.
pub fn race<const N: usize>(args: [u64; N], f: fn(u64) -> u64) -> u64 {
    let children: Vec<(libc::pid_t, libc::c_int)> = args
        .iter()
        .map(|&arg| {
            let (read, write) = pipe();
            // SAFETY: the child only computes, writes to its pipe and `_exit`s.
            match unsafe { libc::fork() } {
                -1 => panic!("fork: {}", io::Error::last_os_error()),
                0 => {
                    write_all(write, &f(arg).to_ne_bytes());
                    // SAFETY: leaving the child without running the parent's destructors.
                    unsafe { libc::_exit(0) }
                }
                pid => {
                    close(write);
                    (pid, read)
                }
            }
        })
        .collect();
    let mut fds: Vec<libc::pollfd> = children
        .iter()
        .map(|&(_, fd)| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
    while unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
        assert_eq!(
            io::Error::last_os_error().kind(),
            io::ErrorKind::Interrupted
        );
    }
    let winner = fds.iter().position(|p| p.revents != 0).unwrap();
    let mut bytes = [0u8; 8];
    read_exact(children[winner].1, &mut bytes);
    for (i, &(pid, read)) in children.iter().enumerate() {
        close(read);
        if i == winner {
            reap(pid);
        } else {
            // SAFETY: killing and reaping our own child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
    u64::from_ne_bytes(bytes)
}

fn pipe() -> (libc::c_int, libc::c_int) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        panic!("pipe: {}", io::Error::last_os_error());
    }
    (fds[0], fds[1])
}

fn close(fd: libc::c_int) {
    // SAFETY: closing a descriptor this module opened and still owns.
    unsafe { libc::close(fd) };
}

fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for `bytes.len()` bytes.
        let wrote = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if wrote < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // SAFETY: a child that cannot report leaves with a failure code.
            unsafe { libc::_exit(1) }
        }
        bytes = &bytes[wrote as usize..];
    }
}

fn read_exact(fd: libc::c_int, mut bytes: &mut [u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for writes of `bytes.len()` bytes.
        let got = unsafe { libc::read(fd, bytes.as_mut_ptr().cast(), bytes.len()) };
        match got {
            0 => panic!("child closed its pipe early"),
            got if got > 0 => bytes = &mut bytes[got as usize..],
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => panic!("read: {}", io::Error::last_os_error()),
        }
    }
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        assert_eq!(
            io::Error::last_os_error().kind(),
            io::ErrorKind::Interrupted
        );
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {pid} failed: status {status}"
    );
}

fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64 has no padding and u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), std::mem::size_of_val(words)) }
}

fn as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; any byte pattern is a valid u64.
    unsafe {
        std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), std::mem::size_of_val(words))
    }
}

//! Beyond the tutorial: one connection per worker, opened once by `init`.
//!
//! ```python
//! import socket, threading
//! from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor
//!
//! local = threading.local()
//!
//! def connect():
//!     local.conn = socket.create_connection(ADDRESS).makefile("rw")
//!
//! def lookup(id):
//!     local.conn.write(f"{id}\n"); local.conn.flush()
//!     return local.conn.readline().strip()
//!
//! with ThreadPoolExecutor(max_workers=3, initializer=connect) as executor:
//!     rows = list(executor.map(lookup, range(12)))
//!
//! with ProcessPoolExecutor(max_workers=2, initializer=connect,
//!                          max_tasks_per_child=3) as executor:
//!     rows = list(executor.map(lookup, range(12)))
//! ```
//!
//! The program starts a small TCP server on 127.0.0.1 (`std::net`, one
//! thread per connection) that answers one line per request, numbers its
//! connections, and counts them. Each request takes 0.1 s (divided by
//! `FANOUT_TOUR_SPEED`).
//!
//! `pool_map!(|conn, id| conn.lookup(id), ids; init = || Conn::connect(addr),
//! workers = 3)` builds one `Conn` per worker thread, and passes it, `&mut`,
//! to the function with each item: 12 lookups over 3 connections. Python's
//! `initializer=` returns nothing, so the connection goes into a global (a
//! `threading.local`); in fanout, `init` returns the state and the function
//! takes it.
//!
//! The second part runs the same map on worker processes with `recycle = 3`,
//! Python's `max_tasks_per_child=3`: each worker process exits after three
//! items and a fresh one, with a fresh connection, takes over, so 12 items
//! open at least 4 connections.
//!
//! `cargo run --example init_connection`.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use fanout::pool_map;

#[allow(dead_code, clippy::duplicate_mod)]
// this program's copy; the tour and the tests bring theirs
mod common;
use crate::common::pause;

/// The Python it replaces.
pub const PYTHON: &str = "\
import socket, threading
from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor

local = threading.local()

def connect():
    local.conn = socket.create_connection(ADDRESS).makefile(\"rw\")

def lookup(id):
    local.conn.write(f\"{id}\\n\"); local.conn.flush()
    return local.conn.readline().strip()

with ThreadPoolExecutor(max_workers=3, initializer=connect) as executor:
    rows = list(executor.map(lookup, range(12)))

with ProcessPoolExecutor(max_workers=2, initializer=connect,
                         max_tasks_per_child=3) as executor:
    rows = list(executor.map(lookup, range(12)))
";

/// Its concurrency in fanout.
pub const RUST: &str =
    "pool_map!(|conn, id| conn.lookup(id), ids; init = || Conn::connect(addr), workers = 3)";

/// How many ids each part looks up.
pub const IDS: u32 = 12;

/// How long the server takes to answer a request, in the tutorial's seconds.
const ANSWER_SECS: f64 = 0.1;

/// The local server: it answers `user {id} (connection #{n})` to each line
/// `{id}`, on connection number `n`.
pub struct Server {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    accepting: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts the server on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If it cannot listen.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
        let address = listener.local_addr().expect("the server's address");
        let connections = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let accepting = {
            let (connections, stopping) = (Arc::clone(&connections), Arc::clone(&stopping));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let number = connections.fetch_add(1, Ordering::SeqCst) + 1;
                    std::thread::spawn(move || answer(stream, number));
                }
            })
        };
        Server {
            address,
            connections,
            stopping,
            accepting: Some(accepting),
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many connections it has accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    /// Stops accepting: wakes the listener with one last connection.
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// Serves one connection until the client hangs up.
fn answer(stream: TcpStream, number: usize) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(id) = line else { break };
        pause(ANSWER_SECS);
        // One write per answer (as per request): small writes in pieces
        // would wait on TCP's delayed acknowledgements.
        let answer = format!("user {id} (connection #{number})\n");
        if writer.write_all(answer.as_bytes()).is_err() {
            break;
        }
    }
}

/// A client's connection to the server.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects to the server at `address`.
    ///
    /// # Panics
    /// If it cannot connect: in `init`, the worker's items then fail.
    pub fn connect(address: SocketAddr) -> Conn {
        let writer = TcpStream::connect(address).expect("connect to the local server");
        let reader = BufReader::new(writer.try_clone().expect("clone the socket"));
        Conn { reader, writer }
    }

    /// Asks the server for `id`; returns its answer.
    ///
    /// # Panics
    /// If the server hangs up.
    pub fn lookup(&mut self, id: u32) -> String {
        let request = format!("{id}\n");
        self.writer
            .write_all(request.as_bytes())
            .expect("send a request");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("read an answer");
        answer.trim_end().to_owned()
    }
}

/// One part of the program: the answers, and the connections they took.
pub struct Part {
    /// The server's answers, in id order.
    pub rows: Vec<String>,
    /// The connections the server accepted during the part.
    pub connections: usize,
}

/// The connection numbers that `rows` name.
pub fn connections_named(rows: &[String]) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|row| row.split_once('(').map(|(_, conn)| conn.to_owned()))
        .collect()
}

/// Runs the program: the thread pool, then the recycled process pool.
pub fn run() -> (Part, Part) {
    let server = Server::start();
    let addr = server.address();
    let ids: Vec<u32> = (0..IDS).collect();
    let rows =
        pool_map!(|conn, id| conn.lookup(id), ids; init = || Conn::connect(addr), workers = 3);
    let threads = Part {
        rows,
        connections: server.connections(),
    };

    let server = Server::start();
    let addr = server.address();
    let rows = pool_map!(
        |conn: &mut Conn, id| conn.lookup(id),
        0..IDS;
        processes, workers = 2, recycle = 3, init = || Conn::connect(addr)
    );
    let processes = Part {
        rows,
        connections: server.connections(),
    };
    (threads, processes)
}

fn show(part: &Part, how: &str) {
    println!("{how}:");
    for row in &part.rows {
        println!("  {row}");
    }
    println!(
        "  {} lookups over {} connections ({} named in the answers)",
        part.rows.len(),
        part.connections,
        connections_named(&part.rows).len()
    );
}

pub fn main() {
    let (threads, processes) = run();
    show(&threads, "3 worker threads, init = || Conn::connect(addr)");
    show(
        &processes,
        "2 worker processes, recycle = 3: a fresh process, and connection, every 3 items",
    );
}

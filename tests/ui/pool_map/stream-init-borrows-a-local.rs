// Mistake: a stream's `init` borrows a local.
// Python: `initializer=connect, initargs=(url,)` copies `url` to each worker.
// Fix: `move || Db::connect(&url)` (clone `url` first if you use it after the
// line), or drop `stream` and collect.
struct Db(String);

impl Db {
    fn connect(url: &str) -> Db {
        Db(url.to_owned())
    }
    fn lookup(&mut self, id: u32) -> String {
        format!("{}/{id}", self.0)
    }
}

fn main() {
    let url = String::from("db://local");
    let rows = fanout::pool_map!(|db: &mut Db, id: u32| db.lookup(id), 0..3u32; stream, init = || Db::connect(&url));
    for row in rows {
        println!("{row}");
    }
}

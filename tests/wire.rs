//! What crosses the process boundary: every serde shape arrives exactly or
//! fails its own item loudly, and nothing a child writes can put a value in
//! the wrong place, crash the parent, or make it hang past its deadline.
#![cfg(unix)]

mod process_frames;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fanout::{ErrorKind, pool_map, spawn_processes};

mod rings;
use rings::{my_ring, push, rings};
use serde::{Deserialize, Serialize};

/// The tests that forge answers write into every answer ring the worker has
/// mapped (a forked worker maps the rings of the workers forked before it):
/// nothing else in this binary runs meanwhile.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Internally {
    Circle { radius: f64 },
    Square { side: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Number(u64),
    Text(String),
    Pair(Vec<u8>, bool),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    One(u8),
    Two { a: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    x: i32,
    y: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Newtype(u16);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tuple(i8, String, char);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Zoo {
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<u32>,
    id: u32,
    #[serde(flatten)]
    inner: Inner,
    #[serde(rename = "renamed")]
    field: String,
    #[serde(default)]
    defaulted: Vec<u8>,
    big: u128,
    small: i128,
    float: f32,
    double: f64,
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    tuple: Tuple,
    shapes: Vec<Internally>,
    untagged: Vec<Untagged>,
    adjacent: Vec<Adjacent>,
    map: HashMap<u32, String>,
    ordered: BTreeMap<(u8, u8), Vec<Option<bool>>>,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    empty: Vec<Vec<String>>,
    nested: Vec<Vec<Vec<u64>>>,
    json: serde_json::Value,
}

fn zoo(id: u32) -> Zoo {
    Zoo {
        note: id.is_multiple_of(2).then_some(id),
        id,
        inner: Inner {
            x: -1,
            y: id as i32,
        },
        field: format!("zoo {id} ✓"),
        defaulted: vec![],
        big: u128::MAX - u128::from(id),
        small: i128::MIN + i128::from(id),
        float: f32::NAN,
        double: -0.0,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype(u16::MAX),
        tuple: Tuple(-128, String::new(), '🦀'),
        shapes: vec![
            Internally::Circle { radius: 1.5 },
            Internally::Square { side: id },
        ],
        untagged: vec![
            Untagged::Number(u64::MAX),
            Untagged::Text("t".into()),
            Untagged::Pair(vec![1, 2], true),
        ],
        adjacent: vec![Adjacent::One(7), Adjacent::Two { a: "b".into() }],
        map: HashMap::from([(1, "one".into()), (id, "id".into())]),
        ordered: BTreeMap::from([((1, 2), vec![Some(true), None]), ((0, 0), vec![])]),
        bytes: vec![0, 255, id as u8],
        empty: vec![vec![]],
        nested: vec![vec![vec![1, 2], vec![]], vec![]],
        json: serde_json::json!({
            "null": null, "bool": false, "n": -3, "f": 2.5, "s": "x",
            "list": [1, "two", [3]], "obj": {"k": {}}
        }),
    }
}

/// Zoo values compare equal except for the NaN, compared by its bits.
fn same(a: &Zoo, b: &Zoo) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    let bits = (
        a.float.to_bits(),
        b.float.to_bits(),
        a.double.to_bits(),
        b.double.to_bits(),
    );
    a.float = 0.0;
    b.float = 0.0;
    bits.0 == bits.1 && bits.2 == bits.3 && a == b
}

#[test]
fn every_serde_shape_round_trips_from_a_pool() {
    let _alone = alone();
    let out = pool_map!(zoo, 0..20u32; processes, workers = 2, chunksize = 7);
    for (id, value) in out.iter().enumerate() {
        assert!(same(value, &zoo(id as u32)), "{value:?}");
    }
}

#[test]
fn every_serde_shape_round_trips_from_a_child() {
    let _alone = alone();
    let (a, b) = spawn_processes!(zoo(1), zoo(2));
    assert!(same(&a, &zoo(1)) && same(&b, &zoo(2)), "{a:?} {b:?}");
    let json = spawn_processes!(|| serde_json::json!({"a": [1, {"b": null}]}));
    assert_eq!(json["a"][1]["b"], serde_json::Value::Null);
}

/// Serializes as `Rec`, but refuses to deserialize odd ids.
#[derive(Debug, PartialEq)]
struct Picky(u32);

impl Serialize for Picky {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = u32::deserialize(d)?;
        if id % 2 == 1 {
            return Err(serde::de::Error::custom(format!("odd id {id}")));
        }
        if id == 10 {
            panic!("ten panics in Deserialize");
        }
        Ok(Picky(id))
    }
}

#[test]
fn an_output_that_cannot_be_read_back_fails_its_own_item_only() {
    let _alone = alone();
    let out = pool_map!(Picky, 0..16u32; processes, catch, workers = 2, chunksize = 16);
    for (id, outcome) in out.iter().enumerate() {
        match (id % 2, id) {
            (_, 10) => {
                let failure = outcome.as_ref().unwrap_err();
                assert!(matches!(failure.kind(), ErrorKind::Decode(_)), "{failure}");
                assert!(
                    failure.to_string().contains("ten panics in Deserialize"),
                    "{failure}"
                );
            }
            (0, _) => assert_eq!(outcome.as_ref().ok(), Some(&Picky(id as u32))),
            _ => {
                let failure = outcome.as_ref().unwrap_err();
                assert!(matches!(failure.kind(), ErrorKind::Decode(_)), "{failure}");
                assert!(
                    failure.to_string().contains("could not be decoded"),
                    "{failure}"
                );
                assert!(
                    std::error::Error::source(failure).is_some(),
                    "the decoder's reason is kept"
                );
                assert!(
                    failure.to_string().contains(&format!("odd id {id}")),
                    "{failure}"
                );
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

#[test]
fn a_deep_value_fails_its_item_without_touching_the_callers_stack() {
    let _alone = alone();
    let out = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            pool_map!(|k: usize| {
                if k == 0 {
                    // A frame of 9 + 1 + 6 × 100 + 5 bytes: this ring's mark.
                    let mut value = Nest::Leaf;
                    for _ in 0..100 {
                        value = Nest::Node(Box::new(value));
                    }
                    return value;
                }
                // The frame of a `Nest` 1 000 000 deep, as the codec writes
                // it: a map {"Node": ...} per level, then "Leaf".
                let mut payload = vec![0u8];
                for _ in 0..1_000_000 {
                    payload.extend_from_slice(&[0x81, 0xa4, b'N', b'o', b'd', b'e']);
                }
                payload.extend_from_slice(&[0xa4, b'L', b'e', b'a', b'f']);
                let mut frame = vec![0u8];
                frame.extend_from_slice(&(payload.len() as u64).to_le_bytes());
                frame.extend_from_slice(&payload);
                let ring = my_ring(9 + 1 + 6 * 100 + 5).expect("no ring of this worker");
                // SAFETY: the ring is this worker's.
                unsafe { push(ring, &frame) };
                // SAFETY: leaves without sending an answer of its own.
                unsafe { libc::_exit(0) }
            }, [0usize, 1]; processes, catch, workers = 1, chunksize = 1)
        })
        .unwrap()
        .join()
        .unwrap();
    // The deep frame fails to decode, alone, without overflowing this small
    // stack (100 levels are fine).
    let mut out = out.into_iter();
    let mut shallow = out.next().unwrap().unwrap();
    let mut depth = 0;
    while let Nest::Node(next) = shallow {
        shallow = *next;
        depth += 1;
    }
    assert_eq!(depth, 100);
    let deep = out.next().unwrap();
    let failure = deep.as_ref().unwrap_err();
    assert!(matches!(failure.kind(), ErrorKind::Decode(_)), "{failure}");
}

/// A number crosses as a tag and its 64 bits: bits that are no value of the
/// output type (300 for a `u8`) are refused, never cut down to one, and fail
/// the item they stand for alone.
#[test]
fn a_forged_number_out_of_the_types_range_fails_its_item_alone() {
    let _alone = alone();
    let out = pool_map!(|k: u8| -> u8 {
        if k == 1 {
            // After item 0's answer (a tag and 8 bytes) this ring's write
            // position is 9.
            let ring = my_ring(9).expect("no ring of this worker");
            let mut frame = vec![5u8];
            frame.extend_from_slice(&300u64.to_le_bytes());
            // SAFETY: the ring is this worker's.
            unsafe { push(ring, &frame) };
            std::thread::sleep(Duration::from_secs(30));
        }
        k + 7
    }, 0..3u8; processes, catch, workers = 1, chunksize = 1, timeout = Duration::from_secs(20));
    assert_eq!(out[0].as_ref().ok(), Some(&7));
    let failure = out[1].as_ref().unwrap_err();
    assert!(
        failure.to_string().contains("no output of the map"),
        "{failure}"
    );
    assert!(!failure.is_timeout(), "{failure}");
    assert_eq!(out[2].as_ref().ok(), Some(&9), "{out:?}");
}

#[test]
fn large_bytes_and_strings_move_as_bytes() {
    let _alone = alone();
    let start = Instant::now();
    let out = pool_map!(|k: u8| vec![k; 256 << 20], 0..1u8; processes, workers = 1);
    assert!(out[0].len() == 256 << 20 && out[0].iter().all(|&b| b == 0));
    drop(out);
    let bytes = spawn_processes!(|| vec![9u8; 256 << 20]);
    assert!(bytes.len() == 256 << 20 && bytes.iter().all(|&b| b == 9));
    drop(bytes);
    let text = spawn_processes!(|| "é".repeat(16 << 20));
    assert_eq!(text.len(), 32 << 20);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_task_that_breaks_its_answer_channel_fails_alone() {
    let _alone = alone();
    let out = pool_map!(|k: u32| {
        if k == 3 {
            for ring in rings() {
                // SAFETY: the mapping is ours (a ring of this worker) and the
                // write position is its first word: this is the attack.
                unsafe { ring.write_volatile(u64::MAX / 3) };
            }
            // The parent looks before this worker publishes over it.
            std::thread::sleep(Duration::from_millis(300));
        }
        k
    }, 0..8u32; processes, catch, workers = 1, chunksize = 8);
    let failed: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_err())
        .map(|(k, _)| k)
        .collect();
    assert!(failed.contains(&3), "{out:?}");
    for (k, outcome) in out.iter().enumerate() {
        match outcome {
            Ok(value) => assert_eq!(*value as usize, k, "a value in the wrong place"),
            Err(failure) => assert!(
                matches!(failure.kind(), ErrorKind::Transport(_)),
                "{failure}"
            ),
        }
    }
    assert!(
        out[4..].iter().all(Result::is_ok),
        "the replacement ran the rest: {out:?}"
    );
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_forged_frame_fails_within_the_deadline_and_allocates_nothing() {
    let _alone = alone();
    let before = rss_kib();
    let start = Instant::now();
    let out = pool_map!(|k: u32| {
        if k == 1 {
            for ring in rings() {
                // SAFETY: as above; a frame header claiming 2^40 bytes,
                // published at the current write position.
                unsafe {
                    let write = ring.read_volatile() as usize;
                    let data = ring.cast::<u8>().add(256);
                    let at = write % (1 << 20);
                    if at + 9 <= 1 << 20 {
                        data.add(at).write_volatile(0);
                        for (i, b) in (1u64 << 40).to_le_bytes().iter().enumerate() {
                            data.add(at + 1 + i).write_volatile(*b);
                        }
                        ring.write_volatile((write + 9) as u64);
                    }
                }
            }
            std::thread::sleep(Duration::from_secs(30));
        }
        k
    }, 0..4u32; processes, catch, workers = 1, chunksize = 4, timeout = Duration::from_millis(800));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out[0].as_ref().ok(), Some(&0));
    assert!(
        out[1..]
            .iter()
            .all(|o| o.as_ref().is_err_and(|e| e.is_timeout())),
        "{out:?}"
    );
    assert!(
        rss_kib() < before + 64 * 1024,
        "the parent allocated for the claim"
    );
}

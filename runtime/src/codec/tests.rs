use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::*;

fn encoded<T: Serialize + 'static>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out).unwrap();
    out
}

#[track_caller]
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug + 'static>(value: T) {
    let bytes = encoded(&value);
    let back: T = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, value);
}

/// Runs `f` on a thread with a 256 KiB stack.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Unit;

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Newtype(u32);

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Tuple(i8, String, Option<u64>);

#[derive(Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Debug, Clone)]
enum External {
    Unit,
    Newtype(i32),
    Tuple(u8, u8),
    Struct { a: String, b: Vec<u16> },
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
#[serde(tag = "type")]
enum Internal {
    Unit,
    Struct { a: u32, b: Option<String> },
    Newtype(Inner),
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Unit,
    Newtype(String),
    Tuple(u8, bool),
    Struct { x: f64 },
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
#[serde(untagged)]
enum Untagged {
    Number(u64),
    Text(String),
    Pair(bool, bool),
    Record { name: String, tags: Vec<String> },
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Inner {
    x: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<String>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Flattened {
    id: u32,
    #[serde(flatten)]
    inner: Inner,
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

/// Empty collections of every kind.
type Empties = (
    Vec<u8>,
    Vec<String>,
    BTreeMap<u8, u8>,
    HashMap<String, ()>,
    String,
);

fn one() -> u32 {
    1
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Zoo {
    bool: bool,
    i8: i8,
    i16: i16,
    i32: i32,
    i64: i64,
    i128: i128,
    i128_min: i128,
    u8: u8,
    u16: u16,
    u32: u32,
    u64: u64,
    u128: u128,
    f32: f32,
    f64: f64,
    char: char,
    empty: String,
    unicode: String,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    plain_bytes: Vec<u8>,
    none: Option<u8>,
    some: Option<String>,
    unit: (),
    unit_struct: Unit,
    some_unit_struct: Option<Unit>,
    newtype: Newtype,
    tuple: Tuple,
    tuple_of: (u8, (i16, String), [u32; 3]),
    externals: Vec<External>,
    internals: Vec<Internal>,
    adjacents: Vec<Adjacent>,
    untaggeds: Vec<Untagged>,
    flattened: Flattened,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    skipped: Vec<u8>,
    #[serde(default = "one")]
    defaulted: u32,
    #[serde(rename = "renamed-field")]
    renamed: String,
    #[serde(skip)]
    not_sent: u8,
    hash: HashMap<u32, String>,
    btree: BTreeMap<(u8, i32), Vec<Option<bool>>>,
    enum_keys: BTreeMap<External, u8>,
    nested: Vec<Vec<BTreeMap<String, Vec<u8>>>>,
    empties: Empties,
    json: serde_json::Value,
}

fn zoo() -> Zoo {
    let mut rest = BTreeMap::new();
    rest.insert(
        "extra".to_owned(),
        serde_json::json!({"k": [1, "two", null]}),
    );
    Zoo {
        bool: true,
        i8: i8::MIN,
        i16: i16::MIN,
        i32: i32::MIN,
        i64: i64::MIN,
        i128: i128::MAX,
        i128_min: i128::MIN,
        u8: u8::MAX,
        u16: u16::MAX,
        u32: u32::MAX,
        u64: u64::MAX,
        u128: u128::MAX,
        f32: -1.5e-38,
        f64: std::f64::consts::PI,
        char: '한',
        empty: String::new(),
        unicode: "동시성과 병렬성 — ✓ 🦀".to_owned(),
        bytes: (0..=255).collect(),
        plain_bytes: vec![0, 1, 255],
        none: None,
        some: Some("some".to_owned()),
        unit: (),
        unit_struct: Unit,
        some_unit_struct: Some(Unit),
        newtype: Newtype(7),
        tuple: Tuple(-3, "t".to_owned(), Some(u64::MAX)),
        tuple_of: (1, (-2, "x".to_owned()), [3, 4, 5]),
        externals: vec![
            External::Unit,
            External::Newtype(-1),
            External::Tuple(1, 2),
            External::Struct {
                a: "a".to_owned(),
                b: vec![1, 2, 3],
            },
        ],
        internals: vec![
            Internal::Unit,
            Internal::Struct { a: 1, b: None },
            Internal::Struct {
                a: 2,
                b: Some("b".to_owned()),
            },
            Internal::Newtype(Inner { x: -9, maybe: None }),
        ],
        adjacents: vec![
            Adjacent::Unit,
            Adjacent::Newtype("n".to_owned()),
            Adjacent::Tuple(9, false),
            Adjacent::Struct { x: -0.0 },
        ],
        untaggeds: vec![
            Untagged::Number(u64::MAX),
            Untagged::Text("text".to_owned()),
            Untagged::Pair(true, false),
            Untagged::Record {
                name: "r".to_owned(),
                tags: vec!["a".to_owned(), String::new()],
            },
        ],
        flattened: Flattened {
            id: 5,
            inner: Inner {
                x: 6,
                maybe: Some("m".to_owned()),
            },
            rest,
        },
        skipped: Vec::new(),
        defaulted: 42,
        renamed: "renamed".to_owned(),
        not_sent: 0,
        hash: [(1, "one".to_owned()), (u32::MAX, "max".to_owned())].into(),
        btree: [((1, -1), vec![Some(true), None]), ((2, 0), vec![])].into(),
        enum_keys: [(External::Unit, 1), (External::Newtype(3), 2)].into(),
        nested: vec![
            vec![],
            vec![[("k".to_owned(), vec![1])].into(), BTreeMap::new()],
        ],
        empties: Default::default(),
        json: serde_json::json!({
            "null": null,
            "bool": [true, false],
            "numbers": [0, -1, u64::MAX, i64::MIN, 1.5, -0.25, 1e300],
            "string": "s",
            "array": [[], [[]], {}],
            "object": {"nested": {"deeper": [1, {"a": "b"}]}},
        }),
    }
}

#[test]
fn every_shape_of_the_serde_data_model_round_trips() {
    round_trip(zoo());
}

#[test]
fn defaults_fill_what_was_skipped() {
    #[derive(Serialize)]
    struct Sent {
        id: u32,
    }
    #[derive(Deserialize, PartialEq, Debug)]
    struct Received {
        id: u32,
        #[serde(default = "one")]
        defaulted: u32,
        #[serde(default)]
        skipped: Vec<u8>,
    }
    let back: Received = decode(&encoded(&Sent { id: 3 })).unwrap();
    assert_eq!(
        back,
        Received {
            id: 3,
            defaulted: 1,
            skipped: vec![],
        }
    );
}

#[test]
fn scalars_round_trip_at_their_limits() {
    round_trip(true);
    round_trip(());
    round_trip(Unit);
    round_trip('\0');
    round_trip(char::MAX);
    round_trip(String::new());
    round_trip("é".to_owned());
    round_trip(Vec::<u8>::new());
    round_trip((i128::MIN, i128::MAX, u128::MAX, 0u128));
    round_trip((i64::MIN, u64::MAX, i8::MIN, u8::MAX));
    round_trip(Some(Some(1u8)));
    round_trip(Option::<Option<u8>>::None);
    round_trip(Box::<str>::from("boxed"));
    round_trip(serde_bytes::ByteBuf::from(vec![1, 2, 3]));
}

/// Every number [`bits`] makes reads back as itself with [`from_bits`].
fn bits_round_trip<T: Copy + PartialEq + Debug + 'static>(values: &[T]) {
    for value in values {
        let word = bits(value).expect("a number");
        assert_eq!(from_bits::<T>(word), Some(*value), "{value:?} as {word:#x}");
    }
}

#[test]
fn numbers_cross_as_their_bits_and_forged_bits_are_refused() {
    bits_round_trip(&[0u64, 1, u64::MAX]);
    bits_round_trip(&[0usize, usize::MAX]);
    bits_round_trip(&[0u32, u32::MAX]);
    bits_round_trip(&[0u16, u16::MAX]);
    bits_round_trip(&[0u8, u8::MAX]);
    bits_round_trip(&[i64::MIN, -1, 0, i64::MAX]);
    bits_round_trip(&[isize::MIN, isize::MAX]);
    bits_round_trip(&[i32::MIN, -1, i32::MAX]);
    bits_round_trip(&[i16::MIN, -1, i16::MAX]);
    bits_round_trip(&[i8::MIN, -1, i8::MAX]);
    bits_round_trip(&[false, true]);
    let floats = [f64::NAN, -0.0, f64::from_bits(1), f64::INFINITY, 0.1];
    for float in floats {
        let back: f64 = from_bits(bits(&float).unwrap()).unwrap();
        assert_eq!(back.to_bits(), float.to_bits());
    }
    // Bits from a child are untrusted: what is no value of the type is
    // refused, never cut down to one.
    assert_eq!(from_bits::<u8>(256), None);
    assert_eq!(from_bits::<u32>(1 << 32), None);
    assert_eq!(from_bits::<i8>(128), None);
    assert_eq!(from_bits::<i8>((-129i64) as u64), None);
    assert_eq!(from_bits::<i32>(u64::MAX >> 1), None);
    assert_eq!(from_bits::<bool>(2), None);
    assert_eq!(from_bits::<u64>(u64::MAX), Some(u64::MAX));
    // Other types have no bits.
    assert_eq!(bits(&'x'), None);
    assert_eq!(bits(&1.5f32), None);
    assert_eq!(bits(&String::new()), None);
    assert_eq!(from_bits::<char>(65), None);
    assert_eq!(from_bits::<String>(0), None);
}

#[test]
fn floats_keep_their_bits() {
    let f64s = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001), // a signalling NaN with a payload
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1), // the smallest subnormal
        f64::MAX,
        0.1,
    ];
    let back: Vec<f64> = decode(&encoded(&f64s.to_vec())).unwrap();
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&f64s));

    let f32s = [
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7fc0_1234),
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        f32::from_bits(1),
        f32::MAX,
        0.1,
    ];
    let back: Vec<f32> = decode(&encoded(&f32s.to_vec())).unwrap();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&f32s));
}

#[test]
fn json_values_of_every_kind_round_trip() {
    for value in [
        serde_json::Value::Null,
        serde_json::json!(false),
        serde_json::json!(u64::MAX),
        serde_json::json!(i64::MIN),
        serde_json::json!(-2.5),
        serde_json::json!(""),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([null, 1, "a", [2], {"b": {}}]),
    ] {
        round_trip(value);
    }
}

/// A `Box` chain, as deep as asked.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

impl Nest {
    fn deep(levels: usize) -> Nest {
        (0..levels).fold(Nest::Leaf, |nest, _| Nest::Node(Box::new(nest)))
    }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
#[serde(untagged)]
enum Tree {
    Leaf(u8),
    Branch(Vec<Tree>),
}

impl Tree {
    fn deep(levels: usize) -> Tree {
        (0..levels).fold(Tree::Leaf(1), |tree, _| Tree::Branch(vec![tree]))
    }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Linked {
    value: u32,
    next: Option<Box<Linked>>,
}

#[test]
fn values_nested_100_deep_round_trip_on_a_small_stack() {
    on_small_stack(|| {
        round_trip(Nest::deep(100));
        round_trip(Tree::deep(100));
        let linked = (0..100).fold(None, |next, value| Some(Box::new(Linked { value, next })));
        round_trip(*linked.unwrap());
        let json = (0..100).fold(serde_json::json!(0), |v, _| serde_json::json!([v]));
        round_trip(json);
    });
}

#[test]
fn a_million_deep_value_fails_on_a_small_stack() {
    // Written by hand: encoding (and dropping) a million-deep `Nest` would
    // itself need a deep stack. `{"Node": ...}` a million times, then "Leaf".
    let mut bytes = vec![VALUE];
    for _ in 0..1_000_000 {
        bytes.extend_from_slice(b"\x81\xa4Node");
    }
    bytes.extend_from_slice(b"\xa4Leaf");
    let bytes = std::sync::Arc::new(bytes);

    let payload = bytes.clone();
    let message = on_small_stack(move || decode::<Nest>(&payload).unwrap_err().to_string());
    assert!(
        message.contains("nests deeper than 512 levels"),
        "{message}"
    );

    // The same frame read as a `serde_json::Value`, or skipped as a
    // whole, fails the same way.
    let payload = bytes.clone();
    let message = on_small_stack(move || {
        decode::<serde_json::Value>(&payload)
            .unwrap_err()
            .to_string()
    });
    assert!(message.contains("nests deeper"), "{message}");
    let payload = bytes;
    let message = on_small_stack(move || decode::<Tree>(&payload).unwrap_err().to_string());
    assert!(message.contains("nests deeper"), "{message}");
}

#[test]
fn a_type_that_recurses_without_reading_fails_at_the_depth_limit() {
    // For `Loop` a non-nil marker means `Some`, read again by the inner
    // `Loop` without being consumed: without a limit this never ends.
    #[derive(Serialize, Deserialize, Debug)]
    struct Loop(Option<Box<Loop>>);
    let error = on_small_stack(|| decode::<Loop>(&[VALUE, 5]).unwrap_err().to_string());
    assert!(error.contains("nests deeper"), "{error}");
}

#[test]
fn a_value_of_another_type_fails_with_the_decoders_reason() {
    let bytes = encoded(&zoo());
    let error = decode::<Vec<String>>(&bytes).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("decoding a `alloc::vec::Vec<alloc::string::String>` failed: "),
        "{message}"
    );
    let source = error.source().expect("the decoder's error");
    assert!(source.is::<rmp_serde::decode::Error>());
    assert!(message.ends_with(&source.to_string()), "{message}");

    // A missing field.
    let error = decode::<Inner>(&encoded(&Newtype(1))).unwrap_err();
    assert!(error.source().is_some());
}

#[test]
fn truncated_frames_fail_at_every_length() {
    let bytes = encoded(&zoo());
    for len in 0..bytes.len() {
        let error = decode::<Zoo>(&bytes[..len]).unwrap_err();
        assert!(error.source().is_some(), "{len}: {error}");
    }
}

#[test]
fn trailing_bytes_fail() {
    let mut bytes = encoded(&7u32);
    bytes.push(0xc0);
    let error = decode::<u32>(&bytes).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("bytes are left after the value"),
        "{error}"
    );
    assert!(error.source().is_some());
    bytes.pop();
    bytes.push(0xc1); // never used in MessagePack
    assert!(decode::<u32>(&bytes).is_err());
    // A truncated second value is trailing garbage too.
    bytes.pop();
    bytes.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
    assert!(decode::<u32>(&bytes).is_err());
}

#[test]
fn frame_tags_are_checked() {
    let error = decode::<u32>(&[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "decoding a `u32` failed: the frame is empty"
    );
    let error = decode::<u32>(&[9, 0]).unwrap_err();
    assert!(error.to_string().ends_with("unknown tag 9"), "{error}");
    let error = decode::<u32>(&encoded(&vec![1u8, 2])).unwrap_err();
    assert!(error.to_string().ends_with("a raw `Vec<u8>`"), "{error}");
    let error = decode::<Vec<u8>>(&encoded(&"text".to_owned())).unwrap_err();
    assert!(error.to_string().ends_with("a raw `String`"), "{error}");
    // A `Vec<u8>` sent as a MessagePack value (not the raw path) still reads.
    let mut bytes = vec![VALUE];
    bytes.extend(rmp_serde::to_vec(&vec![1u8, 2]).unwrap());
    assert_eq!(decode::<Vec<u8>>(&bytes).unwrap(), vec![1, 2]);
}

#[test]
fn a_string_that_is_not_utf8_fails() {
    let error = decode::<String>(&[TEXT, b'a', 0xff]).unwrap_err();
    assert!(error.source().unwrap().is::<std::str::Utf8Error>());
    assert!(
        error
            .to_string()
            .starts_with("decoding a `alloc::string::String` failed: invalid utf-8"),
        "{error}"
    );
}

#[test]
fn forged_lengths_fail_fast_without_allocating_them() {
    let forged: &[&[u8]] = &[
        &[0xdd, 0xff, 0xff, 0xff, 0xff],       // array32 of 2^32-1 items
        &[0xdf, 0xff, 0xff, 0xff, 0xff],       // map32 of 2^32-1 entries
        &[0xc6, 0xff, 0xff, 0xff, 0xff],       // bin32 of 4 GiB
        &[0xdb, 0xff, 0xff, 0xff, 0xff],       // str32 of 4 GiB
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32 of 4 GiB
        &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0],
    ];
    let started = Instant::now();
    for payload in forged {
        let bytes = [&[VALUE][..], payload].concat();
        assert!(decode::<Vec<u64>>(&bytes).is_err());
        assert!(decode::<Vec<String>>(&bytes).is_err());
        assert!(decode::<HashMap<u64, Vec<u8>>>(&bytes).is_err());
        assert!(decode::<serde_bytes::ByteBuf>(&bytes).is_err());
        assert!(decode::<String>(&bytes).is_err());
        assert!(decode::<serde_json::Value>(&bytes).is_err());
        assert!(decode::<Zoo>(&bytes).is_err());
        assert!(decode::<(u8, u8)>(&bytes).is_err());
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn big_byte_and_text_outputs_move_as_bytes() {
    let len = 64 << 20;
    let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let started = Instant::now();
    let frame = encoded(&bytes);
    assert_eq!(frame.len(), len + 1);
    let back: Vec<u8> = decode(&frame).unwrap();
    let elapsed = started.elapsed();
    assert!(back == bytes);
    drop((frame, back));

    let text = "ä".repeat(len / 2);
    let started = Instant::now();
    let back: String = decode(&encoded(&text)).unwrap();
    let elapsed = elapsed.max(started.elapsed());
    assert!(back == text);

    #[derive(Serialize, Deserialize, PartialEq)]
    struct Blob {
        name: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    }
    let blob = Blob {
        name: "blob".to_owned(),
        data: bytes,
    };
    let started = Instant::now();
    let back: Blob = decode(&encoded(&blob)).unwrap();
    let elapsed = elapsed.max(started.elapsed());
    assert!(back == blob);
    // Copies only, even in a debug build (a loop over bytes takes seconds).
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn encoding_errors_keep_their_reason_and_leave_the_buffer_as_it_was() {
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no thanks"))
        }
    }
    let mut out = vec![1, 2, 3];
    let error = encode(&vec![(1, Refuses)], &mut out).unwrap_err();
    assert_eq!(out, [1, 2, 3]);
    assert!(
        error
            .to_string()
            .starts_with("serializing a `alloc::vec::Vec<(i32, "),
        "{error}"
    );
    assert!(error.to_string().ends_with("no thanks"), "{error}");
    assert!(error.source().unwrap().is::<rmp_serde::encode::Error>());

    // Outputs append: several in one buffer, each decoded from its own bytes.
    let first = out.len();
    encode(&5u8, &mut out).unwrap();
    let second = out.len();
    encode(&"s".to_owned(), &mut out).unwrap();
    assert_eq!(decode::<u8>(&out[first..second]).unwrap(), 5);
    assert_eq!(decode::<String>(&out[second..]).unwrap(), "s");
}

#[test]
fn errors_are_send_sync_static() {
    fn check<E: std::error::Error + Send + Sync + 'static>() {}
    check::<EncodeError>();
    check::<DecodeError>();
}

#[test]
fn buffered_values_at_the_depth_limit_decode_on_a_small_stack() {
    // serde replays an untagged value from its buffer without passing through
    // the depth adapter: the red zone must hold that replay.
    let depth = MAX_DEPTH - 2;
    let bytes = encoded(&Tree::deep(depth));
    // Returned, to be compared and dropped on the test thread's bigger stack.
    let back: Tree = on_small_stack(move || decode(&bytes).unwrap());
    assert_eq!(back, Tree::deep(depth));
    let too_deep = encoded(&Tree::deep(MAX_DEPTH + 1));
    assert!(on_small_stack(move || decode::<Tree>(&too_deep).is_err()));
}

/// Counts the bytes this thread holds allocated, and their peak.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub(super) struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(delta: isize) {
        // `try_with`: nothing to count while the thread is being torn down.
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + delta);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
        });
    }

    // SAFETY: every call is passed on to `System` unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            add(layout.size() as isize);
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            add(-(layout.size() as isize));
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            add(new_size as isize - layout.size() as isize);
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// The most bytes that `f` held allocated at once, beyond what this
    /// thread held before.
    pub(super) fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(base));
        let result = f();
        (result, (PEAK.with(Cell::get) - base) as usize)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

#[test]
fn forged_lengths_in_nested_containers_reserve_no_more_than_the_frame_holds() {
    // 500 arrays, one inside the other, each claiming 2^32-1 items: serde
    // alone would reserve up to 1 MiB for each.
    #[derive(Deserialize, Debug)]
    struct Rec(#[allow(dead_code)] Vec<Rec>);
    let mut bytes = vec![VALUE];
    for _ in 0..500 {
        bytes.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
    }
    let (result, peak) = counting::peak(|| decode::<Rec>(&bytes));
    assert!(result.is_err());
    // The items promised are at most the frame's length (2 501), each a
    // 24-byte `Vec`, plus the error's message.
    assert!(
        peak < 100 * 1024,
        "{peak} bytes for a {}-byte frame",
        bytes.len()
    );

    let (result, peak) = counting::peak(|| decode::<Vec<HashMap<u64, String>>>(&bytes));
    assert!(result.is_err());
    assert!(
        peak < 200 * 1024,
        "{peak} bytes for a {}-byte frame",
        bytes.len()
    );
}

#[test]
fn known_limits_of_the_encoding() {
    // `()` and `None` are both nil (as in JSON): `Some(())` and `Some(None)`
    // come back as `None`. A unit struct is an empty array, so
    // `Some(Unit)` is exact (see the zoo).
    assert_eq!(decode::<Option<()>>(&encoded(&Some(()))).unwrap(), None);
    assert_eq!(
        decode::<Option<Option<u8>>>(&encoded(&Some(None::<u8>))).unwrap(),
        None
    );
    // serde buffers an untagged value before choosing its variant, and its
    // buffer has no 128-bit integers: such a value fails loudly.
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    #[serde(untagged)]
    enum Wide {
        Big(u128),
    }
    let error = decode::<Wide>(&encoded(&Wide::Big(u128::MAX))).unwrap_err();
    assert!(error.source().is_some(), "{error}");
}

#[test]
fn items_that_read_nothing_cannot_spin_on_a_forged_length() {
    // An item type that reads nothing, in a sequence claiming 2^32-1 items:
    // without a bound this loops four billion times on a 6-byte frame.
    #[derive(Debug)]
    struct Nothing;
    impl<'de> Deserialize<'de> for Nothing {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Ok(Nothing)
        }
    }
    let started = Instant::now();
    let error = decode::<Vec<Nothing>>(&[VALUE, 0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("more items than its frame has bytes"),
        "{error}"
    );
    let error =
        decode::<HashMap<u8, Nothing>>(&[VALUE, 0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2]).unwrap_err();
    assert!(error.source().is_some(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn scalars_read_and_write_the_bytes_of_the_general_path() {
    fn general<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = vec![VALUE];
        let mut serializer = rmp_serde::Serializer::new(&mut out).with_struct_map();
        value.serialize(&mut serializer).unwrap();
        out
    }
    let mut unsigned: Vec<u64> = vec![
        0,
        1,
        127,
        128,
        255,
        256,
        65535,
        65536,
        u64::from(u32::MAX),
        u64::MAX,
    ];
    unsigned.extend((0..64).map(|bit| 1u64 << bit));
    for v in unsigned {
        let mut fast = Vec::new();
        encode(&v, &mut fast).unwrap();
        // The payload made on the stack is the same.
        assert_eq!(encode_scalar(&v).unwrap().as_slice(), &fast[..], "{v:?}");
        assert_eq!(fast, general(&v), "{v}");
        assert_eq!(decode::<u64>(&fast).unwrap(), v);
        if let Ok(small) = u32::try_from(v) {
            assert_eq!(decode::<u32>(&fast).unwrap(), small);
        } else {
            assert!(decode::<u32>(&fast).is_err(), "{v} does not fit a u32");
        }
    }
    let signed: Vec<i64> = vec![
        0,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        i64::from(i32::MIN) - 1,
        i64::MIN,
        i64::MAX,
        5,
    ];
    for v in signed {
        let mut fast = Vec::new();
        encode(&v, &mut fast).unwrap();
        // The payload made on the stack is the same.
        assert_eq!(encode_scalar(&v).unwrap().as_slice(), &fast[..], "{v:?}");
        assert_eq!(fast, general(&v), "{v}");
        assert_eq!(decode::<i64>(&fast).unwrap(), v);
        assert!(decode::<u64>(&fast).is_ok() == (v >= 0), "{v}");
    }
    for v in [0.5f64, -0.0, f64::NAN, f64::INFINITY] {
        let mut fast = Vec::new();
        encode(&v, &mut fast).unwrap();
        // The payload made on the stack is the same.
        assert_eq!(encode_scalar(&v).unwrap().as_slice(), &fast[..], "{v:?}");
        assert_eq!(fast, general(&v));
        assert_eq!(decode::<f64>(&fast).unwrap().to_bits(), v.to_bits());
    }
    for v in [true, false] {
        let mut fast = Vec::new();
        encode(&v, &mut fast).unwrap();
        // The payload made on the stack is the same.
        assert_eq!(encode_scalar(&v).unwrap().as_slice(), &fast[..], "{v:?}");
        assert_eq!(fast, general(&v));
        assert_eq!(decode::<bool>(&fast).unwrap(), v);
    }
    assert!(encode_scalar(&String::from("7")).is_none());
    assert!(encode_scalar(&Some(7u64)).is_none());
    // Trailing bytes and truncation are refused, by the general decoder.
    let mut long = Vec::new();
    encode(&300u64, &mut long).unwrap();
    long.push(0);
    assert!(decode::<u64>(&long).is_err());
    assert!(decode::<u64>(&long[..long.len() - 2]).is_err());
}

#[test]
fn every_integer_width_writes_and_reads_the_bytes_of_the_general_path() {
    fn general<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = vec![VALUE];
        let mut serializer = rmp_serde::Serializer::new(&mut out).with_struct_map();
        value.serialize(&mut serializer).unwrap();
        out
    }
    let mut wide: Vec<i128> = vec![-33, -32, -31, 126, 127, 128, 129, 255, 256];
    for bits in [8u32, 16, 32, 64] {
        let (max, min) = ((1i128 << bits) - 1, -(1i128 << (bits - 1)));
        wide.extend([
            max,
            max - 1,
            max + 1,
            max / 2,
            max / 2 + 1,
            min,
            min + 1,
            min - 1,
        ]);
    }
    macro_rules! check {
        ($($ty:ty),*) => {$(
            for v in wide.iter().filter_map(|&v| <$ty>::try_from(v).ok()) {
                let bytes = general(&v);
                assert_eq!(
                    encode_scalar(&v).unwrap().as_slice(),
                    &bytes[..],
                    "{v} as {}",
                    stringify!($ty)
                );
                assert_eq!(decode_scalar::<$ty>(&bytes), Some(v), "{v} as {}", stringify!($ty));
                assert_eq!(decode::<$ty>(&bytes).unwrap(), v);
                // What the fast path refuses (a value that does not fit),
                // the general decoder refuses too.
                let next = v as i128 + 1;
                let wider = match (i64::try_from(next), u64::try_from(next)) {
                    (Ok(next), _) => Some(general(&next)),
                    (_, Ok(next)) => Some(general(&next)),
                    _ => None,
                };
                if let Some(wider) = wider
                    && <$ty>::try_from(next).is_err()
                {
                    assert_eq!(decode_scalar::<$ty>(&wider), None, "{v} + 1");
                    assert!(decode::<$ty>(&wider).is_err(), "{v} + 1");
                }
            }
        )*};
    }
    check!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);
}

//! What crosses from a child process back to the parent, and how a child's
//! end becomes an [`ErrorKind`].
//!
//! A message is a tag byte and a postcard payload: [`OUTPUT`] and the
//! task's output, [`PANIC`] and the panic message, [`UNSENDABLE`] and the
//! reason the output could not be serialized, or [`SKIPPED`] alone (a pool
//! item not started because an earlier one failed, in `try` mode). A pool
//! worker's answer for a chunk starts with the outputs of the items that
//! succeeded before the first that did not, bare (no tag, [`put_bare`]), and
//! continues with one message per item.

use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};

use crate::error::ErrorKind;
use crate::sys::Status;

/// The task returned; its output follows.
pub(crate) const OUTPUT: u8 = 0;
/// The task panicked; its message follows.
pub(crate) const PANIC: u8 = 1;
/// The output could not be serialized; the reason follows.
pub(crate) const UNSENDABLE: u8 = 2;
/// The pool item did not start (`try` mode); nothing follows.
pub(crate) const SKIPPED: u8 = 3;

/// Where messages are written: a `Vec` (one serves every item of a pool's
/// chunk) or a [`SmallBuffer`].
pub(crate) trait Buffer {
    fn push(&mut self, byte: u8);
    fn extend_from_slice(&mut self, bytes: &[u8]);
    fn len(&self) -> usize;
    fn truncate(&mut self, len: usize);
}

impl Buffer for Vec<u8> {
    #[inline]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

/// A buffer on the stack that moves to the heap when it fills: a child that
/// sends a small output touches no allocator page (each page a forked child
/// writes to is copied first).
pub(crate) struct SmallBuffer {
    inline: [u8; 256],
    len: usize,
    heap: Vec<u8>,
}

impl SmallBuffer {
    pub(crate) fn new() -> Self {
        SmallBuffer {
            inline: [0; 256],
            len: 0,
            heap: Vec::new(),
        }
    }

    /// The bytes written.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    fn spill(&mut self) {
        if self.heap.is_empty() {
            self.heap.reserve(self.inline.len() * 4);
            self.heap.extend_from_slice(&self.inline[..self.len]);
        }
    }
}

impl Buffer for SmallBuffer {
    #[inline]
    fn push(&mut self, byte: u8) {
        if self.heap.is_empty() && self.len < self.inline.len() {
            self.inline[self.len] = byte;
            self.len += 1;
        } else {
            self.spill();
            self.heap.push(byte);
        }
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if self.heap.is_empty() && end <= self.inline.len() {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.spill();
            self.heap.extend_from_slice(bytes);
        }
    }

    fn len(&self) -> usize {
        if self.heap.is_empty() {
            self.len
        } else {
            self.heap.len()
        }
    }

    fn truncate(&mut self, len: usize) {
        if self.heap.is_empty() {
            self.len = self.len.min(len);
        } else {
            self.heap.truncate(len);
        }
    }
}

/// A postcard flavor that appends to a borrowed [`Buffer`].
struct Append<'a, B>(&'a mut B);

impl<B: Buffer> postcard::ser_flavors::Flavor for Append<'_, B> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends the message for `output` to `buf`: [`OUTPUT`] and the value, or
/// [`UNSENDABLE`] and the reason if serialization fails.
pub(crate) fn put_output<T: Serialize + ?Sized, B: Buffer>(buf: &mut B, output: &T) {
    let start = buf.len();
    buf.push(OUTPUT);
    if let Err(error) = postcard::serialize_with_flavor(output, Append(buf)) {
        buf.truncate(start);
        put_text(buf, UNSENDABLE, &error.to_string());
    }
}

/// Appends `output` alone, without a tag (a pool chunk's outputs go back to
/// back while every item succeeds); on a serialization error, `buf` is left
/// as it was and the error's text is returned.
#[inline]
pub(crate) fn put_bare<T: Serialize + ?Sized, B: Buffer>(
    buf: &mut B,
    output: &T,
) -> Result<(), String> {
    let start = buf.len();
    postcard::serialize_with_flavor(output, Append(buf)).map_err(|error| {
        buf.truncate(start);
        error.to_string()
    })
}

/// Appends `output` bare as [`put_bare`] does, and returns `true`, if it
/// serializes as a `u64` below 2^56 (a single `serialize_u64` call, as `u64`
/// and `usize` make): the varint is then written 8 bytes at a time, the bytes
/// postcard writes. Otherwise appends nothing and returns `false`.
#[inline]
pub(crate) fn put_u64<T: Serialize + ?Sized>(buf: &mut Vec<u8>, output: &T) -> bool {
    let Ok(value) = output.serialize(CaptureU64) else {
        return false;
    };
    if value >> 56 != 0 {
        return false;
    }
    // 7-bit groups spread into bytes, the continuation bit on all but the last.
    let mut x = value;
    x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x00ff_ffff_f000_0000) << 4);
    x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x0fff_c000_0fff_c000) << 2);
    x = (x & 0x007f_007f_007f_007f) | ((x & 0x3f80_3f80_3f80_3f80) << 1);
    let bits = 64 - (value | 1).leading_zeros();
    let len = bits.div_ceil(7) as usize;
    x |= 0x8080_8080_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
    let end = buf.len() + len;
    buf.extend_from_slice(&x.to_le_bytes());
    buf.truncate(end);
    true
}

/// Takes the value of a `serialize_u64` call; every other call fails.
struct CaptureU64;

impl serde::ser::Error for Refused {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Refused
    }
}

macro_rules! refuse {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<u64, Refused> {
            Err(Refused)
        }
    )*};
}

impl serde::Serializer for CaptureU64 {
    type Ok = u64;
    type Error = Refused;
    type SerializeSeq = serde::ser::Impossible<u64, Refused>;
    type SerializeTuple = serde::ser::Impossible<u64, Refused>;
    type SerializeTupleStruct = serde::ser::Impossible<u64, Refused>;
    type SerializeTupleVariant = serde::ser::Impossible<u64, Refused>;
    type SerializeMap = serde::ser::Impossible<u64, Refused>;
    type SerializeStruct = serde::ser::Impossible<u64, Refused>;
    type SerializeStructVariant = serde::ser::Impossible<u64, Refused>;

    #[inline]
    fn serialize_u64(self, value: u64) -> Result<u64, Refused> {
        Ok(value)
    }

    refuse! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_f32(f32), serialize_f64(f64), serialize_char(char), serialize_str(&str),
        serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<V: Serialize + ?Sized>(self, _: &V) -> Result<u64, Refused> {
        Err(Refused)
    }

    fn serialize_newtype_struct<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &V,
    ) -> Result<u64, Refused> {
        Err(Refused)
    }

    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<u64, Refused> {
        Err(Refused)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Refused> {
        Err(Refused)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Refused> {
        Err(Refused)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Refused> {
        Err(Refused)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        Err(Refused)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Refused> {
        Err(Refused)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Refused> {
        Err(Refused)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        Err(Refused)
    }

    /// As postcard's.
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Appends a message made of `tag` and `text`.
pub(crate) fn put_text<B: Buffer>(buf: &mut B, tag: u8, text: &str) {
    buf.push(tag);
    // A `str` always serializes.
    let _ = postcard::serialize_with_flavor(text, Append(buf));
}

/// A message read back: the output, or what happened instead.
pub(crate) enum Message<T> {
    Output(T),
    Failed(ErrorKind),
    Skipped,
}

/// Reads messages one after the other from a buffer.
pub(crate) struct Reader<'a> {
    de: postcard::Deserializer<'a, postcard::de_flavors::Slice<'a>>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader {
            de: postcard::Deserializer::from_bytes(bytes),
        }
    }

    /// The next message, or `None` if the bytes do not continue with a whole,
    /// well-formed one (after which the reader is of no further use).
    #[inline]
    pub(crate) fn next<T: DeserializeOwned>(&mut self) -> Option<Message<T>> {
        let tag = u8::deserialize(&mut self.de).ok()?;
        match tag {
            OUTPUT => T::deserialize(&mut self.de).ok().map(Message::Output),
            PANIC | UNSENDABLE => {
                let text = String::deserialize(&mut self.de).ok()?;
                Some(Message::Failed(if tag == PANIC {
                    ErrorKind::Panic(text)
                } else {
                    ErrorKind::Transport(format!("its output could not be serialized: {text}"))
                }))
            }
            SKIPPED => Some(Message::Skipped),
            _ => None,
        }
    }

    /// The next output written without a tag ([`put_bare`]), or `None` if
    /// the bytes do not continue with a whole, well-formed one.
    #[inline]
    pub(crate) fn output<T: DeserializeOwned>(&mut self) -> Option<T> {
        T::deserialize(&mut self.de).ok()
    }

    /// The bytes not read yet, or `None` if the reading failed.
    pub(crate) fn rest(self) -> Option<&'a [u8]> {
        self.de.finalize().ok()
    }

    /// Ends the reading: whether every byte was read.
    pub(crate) fn finish(self) -> bool {
        self.de.finalize().is_ok_and(|rest| rest.is_empty())
    }
}

/// Whether `T` deserializes as postcard's `u64` (a single `deserialize_u64`
/// call, as `u64` and `usize` do): its bare outputs can then be read with
/// [`take_u64`]. A `Deserialize` makes exactly one call on its deserializer
/// (it is taken by value), so asking a probe that fails every call tells.
pub(crate) fn is_u64<T: DeserializeOwned>() -> bool {
    let mut asked = false;
    let _ = T::deserialize(Probe(&mut asked));
    asked
}

/// The probe of [`is_u64`]: notes a `deserialize_u64` call; every call fails.
struct Probe<'a>(&'a mut bool);

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Refused {}

impl serde::de::Error for Refused {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Refused
    }
}

impl<'de> serde::Deserializer<'de> for Probe<'_> {
    type Error = Refused;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    fn deserialize_u64<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Refused> {
        *self.0 = true;
        Err(Refused)
    }

    /// As postcard's.
    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct
        map struct enum identifier ignored_any
    }
}

/// The bare output at `bytes[*at..]` of a type for which [`is_u64`] holds,
/// read as postcard reads a `u64` (a varint of at most 10 bytes) and handed
/// to `T` as postcard hands it (`visit_u64`); `None` where postcard fails.
#[inline]
pub(crate) fn take_u64<T: DeserializeOwned>(bytes: &[u8], at: &mut usize) -> Option<T> {
    let value = match bytes.get(*at..*at + 8) {
        // Up to 8 bytes (56 bits) at once: the first byte without its high
        // bit ends the varint; its 7-bit groups are then packed together.
        Some(word) => {
            let word = u64::from_le_bytes(word.try_into().ok()?);
            let ends = !word & 0x8080_8080_8080_8080;
            if ends == 0 {
                return take_u64_slowly(bytes, at);
            }
            let len = ends.trailing_zeros() / 8 + 1;
            let mut x = word & (u64::MAX >> (64 - 8 * len)) & 0x7f7f_7f7f_7f7f_7f7f;
            x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
            x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
            x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4);
            *at += len as usize;
            x
        }
        None => return take_u64_slowly(bytes, at),
    };
    let de = serde::de::value::U64Deserializer::<postcard::Error>::new(value);
    T::deserialize(de).ok()
}

/// [`take_u64`] a byte at a time (near the end of `bytes`, or 9 and 10-byte varints).
#[cold]
fn take_u64_slowly<T: DeserializeOwned>(bytes: &[u8], at: &mut usize) -> Option<T> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i == 9 && byte > 1 {
                return None;
            }
            let de = serde::de::value::U64Deserializer::<postcard::Error>::new(value);
            return T::deserialize(de).ok();
        }
    }
    None
}

/// Reads the single message that `bytes` must hold, or `None`.
pub(crate) fn only<T: DeserializeOwned>(bytes: &[u8]) -> Option<Message<T>> {
    let mut reader = Reader::new(bytes);
    let message = reader.next()?;
    reader.finish().then_some(message)
}

/// Why a child that sent no usable message ended: its signal, its exit code,
/// or a transport error if it exited normally.
pub(crate) fn cause(status: Status) -> ErrorKind {
    match status {
        Status::Signaled(signal) => ErrorKind::Signal(signal),
        Status::Exited(0) => {
            ErrorKind::Transport("the process exited without sending its output".to_owned())
        }
        Status::Exited(code) => ErrorKind::Exit(code),
        Status::Lost => ErrorKind::Transport(
            "the process ended but its exit status was lost (is SIGCHLD ignored, or did other code reap it?)"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        put_output(&mut buf, &vec![1u32, 2, 3]);
        put_text(&mut buf, PANIC, "boom");
        buf.push(SKIPPED);
        let mut reader = Reader::new(&buf);
        let first = reader.next::<Vec<u32>>().unwrap();
        assert!(matches!(first, Message::Output(v) if v == [1, 2, 3]));
        let second = reader.next::<Vec<u32>>().unwrap();
        assert!(matches!(second, Message::Failed(ErrorKind::Panic(m)) if m == "boom"));
        let third = reader.next::<Vec<u32>>().unwrap();
        assert!(matches!(third, Message::Skipped));
        assert!(reader.finish());
    }

    #[test]
    fn bare_outputs_then_messages() {
        let mut buf = Vec::new();
        put_bare(&mut buf, &300u64).unwrap();
        put_bare(&mut buf, &5u64).unwrap();
        put_text(&mut buf, PANIC, "boom");
        let mut reader = Reader::new(&buf);
        assert_eq!(reader.output::<u64>(), Some(300));
        assert_eq!(reader.output::<u64>(), Some(5));
        let third = reader.next::<u64>().unwrap();
        assert!(matches!(third, Message::Failed(ErrorKind::Panic(m)) if m == "boom"));
        assert!(reader.finish());
    }

    #[test]
    fn u64_fast_path_reads_as_postcard() {
        assert!(is_u64::<u64>() && is_u64::<usize>());
        assert!(!is_u64::<u32>() && !is_u64::<i64>() && !is_u64::<String>());
        assert!(!is_u64::<(u64, u64)>() && !is_u64::<Option<u64>>());
        let mut values = vec![0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX];
        values.extend((0..64).flat_map(|bit| [1u64 << bit, (1u64 << bit) - 1, (1u64 << bit) + 1]));
        values.extend((0..1000u64).map(|x| x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (x % 64)));
        let mut buf = Vec::new();
        for value in &values {
            put_bare(&mut buf, value).unwrap();
        }
        let mut at = 0;
        for &value in &values {
            assert_eq!(take_u64::<u64>(&buf, &mut at), Some(value));
        }
        assert_eq!(at, buf.len());
        // Truncated, and too long for a u64: postcard fails too.
        let mut max = Vec::new();
        put_bare(&mut max, &u64::MAX).unwrap();
        assert_eq!(max.len(), 10);
        assert_eq!(take_u64::<u64>(&max, &mut 0), Some(u64::MAX));
        assert_eq!(take_u64::<u64>(&max[..9], &mut 0), None);
        assert_eq!(take_u64::<u64>(&[0x80; 8], &mut 0), None);
        let long = [0xff; 9].into_iter().chain([2]).collect::<Vec<u8>>();
        assert_eq!(take_u64::<u64>(&long, &mut 0), None);
        assert!(postcard::from_bytes::<u64>(&long).is_err());
    }

    #[test]
    fn u64_fast_path_writes_as_postcard() {
        let mut values: Vec<u64> = vec![0, 1, 127, 128, 300, (1 << 56) - 1, 1 << 56, u64::MAX];
        values.extend((0..64).flat_map(|bit| [1u64 << bit, (1u64 << bit) - 1, (1u64 << bit) + 1]));
        values.extend((0..1000u64).map(|x| x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (x % 64)));
        for value in values {
            let mut fast = vec![9];
            let mut slow = vec![9];
            put_bare(&mut slow, &value).unwrap();
            if put_u64(&mut fast, &value) {
                assert_eq!(fast, slow, "{value}");
            } else {
                assert!(value >> 56 != 0 && fast == [9], "{value}");
            }
        }
        assert!(put_u64(&mut Vec::new(), &7usize));
        assert!(!put_u64(&mut Vec::new(), &7u32));
        assert!(!put_u64(&mut Vec::new(), &Some(7u64)));
        assert!(!put_u64(&mut Vec::new(), &(7u64, 8u64)));
    }

    #[test]
    fn truncated_is_none() {
        let mut buf = Vec::new();
        put_output(&mut buf, &vec![7u64; 100]);
        assert!(only::<Vec<u64>>(&buf[..buf.len() - 1]).is_none());
        assert!(only::<Vec<u64>>(&[]).is_none());
        assert!(only::<Vec<u64>>(&buf).is_some());
        let mut longer = buf.clone();
        longer.push(0);
        assert!(only::<Vec<u64>>(&longer).is_none());
    }

    #[test]
    fn small_buffer_spills_to_the_heap() {
        let mut small = SmallBuffer::new();
        put_output(&mut small, &7u32);
        assert_eq!(small.as_bytes(), [OUTPUT, 7]);
        let long = "y".repeat(1000);
        put_text(&mut small, PANIC, &long);
        let mut vec = Vec::new();
        put_output(&mut vec, &7u32);
        put_text(&mut vec, PANIC, &long);
        assert_eq!(small.as_bytes(), vec.as_slice());
    }

    #[test]
    fn unsendable() {
        struct Unknown;
        impl Serialize for Unknown {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(std::iter::from_fn(|| Some(1u8)).take(3).filter(|_| true))
            }
        }
        let mut buf = Vec::new();
        put_output(&mut buf, &Unknown);
        let message = only::<Vec<u8>>(&buf).unwrap();
        assert!(matches!(message, Message::Failed(ErrorKind::Transport(_))));
    }
}

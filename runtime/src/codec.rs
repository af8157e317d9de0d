//! How one output of a child process becomes bytes, and back.
//!
//! An encoded output is a tag byte and a payload:
//!
//! - [`VALUE`]: a MessagePack value (rmp-serde, structs as maps). The format
//!   is self-describing, so every shape serde can drive round-trips:
//!   internally tagged, adjacently tagged and untagged enums,
//!   `#[serde(flatten)]`, `skip_serializing_if`, maps with non-string keys,
//!   `serde_json::Value`. Floats keep their bits (no narrowing), 128-bit
//!   integers travel as 16 big-endian bytes, and `serde_bytes` fields as one
//!   MessagePack `bin` (a copy, not a loop over bytes).
//! - [`BYTES`] and [`TEXT`]: an output that *is* a `Vec<u8>` or a `String`
//!   (found with [`Any`]), as its raw bytes: encoding is one copy, decoding is
//!   one copy (and a UTF-8 check for a `String`), whatever the size.
//!
//! The caller frames each output (a length prefix) and hands [`decode`]
//! exactly one payload. Decoding treats it as untrusted input: it reads
//! nothing beyond it, refuses trailing bytes, allocates no more than the
//! payload's own length implies (a string or byte length is checked against
//! the bytes left before anything is reserved for it, and the lengths that
//! arrays and maps announce are capped so that all the containers open at
//! once are promised no more items than the payload has bytes), reads no
//! more items than it has bytes, and stops at [`MAX_DEPTH`] levels of
//! nesting on a stack that grows onto the heap when it runs low (see
//! [`depth`]), so no value, however deep or malformed, can overflow the
//! caller's stack, hang, or exhaust its memory. A `Deserialize` impl that panics (user code)
//! is not caught here: the caller runs `decode` under `catch_unwind`.
//!
//! Known limits of the encoding (MessagePack's, and JSON's alike): `()` and
//! `None` are both `nil`, so `Some(())` and `Some(None)` decode as `None`;
//! 128-bit integers inside an untagged, internally tagged or flattened value
//! do not decode (serde buffers those values and its buffer has no 128-bit
//! integers).

mod depth;

use std::any::{Any, TypeId, type_name};
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The payload is a MessagePack value.
const VALUE: u8 = 0;
/// The output is a `Vec<u8>`; its bytes follow.
const BYTES: u8 = 1;
/// The output is a `String`; its UTF-8 bytes follow.
const TEXT: u8 = 2;

/// How deeply values may nest when decoded: each value inside another (an
/// element, a field, a map key or value, an enum's payload, the inside of an
/// `Option` or a newtype) is one level. A 100-deep `Box` chain or JSON
/// document is well inside it.
pub(crate) const MAX_DEPTH: usize = 512;

/// Appends the encoding of `value` to `out`; on error `out` is left as it was.
///
/// `T: 'static` lets a `Vec<u8>` or `String` output be recognized and sent as
/// raw bytes.
pub(crate) fn encode<T: Serialize + 'static>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let any: &dyn Any = value;
    if let Some((tag, bytes)) = raw(value) {
        out.reserve(1 + bytes.len());
        out.push(tag);
        out.extend_from_slice(bytes);
        return Ok(());
    }
    if let Some(scalar) = scalar::encode(any) {
        out.push(VALUE);
        out.extend_from_slice(scalar.as_slice());
        return Ok(());
    }
    let start = out.len();
    out.push(VALUE);
    let mut serializer = rmp_serde::Serializer::new(&mut *out).with_struct_map();
    value.serialize(&mut serializer).map_err(|cause| {
        out.truncate(start);
        EncodeError {
            type_name: type_name::<T>(),
            cause,
        }
    })
}

/// A `Vec<u8>` or `String` output, which [`encode`] writes as its first
/// byte (the tag) and then the value's own bytes: those two, so that a
/// sender can write the bytes where they are instead of copying them into a
/// payload (a 256 MiB output is then written, not copied and written).
#[inline]
pub(crate) fn raw<T: 'static>(value: &T) -> Option<(u8, &[u8])> {
    let any: &dyn Any = value;
    if let Some(bytes) = any.downcast_ref::<Vec<u8>>() {
        return Some((BYTES, bytes));
    }
    any.downcast_ref::<String>()
        .map(|text| (TEXT, text.as_bytes()))
}

/// The payload [`encode`] writes for `value` if it is an integer, a float or
/// a bool (at most 10 bytes), made without serde and without allocating: no
/// code of the program's runs, so nothing can panic or fail.
#[inline]
pub(crate) fn encode_scalar<T: 'static>(value: &T) -> Option<ScalarPayload> {
    let scalar = scalar::encode(value)?;
    let mut bytes = [0u8; 10];
    bytes[0] = VALUE;
    // All 9 (fixed-size moves, no call); the payload is the first `len`.
    bytes[1..].copy_from_slice(scalar.all());
    Some(ScalarPayload {
        bytes,
        len: 1 + scalar.as_slice().len(),
    })
}

/// What [`encode_scalar`] makes.
pub(crate) struct ScalarPayload {
    bytes: [u8; 10],
    len: usize,
}

impl ScalarPayload {
    /// The payload's bytes.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The payload's bytes, followed by zeros up to 10.
    #[inline]
    pub(crate) fn all(&self) -> &[u8; 10] {
        &self.bytes
    }
}

/// Decodes a value from exactly `bytes`, one payload written by [`encode`]
/// (trailing bytes are an error).
///
/// # Panics
///
/// Only if `T`'s own `Deserialize` impl panics; the caller catches that.
pub(crate) fn decode<T: DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T, DecodeError> {
    let fail = |cause| DecodeError {
        type_name: type_name::<T>(),
        cause,
    };
    let Some((&tag, payload)) = bytes.split_first() else {
        return Err(fail(Cause::Frame(FrameFault::Empty)));
    };
    match tag {
        VALUE => match scalar::decode::<T>(payload) {
            Some(Ok(value)) => Ok(value),
            // Not a scalar that the fast path reads: the general decoder
            // reads it (and says what is wrong, if anything).
            Some(Err(())) | None => decode_value(payload).map_err(fail),
        },
        BYTES if TypeId::of::<T>() == TypeId::of::<Vec<u8>>() => Ok(downcast(payload.to_vec())),
        TEXT if TypeId::of::<T>() == TypeId::of::<String>() => match std::str::from_utf8(payload) {
            Ok(text) => Ok(downcast(text.to_owned())),
            Err(error) => Err(fail(Cause::Text(error))),
        },
        BYTES | TEXT => Err(fail(Cause::Frame(FrameFault::Raw { text: tag == TEXT }))),
        tag => Err(fail(Cause::Frame(FrameFault::Tag(tag)))),
    }
}

/// The value of `bytes` if they are one payload of [`encode`] holding a
/// scalar that `T` is and that fits (an integer, a float, a bool): read
/// without serde, so no `Deserialize` impl runs. `None` otherwise (then
/// [`decode`] reads it, or says what is wrong).
#[inline]
pub(crate) fn decode_scalar<T: 'static>(bytes: &[u8]) -> Option<T> {
    match bytes.split_first() {
        Some((&VALUE, payload)) => scalar::decode::<T>(payload)?.ok(),
        _ => None,
    }
}

/// `value` as 64 bits, if it is a number or a bool (integers widened with
/// their sign, `f64` by its bits, `bool` as 0 or 1): the answer of a pool
/// worker to its parent, the same program, which reads it back with
/// [`from_bits`] without a format to parse on either side.
#[inline]
pub(crate) fn bits<T: 'static>(value: &T) -> Option<u64> {
    let any: &dyn Any = value;
    macro_rules! unsigned {
        ($($ty:ty),*) => {$(
            if let Some(&v) = any.downcast_ref::<$ty>() {
                return Some(v as u64);
            }
        )*};
    }
    macro_rules! signed {
        ($($ty:ty),*) => {$(
            if let Some(&v) = any.downcast_ref::<$ty>() {
                return Some(v as i64 as u64);
            }
        )*};
    }
    unsigned!(u64, usize, u32, u16, u8);
    signed!(i64, isize, i32, i16, i8);
    if let Some(&v) = any.downcast_ref::<f64>() {
        return Some(v.to_bits());
    }
    if let Some(&v) = any.downcast_ref::<bool>() {
        return Some(u64::from(v));
    }
    None
}

/// The `T` that [`bits`] made `bits` from: `None` if `T` is not one of its
/// types, or if `bits` are none of its values (an integer out of `T`'s
/// range, a `bool` other than 0 or 1): bits from a child are untrusted.
#[inline]
pub(crate) fn from_bits<T: 'static>(bits: u64) -> Option<T> {
    macro_rules! unsigned {
        ($($ty:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$ty>() {
                return <$ty>::try_from(bits).ok().map(downcast::<T, $ty>);
            }
        )*};
    }
    macro_rules! signed {
        ($($ty:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$ty>() {
                return <$ty>::try_from(bits as i64).ok().map(downcast::<T, $ty>);
            }
        )*};
    }
    unsigned!(u64, usize, u32, u16, u8);
    signed!(i64, isize, i32, i16, i8);
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        return Some(downcast::<T, f64>(f64::from_bits(bits)));
    }
    if TypeId::of::<T>() == TypeId::of::<bool>() {
        return match bits {
            0 => Some(downcast::<T, bool>(false)),
            1 => Some(downcast::<T, bool>(true)),
            _ => None,
        };
    }
    None
}

/// [`decode`] of `bytes[start..]`, taking `bytes`: a `Vec<u8>` or `String`
/// output is the buffer itself, its first `start + 1` bytes cut off (moved
/// down, not copied into a new allocation). `None` if the payload is
/// anything else (then [`decode`] reads it from `bytes[start..]`).
pub(crate) fn decode_raw<T: 'static>(
    bytes: &mut Vec<u8>,
    start: usize,
) -> Option<Result<T, DecodeError>> {
    let tag = *bytes.get(start)?;
    let raw = if tag == BYTES && TypeId::of::<T>() == TypeId::of::<Vec<u8>>() {
        bytes.drain(..=start);
        Ok(downcast(std::mem::take(bytes)))
    } else if tag == TEXT && TypeId::of::<T>() == TypeId::of::<String>() {
        bytes.drain(..=start);
        String::from_utf8(std::mem::take(bytes))
            .map(downcast)
            .map_err(|error| DecodeError {
                type_name: type_name::<T>(),
                cause: Cause::Text(error.utf8_error()),
            })
    } else {
        return None;
    };
    Some(raw)
}

fn decode_value<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Cause> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(payload);
    let value =
        depth::deserialize(&mut deserializer, MAX_DEPTH, payload.len()).map_err(Cause::Value)?;
    // rmp-serde does not say where a value ended: the payload ended with it
    // when not even one more marker byte can be read. `End` accepts nothing,
    // so whatever follows is refused after its first marker, unread.
    match serde::Deserializer::deserialize_any(&mut deserializer, End) {
        Err(rmp_serde::decode::Error::InvalidMarkerRead(error))
            if error.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Ok(value)
        }
        _ => Err(Cause::Frame(FrameFault::Trailing)),
    }
}

/// Integers and floats, the outputs of cheap maps, written and read without
/// serde: the bytes rmp-serde writes for them (the smallest MessagePack
/// integer that holds the value; floats as they are), so that the general
/// decoder reads them too, and they read what it writes.
mod scalar {
    use std::any::{Any, TypeId};

    /// The MessagePack bytes of one scalar: at most 9.
    pub(crate) struct Bytes {
        bytes: [u8; 9],
        len: usize,
    }

    impl Bytes {
        #[inline]
        fn new<const N: usize>(marker: Option<u8>, value: [u8; N]) -> Self {
            let mut bytes = [0u8; 9];
            let at = usize::from(marker.is_some());
            if let Some(marker) = marker {
                bytes[0] = marker;
            }
            bytes[at..at + N].copy_from_slice(&value);
            Bytes { bytes, len: at + N }
        }

        /// The bytes.
        #[inline]
        pub(crate) fn as_slice(&self) -> &[u8] {
            &self.bytes[..self.len]
        }

        /// The bytes, followed by zeros up to 9.
        #[inline]
        pub(crate) fn all(&self) -> &[u8; 9] {
            &self.bytes
        }
    }

    /// The bytes of `value` if it is a scalar this module knows.
    #[inline]
    pub(super) fn encode(value: &dyn Any) -> Option<Bytes> {
        macro_rules! unsigned {
            ($($ty:ty),*) => {$(
                if let Some(&v) = value.downcast_ref::<$ty>() {
                    return Some(unsigned(v as u64));
                }
            )*};
        }
        macro_rules! signed {
            ($($ty:ty),*) => {$(
                if let Some(&v) = value.downcast_ref::<$ty>() {
                    return Some(signed(v as i64));
                }
            )*};
        }
        unsigned!(u64, usize, u32, u16, u8);
        signed!(i64, isize, i32, i16, i8);
        if let Some(&v) = value.downcast_ref::<f64>() {
            return Some(Bytes::new(Some(0xcb), v.to_bits().to_be_bytes()));
        }
        if let Some(&v) = value.downcast_ref::<bool>() {
            return Some(Bytes::new(None, [if v { 0xc3 } else { 0xc2 }]));
        }
        None
    }

    #[inline]
    fn unsigned(v: u64) -> Bytes {
        if v < 0x80 {
            Bytes::new(None, [v as u8])
        } else if v <= u64::from(u8::MAX) {
            Bytes::new(Some(0xcc), [v as u8])
        } else if v <= u64::from(u16::MAX) {
            Bytes::new(Some(0xcd), (v as u16).to_be_bytes())
        } else if v <= u64::from(u32::MAX) {
            Bytes::new(Some(0xce), (v as u32).to_be_bytes())
        } else {
            Bytes::new(Some(0xcf), v.to_be_bytes())
        }
    }

    #[inline]
    fn signed(v: i64) -> Bytes {
        if v >= 0 {
            unsigned(v as u64)
        } else if v >= -32 {
            Bytes::new(None, [v as u8])
        } else if v >= i64::from(i8::MIN) {
            Bytes::new(Some(0xd0), [v as u8])
        } else if v >= i64::from(i16::MIN) {
            Bytes::new(Some(0xd1), (v as i16).to_be_bytes())
        } else if v >= i64::from(i32::MIN) {
            Bytes::new(Some(0xd2), (v as i32).to_be_bytes())
        } else {
            Bytes::new(Some(0xd3), v.to_be_bytes())
        }
    }

    /// An integer of any MessagePack width, as an `i128` (every `u64` and
    /// `i64` fits), if `payload` is exactly one.
    #[inline]
    fn integer(payload: &[u8]) -> Option<i128> {
        Some(match *payload {
            [marker @ 0x00..=0x7f] => i128::from(marker),
            [marker @ 0xe0..=0xff] => i128::from(marker as i8),
            [0xcc, a] => i128::from(a),
            [0xcd, a, b] => i128::from(u16::from_be_bytes([a, b])),
            [0xce, a, b, c, d] => i128::from(u32::from_be_bytes([a, b, c, d])),
            [0xcf, a, b, c, d, e, f, g, h] => {
                i128::from(u64::from_be_bytes([a, b, c, d, e, f, g, h]))
            }
            [0xd0, a] => i128::from(a as i8),
            [0xd1, a, b] => i128::from(i16::from_be_bytes([a, b])),
            [0xd2, a, b, c, d] => i128::from(i32::from_be_bytes([a, b, c, d])),
            [0xd3, a, b, c, d, e, f, g, h] => {
                i128::from(i64::from_be_bytes([a, b, c, d, e, f, g, h]))
            }
            _ => return None,
        })
    }

    /// `payload` read as a `T`: `None` if `T` is not a scalar this module
    /// reads; `Some(Err(()))` if the payload is not exactly one value that
    /// fits (the general decoder then says why).
    #[inline]
    pub(super) fn decode<T: 'static>(payload: &[u8]) -> Option<Result<T, ()>> {
        macro_rules! integers {
            ($($ty:ty),*) => {$(
                if TypeId::of::<T>() == TypeId::of::<$ty>() {
                    let value = integer(payload).and_then(|v| <$ty>::try_from(v).ok());
                    return Some(value.map(super::downcast::<T, $ty>).ok_or(()));
                }
            )*};
        }
        integers!(u64, usize, u32, u16, u8, i64, isize, i32, i16, i8);
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            return Some(match payload {
                [0xcb, bits @ ..] if bits.len() == 8 => {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(bits);
                    Ok(super::downcast::<T, f64>(f64::from_bits(
                        u64::from_be_bytes(word),
                    )))
                }
                _ => Err(()),
            });
        }
        if TypeId::of::<T>() == TypeId::of::<bool>() {
            return Some(match payload {
                [0xc3] => Ok(super::downcast::<T, bool>(true)),
                [0xc2] => Ok(super::downcast::<T, bool>(false)),
                _ => Err(()),
            });
        }
        None
    }
}

/// A visitor that accepts no value: what follows a frame's value.
struct End;

impl serde::de::Visitor<'_> for End {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the end of the frame")
    }
}

/// `value` as a `T`, which the caller has checked it is.
fn downcast<T: 'static, U: 'static>(value: U) -> T {
    let mut slot = Some(value);
    let any: &mut dyn Any = &mut slot;
    match any.downcast_mut::<Option<T>>().and_then(Option::take) {
        Some(value) => value,
        None => unreachable!("the caller compared the type ids"),
    }
}

/// An output that could not be encoded: its `Serialize` impl failed, or it
/// has a shape the encoding refuses (a sequence or map whose length it gives
/// wrongly, nesting deeper than the encoder allows, ...).
#[derive(Debug)]
pub(crate) struct EncodeError {
    type_name: &'static str,
    cause: rmp_serde::encode::Error,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "serializing a `{}` failed: {}",
            self.type_name, self.cause
        )
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// A payload that could not be decoded as the output's type; the decoder's
/// own error is its [`source`](std::error::Error::source).
#[derive(Debug)]
pub(crate) struct DecodeError {
    type_name: &'static str,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    /// MessagePack's decoder, or the output type's `Deserialize`, refused it.
    Value(rmp_serde::decode::Error),
    /// A `String` sent as raw bytes is not UTF-8.
    Text(std::str::Utf8Error),
    /// The frame itself is wrong.
    Frame(FrameFault),
}

/// What is wrong with a frame, before or after its value.
#[derive(Debug)]
enum FrameFault {
    /// No tag byte.
    Empty,
    /// An unknown tag byte.
    Tag(u8),
    /// Raw bytes or text, for a type that is neither `Vec<u8>` nor `String`.
    Raw { text: bool },
    /// Bytes left after the value.
    Trailing,
}

impl fmt::Display for FrameFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameFault::Empty => f.write_str("the frame is empty"),
            FrameFault::Tag(tag) => write!(f, "the frame starts with the unknown tag {tag}"),
            FrameFault::Raw { text: true } => f.write_str("the frame holds a raw `String`"),
            FrameFault::Raw { text: false } => f.write_str("the frame holds a raw `Vec<u8>`"),
            FrameFault::Trailing => f.write_str("bytes are left after the value"),
        }
    }
}

impl std::error::Error for FrameFault {}

impl DecodeError {
    fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        match &self.cause {
            Cause::Value(error) => error,
            Cause::Text(error) => error,
            Cause::Frame(fault) => fault,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "decoding a `{}` failed: {}",
            self.type_name,
            self.cause()
        )
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.cause())
    }
}

#[cfg(test)]
// A counting allocator (a `GlobalAlloc`) measures what forged frames make the
// decoder allocate: test code only.
#[allow(unsafe_code)]
mod tests;

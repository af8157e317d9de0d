//! What crosses from a child process back to the parent, and how a child's
//! end becomes an [`ErrorKind`].
//!
//! A message is a tag byte and a postcard payload: [`OUTPUT`] and the
//! task's output, [`PANIC`] and the panic message, [`UNSENDABLE`] and the
//! reason the output could not be serialized, or [`SKIPPED`] alone (a pool
//! item not started because an earlier one failed, in `try` mode).

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

    /// Ends the reading: whether every byte was read.
    pub(crate) fn finish(self) -> bool {
        self.de.finalize().is_ok_and(|rest| rest.is_empty())
    }
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

//! What crosses from a child process back to the parent, and how a child's
//! end becomes an [`ErrorKind`].
//!
//! A message is a tag byte and a postcard payload: [`OUTPUT`] and the
//! task's output, [`PANIC`] and the panic message, [`UNSENDABLE`] and the
//! reason the output could not be serialized, or [`SKIPPED`] alone (a pool
//! item not started because an earlier one failed, in `try` mode).

use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// A postcard flavor that appends to a borrowed `Vec`, so one buffer serves
/// every item of a chunk.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
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
pub(crate) fn put_output<T: Serialize + ?Sized>(buf: &mut Vec<u8>, output: &T) {
    let start = buf.len();
    buf.push(OUTPUT);
    if let Err(error) = postcard::serialize_with_flavor(output, Append(buf)) {
        buf.truncate(start);
        put_text(buf, UNSENDABLE, &error.to_string());
    }
}

/// Appends a message made of `tag` and `text`.
pub(crate) fn put_text(buf: &mut Vec<u8>, tag: u8, text: &str) {
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

/// Reads one message from the front of `bytes`; returns it and the rest, or
/// `None` if `bytes` does not start with a whole, well-formed message.
pub(crate) fn take<T: DeserializeOwned>(bytes: &[u8]) -> Option<(Message<T>, &[u8])> {
    let (&tag, payload) = bytes.split_first()?;
    match tag {
        OUTPUT => {
            let (output, rest) = postcard::take_from_bytes::<T>(payload).ok()?;
            Some((Message::Output(output), rest))
        }
        PANIC | UNSENDABLE => {
            let (text, rest) = postcard::take_from_bytes::<String>(payload).ok()?;
            let kind = if tag == PANIC {
                ErrorKind::Panic(text)
            } else {
                ErrorKind::Transport(format!("its output could not be serialized: {text}"))
            };
            Some((Message::Failed(kind), rest))
        }
        SKIPPED => Some((Message::Skipped, payload)),
        _ => None,
    }
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
        let (first, rest) = take::<Vec<u32>>(&buf).unwrap();
        assert!(matches!(first, Message::Output(v) if v == [1, 2, 3]));
        let (second, rest) = take::<Vec<u32>>(rest).unwrap();
        assert!(matches!(second, Message::Failed(ErrorKind::Panic(m)) if m == "boom"));
        let (third, rest) = take::<Vec<u32>>(rest).unwrap();
        assert!(matches!(third, Message::Skipped));
        assert!(rest.is_empty());
    }

    #[test]
    fn truncated_is_none() {
        let mut buf = Vec::new();
        put_output(&mut buf, &vec![7u64; 100]);
        assert!(take::<Vec<u64>>(&buf[..buf.len() - 1]).is_none());
        assert!(take::<Vec<u64>>(&[]).is_none());
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
        let (message, _) = take::<Vec<u8>>(&buf).unwrap();
        assert!(matches!(message, Message::Failed(ErrorKind::Transport(_))));
    }
}

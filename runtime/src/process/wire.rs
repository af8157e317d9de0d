//! What crosses from a `spawn_processes!` child back to the parent, and how
//! a child's end becomes an [`ErrorKind`].
//!
//! A child sends one message, then closes its pipe by exiting: a tag byte and
//! the rest of the bytes. [`OUTPUT`] and the task's output, encoded by the
//! process boundary's codec (self-describing, any serde type); [`PANIC`] and
//! the panic message; [`UNENCODABLE`] and the reason the output could not be
//! serialized. The parent decodes the output from these bytes only, with the
//! codec's bounds on depth and allocation.

use serde::Serialize;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::ProcessOutput;
use crate::codec;
use crate::error::{ErrorKind, panic_message};
use crate::map::processes::{DecodeFailure, decode};
use crate::sys::Status;

/// The task returned; its encoded output follows.
pub(crate) const OUTPUT: u8 = 0;
/// The task (or its output's `Serialize`) panicked; its message follows.
pub(crate) const PANIC: u8 = 1;
/// The output could not be serialized; the reason follows.
pub(crate) const UNENCODABLE: u8 = 2;

/// Appends the message for `output` to `buf`: [`OUTPUT`] and the value, or
/// [`UNENCODABLE`] and the reason if serialization fails, or [`PANIC`] if it
/// panics.
pub(crate) fn put_output<T: Serialize + 'static>(buf: &mut Vec<u8>, output: &T) {
    let start = buf.len();
    buf.push(OUTPUT);
    match catch_unwind(AssertUnwindSafe(|| codec::encode(output, buf))) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            buf.truncate(start);
            put_text(buf, UNENCODABLE, &error.to_string());
        }
        Err(payload) => {
            buf.truncate(start);
            put_text(buf, PANIC, &panic_message(&*payload));
            std::mem::forget(payload);
        }
    }
}

/// Appends a message made of `tag` and `text`.
pub(crate) fn put_text(buf: &mut Vec<u8>, tag: u8, text: &str) {
    buf.push(tag);
    buf.extend_from_slice(text.as_bytes());
}

/// A message read back: the output, or what happened instead.
pub(crate) enum Message<T> {
    Output(T),
    Failed(ErrorKind),
    Undecodable(DecodeFailure),
}

/// Reads the message that `bytes` hold, or `None` if there is none.
pub(crate) fn only<T: ProcessOutput>(bytes: &[u8]) -> Option<Message<T>> {
    let (&tag, rest) = bytes.split_first()?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    match tag {
        OUTPUT => Some(match decode::<T>(rest) {
            Ok(output) => Message::Output(output),
            Err(failure) => Message::Undecodable(failure),
        }),
        PANIC => Some(Message::Failed(ErrorKind::Panic(text()))),
        UNENCODABLE => Some(Message::Failed(ErrorKind::Encode(text()))),
        _ => Some(Message::Failed(ErrorKind::Transport(
            "the process sent a malformed answer".to_owned(),
        ))),
    }
}

/// [`only`] of a message the caller owns: a `Vec<u8>` or `String` output is
/// the message's own buffer, not a copy of it (a large output is not copied
/// once more).
pub(crate) fn only_owned<T: ProcessOutput>(mut bytes: Vec<u8>) -> Option<Message<T>> {
    if bytes.first() == Some(&OUTPUT)
        && let Some(raw) = codec::decode_raw::<T>(&mut bytes, 1)
    {
        return Some(match raw {
            Ok(output) => Message::Output(output),
            Err(why) => Message::Undecodable(DecodeFailure::Invalid(why)),
        });
    }
    only(&bytes)
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
        assert!(matches!(only::<Vec<u32>>(&buf), Some(Message::Output(v)) if v == [1, 2, 3]));
        let mut buf = Vec::new();
        put_text(&mut buf, PANIC, "boom");
        assert!(
            matches!(only::<u32>(&buf), Some(Message::Failed(ErrorKind::Panic(m))) if m == "boom")
        );
        assert!(only::<u32>(&[]).is_none());
    }

    #[test]
    fn truncated_or_longer_fails_to_decode() {
        let mut buf = Vec::new();
        put_output(&mut buf, &vec![7u64; 100]);
        assert!(matches!(
            only::<Vec<u64>>(&buf[..buf.len() - 1]),
            Some(Message::Undecodable(_))
        ));
        let mut longer = buf.clone();
        longer.push(0);
        assert!(matches!(
            only::<Vec<u64>>(&longer),
            Some(Message::Undecodable(_))
        ));
    }

    #[test]
    fn unencodable_and_panicking_serializers() {
        struct Unknown;
        impl Serialize for Unknown {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no thanks"))
            }
        }
        struct Panicky;
        impl Serialize for Panicky {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                panic!("serialize panicked")
            }
        }
        let mut buf = Vec::new();
        put_output(&mut buf, &Unknown);
        assert!(
            matches!(only::<u8>(&buf), Some(Message::Failed(ErrorKind::Encode(m))) if m.contains("no thanks"))
        );
        let mut buf = Vec::new();
        put_output(&mut buf, &Panicky);
        assert!(
            matches!(only::<u8>(&buf), Some(Message::Failed(ErrorKind::Panic(m))) if m == "serialize panicked")
        );
    }
}

//! Placeholder: the fork-based process backend is being written.

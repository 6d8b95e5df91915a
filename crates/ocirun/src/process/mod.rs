//! Creating the container's init process and talking to it.

pub mod sync;

//! Creating the container's init process: the namespace plan (which namespaces are created by
//! clone3, which are joined or unshared by the child, whether it must fork again), the clone
//! itself, and the parent's side of the sync protocol ([`sync`]).

pub mod namespaces;
pub mod spawn;
pub mod sync;

//! The operating system's RNG (with `getrandom`): a convenience for callers that have one.
//! The core itself never reaches for it; every operation takes its RNG as an argument.

#[cfg(feature = "getrandom")]
pub use getrandom::SysRng as OsRng;

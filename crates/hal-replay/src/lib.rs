//! Replays IREE's HAL captures on this runtime.
//!
//! IREE 3.13 records every HAL call a program makes (`iree-run-module
//! --device_replay_output=F.ireereplay`): the objects, every queue and command-buffer operation,
//! the executables and every byte the host writes. This crate reads such a file without
//! trusting it ([`Capture`]), and runs the program it records on any device of this runtime
//! ([`Replayer`]): `local-sync`, `local-task`, with the captured executables or substitutes of
//! another format ([`Substitute`]), serially as IREE's replayer does or pipelined
//! ([`Schedule`]). The results are the buffers the program maps for reading ([`Output`]).
//!
//! What a capture does not hold — device results, host waits, host semaphore signals — the
//! replay does not need: results are recomputed, and the host waits are implied where the
//! program touched memory (see [`Schedule::Pipelined`]).

mod capture;
mod container;
pub mod format;
mod npy;
mod payloads;
mod program;
mod reader;
mod replayer;
mod schedule;
mod substitution;

pub use capture::{Capture, Summary};
pub use container::RecordHeader;
pub use npy::{Comparison, NpyArray, Tolerance};
pub use payloads::{
    BufferRequest, CapturedDispatch, CapturedFunction, CapturedRef, CapturedTimepoint, ObjectId,
};
pub use program::{Command, Operation, QueueWork, Step};
pub use reader::ByteRange;
pub use replayer::{Output, ReplayOptions, Replayer, Run};
pub use schedule::Schedule;
pub use substitution::Substitute;

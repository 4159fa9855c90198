//! One executable's compiled module and what every instance of it is made from, shared by the
//! instances of all threads.

use wasmtime::Module;

use crate::dylink::MemInfo;
use crate::imports::Import;
use crate::inspect::Inspection;

/// What every thread's instance of one executable is made from.
pub(crate) struct ExecutableModule {
    pub(crate) module: Module,
    pub(crate) mem_info: MemInfo,
    /// Its active data segments, checked per instance.
    pub(crate) inspection: Inspection,
    pub(crate) constants: Vec<u32>,
    /// Its imports, resolved at load (see [`crate::imports`]).
    pub(crate) imports: Vec<Import>,
    /// Compiled with budget checks (by `engine(true)`).
    pub(crate) checked: bool,
    /// The library's name, for errors (filled in once the library was read).
    pub(crate) library_name: String,
}

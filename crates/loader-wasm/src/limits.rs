//! What one instance's store may allocate on the host: a kernel that grows a table or a memory
//! past these limits sees the grow fail (`-1`), as wasm allows, instead of making the host
//! allocate without bound.
//!
//! A store holds the instance's memory (the private 4 GiB address space, which never grows), the
//! module's function table and two instances (the memory's and the module's). A table slot costs
//! the host a pointer; [`MAX_TABLE_ELEMENTS`] bounds a table to 8 MiB, far above what side modules
//! need (IREE's kernels use a few dozen slots).

use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};

use crate::address_space::MEMORY_BYTES;

/// The most slots a table of an instance may have.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 1 << 20;
/// The most tables of an instance: the imported one and a few the module may define.
const MAX_TABLES: usize = 4;
/// The memory module's instance and the module's.
const MAX_INSTANCES: usize = 2;

/// A store of `engine` under the limits.
pub(crate) fn limited_store(engine: &Engine) -> Store<StoreLimits> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(MEMORY_BYTES)
        .memories(1)
        .table_elements(MAX_TABLE_ELEMENTS)
        .tables(MAX_TABLES)
        .instances(MAX_INSTANCES)
        .trap_on_grow_failure(false)
        .build();
    let mut store = Store::new(engine, limits);
    store.limiter(|limits| limits);
    store
}

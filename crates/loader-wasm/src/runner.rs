//! Loading a side module and running its kernels: the per-thread instances and the translation
//! of a dispatch into the wasm32 ABI structs (laid out by [`crate::scratch`]). How bindings reach
//! the kernel is in [`bindings`]; bindings outside the pool are staged per dispatch by
//! [`crate::staging`], from the runner's `begin_dispatch`. Every call into wasm runs with enough
//! stack ([`crate::stack`]) and under the budget.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use hal_core::{ExecutableInfo, Result, Status, StatusCode, MAX_BINDING_COUNT, MAX_CONSTANT_COUNT};
use hal_local::abi::{DispatchAttrs, DispatchParameter, DispatchStateV0};
use hal_local::{DispatchSession, ExportEntry, LocalMemory, WorkgroupRunner};
use wasmtime::{
    Extern, ExternType, Global, GlobalType, Instance, Memory, Module, Mutability, Ref, RefType,
    Store, StoreLimits, Table, TableType, Trap, TypedFunc, Val, ValType,
};

use crate::address_space::{AddressSpace, Block, Window};
use crate::dylink::MemInfo;
use crate::engine::{budget_checks, budget_ticks, dispatch_budget, engine, memory_module};
use crate::imports::{math_linker, Import};
use crate::inspect::Inspection;
use crate::limits::{limited_store, MAX_TABLE_ELEMENTS};
use crate::linear_memory::with_space;
use crate::scratch::Scratch;
use crate::stack::{with_wasm_stack, Lent};

mod bindings;

/// The lowest `__table_base`: slot 0 stays null so a call through a null function pointer traps.
const TABLE_BASE: u32 = 1;
/// Bytes of shadow stack given to modules that import `__stack_pointer`.
const STACK_BYTES: usize = 256 * 1024;

pub(crate) static ZERO_COPY_BINDINGS: AtomicU64 = AtomicU64::new(0);
pub(crate) static COPIED_BINDINGS: AtomicU64 = AtomicU64::new(0);
pub(crate) static COPIED_BYTES: AtomicU64 = AtomicU64::new(0);
static WINDOWS_MAPPED: AtomicU64 = AtomicU64::new(0);

/// How bindings reached kernels so far in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStatistics {
    /// Bindings of dispatches passed in place: their buffer lives in the pool and its pages are
    /// shown in the memory of the instances that run the dispatch.
    pub zero_copy_bindings: u64,
    /// Windows mapped (one `mmap` each): a run needed pages that the previous run on that thread
    /// and executable did not show. Staged copies are shown through windows too.
    pub windows_mapped: u64,
    /// Bindings of dispatches staged: copied into pool memory before the dispatch and back after
    /// it (buffers outside the pool, such as imported host memory). Bindings over the same bytes
    /// share one copy.
    pub copied_bindings: u64,
    /// Bytes those copies moved: each staged range's length once in and once out (only changed
    /// bytes are written back).
    pub copied_bytes: u64,
}

/// The counters since the process started.
pub fn copy_statistics() -> CopyStatistics {
    CopyStatistics {
        zero_copy_bindings: ZERO_COPY_BINDINGS.load(Ordering::Relaxed),
        windows_mapped: WINDOWS_MAPPED.load(Ordering::Relaxed),
        copied_bindings: COPIED_BINDINGS.load(Ordering::Relaxed),
        copied_bytes: COPIED_BYTES.load(Ordering::Relaxed),
    }
}

/// `space` as the memory of `store`, whose engine is `engine(checked)`.
fn space_memory(
    store: &mut Store<StoreLimits>,
    space: &Arc<AddressSpace>,
    checked: bool,
) -> Result<Memory> {
    let module = memory_module(checked);
    let instance = with_space(space, || Instance::new(&mut *store, module, &[]))
        .map_err(|e| wasm_error("creating the instance's memory", e))?;
    instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| invalid("the memory module exports no memory"))
}

fn status(code: StatusCode, message: impl Into<String>) -> Status {
    Status::new(code, message.into())
}

fn invalid(message: impl Into<String>) -> Status {
    status(StatusCode::InvalidArgument, message)
}

/// What every worker of one executable shares.
pub(crate) struct Shared {
    module: Module,
    mem_info: MemInfo,
    /// Its active data segments, checked per instance.
    inspection: Inspection,
    constants: Vec<u32>,
    /// Its imports, resolved at load (see [`crate::imports`]).
    imports: Vec<Import>,
    /// Compiled with budget checks (by `engine(true)`).
    checked: bool,
    library_name: String,
    export_names: Vec<String>,
}

/// One export as read from the library tables.
struct ExportTables {
    table_index: u32,
    attrs: DispatchAttrs,
    /// Its parameter descriptors, when the library has them (see [`read_parameters`]).
    parameters: Option<Vec<DispatchParameter>>,
    name: String,
}

/// A library as one instance reports it.
struct Library {
    name: String,
    exports: Vec<ExportTables>,
}

/// A store and instance of one executable on one thread, with its own address space.
struct Worker {
    shared: Weak<Shared>,
    store: Store<StoreLimits>,
    space: Arc<AddressSpace>,
    /// Pool pages shown in the space: those bound by the last run, kept for the next run if it
    /// binds the same pages.
    windows: Vec<Window>,
    functions: Vec<TypedFunc<(i32, i32, i32), i32>>,
    stack_pointer: Option<(Global, u32)>,
    scratch: Scratch,
    _data: Block,
    _stack: Option<Block>,
    local: Option<Block>,
}

thread_local! {
    static WORKERS: RefCell<Vec<Worker>> = const { RefCell::new(Vec::new()) };
}

/// Reads the module's data, checked to lie inside its data block. Addresses are computed in
/// `u64` from the module's 32-bit pointers, so no pointer it returns can overflow them.
struct DataView<'a> {
    block: &'a Block,
}

impl DataView<'_> {
    fn bytes(&self, addr: u64, len: usize, what: &str) -> Result<&[u8]> {
        let start = u64::from(self.block.offset());
        let end = start + self.block.len() as u64;
        if addr < start || addr + len as u64 > end {
            return Err(invalid(format!(
                "the library's {what} (wasm address {addr:#x}, {len} bytes) lies outside its data"
            )));
        }
        let at = (addr - start) as usize;
        // SAFETY: the module's code does not run while the view is used.
        let bytes = unsafe { self.block.bytes() };
        Ok(&bytes[at..at + len])
    }

    /// The u32 at `base + offset`.
    fn u32(&self, base: u32, offset: u64, what: &str) -> Result<u32> {
        let b = self.bytes(u64::from(base) + offset, 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&self, addr: u32, what: &str) -> Result<String> {
        if addr == 0 {
            return Err(invalid(format!("library {what} is null")));
        }
        let end = u64::from(self.block.offset()) + self.block.len() as u64;
        let len = end.saturating_sub(u64::from(addr)) as usize;
        let bytes = self.bytes(u64::from(addr), len, what)?;
        let len = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| invalid(format!("library {what} is not NUL-terminated")))?;
        std::str::from_utf8(&bytes[..len])
            .map(str::to_owned)
            .map_err(|_| invalid(format!("library {what} is not UTF-8")))
    }
}

fn wasm_error(context: &str, error: wasmtime::Error) -> Status {
    invalid(format!("{context}: {error:#}"))
}

/// A failed call into wasm while loading: `DEADLINE_EXCEEDED` if it ran past the budget, else
/// `INVALID_ARGUMENT` naming the trap (the module is bad).
fn load_error(context: &str, error: wasmtime::Error) -> Status {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => status(
            StatusCode::DeadlineExceeded,
            format!(
                "{context}: ran past its budget of {:?} and was interrupted",
                dispatch_budget()
            ),
        ),
        _ => wasm_error(context, error),
    }
}

impl Worker {
    fn new(shared: &Arc<Shared>) -> Result<(Worker, Library)> {
        let mut store = limited_store(shared.module.engine());
        // Every call into wasm below (the start function while instantiating, the initialisers,
        // the query) gets the budget; code compiled without budget checks ignores it.
        store.set_epoch_deadline(budget_ticks());
        let info = shared.mem_info;
        if info.memory_align > 12 {
            return Err(invalid(format!(
                "the module asks for 2^{} alignment of its data; at most 4096 is supported",
                info.memory_align
            )));
        }
        if info.table_align > 16 {
            return Err(invalid(format!(
                "the module asks for 2^{} alignment of its table slots",
                info.table_align
            )));
        }
        // The first slot at or after TABLE_BASE with the alignment the module asks for.
        let table_base = TABLE_BASE.max(1 << info.table_align);
        let table_slots = u64::from(table_base) + u64::from(info.table_size);
        if table_slots > MAX_TABLE_ELEMENTS as u64 {
            return Err(invalid(format!(
                "the module's dylink.0 asks for {} table slots (from slot {table_base}); an instance's table has at most {MAX_TABLE_ELEMENTS}",
                info.table_size
            )));
        }
        let space = AddressSpace::reserve()?;
        let data = space.commit(info.memory_size as usize).map_err(|s| {
            s.with_context(format!(
                "for the module's {} bytes of data (dylink.0)",
                info.memory_size
            ))
        })?;
        // Active data segments are written by wasmtime's host code while instantiating: each
        // must land in the data block (see `crate::inspect`).
        let data_start = u64::from(data.offset());
        shared.inspection.check_data_segments(
            |name| match name {
                "env.__memory_base" => Some(data.offset()),
                "env.__table_base" => Some(table_base),
                _ => None,
            },
            data_start..data_start + data.len() as u64,
        )?;
        let scratch = Scratch::new(&space, &shared.constants)?;
        let stack = if shared
            .imports
            .iter()
            .any(|i| matches!(i, Import::StackPointer))
        {
            Some(space.commit(STACK_BYTES)?)
        } else {
            None
        };
        let memory = space_memory(&mut store, &space, shared.checked)?;
        let mut stack_pointer = None;
        let mut imports = Vec::with_capacity(shared.imports.len());
        for (import, resolved) in shared.module.imports().zip(&shared.imports) {
            let external: Extern = match (*resolved, import.ty()) {
                (Import::Memory, _) => memory.into(),
                (Import::Table, ExternType::Table(ty)) => {
                    let minimum = ty.minimum().max(table_slots);
                    if minimum > MAX_TABLE_ELEMENTS as u64 {
                        return Err(invalid(format!(
                            "the module's table needs {minimum} slots; an instance's table has at most {MAX_TABLE_ELEMENTS}"
                        )));
                    }
                    Table::new(
                        &mut store,
                        TableType::new(RefType::FUNCREF, minimum as u32, None),
                        Ref::Func(None),
                    )
                    .map_err(|e| wasm_error("creating the module's table", e))?
                    .into()
                }
                (Import::MemoryBase, _) => Global::new(
                    &mut store,
                    GlobalType::new(ValType::I32, Mutability::Const),
                    Val::I32(data.offset() as i32),
                )
                .map_err(|e| wasm_error("creating __memory_base", e))?
                .into(),
                (Import::TableBase, _) => Global::new(
                    &mut store,
                    GlobalType::new(ValType::I32, Mutability::Const),
                    Val::I32(table_base as i32),
                )
                .map_err(|e| wasm_error("creating __table_base", e))?
                .into(),
                (Import::StackPointer, _) => {
                    let stack = stack.as_ref().expect("allocated when imported");
                    let top = stack.offset() + stack.len() as u32;
                    let global = Global::new(
                        &mut store,
                        GlobalType::new(ValType::I32, Mutability::Var),
                        Val::I32(top as i32),
                    )
                    .map_err(|e| wasm_error("creating __stack_pointer", e))?;
                    stack_pointer = Some((global, top));
                    global.into()
                }
                (Import::Math(function), _) => math_linker(shared.checked)
                    .get(&mut store, "env", function.name)
                    .map_err(|e| wasm_error(function.name, e))?,
                (Import::Table, _) => {
                    return Err(invalid("the module's table import is not a table"))
                }
            };
            imports.push(external);
        }
        let instance = Instance::new(&mut store, &shared.module, &imports)
            .map_err(|e| load_error("instantiating the module", e))?;
        for init in ["__wasm_apply_data_relocs", "__wasm_call_ctors"] {
            if let Some(function) = instance.get_func(&mut store, init) {
                let function = function
                    .typed::<(), ()>(&store)
                    .map_err(|e| wasm_error(init, e))?;
                store.set_epoch_deadline(budget_ticks());
                function
                    .call(&mut store, ())
                    .map_err(|e| load_error(&format!("calling {init}"), e))?;
            }
        }
        let query = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "iree_hal_executable_library_query")
            .map_err(|e| wasm_error("the module's iree_hal_executable_library_query", e))?;
        store.set_epoch_deadline(budget_ticks());
        let library = query
            .call(
                &mut store,
                (
                    hal_local::abi::LIBRARY_VERSION as i32,
                    scratch.environment() as i32,
                ),
            )
            .map_err(|e| load_error("calling the library query", e))? as u32;
        let library = read_library(&DataView { block: &data }, library, shared.constants.len())?;
        let table = match instance.get_export(&mut store, "__indirect_function_table") {
            Some(Extern::Table(table)) => Some(table),
            _ => imports.iter().find_map(|e| e.clone().into_table()),
        }
        .ok_or_else(|| invalid("the module has no function table"))?;
        let mut functions = Vec::with_capacity(library.exports.len());
        for export in &library.exports {
            let function = match table.get(&mut store, u64::from(export.table_index)) {
                Some(Ref::Func(Some(function))) => function,
                _ => {
                    return Err(invalid(format!(
                        "export '{}' points at table slot {}, which holds no function",
                        export.name, export.table_index
                    )))
                }
            };
            functions.push(
                function
                    .typed::<(i32, i32, i32), i32>(&store)
                    .map_err(|e| wasm_error(&format!("export '{}'", export.name), e))?,
            );
        }
        Ok((
            Worker {
                shared: Arc::downgrade(shared),
                store,
                space,
                windows: Vec::new(),
                functions,
                stack_pointer,
                scratch,
                _data: data,
                _stack: stack,
                local: None,
            },
            library,
        ))
    }
}

/// Reads and verifies the wasm32 library tables, as `hal_local::verify_library` does natively.
fn read_library(data: &DataView<'_>, library: u32, provided_constants: usize) -> Result<Library> {
    if library == 0 {
        return Err(status(
            StatusCode::Incompatible,
            "the library query returned null for version 6",
        ));
    }
    let header = data.u32(library, 0, "library struct")?;
    let version = data.u32(header, 0, "header")?;
    if version != hal_local::abi::LIBRARY_VERSION {
        return Err(status(
            StatusCode::Incompatible,
            format!(
                "library ABI version {version} is not the supported version {}",
                hal_local::abi::LIBRARY_VERSION
            ),
        ));
    }
    let name = data.string(data.u32(header, 4, "header")?, "name")?;
    let sanitizer = data.u32(header, 12, "header")?;
    if sanitizer != 0 {
        return Err(status(
            StatusCode::Incompatible,
            format!("library '{name}' was built with sanitizer kind {sanitizer}"),
        ));
    }
    let import_count = data.u32(library, 4, "import table")?;
    let symbols = data.u32(library, 8, "import table")?;
    for i in 0..import_count.min(65_536) {
        let symbol = data.string(
            data.u32(symbols, 4 * u64::from(i), "import symbols")?,
            "import name",
        )?;
        if !symbol.starts_with('?') {
            return Err(status(
                StatusCode::Unimplemented,
                format!("library '{name}' needs import '{symbol}'; wasm kernels get no imports"),
            ));
        }
    }
    let constant_count = data.u32(library, 52, "constant table")? as usize;
    if constant_count != provided_constants {
        return Err(invalid(format!(
            "library '{name}' takes {constant_count} executable constants, but {provided_constants} were given"
        )));
    }
    let count = data.u32(library, 12, "export table")?;
    let ptrs = data.u32(library, 16, "export table")?;
    let attrs = data.u32(library, 20, "export table")?;
    let params = data.u32(library, 24, "export table")?;
    let names = data.u32(library, 32, "export table")?;
    if count > hal_local::MAX_EXPORT_COUNT {
        return Err(invalid(format!(
            "library '{name}' declares {count} exports"
        )));
    }
    if count > 0 && (ptrs == 0 || attrs == 0 || names == 0) {
        return Err(invalid(format!(
            "library '{name}' export table lacks its function, attribute or name array"
        )));
    }
    let mut exports = Vec::with_capacity(count as usize);
    for ordinal in 0..count {
        let export_name = data.string(
            data.u32(names, 4 * u64::from(ordinal), "export names")?,
            &format!("export {ordinal} name"),
        )?;
        let table_index = data.u32(ptrs, 4 * u64::from(ordinal), "export functions")?;
        let raw = data.bytes(
            u64::from(attrs) + 64 * u64::from(ordinal),
            64,
            "export attributes",
        )?;
        // SAFETY: 64 readable bytes; DispatchAttrs is plain old data of that size with the same
        // layout in wasm32 (no pointers).
        let attrs: DispatchAttrs = unsafe { raw.as_ptr().cast::<DispatchAttrs>().read_unaligned() };
        if u32::from(attrs.constant_count) > MAX_CONSTANT_COUNT
            || u32::from(attrs.binding_count) > MAX_BINDING_COUNT
        {
            return Err(invalid(format!(
                "library '{name}' export '{export_name}' declares {} constants and {} bindings",
                attrs.constant_count, attrs.binding_count
            )));
        }
        let parameters = read_parameters(data, params, ordinal, &attrs)?;
        exports.push(ExportTables {
            table_index,
            attrs,
            parameters,
            name: export_name,
        });
    }
    Ok(Library { name, exports })
}

/// The parameter descriptors of export `ordinal` from the wasm32 `params` array (one pointer
/// per export to `parameter_count` 8-byte descriptors, laid out as on x86_64): `None` when the
/// array or the export's entry is null. `hal_local::export_info` checks what they say.
fn read_parameters(
    data: &DataView<'_>,
    params: u32,
    ordinal: u32,
    attrs: &DispatchAttrs,
) -> Result<Option<Vec<DispatchParameter>>> {
    if params == 0 {
        return Ok(None);
    }
    let entries = data.u32(params, 4 * u64::from(ordinal), "export parameters")?;
    if entries == 0 {
        return Ok(None);
    }
    let count = usize::from(attrs.parameter_count);
    let raw = data.bytes(u64::from(entries), 8 * count, "parameter descriptors")?;
    Ok(Some(
        raw.chunks_exact(8)
            .map(|b| DispatchParameter {
                kind: b[0],
                size: b[1],
                flags: u16::from_le_bytes([b[2], b[3]]),
                name: u16::from_le_bytes([b[4], b[5]]),
                offset: u16::from_le_bytes([b[6], b[7]]),
            })
            .collect(),
    ))
}

/// Compiles and checks a module, instantiating it once to read its library (on this thread, or
/// on a helper with a bigger stack, see [`crate::stack`]).
pub(crate) fn load(data: &[u8], constants: &[u32]) -> Result<hal_core::Executable> {
    with_wasm_stack(|| load_here(data, constants))
}

fn load_here(data: &[u8], constants: &[u32]) -> Result<hal_core::Executable> {
    let mem_info = crate::dylink::mem_info(data)?;
    let inspection = crate::inspect::inspect(data)?;
    let guarded = crate::bulk_memory::guard(data)?;
    let checked = budget_checks();
    let module = Module::new(engine(checked), &guarded)
        .map_err(|e| wasm_error("the WebAssembly module does not compile", e))?;
    let imports = crate::imports::resolve(&module)?;
    let mut shared = Arc::new(Shared {
        module,
        mem_info,
        inspection,
        constants: constants.to_vec(),
        imports,
        checked,
        library_name: String::new(),
        export_names: Vec::new(),
    });
    let (_, library) = Worker::new(&shared)?;
    {
        let shared = Arc::get_mut(&mut shared).expect("the probe worker was dropped");
        shared.library_name = library.name.clone();
        shared.export_names = library.exports.iter().map(|e| e.name.clone()).collect();
    }
    let exports = library
        .exports
        .into_iter()
        .map(|export| {
            let info = hal_local::export_info(
                &library.name,
                export.name,
                &export.attrs,
                export.parameters.as_deref(),
            )?;
            Ok((info, export.attrs))
        })
        .collect::<Result<Vec<_>>>()?;
    let info = ExecutableInfo {
        library_name: library.name,
        constant_count: constants.len() as u32,
    };
    hal_local::LocalExecutable::with_runner(info, exports, Box::new(WasmRunner { shared }))
}

/// Runs one executable's workgroups on the calling thread's instance.
pub(crate) struct WasmRunner {
    shared: Arc<Shared>,
}

fn describe_trap(error: &wasmtime::Error) -> (StatusCode, String) {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (
            StatusCode::DeadlineExceeded,
            format!(
                "ran past its budget of {:?} and was interrupted",
                dispatch_budget()
            ),
        ),
        Some(trap) => (StatusCode::Aborted, format!("trapped: {trap}")),
        None => (StatusCode::Internal, format!("failed: {error:#}")),
    }
}

impl WorkgroupRunner for WasmRunner {
    unsafe fn begin_dispatch(
        &self,
        _ordinal: u32,
        binding_ptrs: &mut [*mut c_void],
        binding_lengths: &[usize],
    ) -> Result<Option<Box<dyn DispatchSession>>> {
        // SAFETY: forwarded from the caller.
        let session = unsafe { crate::staging::stage(binding_ptrs, binding_lengths) }?;
        Ok(session.map(|s| Box::new(s) as Box<dyn DispatchSession>))
    }

    unsafe fn run_workgroups(
        &self,
        ordinal: u32,
        export: &ExportEntry,
        state: &DispatchStateV0,
        first: u64,
        count: u64,
        processor_id: u32,
        _local_memory: &mut LocalMemory,
        local_memory_size: u32,
    ) -> Result<()> {
        if count == 0
            || state.workgroup_count_x == 0
            || state.workgroup_count_y == 0
            || state.workgroup_count_z == 0
        {
            return Ok(());
        }
        let lent = Lent((self, export, state));
        with_wasm_stack(move || {
            let lent = lent;
            let (runner, export, state) = lent.0;
            // SAFETY: forwarded from the caller, who waits for this call to end.
            unsafe {
                runner.run_here(
                    ordinal,
                    export,
                    state,
                    first,
                    count,
                    processor_id,
                    local_memory_size,
                )
            }
        })
    }
}

impl WasmRunner {
    /// [`WorkgroupRunner::run_workgroups`] on the calling thread's instance.
    ///
    /// # Safety
    /// As [`WorkgroupRunner::run_workgroups`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn run_here(
        &self,
        ordinal: u32,
        export: &ExportEntry,
        state: &DispatchStateV0,
        first: u64,
        count: u64,
        processor_id: u32,
        local_memory_size: u32,
    ) -> Result<()> {
        WORKERS.with(|cell| {
            let mut workers = cell.try_borrow_mut().map_err(|_| {
                status(
                    StatusCode::FailedPrecondition,
                    "a wasm kernel re-entered the runtime",
                )
            })?;
            let index = match workers
                .iter()
                .position(|w| std::ptr::eq(w.shared.as_ptr(), Arc::as_ptr(&self.shared)))
            {
                Some(index) => index,
                None => {
                    workers.retain(|w| w.shared.strong_count() > 0);
                    let (worker, _) = Worker::new(&self.shared).map_err(|s| {
                        s.with_context(format!(
                            "while instantiating wasm library '{}' on this thread",
                            self.shared.library_name
                        ))
                    })?;
                    workers.push(worker);
                    workers.len() - 1
                }
            };
            // SAFETY: forwarded from the caller.
            let result = unsafe {
                workers[index].run(
                    ordinal,
                    export,
                    state,
                    first,
                    count,
                    processor_id,
                    local_memory_size,
                )
            };
            if result.is_err() {
                // A trapped instance may hold half-updated state: the next run gets a new one.
                workers.swap_remove(index);
            }
            result
        })
    }
}

impl Worker {
    /// # Safety
    /// As [`WorkgroupRunner::run_workgroups`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn run(
        &mut self,
        ordinal: u32,
        export: &ExportEntry,
        state: &DispatchStateV0,
        first: u64,
        count: u64,
        processor_id: u32,
        local_memory_size: u32,
    ) -> Result<()> {
        let name = &export.info.name;
        let function = self
            .functions
            .get(ordinal as usize)
            .cloned()
            .ok_or_else(|| {
                status(
                    StatusCode::OutOfRange,
                    format!("export ordinal {ordinal} is out of range"),
                )
            })?;
        // Bindings: pool pages shown through windows (bindings outside the pool were staged in
        // the pool by `begin_dispatch`).
        // SAFETY: forwarded from the caller.
        unsafe { self.place_bindings(name, state)? };
        let constant_count = usize::from(state.constant_count);
        if constant_count > MAX_CONSTANT_COUNT as usize {
            return Err(status(
                StatusCode::OutOfRange,
                format!("dispatch of '{name}' has {constant_count} push constants; the limit is {MAX_CONSTANT_COUNT}"),
            ));
        }
        let constants = if constant_count == 0 {
            &[][..]
        } else {
            // SAFETY: the state has `constant_count` constants (the caller's contract).
            unsafe { std::slice::from_raw_parts(state.constants, constant_count) }
        };
        // Local memory: the export's static amount plus the dispatch's dynamic amount, in this
        // instance's memory, where the kernel can reach it.
        let local_size = local_memory_size as usize;
        let local = if local_size == 0 {
            (0u32, 0u32)
        } else {
            if self.local.as_ref().is_none_or(|b| b.len() < local_size) {
                self.local = None;
                self.local = Some(self.space.commit(local_size)?);
            }
            let block = self.local.as_ref().expect("allocated above");
            (block.offset(), block.len() as u32)
        };
        self.scratch
            .set_dispatch(state, constants, processor_id, local)?;
        if let Some((global, top)) = self.stack_pointer {
            global
                .set(&mut self.store, Val::I32(top as i32))
                .map_err(|e| wasm_error("resetting __stack_pointer", e))?;
        }
        // Ignored by code compiled without budget checks.
        self.store.set_epoch_deadline(budget_ticks());
        let count_x = u64::from(state.workgroup_count_x);
        let count_y = u64::from(state.workgroup_count_y);
        let mut x = (first % count_x) as u32;
        let rest = first / count_x;
        let mut y = (rest % count_y) as u32;
        let mut z = (rest / count_y) as u16;
        let (environment, dispatch_state, workgroup_state) = self.scratch.arguments();
        let args = (
            environment as i32,
            dispatch_state as i32,
            workgroup_state as i32,
        );
        for _ in 0..count {
            self.scratch.set_workgroup_id(x, y, z)?;
            match function.call(&mut self.store, args) {
                Ok(0) => {}
                Ok(code) => {
                    return Err(status(
                        StatusCode::Internal,
                        format!("wasm kernel '{name}' returned error {code} in workgroup ({x}, {y}, {z})"),
                    ));
                }
                Err(error) => {
                    let (code, what) = describe_trap(&error);
                    return Err(status(
                        code,
                        format!("wasm kernel '{name}' {what} in workgroup ({x}, {y}, {z})"),
                    ));
                }
            }
            x += 1;
            if x == state.workgroup_count_x {
                x = 0;
                y += 1;
                if y == state.workgroup_count_y {
                    y = 0;
                    z += 1;
                }
            }
        }
        Ok(())
    }
}

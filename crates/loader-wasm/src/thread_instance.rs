//! An instance of one executable on one thread: its store, its own address space with the
//! module's data, stack, scratch and local memory, made and initialised once, and running
//! workgroups of a dispatch in the wasm32 ABI (the structs laid out by [`crate::scratch`]). How a
//! run's bindings reach the kernel is in [`binding_windows`].

use std::sync::{Arc, Weak};

use hal_core::{Result, StatusCode, MAX_CONSTANT_COUNT};
use hal_local::WorkgroupBatch;
use wasmtime::{
    Extern, ExternType, Global, GlobalType, Instance, Memory, Mutability, Ref, RefType, Store,
    StoreLimits, Table, TableType, TypedFunc, Val, ValType,
};

use crate::address_space::{AddressSpace, Block, Window};
use crate::engine::{budget_ticks, memory_module};
use crate::errors::{describe_trap, invalid, load_error, status, wasm_error};
use crate::executable_module::ExecutableModule;
use crate::imports::{math_linker, Import};
use crate::library_tables::{read_library, Library};
use crate::limits::{limited_store, MAX_TABLE_ELEMENTS};
use crate::linear_memory::with_space;
use crate::scratch::Scratch;

mod binding_windows;

/// The lowest `__table_base`: slot 0 stays null so a call through a null function pointer traps.
const TABLE_BASE: u32 = 1;
/// Bytes of shadow stack given to modules that import `__stack_pointer`.
const STACK_BYTES: usize = 256 * 1024;

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

/// A store and instance of one executable on one thread, with its own address space.
pub(crate) struct ThreadInstance {
    executable: Weak<ExecutableModule>,
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

impl ThreadInstance {
    /// Makes and initialises an instance of `executable` on this thread, and reads and verifies
    /// the library it reports.
    pub(crate) fn new(executable: &Arc<ExecutableModule>) -> Result<(ThreadInstance, Library)> {
        let mut store = limited_store(executable.module.engine());
        // Every call into wasm below (the start function while instantiating, the initialisers,
        // the query) gets the budget; code compiled without budget checks ignores it.
        store.set_epoch_deadline(budget_ticks());
        let info = executable.mem_info;
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
        executable.inspection.check_data_segments(
            |name| match name {
                "env.__memory_base" => Some(data.offset()),
                "env.__table_base" => Some(table_base),
                _ => None,
            },
            data_start..data_start + data.len() as u64,
        )?;
        let scratch = Scratch::new(&space, &executable.constants)?;
        let stack = if executable
            .imports
            .iter()
            .any(|i| matches!(i, Import::StackPointer))
        {
            Some(space.commit(STACK_BYTES)?)
        } else {
            None
        };
        let memory = space_memory(&mut store, &space, executable.checked)?;
        let mut stack_pointer = None;
        let mut imports = Vec::with_capacity(executable.imports.len());
        for (import, resolved) in executable.module.imports().zip(&executable.imports) {
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
                (Import::Math(function), _) => math_linker(executable.checked)
                    .get(&mut store, "env", function.name)
                    .map_err(|e| wasm_error(function.name, e))?,
                (Import::Table, _) => {
                    return Err(invalid("the module's table import is not a table"))
                }
            };
            imports.push(external);
        }
        let instance = Instance::new(&mut store, &executable.module, &imports)
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
        let library = read_library(&data, library, executable.constants.len())?;
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
            ThreadInstance {
                executable: Arc::downgrade(executable),
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

    /// Whether this is an instance of `executable`.
    pub(crate) fn is_of(&self, executable: &Arc<ExecutableModule>) -> bool {
        std::ptr::eq(self.executable.as_ptr(), Arc::as_ptr(executable))
    }

    /// Whether its executable was dropped (so it can never run again).
    pub(crate) fn is_orphaned(&self) -> bool {
        self.executable.strong_count() == 0
    }

    /// Runs workgroups `[first, first + count)` of `export`: the kernel at `export.ordinal`,
    /// the ordinal the runner is told.
    ///
    /// # Safety
    /// As [`WorkgroupRunner::run_workgroups`](hal_local::WorkgroupRunner::run_workgroups).
    pub(crate) unsafe fn run(&mut self, batch: &WorkgroupBatch<'_>) -> Result<()> {
        let WorkgroupBatch {
            export,
            state,
            processor_id,
            local_memory_size,
            ..
        } = *batch;
        let name = &export.info.name;
        let ordinal = export.ordinal;
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
        let (environment, dispatch_state, workgroup_state) = self.scratch.arguments();
        let args = (
            environment as i32,
            dispatch_state as i32,
            workgroup_state as i32,
        );
        for (x, y, z) in batch.ids() {
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
        }
        Ok(())
    }
}

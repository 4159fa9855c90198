//! The ABI scratch of one instance: the wasm32 `environment`, `dispatch_state` and
//! `workgroup_state` structs and the arrays they point at, in one block of the instance's memory.
//!
//! Every area has a fixed size from hal-core's limits, except the executable constants, whose area
//! is sized from their count; every write goes through [`Area`], which checks the index against
//! the area, and then through [`Block::write`], which checks the block. So no count a caller or
//! module supplies can make the host write past an area or the block.

use hal_core::{Result, Status, StatusCode, MAX_BINDING_COUNT, MAX_CONSTANT_COUNT};
use hal_local::abi::DispatchStateV0;

use crate::address_space::{AddressSpace, Block};

/// A `[at, at + len)` byte range of the scratch block holding one struct or array.
#[derive(Clone, Copy)]
struct Area {
    at: usize,
    len: usize,
    what: &'static str,
}

impl Area {
    const fn after(previous: Area, len: usize, what: &'static str) -> Area {
        // 64-byte aligned, as the native ABI aligns these structs.
        let at = (previous.at + previous.len).div_ceil(64) * 64;
        Area { at, len, what }
    }

    /// Offset in the block of `len` bytes at `offset` into the area, if they fit.
    fn field(&self, offset: usize, len: usize) -> Result<usize> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.at + offset),
            _ => Err(Status::new(
                StatusCode::OutOfRange,
                format!(
                    "{len} bytes at offset {offset} do not fit the {}-byte {} of the wasm ABI scratch",
                    self.len, self.what
                ),
            )),
        }
    }
}

/// wasm32 `iree_hal_executable_environment_v0_t`: constants, import thunk, import functions and
/// contexts (4 bytes each), processor information (8 u64).
const ENVIRONMENT: Area = Area {
    at: 0,
    len: 80,
    what: "environment",
};
/// wasm32 `iree_hal_executable_dispatch_state_v0_t`.
const DISPATCH_STATE: Area = Area::after(ENVIRONMENT, 36, "dispatch state");
/// wasm32 `iree_hal_executable_workgroup_state_v0_t`.
const WORKGROUP_STATE: Area = Area::after(DISPATCH_STATE, 24, "workgroup state");
const PUSH_CONSTANTS: Area = Area::after(
    WORKGROUP_STATE,
    4 * MAX_CONSTANT_COUNT as usize,
    "push constant array",
);
const BINDING_PTRS: Area = Area::after(
    PUSH_CONSTANTS,
    4 * MAX_BINDING_COUNT as usize,
    "binding pointer array",
);
const BINDING_LENGTHS: Area = Area::after(
    BINDING_PTRS,
    4 * MAX_BINDING_COUNT as usize,
    "binding length array",
);

/// One instance's ABI structs.
pub(crate) struct Scratch {
    block: Block,
}

impl Scratch {
    /// Commits the scratch in `space` and writes the environment: `constants` (the executable
    /// constants, in an area sized from their count), no imports (thunk slot 0 is null and
    /// traps), no processor information.
    pub(crate) fn new(space: &std::sync::Arc<AddressSpace>, constants: &[u32]) -> Result<Scratch> {
        let too_many = || {
            Status::new(
                StatusCode::ResourceExhausted,
                format!(
                    "{} executable constants do not fit a wasm instance's memory",
                    constants.len()
                ),
            )
        };
        let bytes = constants.len().checked_mul(4).ok_or_else(too_many)?;
        let area = Area::after(BINDING_LENGTHS, bytes, "executable constant array");
        let size = area.at.checked_add(area.len).ok_or_else(too_many)?;
        let block = space
            .commit(size)
            .map_err(|s| s.with_context(format!("for {} executable constants", constants.len())))?;
        let mut scratch = Scratch { block };
        for (i, &constant) in constants.iter().enumerate() {
            scratch.put(area, 4 * i, constant)?;
        }
        let pointer = if constants.is_empty() {
            0
        } else {
            scratch.address(area)
        };
        // Fresh pages are zero, which leaves the import arrays and processor data null.
        scratch.put(ENVIRONMENT, 0, pointer)?;
        Ok(scratch)
    }

    fn address(&self, area: Area) -> u32 {
        self.block.offset() + area.at as u32
    }

    fn put(&mut self, area: Area, offset: usize, value: u32) -> Result<()> {
        let at = area.field(offset, 4)?;
        self.block.write_u32(at, value)
    }

    fn put_bytes(&mut self, area: Area, offset: usize, bytes: &[u8]) -> Result<()> {
        let at = area.field(offset, bytes.len())?;
        self.block.write(at, bytes)
    }

    /// The wasm address of the executable constants (null when there are none).
    #[cfg(test)]
    fn constants_address(&self) -> u32 {
        self.address(Area::after(BINDING_LENGTHS, 0, "executable constant array"))
    }

    /// The wasm addresses of the environment, dispatch state and workgroup state: a kernel's
    /// arguments.
    pub(crate) fn arguments(&self) -> (u32, u32, u32) {
        (
            self.address(ENVIRONMENT),
            self.address(DISPATCH_STATE),
            self.address(WORKGROUP_STATE),
        )
    }

    /// The wasm address of the environment, the library query's argument.
    pub(crate) fn environment(&self) -> u32 {
        self.address(ENVIRONMENT)
    }

    /// Sets binding `index`'s wasm address and length.
    pub(crate) fn set_binding(&mut self, index: usize, address: u32, len: u32) -> Result<()> {
        let offset = index.saturating_mul(4);
        self.put(BINDING_PTRS, offset, address)?;
        self.put(BINDING_LENGTHS, offset, len)
    }

    /// Writes the dispatch state of a run (its push constants copied from `constants`) and the
    /// parts of the workgroup state that stay the same for every workgroup of the run.
    pub(crate) fn set_dispatch(
        &mut self,
        state: &DispatchStateV0,
        constants: &[u32],
        processor_id: u32,
        local_memory: (u32, u32),
    ) -> Result<()> {
        let count = u16::try_from(constants.len()).unwrap_or(u16::MAX);
        for (i, &constant) in constants.iter().enumerate() {
            self.put(PUSH_CONSTANTS, 4 * i, constant)?;
        }
        let d = DISPATCH_STATE;
        self.put(d, 0, state.workgroup_size_x)?;
        self.put(d, 4, state.workgroup_size_y)?;
        self.put_bytes(d, 8, &state.workgroup_size_z.to_le_bytes())?;
        self.put_bytes(d, 10, &count.to_le_bytes())?;
        self.put(d, 12, state.workgroup_count_x)?;
        self.put(d, 16, state.workgroup_count_y)?;
        self.put_bytes(d, 20, &state.workgroup_count_z.to_le_bytes())?;
        self.put_bytes(d, 22, &[state.max_concurrency, state.binding_count])?;
        self.put(d, 24, self.address(PUSH_CONSTANTS))?;
        self.put(d, 28, self.address(BINDING_PTRS))?;
        self.put(d, 32, self.address(BINDING_LENGTHS))?;
        let w = WORKGROUP_STATE;
        self.put_bytes(w, 10, &0u16.to_le_bytes())?;
        self.put(w, 12, processor_id)?;
        self.put(w, 16, local_memory.0)?;
        self.put(w, 20, local_memory.1)
    }

    /// Sets the workgroup id of the next call.
    #[inline]
    pub(crate) fn set_workgroup_id(&mut self, x: u32, y: u32, z: u16) -> Result<()> {
        let mut id = [0u8; 10];
        id[..4].copy_from_slice(&x.to_le_bytes());
        id[4..8].copy_from_slice(&y.to_le_bytes());
        id[8..].copy_from_slice(&z.to_le_bytes());
        self.put_bytes(WORKGROUP_STATE, 0, &id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constant_area_is_sized_from_the_count_and_indices_are_checked() {
        let space = AddressSpace::reserve().unwrap();
        // Far more constants than one page holds.
        let constants: Vec<u32> = (0..5000).collect();
        let mut scratch = Scratch::new(&space, &constants).unwrap();
        // SAFETY: no wasm code runs in this space.
        let bytes = unsafe { scratch.block.bytes() };
        let start = (scratch.constants_address() - scratch.block.offset()) as usize;
        let last = &bytes[start + 4 * 4999..start + 4 * 5000];
        assert_eq!(last, 4999u32.to_le_bytes());
        scratch.set_binding(63, 1, 2).unwrap();
        let error = scratch.set_binding(64, 1, 2).unwrap_err();
        assert_eq!(error.code(), StatusCode::OutOfRange, "{error}");
        assert!(scratch.set_binding(usize::MAX, 1, 2).is_err());
    }
}

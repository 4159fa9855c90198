//! Checking a queried library's tables and turning them into export reflection data.
//!
//! Native loaders hand over a `LibraryV0` pointer returned by a query function; this module reads
//! it defensively (every pointer the runtime will follow is checked for null, every count against
//! the ABI limits) the way IREE's `iree_hal_executable_library_verify` does, so a bad library is a
//! clear error instead of a crash later.

use std::ffi::{c_char, CStr};

use hal_core::{ExportInfo, Result, Status, MAX_BINDING_COUNT, MAX_CONSTANT_COUNT};

use crate::abi::{
    DispatchAttrs, DispatchFn, LibraryV0, LIBRARY_VERSION, WORKGROUP_LOCAL_MEMORY_PAGE_SIZE,
};
use crate::binding_views::BindingViews;

/// The most exports one library may declare (a sanity bound on counts read from foreign data).
pub const MAX_EXPORT_COUNT: u32 = 65_536;

/// One export as the workgroup loop needs it.
#[derive(Clone, Debug)]
pub struct ExportEntry {
    /// The entry point.
    pub function: DispatchFn,
    /// The export's attributes.
    pub attrs: DispatchAttrs,
    /// Reflection data.
    pub info: ExportInfo,
    /// How the kernel reaches its bindings.
    pub views: BindingViews,
}

/// A verified library: its name and exports.
#[derive(Clone, Debug)]
pub struct VerifiedLibrary {
    /// The library name from the header.
    pub name: String,
    /// Exports by ordinal.
    pub exports: Vec<ExportEntry>,
    /// Import symbol names (with `?` for optional ones), in table order.
    pub imports: Vec<String>,
}

/// Reads a C string the library points to, naming `what` in errors.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that outlives the call.
pub unsafe fn read_c_string(ptr: *const c_char, what: &str) -> Result<String> {
    if ptr.is_null() {
        return Err(Status::invalid_argument(format!("library {what} is null")));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(str::to_owned)
        .map_err(|_| Status::invalid_argument(format!("library {what} is not UTF-8")))
}

/// Verifies a library returned by a version-6 query.
///
/// # Safety
/// `library` must be null or point to a `LibraryV0` whose non-null pointers reference memory
/// laid out as the ABI says, valid for the duration of the call.
pub unsafe fn verify_library(
    library: *const LibraryV0,
    provided_constants: usize,
) -> Result<VerifiedLibrary> {
    if library.is_null() {
        return Err(Status::incompatible(
            "the library query returned null for version 6",
        ));
    }
    // SAFETY: non-null; the caller guarantees the layout.
    let library = unsafe { &*library };
    if library.header.is_null() {
        return Err(Status::invalid_argument("library header pointer is null"));
    }
    // SAFETY: non-null header inside the library image.
    let header = unsafe { &*library.header };
    if header.version != LIBRARY_VERSION {
        return Err(Status::incompatible(format!(
            "library ABI version {} is not the supported version {LIBRARY_VERSION}",
            header.version
        )));
    }
    // SAFETY: header.name comes from the library image.
    let name = unsafe { read_c_string(header.name, "name") }?;
    match header.sanitizer {
        0 => {}
        kind @ 1..=4 => {
            let which = ["", "address", "memory", "thread", "undefined"][kind as usize];
            return Err(Status::incompatible(format!(
                "library '{name}' was built with the {which} sanitizer, which this runtime was not"
            )));
        }
        other => {
            return Err(Status::invalid_argument(format!(
                "library '{name}' declares unknown sanitizer kind {other}"
            )))
        }
    }
    if library.constants.count as usize != provided_constants {
        return Err(Status::invalid_argument(format!(
            "library '{name}' takes {} executable constants, but {provided_constants} were given",
            library.constants.count
        )));
    }
    let imports = library.imports.count;
    if imports > MAX_EXPORT_COUNT || (imports > 0 && library.imports.symbols.is_null()) {
        return Err(Status::invalid_argument(format!(
            "library '{name}' has a bad import table ({imports} imports)"
        )));
    }
    let import_names = (0..imports as usize)
        .map(|i| {
            // SAFETY: `symbols` has `count` entries per the ABI.
            let symbol = unsafe { *library.imports.symbols.add(i) };
            // SAFETY: each symbol is a string in the image.
            unsafe { read_c_string(symbol, &format!("import {i} name")) }
        })
        .collect::<Result<Vec<_>>>()?;
    let table = &library.exports;
    if table.count > MAX_EXPORT_COUNT {
        return Err(Status::invalid_argument(format!(
            "library '{name}' declares {} exports; at most {MAX_EXPORT_COUNT} are supported",
            table.count
        )));
    }
    if table.count > 0 && (table.ptrs.is_null() || table.attrs.is_null() || table.names.is_null()) {
        return Err(Status::invalid_argument(format!(
            "library '{name}' export table lacks its function, attribute or name array"
        )));
    }
    let mut exports = Vec::with_capacity(table.count as usize);
    for ordinal in 0..table.count as usize {
        // SAFETY: each array has `count` entries per the ABI.
        let (function, attrs, name_ptr) = unsafe {
            (
                *table.ptrs.add(ordinal),
                *table.attrs.add(ordinal),
                *table.names.add(ordinal),
            )
        };
        // SAFETY: the name is a string in the image.
        let export_name = unsafe { read_c_string(name_ptr, &format!("export {ordinal} name")) }?;
        let function = function.ok_or_else(|| {
            Status::invalid_argument(format!(
                "library '{name}' export '{export_name}' has a null function"
            ))
        })?;
        if u32::from(attrs.constant_count) > MAX_CONSTANT_COUNT
            || u32::from(attrs.binding_count) > MAX_BINDING_COUNT
        {
            return Err(Status::invalid_argument(format!(
                "library '{name}' export '{export_name}' declares {} constants and {} bindings; limits are {MAX_CONSTANT_COUNT} and {MAX_BINDING_COUNT}",
                attrs.constant_count, attrs.binding_count
            )));
        }
        if attrs.parameter_count != 0 {
            return Err(Status::unimplemented(format!(
                "library '{name}' export '{export_name}' uses {} dispatch parameters; only the plain HAL ABI is supported",
                attrs.parameter_count
            )));
        }
        let size = |v: u32| v.max(1);
        let info = ExportInfo {
            name: export_name,
            constant_count: attrs.constant_count.into(),
            binding_count: attrs.binding_count.into(),
            workgroup_size: [
                size(attrs.workgroup_size_x),
                size(attrs.workgroup_size_y),
                size(attrs.workgroup_size_z.into()),
            ],
            local_memory_size: u32::from(attrs.local_memory_pages)
                * WORKGROUP_LOCAL_MEMORY_PAGE_SIZE,
        };
        exports.push(ExportEntry {
            views: BindingViews::of(function),
            function,
            attrs,
            info,
        });
    }
    Ok(VerifiedLibrary {
        name,
        exports,
        imports: import_names,
    })
}

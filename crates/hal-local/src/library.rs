//! Checking a queried library's tables and turning them into export reflection data.
//!
//! Native loaders hand over a `LibraryV0` pointer returned by a query function; this module reads
//! it defensively (every pointer the runtime will follow is checked for null, every count against
//! the ABI limits) the way IREE's `iree_hal_executable_library_verify` does, so a bad library is a
//! clear error instead of a crash later.

use std::ffi::{c_char, CStr};

use hal_core::{
    BindingFlags, ExportFlags, ExportInfo, Result, Status, MAX_BINDING_COUNT, MAX_CONSTANT_COUNT,
};

use crate::abi::{
    DispatchAttrs, DispatchFn, DispatchParameter, LibraryV0, DISPATCH_PARAMETER_BINDING,
    DISPATCH_PARAMETER_BUFFER_PTR, DISPATCH_PARAMETER_CONSTANT, LIBRARY_VERSION,
    WORKGROUP_LOCAL_MEMORY_PAGE_SIZE,
};
use crate::binding_views::BindingViews;

/// The most exports one library may declare (a sanity bound on counts read from foreign data).
pub const MAX_EXPORT_COUNT: u32 = 65_536;

/// One export as the workgroup loop needs it.
#[derive(Clone, Debug)]
pub struct ExportEntry {
    /// Its ordinal: its place in its executable's export table, which is how a
    /// [`WorkgroupRunner`](crate::WorkgroupRunner) is told which kernel it runs.
    pub ordinal: u32,
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
    /// How many executable-level constants it takes (the count it was verified with).
    pub constant_count: u32,
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
        let parameters = if table.params.is_null() {
            None
        } else {
            // SAFETY: `params` has `count` entries per the ABI.
            let entries = unsafe { *table.params.add(ordinal) };
            if entries.is_null() {
                None
            } else {
                // SAFETY: a non-null entry points to the export's `parameter_count` parameter
                // descriptors, per the ABI.
                Some(unsafe {
                    std::slice::from_raw_parts(entries, usize::from(attrs.parameter_count))
                })
            }
        };
        let info = export_info(&name, export_name, &attrs, parameters)?;
        exports.push(ExportEntry {
            ordinal: ordinal as u32,
            views: BindingViews::of(function),
            function,
            attrs,
            info,
        });
    }
    Ok(VerifiedLibrary {
        name,
        constant_count: library.constants.count,
        exports,
        imports: import_names,
    })
}

/// Builds the reflection data of export `name` of `library` from its dispatch attributes and
/// its parameter descriptors (`None` when the library has none for it), as every loader reads
/// them; the counts must already be within the ABI limits.
///
/// - Export flags: [`ExportFlags`]; bits IREE does not define are `INVALID_ARGUMENT`.
/// - Parameters: a declared `parameter_count` needs descriptors (`INVALID_ARGUMENT`
///   otherwise). Constant parameters must lie within the push constants, binding parameters
///   name a binding (at most once) with IREE's binding flags, whose bits become that binding's
///   [`BindingFlags`]; a bit outside them is `INVALID_ARGUMENT`. Buffer-pointer parameters
///   (device addresses written into the constants) are `UNIMPLEMENTED`; an unknown kind is
///   `INVALID_ARGUMENT`. Every error names the library, the export and the bad value.
/// - Bindings no parameter describes have no flags.
pub fn export_info(
    library: &str,
    name: String,
    attrs: &DispatchAttrs,
    parameters: Option<&[DispatchParameter]>,
) -> Result<ExportInfo> {
    let bad = |what: String| {
        Status::invalid_argument(format!("library '{library}' export '{name}' {what}"))
    };
    let flags = ExportFlags::from_bits(attrs.flags).ok_or_else(|| {
        bad(format!(
            "declares export flags {:#x}, of which {:#x} are not IREE's",
            attrs.flags,
            attrs.flags & !ExportFlags::all().bits()
        ))
    })?;
    let binding_count = usize::from(attrs.binding_count);
    let mut binding_flags = vec![BindingFlags::empty(); binding_count];
    let parameters = match parameters {
        Some(parameters) => parameters,
        None if attrs.parameter_count == 0 => &[],
        None => {
            return Err(bad(format!(
                "declares {} dispatch parameters but has no parameter table",
                attrs.parameter_count
            )))
        }
    };
    let mut described = 0u64;
    for (index, parameter) in parameters.iter().enumerate() {
        match parameter.kind {
            DISPATCH_PARAMETER_CONSTANT => {
                let end = u32::from(parameter.offset) + u32::from(parameter.size);
                if parameter.size == 0 || end > 4 * u32::from(attrs.constant_count) {
                    return Err(bad(format!(
                        "parameter {index} covers push-constant bytes [{}, {end}), outside the {} bytes of its {} constants",
                        parameter.offset,
                        4 * u32::from(attrs.constant_count),
                        attrs.constant_count
                    )));
                }
            }
            DISPATCH_PARAMETER_BINDING => {
                let binding = usize::from(parameter.offset);
                if binding >= binding_count {
                    return Err(bad(format!(
                        "parameter {index} describes binding {binding}, but the export has {binding_count} bindings"
                    )));
                }
                if described & (1 << binding) != 0 {
                    return Err(bad(format!(
                        "parameter {index} describes binding {binding} a second time"
                    )));
                }
                described |= 1 << binding;
                binding_flags[binding] = BindingFlags::from_bits(u32::from(parameter.flags))
                    .ok_or_else(|| {
                        bad(format!(
                            "parameter {index} gives binding {binding} flags {:#x}, of which {:#x} are not IREE's binding flags",
                            parameter.flags,
                            u32::from(parameter.flags) & !BindingFlags::all().bits()
                        ))
                    })?;
            }
            DISPATCH_PARAMETER_BUFFER_PTR => {
                return Err(Status::unimplemented(format!(
                    "library '{library}' export '{name}' parameter {index} is a buffer pointer; only push-constant and binding parameters are supported"
                )))
            }
            kind => return Err(bad(format!("parameter {index} has unknown type {kind}"))),
        }
    }
    let size = |v: u32| v.max(1);
    Ok(ExportInfo {
        flags,
        constant_count: attrs.constant_count.into(),
        binding_count: attrs.binding_count.into(),
        binding_flags,
        parameter_count: attrs.parameter_count.into(),
        workgroup_size: [
            size(attrs.workgroup_size_x),
            size(attrs.workgroup_size_y),
            size(attrs.workgroup_size_z.into()),
        ],
        local_memory_size: u32::from(attrs.local_memory_pages) * WORKGROUP_LOCAL_MEMORY_PAGE_SIZE,
        name,
    })
}

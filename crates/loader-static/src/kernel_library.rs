//! The `kernel_library!` macro: a Rust kernel library with IREE's ABI tables.

/// Defines a kernel library: a query function returning ABI tables for the listed exports, and a
/// link-time registration so the `static` loader finds the library by name.
///
/// ```
/// use loader_static::{kernel_library, KernelResult, Workgroup};
///
/// fn negate(workgroup: &Workgroup<'_>) -> KernelResult {
///     let input = workgroup.read::<f32>(0)?;
///     let output = workgroup.tile::<f32>(1)?;
///     let start = workgroup.linear_id() as usize * 64;
///     for (out, x) in output.iter_mut().zip(&input[start..]) {
///         *out = -x;
///     }
///     Ok(())
/// }
///
/// kernel_library! {
///     /// The query function of an example library.
///     pub fn example_library_query;
///     library = "example";
///     executable_constants = 0;
///     export "negate" => negate { constants: 0, bindings: [Read, Write(Tile::Bytes(256))] }
/// }
/// # fn main() {}
/// ```
///
/// Each export lists its push-constant count, how it uses each binding ([`crate::Access`]:
/// `Read`, `Write(tile)`, `ReadWrite(tile)` with a [`crate::Tile`]), optionally
/// `local_memory_pages: N` (4 KiB pages) and then optionally `flags: F` (its
/// [`crate::ExportFlags`], for example `ExportFlags::SEQUENTIAL`). The kernel is a
/// `fn(&Workgroup<'_>) -> KernelResult`.
///
/// The library describes every export's parameters (each push constant, each binding), so the
/// runtime reflects `Read` bindings as [`hal_core::BindingFlags::READ_ONLY`].
#[macro_export]
macro_rules! kernel_library {
    (
        $(#[$meta:meta])*
        $vis:vis fn $query:ident;
        library = $library:literal;
        executable_constants = $executable_constants:expr;
        $(
            export $export:literal => $kernel:path {
                constants: $constants:expr,
                bindings: [$($access:expr),* $(,)?]
                $(, local_memory_pages: $pages:expr)?
                $(, flags: $flags:expr)?
                $(,)?
            }
        )*
    ) => {
        $(#[$meta])*
        ///
        /// # Safety
        /// Callable with any arguments: it reads neither pointer and returns null for any
        /// version but 6. The returned tables live for the rest of the program.
        $vis unsafe extern "C" fn $query(
            max_version: u32,
            _environment: *const $crate::abi::EnvironmentV0,
        ) -> *const *const $crate::abi::LibraryHeader {
            static TABLES: ::std::sync::OnceLock<$crate::LibraryTables> = ::std::sync::OnceLock::new();
            if max_version != $crate::abi::LIBRARY_VERSION {
                return ::std::ptr::null();
            }
            TABLES
                .get_or_init(|| {
                    $crate::LibraryTables::build($library, $executable_constants, &[
                        $({
                            #[allow(unused_imports)]
                            use $crate::{Access::*, ExportFlags, Tile};
                            const SIGNATURE: $crate::KernelSignature = $crate::KernelSignature {
                                name: $export,
                                constant_count: $constants,
                                executable_constant_count: $executable_constants,
                                bindings: &[$($access),*],
                                local_memory_pages: 0 $(+ $pages)?,
                            };
                            unsafe extern "C" fn entry(
                                environment: *const $crate::abi::EnvironmentV0,
                                dispatch: *const $crate::abi::DispatchStateV0,
                                workgroup: *const $crate::abi::WorkgroupStateV0,
                            ) -> ::std::ffi::c_int {
                                // SAFETY: the runtime calls entry points under the ABI contract,
                                // which is `invoke`'s.
                                unsafe { $crate::invoke(&SIGNATURE, $kernel, environment, dispatch, workgroup) }
                            }
                            // The kernel sees its bindings as references: tell the runtime, so
                            // unordered device work that would race with them is refused.
                            $crate::inventory::submit! {
                                $crate::ReferenceKernelRegistration {
                                    function: entry,
                                    writable: $crate::writable_bindings(SIGNATURE.bindings),
                                }
                            }
                            $crate::ExportDecl {
                                name: $export,
                                function: entry,
                                flags: $crate::ExportFlags::empty() $(.union($flags))?,
                                constant_count: SIGNATURE.constant_count,
                                binding_count: SIGNATURE.bindings.len() as u8,
                                read_only_bindings: $crate::read_only_bindings(SIGNATURE.bindings),
                                local_memory_pages: SIGNATURE.local_memory_pages,
                                workgroup_size: [1, 1, 1],
                            }
                        }),*
                    ])
                })
                .query_result()
        }

        $crate::inventory::submit! {
            $crate::StaticLibraryRegistration { query: $query }
        }
    };
}

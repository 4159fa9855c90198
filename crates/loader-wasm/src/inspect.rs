//! What the loader checks in a module before wasmtime sees it: where its memory comes from and
//! where its active data segments land.
//!
//! - Memory: the only memory is the imported `env.memory`, 32-bit and unshared, which becomes the
//!   instance's private address space. A memory the module defined itself (or a second one) would
//!   be another 4 GiB space from the engine's memory creator with nothing accessible in it.
//! - Active data segments are copied into memory by wasmtime's host code while the module is
//!   instantiated, checked only against the memory's size (4 GiB); a segment aimed at a page that
//!   is not accessible would fault in host code and kill the process. So each segment's offset
//!   expression is evaluated here, with the values the instance's imports will have, and the
//!   segment must lie inside the module's data block. Offsets may use `i32.const`,
//!   `global.get` of `env.__memory_base` or `env.__table_base`, and the extended-const
//!   `i32.add`, `i32.sub`, `i32.mul`, which is what position-independent side modules use.
//!
//! Element segments need no such check: tables live in host memory that wasmtime bounds-checks.

use std::ops::Range;

use hal_core::{Result, Status, StatusCode};
use wasmparser::{DataKind, Operator, Parser, Payload, TypeRef};

/// One step of a data segment's offset expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Const(i32),
    /// An imported global, by global index.
    Global(u32),
    Add,
    Sub,
    Mul,
}

/// An active data segment.
#[derive(Debug)]
struct Segment {
    index: u32,
    len: u64,
    offset: Vec<Step>,
}

/// A module's memory imports checked, and its active data segments to check per instance.
#[derive(Debug, Default)]
pub(crate) struct Inspection {
    /// Imported globals in index order, as `module.name`.
    globals: Vec<String>,
    segments: Vec<Segment>,
}

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

fn parse_error(error: impl std::fmt::Display) -> Status {
    invalid(format!("the WebAssembly module is malformed: {error}"))
}

/// Checks the module's memories and reads its active data segments.
pub(crate) fn inspect(data: &[u8]) -> Result<Inspection> {
    let mut inspection = Inspection::default();
    for payload in Parser::new(0).parse_all(data) {
        match payload.map_err(parse_error)? {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(parse_error)?;
                    match import.ty {
                        TypeRef::Memory(memory) => {
                            if (import.module, import.name) != ("env", "memory") {
                                return Err(Status::new(
                                    StatusCode::Unimplemented,
                                    format!(
                                        "the module imports memory '{}.{}'; only env.memory is provided",
                                        import.module, import.name
                                    ),
                                ));
                            }
                            if memory.memory64 || memory.shared {
                                return Err(invalid(format!(
                                    "the module imports env.memory as a {}{} memory; it is a 32-bit unshared memory",
                                    if memory.memory64 { "64-bit" } else { "32-bit" },
                                    if memory.shared { " shared" } else { "" },
                                )));
                            }
                        }
                        TypeRef::Global(_) => inspection
                            .globals
                            .push(format!("{}.{}", import.module, import.name)),
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(section) if section.count() > 0 => {
                return Err(invalid(format!(
                    "the module defines {} memor{} of its own; only the imported env.memory is supported",
                    section.count(),
                    if section.count() == 1 { "y" } else { "ies" }
                )));
            }
            Payload::DataSection(section) => {
                for (index, segment) in section.into_iter().enumerate() {
                    let segment = segment.map_err(parse_error)?;
                    if let DataKind::Active {
                        memory_index,
                        offset_expr,
                    } = segment.kind
                    {
                        if memory_index != 0 {
                            return Err(invalid(format!(
                                "data segment {index} initialises memory {memory_index}; the module has one memory"
                            )));
                        }
                        let offset = steps(index, offset_expr)?;
                        inspection.segments.push(Segment {
                            index: index as u32,
                            len: segment.data.len() as u64,
                            offset,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(inspection)
}

fn steps(index: usize, expr: wasmparser::ConstExpr<'_>) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let step = match reader.read().map_err(parse_error)? {
            Operator::I32Const { value } => Step::Const(value),
            Operator::GlobalGet { global_index } => Step::Global(global_index),
            Operator::I32Add => Step::Add,
            Operator::I32Sub => Step::Sub,
            Operator::I32Mul => Step::Mul,
            Operator::End => continue,
            other => {
                return Err(Status::new(
                    StatusCode::Unimplemented,
                    format!(
                    "data segment {index}'s offset uses {other:?}, which the loader cannot check"
                ),
                ))
            }
        };
        steps.push(step);
    }
    Ok(steps)
}

impl Inspection {
    /// Checks that every active data segment lies inside `data` (wasm addresses), with
    /// `global(name)` the value the instance's imported global `name` (`module.name`) has.
    pub(crate) fn check_data_segments(
        &self,
        global: impl Fn(&str) -> Option<u32>,
        data: Range<u64>,
    ) -> Result<()> {
        for segment in &self.segments {
            let index = segment.index;
            let bad = |what: String| invalid(format!("data segment {index}: {what}"));
            let mut stack: Vec<u32> = Vec::new();
            for &step in &segment.offset {
                let value = match step {
                    Step::Const(value) => value as u32,
                    Step::Global(g) => {
                        let name = self.globals.get(g as usize).ok_or_else(|| {
                            bad(format!(
                                "its offset reads global {g}, which is not an imported global"
                            ))
                        })?;
                        global(name).ok_or_else(|| {
                            bad(format!(
                                "its offset reads {name}, which is not __memory_base or __table_base"
                            ))
                        })?
                    }
                    Step::Add | Step::Sub | Step::Mul => {
                        let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                            return Err(bad("its offset expression is malformed".into()));
                        };
                        // Wasm's i32 arithmetic wraps.
                        match step {
                            Step::Add => a.wrapping_add(b),
                            Step::Sub => a.wrapping_sub(b),
                            _ => a.wrapping_mul(b),
                        }
                    }
                };
                stack.push(value);
            }
            let [offset] = stack[..] else {
                return Err(bad("its offset expression is malformed".into()));
            };
            let start = u64::from(offset);
            let end = start + segment.len;
            if segment.len > 0 && (start < data.start || end > data.end) {
                return Err(bad(format!(
                    "its {} bytes at wasm address {start:#x} lie outside the module's data block [{:#x}, {:#x})",
                    segment.len, data.start, data.end
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect_wat(text: &str) -> Result<Inspection> {
        inspect(&wat::parse_str(text).unwrap())
    }

    const BASE: &str = r#"(import "env" "memory" (memory 1))
        (import "env" "__memory_base" (global $mb i32))"#;

    fn globals(name: &str) -> Option<u32> {
        (name == "env.__memory_base").then_some(0x10000)
    }

    #[test]
    fn segments_are_evaluated_and_checked_against_the_data_block() {
        let block = 0x10000..0x11000;
        let ok = inspect_wat(&format!(
            r#"(module {BASE} (data (global.get $mb) "abcd")
                 (data (i32.add (global.get $mb) (i32.const 0xffc)) "wxyz")
                 (data (i32.const 0x10010) "") (data "passive"))"#
        ))
        .unwrap();
        ok.check_data_segments(globals, block.clone()).unwrap();

        let cases = [
            // One byte past the block.
            r#"(data (i32.add (global.get $mb) (i32.const 0xffd)) "wxyz")"#,
            // Before it.
            r#"(data (i32.sub (global.get $mb) (i32.const 4)) "wxyz")"#,
            // Far away, and wrapping around 4 GiB.
            r#"(data (i32.const 0x7fff0000) "x")"#,
            r#"(data (i32.mul (global.get $mb) (i32.const 0x10000)) "x")"#,
        ];
        for case in cases {
            let inspection = inspect_wat(&format!("(module {BASE} (data \"ok\") {case})")).unwrap();
            let error = inspection
                .check_data_segments(globals, block.clone())
                .unwrap_err();
            assert_eq!(error.code(), StatusCode::InvalidArgument, "{case}: {error}");
            assert!(
                error.to_string().contains("data segment 1")
                    && error.to_string().contains("outside"),
                "{case}: {error}"
            );
        }
    }

    #[test]
    fn memories_other_than_the_imported_one_are_refused() {
        let cases = [
            (
                r#"(module (memory 1))"#,
                StatusCode::InvalidArgument,
                "defines 1 memory",
            ),
            (
                r#"(module (import "env" "memory" (memory 1)) (memory 1))"#,
                StatusCode::InvalidArgument,
                "defines 1 memory",
            ),
            (
                r#"(module (import "env" "heap" (memory 1)))"#,
                StatusCode::Unimplemented,
                "env.heap",
            ),
            (
                r#"(module (import "env" "memory" (memory i64 1)))"#,
                StatusCode::InvalidArgument,
                "64-bit",
            ),
            (
                r#"(module (import "env" "memory" (memory 1 1 shared)))"#,
                StatusCode::InvalidArgument,
                "shared",
            ),
        ];
        for (text, code, needle) in cases {
            let error = inspect_wat(text).unwrap_err();
            assert_eq!(error.code(), code, "{text}: {error}");
            assert!(error.to_string().contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn offsets_from_other_globals_are_refused() {
        let inspection = inspect_wat(
            r#"(module (import "env" "memory" (memory 1)) (import "env" "g" (global i32))
                 (data (global.get 0) "x"))"#,
        )
        .unwrap();
        let error = inspection
            .check_data_segments(globals, 0..u64::MAX)
            .unwrap_err();
        assert!(error.to_string().contains("env.g"), "{error}");
    }
}

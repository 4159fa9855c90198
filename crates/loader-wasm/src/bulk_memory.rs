//! Bulk-memory instructions made safe for the sandbox's memory: every `memory.copy`,
//! `memory.fill` and `memory.init` of a module is rewritten, before wasmtime compiles it, into a
//! call of an injected helper that first *probes* the pages it will touch and then performs the
//! instruction.
//!
//! Why: an instance's memory is a 4 GiB space in which only its own blocks and the windows of the
//! run's bindings are accessible, and the compiled code has no bounds checks; a plain load or
//! store of an inaccessible page faults in JIT code, which wasmtime turns into a trap. Bulk
//! instructions are different: wasmtime checks them only against the memory's size (4 GiB) and
//! then copies in host code (a libcall, or an inline copy marked as not trapping), and a fault
//! there is not a wasm trap: it kills the process. So the helper first loads one byte of every
//! host page of the destination (and source) range with plain wasm loads, which trap correctly on
//! any inaccessible page. Every accessible page of a space is read-write, and a space's layout
//! changes only between runs on the thread that runs it, never during a call, so once the probes
//! pass the bulk operation cannot fault.
//!
//! The helpers are appended after the module's own functions and their types after its types, so
//! no existing index changes. Modules without bulk instructions (IREE's kernels as built today)
//! are compiled as they are. The probes cost one load per 4 KiB page, next to an operation that
//! moves the whole page.
//!
//! Multi-memory and 64-bit memories are refused before this runs (see [`crate::inspect`]), so
//! every bulk instruction here works on memory 0 with 32-bit operands.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hal_core::{Result, Status};
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{BlockType, Function, Instruction, MemArg, ValType};
use wasmparser::{Operator, Parser, Payload};

use crate::memory_pool::PAGE;

/// What the rewrite needs to know about a module.
#[derive(Default)]
struct Scan {
    types: u32,
    imported_functions: u32,
    defined_functions: u32,
    copies: bool,
    fills: bool,
    /// Data segments that `memory.init` reads.
    inits: Vec<u32>,
}

fn parse_error(error: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("the WebAssembly module is malformed: {error}"))
}

fn scan(data: &[u8]) -> Result<Scan> {
    let mut scan = Scan::default();
    for payload in Parser::new(0).parse_all(data) {
        match payload.map_err(parse_error)? {
            Payload::TypeSection(section) => {
                for group in section {
                    let group = group.map_err(parse_error)?;
                    scan.types += group.types().len() as u32;
                }
            }
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(parse_error)?;
                    if matches!(
                        import.ty,
                        wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_)
                    ) {
                        scan.imported_functions += 1;
                    }
                }
            }
            Payload::FunctionSection(section) => scan.defined_functions = section.count(),
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_operators_reader().map_err(parse_error)?;
                while !reader.eof() {
                    match reader.read().map_err(parse_error)? {
                        Operator::MemoryCopy { .. } => scan.copies = true,
                        Operator::MemoryFill { .. } => scan.fills = true,
                        Operator::MemoryInit { data_index, .. }
                            if !scan.inits.contains(&data_index) =>
                        {
                            scan.inits.push(data_index)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(scan)
}

/// The module with every bulk-memory instruction replaced by a call of its probing helper, or
/// the module itself if it has none.
pub(crate) fn guard(data: &[u8]) -> Result<Cow<'_, [u8]>> {
    let scan = scan(data)?;
    if !scan.copies && !scan.fills && scan.inits.is_empty() {
        return Ok(Cow::Borrowed(data));
    }
    let mut guard = Guard::new(&scan)?;
    let mut module = wasm_encoder::Module::new();
    guard
        .parse_core_module(&mut module, Parser::new(0), data)
        .map_err(|e| parse_error(format!("while guarding its bulk-memory instructions: {e}")))?;
    Ok(Cow::Owned(module.finish()))
}

/// The helpers to add and the rewriting of instructions into calls of them.
struct Guard {
    /// Type index of `(i32, i32) -> ()`, the probe's.
    probe_type: u32,
    /// Type index of `(i32, i32, i32) -> ()`, every bulk helper's.
    bulk_type: u32,
    /// Function index of the probe.
    probe: u32,
    copy: Option<u32>,
    fill: Option<u32>,
    /// Data segment → function index of its `memory.init` helper.
    inits: BTreeMap<u32, u32>,
}

impl Guard {
    fn new(scan: &Scan) -> Result<Guard> {
        let too_many = || Status::invalid_argument("the WebAssembly module has too many functions");
        let first = scan
            .imported_functions
            .checked_add(scan.defined_functions)
            .ok_or_else(too_many)?;
        let mut next = first;
        let mut take = || {
            let index = next;
            next = next.checked_add(1).ok_or_else(too_many)?;
            Ok::<u32, Status>(index)
        };
        let probe = take()?;
        let copy = if scan.copies { Some(take()?) } else { None };
        let fill = if scan.fills { Some(take()?) } else { None };
        let mut inits = BTreeMap::new();
        for &segment in &scan.inits {
            inits.insert(segment, take()?);
        }
        Ok(Guard {
            probe_type: scan.types,
            bulk_type: scan.types + 1,
            probe,
            copy,
            fill,
            inits,
        })
    }

    /// The helpers in function index order, with their types.
    fn helpers(&self) -> Vec<(u32, Function)> {
        let mut helpers = vec![(self.probe_type, probe())];
        if self.copy.is_some() {
            helpers.push((
                self.bulk_type,
                bulk(
                    self.probe,
                    true,
                    Instruction::MemoryCopy {
                        src_mem: 0,
                        dst_mem: 0,
                    },
                ),
            ));
        }
        if self.fill.is_some() {
            helpers.push((
                self.bulk_type,
                bulk(self.probe, false, Instruction::MemoryFill(0)),
            ));
        }
        for &segment in self.inits.keys() {
            helpers.push((
                self.bulk_type,
                bulk(
                    self.probe,
                    false,
                    Instruction::MemoryInit {
                        mem: 0,
                        data_index: segment,
                    },
                ),
            ));
        }
        helpers
    }
}

/// `probe(address, length)`: loads one byte of every host page of `[address, address + length)`,
/// so an inaccessible page traps here, in JIT code. Does nothing for an empty range or one that
/// passes 4 GiB (the bulk instruction's own bounds check traps for that).
fn probe() -> Function {
    const ADDRESS: u32 = 0;
    const LENGTH: u32 = 1;
    const AT: u32 = 2;
    const END: u32 = 3;
    let mut f = Function::new([(2, ValType::I64)]);
    let mut sink = f.instructions();
    sink.local_get(ADDRESS)
        .i64_extend_i32_u()
        .local_tee(AT)
        .local_get(LENGTH)
        .i64_extend_i32_u()
        .i64_add()
        .local_set(END)
        .local_get(LENGTH)
        .i32_eqz()
        .local_get(END)
        .i64_const(1 << 32)
        .i64_gt_u()
        .i32_or()
        .if_(BlockType::Empty)
        .return_()
        .end()
        .loop_(BlockType::Empty)
        .local_get(AT)
        .i32_wrap_i64()
        .i32_load8_u(MemArg {
            offset: 0,
            align: 0,
            memory_index: 0,
        })
        .drop()
        // The first byte of the next page.
        .local_get(AT)
        .i64_const(PAGE as i64 - 1)
        .i64_or()
        .i64_const(1)
        .i64_add()
        .local_tee(AT)
        .local_get(END)
        .i64_lt_u()
        .br_if(0)
        .end()
        .end();
    f
}

/// A helper taking the instruction's three operands `(destination, second, length)`: probes the
/// destination range (and the source range, for a copy), then runs `instruction`.
fn bulk(probe: u32, probe_source: bool, instruction: Instruction<'static>) -> Function {
    let mut f = Function::new([]);
    let mut sink = f.instructions();
    sink.local_get(0).local_get(2).call(probe);
    if probe_source {
        sink.local_get(1).local_get(2).call(probe);
    }
    sink.local_get(0).local_get(1).local_get(2);
    f.instruction(&instruction);
    f.instructions().end();
    f
}

impl Reencode for Guard {
    type Error = std::convert::Infallible;

    fn instruction<'a>(
        &mut self,
        operator: Operator<'a>,
    ) -> std::result::Result<Instruction<'a>, reencode::Error<Self::Error>> {
        let helper = match &operator {
            Operator::MemoryCopy { .. } => self.copy,
            Operator::MemoryFill { .. } => self.fill,
            Operator::MemoryInit { data_index, .. } => self.inits.get(data_index).copied(),
            _ => None,
        };
        match helper {
            Some(helper) => Ok(Instruction::Call(helper)),
            None => reencode::utils::instruction(self, operator),
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> std::result::Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_type_section(self, types, section)?;
        types.ty().function([ValType::I32, ValType::I32], []);
        types
            .ty()
            .function([ValType::I32, ValType::I32, ValType::I32], []);
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> std::result::Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        for (ty, _) in self.helpers() {
            functions.function(ty);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> std::result::Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_code_section(self, code, section)?;
        for (_, function) in self.helpers() {
            code.function(&function);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operators(wasm: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut reader = body.get_operators_reader().unwrap();
                while !reader.eof() {
                    let name = format!("{:?}", reader.read().unwrap());
                    names.push(name.split([' ', '{']).next().unwrap().to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn modules_without_bulk_instructions_are_left_alone() {
        let wasm = wat::parse_str(r#"(module (memory 1) (func (drop (i32.load (i32.const 0)))))"#)
            .unwrap();
        assert!(matches!(guard(&wasm).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn bulk_instructions_become_calls_of_probing_helpers() {
        let wasm = wat::parse_str(
            r#"(module (import "env" "f" (func)) (memory 1) (data $d "xy")
                 (func (memory.copy (i32.const 0) (i32.const 8) (i32.const 16))
                       (memory.fill (i32.const 0) (i32.const 1) (i32.const 2))
                       (memory.init $d (i32.const 0) (i32.const 0) (i32.const 2))))"#,
        )
        .unwrap();
        let guarded = guard(&wasm).unwrap().into_owned();
        wasmparser::Validator::new().validate_all(&guarded).unwrap();
        let ops = operators(&guarded);
        // The original function calls the helpers 2, 3 and 4 (after import 0 and itself).
        let original: Vec<_> = ops.iter().take_while(|o| *o != "End").collect();
        assert!(
            !original.iter().any(|o| o.starts_with("Memory")),
            "{original:?}"
        );
        assert_eq!(original.iter().filter(|o| o.as_str() == "Call").count(), 3);
        // Each bulk instruction now appears once, in its helper.
        for op in ["MemoryCopy", "MemoryFill", "MemoryInit"] {
            assert_eq!(ops.iter().filter(|o| o.as_str() == op).count(), 1, "{op}");
        }
    }
}

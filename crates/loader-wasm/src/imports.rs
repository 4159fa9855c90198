//! What a module may import, resolved once when it is loaded.
//!
//! Every import must be one of these, all from module `env`, with the kind and type given;
//! anything else refuses the module at load with a status naming the import and its type (a known
//! name of the wrong type is `INCOMPATIBLE`, naming both types; an unknown one `UNIMPLEMENTED`):
//!
//! | import | type | what each instance gets |
//! |---|---|---|
//! | `env.memory` | `(memory)` (checked further by `crate::inspect`) | its private address space |
//! | `env.__indirect_function_table` | `(table funcref)` | its own table, `__table_base` slots and up |
//! | `env.__memory_base`, `env.__table_base` | `(global i32)` | where its data and table slots are |
//! | `env.__stack_pointer` | `(global (mut i32))` | the top of its own shadow stack |
//! | the math functions of [`crate::math`] | each its C signature | a pure host function |
//!
//! The host functions are defined once per engine in a [`Linker`] and only looked up per
//! instance, so an instance (one per thread and executable) costs a lookup per import, and a
//! dispatch nothing.

use std::sync::OnceLock;

use hal_core::{Result, Status, StatusCode};
use wasmtime::{ExternType, Linker, Module, Mutability, StoreLimits, ValType};

use crate::engine::engine;
use crate::math::{self, MathFunction, Ty};

/// What one import of a module resolves to, in the module's import order.
#[derive(Clone, Copy)]
pub(crate) enum Import {
    Memory,
    Table,
    MemoryBase,
    TableBase,
    StackPointer,
    Math(&'static MathFunction),
}

/// A function type as WebAssembly text: `(func (param f32 f32) (result f32))`.
fn func_text(params: &[String], results: &[String]) -> String {
    let mut text = String::from("(func");
    if !params.is_empty() {
        text += &format!(" (param {})", params.join(" "));
    }
    if !results.is_empty() {
        text += &format!(" (result {})", results.join(" "));
    }
    text + ")"
}

/// An import's type as WebAssembly text.
fn extern_text(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => {
            let params: Vec<String> = f.params().map(|t| t.to_string()).collect();
            let results: Vec<String> = f.results().map(|t| t.to_string()).collect();
            func_text(&params, &results)
        }
        ExternType::Global(g) => match g.mutability() {
            Mutability::Const => format!("(global {})", g.content()),
            Mutability::Var => format!("(global (mut {}))", g.content()),
        },
        ExternType::Table(t) => format!("(table {})", t.element()),
        ExternType::Memory(m) => format!(
            "(memory{}{})",
            if m.is_64() { " i64" } else { "" },
            if m.is_shared() { " shared" } else { "" }
        ),
        ExternType::Tag(_) => "(tag)".to_owned(),
    }
}

/// A math function's type as WebAssembly text.
fn math_text(function: &MathFunction) -> String {
    let (params, result) = function.implementation.signature();
    let params: Vec<String> = params.iter().map(Ty::to_string).collect();
    func_text(&params, &[result.to_string()])
}

fn is_global(ty: &ExternType, mutability: Mutability) -> bool {
    matches!(ty, ExternType::Global(g)
        if matches!(g.content(), ValType::I32) && g.mutability() == mutability)
}

fn is_function(ty: &ExternType, function: &MathFunction) -> bool {
    let ExternType::Func(f) = ty else {
        return false;
    };
    let (params, result) = function.implementation.signature();
    f.params().len() == params.len()
        && f.params().zip(params).all(|(t, p)| p.is(&t))
        && f.results().len() == 1
        && f.results().all(|t| result.is(&t))
}

/// Resolves every import of `module`, or refuses it naming the first import that this loader
/// does not provide as imported.
pub(crate) fn resolve(module: &Module) -> Result<Vec<Import>> {
    let mut imports = Vec::new();
    let mut memory = false;
    for import in module.imports() {
        let (module_name, name, ty) = (import.module(), import.name(), import.ty());
        let expected = |import: Import, expected: String, matches: bool| {
            if matches {
                Ok(import)
            } else {
                Err(Status::new(
                    StatusCode::Incompatible,
                    format!(
                        "the module imports env.{name} as {}; this loader provides env.{name} as {expected}",
                        extern_text(&ty)
                    ),
                ))
            }
        };
        let resolved = match (module_name, name) {
            ("env", "memory") => {
                memory = true;
                expected(
                    Import::Memory,
                    "(memory)".into(),
                    matches!(ty, ExternType::Memory(_)),
                )?
            }
            ("env", "__indirect_function_table") => expected(
                Import::Table,
                "(table funcref)".into(),
                matches!(ty, ExternType::Table(_)),
            )?,
            ("env", "__memory_base") => expected(
                Import::MemoryBase,
                "(global i32)".into(),
                is_global(&ty, Mutability::Const),
            )?,
            ("env", "__table_base") => expected(
                Import::TableBase,
                "(global i32)".into(),
                is_global(&ty, Mutability::Const),
            )?,
            ("env", "__stack_pointer") => expected(
                Import::StackPointer,
                "(global (mut i32))".into(),
                is_global(&ty, Mutability::Var),
            )?,
            ("env", _) if math::lookup(name).is_some() => {
                let function = math::lookup(name).expect("looked up above");
                expected(
                    Import::Math(function),
                    math_text(function),
                    is_function(&ty, function),
                )?
            }
            _ => {
                return Err(Status::new(
                    StatusCode::Unimplemented,
                    format!(
                        "the module imports '{module_name}.{name}' as {}, which this loader does not provide (it provides env.memory, env.__indirect_function_table, env.__memory_base, env.__table_base, env.__stack_pointer and the C math functions listed in loader-wasm's documentation)",
                        extern_text(&ty)
                    ),
                ))
            }
        };
        imports.push(resolved);
    }
    if !memory {
        return Err(Status::invalid_argument(
            "the module does not import env.memory: its kernels could not see their bindings",
        ));
    }
    Ok(imports)
}

/// The math functions as host functions of `engine(checked)`, made once.
pub(crate) fn math_linker(checked: bool) -> &'static Linker<StoreLimits> {
    static LINKERS: [OnceLock<Linker<StoreLimits>>; 2] = [OnceLock::new(), OnceLock::new()];
    LINKERS[usize::from(checked)].get_or_init(|| {
        let mut linker = Linker::new(engine(checked));
        for function in math::FUNCTIONS {
            function
                .implementation
                .define(&mut linker, function.name)
                .expect("each math function is defined once");
        }
        linker
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_wat(text: &str) -> Result<Vec<Import>> {
        let module = Module::new(engine(true), wat::parse_str(text).unwrap()).unwrap();
        resolve(&module)
    }

    #[test]
    fn every_math_function_matches_its_own_signature() {
        for function in math::FUNCTIONS {
            let (params, result) = function.implementation.signature();
            let params: Vec<String> = params.iter().map(Ty::to_string).collect();
            let text = format!(
                r#"(module (import "env" "memory" (memory 1))
                     (import "env" "{}" (func (param {}) (result {result}))))"#,
                function.name,
                params.join(" ")
            );
            let imports = resolve_wat(&text).unwrap();
            assert!(
                matches!(imports[1], Import::Math(f) if std::ptr::eq(f, function)),
                "{}",
                function.name
            );
        }
        // And the linker defines each with that type.
        let linker = math_linker(true);
        let mut store = crate::limits::limited_store(engine(true));
        for function in math::FUNCTIONS {
            let func = linker
                .get(&mut store, "env", function.name)
                .unwrap()
                .into_func()
                .unwrap();
            let ty = ExternType::Func(func.ty(&store));
            assert_eq!(extern_text(&ty), math_text(function), "{}", function.name);
        }
    }

    #[test]
    fn wrong_types_and_unknown_imports_are_refused() {
        let error = resolve_wat(
            r#"(module (import "env" "memory" (memory 1))
                 (import "env" "fmaxf" (func (param f64 f64) (result f64))))"#,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(error.code(), StatusCode::Incompatible, "{error}");
        assert!(
            error.message().contains(
                "imports env.fmaxf as (func (param f64 f64) (result f64)); this loader provides env.fmaxf as (func (param f32 f32) (result f32))"
            ),
            "{error}"
        );
        let error = resolve_wat(
            r#"(module (import "env" "memory" (memory 1)) (import "env" "__stack_pointer" (global i32)))"#,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(error.code(), StatusCode::Incompatible, "{error}");
        assert!(error.message().contains("(global (mut i32))"), "{error}");
        let error = resolve_wat(
            r#"(module (import "env" "memory" (memory 1)) (import "GOT.func" "fmaxf" (global (mut i32))))"#,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(error.code(), StatusCode::Unimplemented, "{error}");
        assert!(
            error
                .message()
                .contains("'GOT.func.fmaxf' as (global (mut i32))"),
            "{error}"
        );
        let error =
            resolve_wat(r#"(module (import "env" "fmaxf" (func (param f32 f32) (result f32))))"#)
                .map(|_| ())
                .unwrap_err();
        assert!(
            error.message().contains("does not import env.memory"),
            "{error}"
        );
    }
}

//! The kernels programs dispatch: their exports, binding shapes and exact semantics.
//!
//! The cts kernels (`crates/cts-kernels`, `fixtures/mlir/cts_kernels.mlir`) agree bit for bit in
//! every format when each binding is a whole number of tiles and the dispatch has one workgroup
//! per tile: the IREE-compiled ones always process whole tiles, the Rust ones clip to the binding.
//! Their f32 arithmetic is one IEEE operation per step (no fused multiply-add: the fixtures are
//! built for baseline x86-64 and wasm32 without relaxed SIMD), and every driver runs kernels with
//! denormals flushed (MXCSR FTZ and DAZ, as IREE does), so the model computes under the same
//! flags ([`hal_local::DenormalsFlushed`]). Sign flips (`negate`, `abs`) are bit operations.

use crate::program::Kernel;

/// How a kernel uses a binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only.
    Read,
    /// Written (whole tiles).
    Write,
    /// Read and written in place.
    ReadWrite,
}

impl Access {
    /// Whether the binding is written.
    pub fn writes(self) -> bool {
        !matches!(self, Access::Read)
    }
}

/// Which executable holds a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Library {
    /// The cts `Kernels` library in the format under test.
    Cts,
    /// The static `model_faults` library of this crate.
    Faults,
    /// The WebAssembly `model_trap` module (`tests/wat/trap.wat`, assembled by the tests).
    Trap,
}

/// The static library of fault kernels, registered with the `static` loader.
pub const FAULTS_LIBRARY: &str = "model_faults";

/// Every kernel, for generators.
pub const ALL: [Kernel; 11] = [
    Kernel::Abs,
    Kernel::WriteConstants,
    Kernel::ScaleOffset,
    Kernel::Negate,
    Kernel::Double,
    Kernel::Tiny,
    Kernel::WorkgroupIds,
    Kernel::Visit,
    Kernel::Fail,
    Kernel::FailAt,
    Kernel::TrapAt,
];

/// The kernels whose semantics are exact and format-independent (and never fail on the data the
/// generator makes).
pub const EXACT: [Kernel; 8] = [
    Kernel::Abs,
    Kernel::WriteConstants,
    Kernel::ScaleOffset,
    Kernel::Negate,
    Kernel::Double,
    Kernel::Tiny,
    Kernel::WorkgroupIds,
    Kernel::Visit,
];

impl Kernel {
    /// The export name.
    pub fn export(self) -> &'static str {
        match self {
            Kernel::Abs => "abs",
            Kernel::WriteConstants => "write_constants",
            Kernel::ScaleOffset => "scale_offset",
            Kernel::Negate => "negate",
            Kernel::Double => "double",
            Kernel::Tiny => "tiny",
            Kernel::WorkgroupIds => "workgroup_ids",
            Kernel::Visit => "visit",
            Kernel::Fail => "fail",
            Kernel::FailAt => "fail_at",
            Kernel::TrapAt => "trap_at",
        }
    }

    /// The executable that holds it.
    pub fn library(self) -> Library {
        match self {
            Kernel::FailAt => Library::Faults,
            Kernel::TrapAt => Library::Trap,
            _ => Library::Cts,
        }
    }

    /// Push constants it takes.
    pub fn constant_count(self) -> usize {
        match self {
            Kernel::WriteConstants => 4,
            Kernel::ScaleOffset => 2,
            Kernel::FailAt | Kernel::TrapAt => 1,
            _ => 0,
        }
    }

    /// Its bindings.
    pub fn bindings(self) -> &'static [Access] {
        match self {
            Kernel::Abs | Kernel::Visit | Kernel::FailAt | Kernel::TrapAt => &[Access::ReadWrite],
            Kernel::WriteConstants | Kernel::WorkgroupIds => &[Access::Write],
            Kernel::ScaleOffset | Kernel::Negate | Kernel::Double | Kernel::Tiny => {
                &[Access::Read, Access::Write]
            }
            Kernel::Fail => &[],
        }
    }

    /// Bytes of each binding one workgroup covers: a binding of `n` workgroups is `n` times this.
    pub fn tile_bytes(self) -> u64 {
        match self {
            Kernel::Abs | Kernel::ScaleOffset | Kernel::Negate | Kernel::Double | Kernel::Tiny => {
                crate::program::TILE
            }
            Kernel::WriteConstants => 16,
            Kernel::WorkgroupIds | Kernel::Visit | Kernel::FailAt | Kernel::TrapAt => 4,
            Kernel::Fail => 0,
        }
    }
}

/// What a dispatch did, as the model computes it.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// It completed: the new contents of each written binding (by binding index), as words, `None`
    /// where an input word was unknown.
    Completed(Vec<(usize, Vec<Option<u32>>)>),
    /// It failed (a kernel failure or trap); what it wrote is unknown.
    Failed,
}

/// Runs `kernel` over `workgroups` workgroups on `inputs` (the words of each binding, `None`
/// where unknown), with denormals flushed as the runtime runs kernels. `static_format` says
/// whether the cts kernels are the Rust ones (where `fail` fails).
pub fn run(
    kernel: Kernel,
    constants: &[u32],
    workgroups: u64,
    static_format: bool,
    inputs: &[Vec<Option<u32>>],
) -> Effect {
    let map = |f: &dyn Fn(u32) -> u32, words: &[Option<u32>]| -> Vec<Option<u32>> {
        let _flushed = hal_local::DenormalsFlushed::new();
        words
            .iter()
            .map(|w| w.map(|w| std::hint::black_box(f(std::hint::black_box(w)))))
            .collect()
    };
    match kernel {
        Kernel::Abs => Effect::Completed(vec![(0, map(&|w| w & 0x7FFF_FFFF, &inputs[0]))]),
        Kernel::Negate => Effect::Completed(vec![(1, map(&|w| w ^ 0x8000_0000, &inputs[0]))]),
        Kernel::Double => Effect::Completed(vec![(1, map(&float_op(|x| 2.0 * x), &inputs[0]))]),
        Kernel::Tiny => {
            Effect::Completed(vec![(1, map(&float_op(|x| x * 1.0001 + 0.5), &inputs[0]))])
        }
        Kernel::ScaleOffset => {
            let (scale, offset) = (constants[0] as f32, constants[1] as f32);
            Effect::Completed(vec![(
                1,
                map(&float_op(move |x| x * scale + offset), &inputs[0]),
            )])
        }
        Kernel::WriteConstants => {
            let words = (0..workgroups as usize * 4)
                .map(|i| Some(constants[i % 4]))
                .collect();
            Effect::Completed(vec![(0, words)])
        }
        Kernel::WorkgroupIds => {
            Effect::Completed(vec![(0, (0..workgroups as u32).map(Some).collect())])
        }
        Kernel::Visit => Effect::Completed(vec![(
            0,
            inputs[0]
                .iter()
                .map(|w| w.map(|w| w.wrapping_add(1)))
                .collect(),
        )]),
        Kernel::FailAt | Kernel::TrapAt => {
            if u64::from(constants[0]) < workgroups {
                Effect::Failed
            } else {
                Effect::Completed(vec![(
                    0,
                    inputs[0]
                        .iter()
                        .map(|w| w.map(|w| w.wrapping_add(1)))
                        .collect(),
                )])
            }
        }
        Kernel::Fail => {
            if static_format && workgroups > 0 {
                Effect::Failed
            } else {
                Effect::Completed(Vec::new())
            }
        }
    }
}

/// A word function from an f32 function. Called with denormals flushed (see the module docs).
fn float_op(f: impl Fn(f32) -> f32) -> impl Fn(u32) -> u32 {
    move |w| f(f32::from_bits(w)).to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_semantics_flush_denormals() {
        // A subnormal input is read as zero (DAZ); a product below the normal range is flushed.
        let subnormal = 0x0000_0001;
        let Effect::Completed(out) = run(Kernel::Double, &[], 1, true, &[vec![Some(subnormal)]])
        else {
            panic!("double failed")
        };
        assert_eq!(out[0].1, [Some(0)]);
        let Effect::Completed(out) = run(
            Kernel::ScaleOffset,
            &[3, 1],
            1,
            true,
            &[vec![Some(2.0f32.to_bits()), None]],
        ) else {
            panic!("scale_offset failed")
        };
        assert_eq!(out[0].1, [Some(7.0f32.to_bits()), None]);
        let Effect::Completed(out) = run(Kernel::Negate, &[], 1, true, &[vec![Some(subnormal)]])
        else {
            panic!("negate failed")
        };
        assert_eq!(
            out[0].1,
            [Some(0x8000_0001)],
            "a sign flip keeps subnormals"
        );
    }

    #[test]
    fn fail_at_fails_only_inside_the_dispatch() {
        assert_eq!(
            run(Kernel::FailAt, &[2], 3, false, &[vec![Some(0); 3]]),
            Effect::Failed
        );
        assert_eq!(
            run(Kernel::FailAt, &[3], 3, false, &[vec![Some(0); 3]]),
            Effect::Completed(vec![(0, vec![Some(1); 3])])
        );
        assert_eq!(
            run(Kernel::Fail, &[], 1, false, &[]),
            Effect::Completed(vec![])
        );
        assert_eq!(run(Kernel::Fail, &[], 1, true, &[]), Effect::Failed);
    }
}

//! The C math functions a module may import from `env`, supplied as host functions.
//!
//! IREE's wasm32 executables are linked with `--allow-undefined`: a call the compiled code makes
//! to a function no object defines becomes a function import of `env`. IREE links no libc into a
//! wasm32 executable (its musl subset goes only into embedded ELFs), so every libm function the
//! code calls is such an import. These are the calls LLVM's WebAssembly backend emits for the
//! floating-point operations of IREE's LLVMCPU lowering (math and arith ops become LLVM
//! intrinsics; those wasm has no instruction for become calls, with the signatures of LLVM's
//! `WebAssemblyRuntimeLibcallSignatures.cpp`):
//!
//! - `llvm.maxnum`/`minnum` (`arith.maxnumf`/`minnumf`): `fmaxf fminf fmax fmin`;
//!   `frem` (`arith.remf`): `fmodf fmod`; `llvm.fma` (`math.fma`, which MLIR's polynomial
//!   approximations are built of): `fmaf fma`;
//! - the transcendental intrinsics MLIR's `math` ops lower to, for the element types IREE does
//!   not approximate by polynomials (f64 always; f32 `log10` and any op the approximation skips):
//!   `sin cos tan asin acos atan atan2 sinh cosh tanh exp exp2 log log2 log10 pow`, each as
//!   `…f` for f32 and plain for f64;
//! - `llvm.round` (`math.round`, half away from zero; wasm's `nearest` rounds ties to even):
//!   `roundf round`; `llvm.ldexp` (which LLVM's combines may form, as from `exp2` of an
//!   integer): `ldexpf ldexp`; `llvm.powi` (`math.fpowi`, where IREE's rewrite into
//!   multiplications does not apply): `__powisf2 __powidf2`;
//! - f16 conversions (wasm has no f16): `__extendhfsf2 __truncsfhf2 __truncdfhf2`, and the older
//!   names of the first two, `__gnu_h2f_ieee __gnu_f2h_ieee`; a half is the low 16 bits of an
//!   i32.
//!
//! Also supplied, though wasm has instructions for them and LLVM does not call them today: the
//! exact operations of libm that IREE's embedded musl subset names (`ceilf`, `floorf`) and their
//! kin: `floor ceil trunc rint nearbyint roundeven sqrt`, in f32 and f64 forms (`rint` and
//! `nearbyint` round ties to even, wasm's only rounding mode).
//!
//! Not supplied, so a module importing them is refused: `erf cbrt expm1 log1p exp10` (LLVM has no
//! intrinsic for them and MLIR lowers `expm1`/`log1p` through `exp`/`log`), and `frexp modf
//! sincos`, which return values through pointers into linear memory: every host function here is
//! pure, takes and returns numbers only, and never sees the instance's memory.
//!
//! Semantics are C's. Each is Rust's `f32`/`f64` method of the same meaning (which on Linux calls
//! the C library's libm, so results are libm's to the bit), except:
//! - `fmax`/`fmin`: a NaN argument yields the other argument (C99), and `-0 < +0` (as musl, and
//!   IEEE 754-2019 maximumNumber). Rust's `max`/`min` return either zero non-deterministically,
//!   so the choice is made here;
//! - `ldexp`: not in Rust's std; the `libm` crate's (musl's `scalbn`, exact), a crate that
//!   wasmtime already depends on;
//! - `__powi?f2`: compiler-rt's repeated squaring, which Rust's `powi` also calls;
//! - f16 conversions: exact, rounding to nearest even; a NaN keeps its sign and the top of its
//!   payload and comes out quiet (IEEE 754, and what x86's F16C instructions do).
//!
//! Host functions run with the calling thread's floating-point state: under the runner's
//! flush-to-zero, as the kernel calling them does.

use std::fmt;

/// A wasm value type of a math function's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    I32,
    F32,
    F64,
}

impl Ty {
    /// Whether `ty` is this type.
    pub(crate) fn is(self, ty: &wasmtime::ValType) -> bool {
        matches!(
            (self, ty),
            (Ty::I32, wasmtime::ValType::I32)
                | (Ty::F32, wasmtime::ValType::F32)
                | (Ty::F64, wasmtime::ValType::F64)
        )
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::I32 => "i32",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
        })
    }
}

/// A math function's implementation, by signature.
#[derive(Clone, Copy)]
pub(crate) enum Implementation {
    F32(fn(f32) -> f32),
    F32F32(fn(f32, f32) -> f32),
    F32F32F32(fn(f32, f32, f32) -> f32),
    F32I32(fn(f32, i32) -> f32),
    F64(fn(f64) -> f64),
    F64F64(fn(f64, f64) -> f64),
    F64F64F64(fn(f64, f64, f64) -> f64),
    F64I32(fn(f64, i32) -> f64),
    I32ToF32(fn(i32) -> f32),
    F32ToI32(fn(f32) -> i32),
    F64ToI32(fn(f64) -> i32),
}

impl Implementation {
    /// Parameter types and the result type.
    pub(crate) fn signature(self) -> (&'static [Ty], Ty) {
        use Implementation::*;
        match self {
            F32(_) => (&[Ty::F32], Ty::F32),
            F32F32(_) => (&[Ty::F32, Ty::F32], Ty::F32),
            F32F32F32(_) => (&[Ty::F32, Ty::F32, Ty::F32], Ty::F32),
            F32I32(_) => (&[Ty::F32, Ty::I32], Ty::F32),
            F64(_) => (&[Ty::F64], Ty::F64),
            F64F64(_) => (&[Ty::F64, Ty::F64], Ty::F64),
            F64F64F64(_) => (&[Ty::F64, Ty::F64, Ty::F64], Ty::F64),
            F64I32(_) => (&[Ty::F64, Ty::I32], Ty::F64),
            I32ToF32(_) => (&[Ty::I32], Ty::F32),
            F32ToI32(_) => (&[Ty::F32], Ty::I32),
            F64ToI32(_) => (&[Ty::F64], Ty::I32),
        }
    }

    /// Defines the function as `env.name` in `linker`.
    pub(crate) fn define<T: 'static>(
        self,
        linker: &mut wasmtime::Linker<T>,
        name: &str,
    ) -> wasmtime::Result<()> {
        use Implementation::*;
        match self {
            F32(f) => linker.func_wrap("env", name, f),
            F32F32(f) => linker.func_wrap("env", name, f),
            F32F32F32(f) => linker.func_wrap("env", name, f),
            F32I32(f) => linker.func_wrap("env", name, f),
            F64(f) => linker.func_wrap("env", name, f),
            F64F64(f) => linker.func_wrap("env", name, f),
            F64F64F64(f) => linker.func_wrap("env", name, f),
            F64I32(f) => linker.func_wrap("env", name, f),
            I32ToF32(f) => linker.func_wrap("env", name, f),
            F32ToI32(f) => linker.func_wrap("env", name, f),
            F64ToI32(f) => linker.func_wrap("env", name, f),
        }
        .map(|_| ())
    }
}

/// A function a module may import as `env.<name>`.
pub(crate) struct MathFunction {
    pub(crate) name: &'static str,
    pub(crate) implementation: Implementation,
}

macro_rules! functions {
    ($($name:literal => $kind:ident($f:expr),)*) => {
        /// Every math function supplied, by import name.
        pub(crate) static FUNCTIONS: &[MathFunction] = &[
            $(MathFunction { name: $name, implementation: Implementation::$kind($f) },)*
        ];
    };
}

functions! {
    // Called by LLVM for operations wasm has no instruction for.
    "fmaxf" => F32F32(fmaxf),
    "fminf" => F32F32(fminf),
    "fmax" => F64F64(fmax),
    "fmin" => F64F64(fmin),
    "fmodf" => F32F32(fmodf),
    "fmod" => F64F64(fmod),
    "fmaf" => F32F32F32(f32::mul_add),
    "fma" => F64F64F64(f64::mul_add),
    "sinf" => F32(f32::sin),
    "sin" => F64(f64::sin),
    "cosf" => F32(f32::cos),
    "cos" => F64(f64::cos),
    "tanf" => F32(f32::tan),
    "tan" => F64(f64::tan),
    "asinf" => F32(f32::asin),
    "asin" => F64(f64::asin),
    "acosf" => F32(f32::acos),
    "acos" => F64(f64::acos),
    "atanf" => F32(f32::atan),
    "atan" => F64(f64::atan),
    "atan2f" => F32F32(f32::atan2),
    "atan2" => F64F64(f64::atan2),
    "sinhf" => F32(f32::sinh),
    "sinh" => F64(f64::sinh),
    "coshf" => F32(f32::cosh),
    "cosh" => F64(f64::cosh),
    "tanhf" => F32(f32::tanh),
    "tanh" => F64(f64::tanh),
    "expf" => F32(f32::exp),
    "exp" => F64(f64::exp),
    "exp2f" => F32(f32::exp2),
    "exp2" => F64(f64::exp2),
    "logf" => F32(f32::ln),
    "log" => F64(f64::ln),
    "log2f" => F32(f32::log2),
    "log2" => F64(f64::log2),
    "log10f" => F32(f32::log10),
    "log10" => F64(f64::log10),
    "powf" => F32F32(f32::powf),
    "pow" => F64F64(f64::powf),
    "roundf" => F32(f32::round),
    "round" => F64(f64::round),
    "ldexpf" => F32I32(libm::ldexpf),
    "ldexp" => F64I32(libm::ldexp),
    "__powisf2" => F32I32(powisf2),
    "__powidf2" => F64I32(powidf2),
    "__extendhfsf2" => I32ToF32(half_to_f32),
    "__gnu_h2f_ieee" => I32ToF32(half_to_f32),
    "__truncsfhf2" => F32ToI32(f32_to_half),
    "__gnu_f2h_ieee" => F32ToI32(f32_to_half),
    "__truncdfhf2" => F64ToI32(f64_to_half),
    // Exact operations wasm also has as instructions.
    "floorf" => F32(f32::floor),
    "floor" => F64(f64::floor),
    "ceilf" => F32(f32::ceil),
    "ceil" => F64(f64::ceil),
    "truncf" => F32(f32::trunc),
    "trunc" => F64(f64::trunc),
    "rintf" => F32(f32::round_ties_even),
    "rint" => F64(f64::round_ties_even),
    "nearbyintf" => F32(f32::round_ties_even),
    "nearbyint" => F64(f64::round_ties_even),
    "roundevenf" => F32(f32::round_ties_even),
    "roundeven" => F64(f64::round_ties_even),
    "sqrtf" => F32(f32::sqrt),
    "sqrt" => F64(f64::sqrt),
}

/// The function imported as `env.<name>`, if supplied.
pub(crate) fn lookup(name: &str) -> Option<&'static MathFunction> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// C99 `fmaxf`: a NaN argument yields the other; `+0` is greater than `-0` (as musl).
fn fmaxf(x: f32, y: f32) -> f32 {
    if x.is_nan() {
        y
    } else if y.is_nan() {
        x
    } else if x.is_sign_negative() != y.is_sign_negative() {
        if x.is_sign_negative() {
            y
        } else {
            x
        }
    } else if x < y {
        y
    } else {
        x
    }
}

/// C99 `fminf`: a NaN argument yields the other; `-0` is less than `+0` (as musl).
fn fminf(x: f32, y: f32) -> f32 {
    if x.is_nan() {
        y
    } else if y.is_nan() {
        x
    } else if x.is_sign_negative() != y.is_sign_negative() {
        if x.is_sign_negative() {
            x
        } else {
            y
        }
    } else if x < y {
        x
    } else {
        y
    }
}

/// C99 `fmax`, as [`fmaxf`].
fn fmax(x: f64, y: f64) -> f64 {
    if x.is_nan() {
        y
    } else if y.is_nan() {
        x
    } else if x.is_sign_negative() != y.is_sign_negative() {
        if x.is_sign_negative() {
            y
        } else {
            x
        }
    } else if x < y {
        y
    } else {
        x
    }
}

/// C99 `fmin`, as [`fminf`].
fn fmin(x: f64, y: f64) -> f64 {
    if x.is_nan() {
        y
    } else if y.is_nan() {
        x
    } else if x.is_sign_negative() != y.is_sign_negative() {
        if x.is_sign_negative() {
            x
        } else {
            y
        }
    } else if x < y {
        x
    } else {
        y
    }
}

/// C `fmodf`: Rust's `%` on floats is `fmod` (LLVM's `frem`).
fn fmodf(x: f32, y: f32) -> f32 {
    x % y
}

/// C `fmod`.
fn fmod(x: f64, y: f64) -> f64 {
    x % y
}

/// compiler-rt's `__powisf2`: `a` to the integer power `b` by repeated squaring.
fn powisf2(a: f32, b: i32) -> f32 {
    let mut base = a;
    let mut power = b.unsigned_abs();
    let mut product = 1.0f32;
    loop {
        if power & 1 != 0 {
            product *= base;
        }
        power >>= 1;
        if power == 0 {
            break;
        }
        base *= base;
    }
    if b < 0 {
        1.0 / product
    } else {
        product
    }
}

/// compiler-rt's `__powidf2`, as [`powisf2`].
fn powidf2(a: f64, b: i32) -> f64 {
    let mut base = a;
    let mut power = b.unsigned_abs();
    let mut product = 1.0f64;
    loop {
        if power & 1 != 0 {
            product *= base;
        }
        power >>= 1;
        if power == 0 {
            break;
        }
        base *= base;
    }
    if b < 0 {
        1.0 / product
    } else {
        product
    }
}

/// `__extendhfsf2`: the f16 in the low 16 bits of `half` as an f32, exactly (every f16 is an f32).
fn half_to_f32(half: i32) -> f32 {
    let half = half as u32 & 0xffff;
    let sign = (half & 0x8000) << 16;
    let exponent = (half >> 10) & 0x1f;
    let mantissa = half & 0x3ff;
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        // Subnormal: mantissa × 2^-24, normal as an f32. With its top bit at position p, it is
        // 2^(p - 24) × 1.rest: biased exponent p - 24 + 127, the rest shifted up to 23 bits.
        (0, _) => {
            let top = 31 - mantissa.leading_zeros();
            sign | ((top + 103) << 23) | ((mantissa << (23 - top)) & 0x7f_ffff)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        // NaN: quiet, with the payload's top bits.
        (0x1f, _) => sign | 0x7fc0_0000 | (mantissa << 13),
        _ => sign | ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(bits)
}

/// `__truncsfhf2`: `value` rounded to the nearest f16 (ties to even), in the low 16 bits.
fn f32_to_half(value: f32) -> i32 {
    narrow_to_half(u64::from(value.to_bits()), 8, 23)
}

/// `__truncdfhf2`: `value` rounded to the nearest f16 (ties to even), in the low 16 bits, in one
/// rounding (not through f32).
fn f64_to_half(value: f64) -> i32 {
    narrow_to_half(value.to_bits(), 11, 52)
}

/// Rounds the IEEE binary float with `exponent_bits` and `mantissa_bits` (stored in `bits`) to
/// the nearest f16, ties to even.
fn narrow_to_half(bits: u64, exponent_bits: u32, mantissa_bits: u32) -> i32 {
    let sign = ((bits >> (exponent_bits + mantissa_bits - 15)) & 0x8000) as u32;
    let exponent_max = (1u64 << exponent_bits) - 1;
    let bias = (exponent_max >> 1) as i64;
    let exponent = (bits >> mantissa_bits) & exponent_max;
    let mantissa = bits & ((1u64 << mantissa_bits) - 1);
    if exponent == exponent_max {
        let rest = if mantissa == 0 {
            0
        } else {
            // NaN: quiet, with the payload's top bits.
            0x200 | (mantissa >> (mantissa_bits - 10)) as u32
        };
        return (sign | 0x7c00 | rest) as i32;
    }
    // The f16 biased exponent of the value's leading bit (subnormal inputs are far below
    // f16's range and land in the `< -10` case).
    let half_exponent = exponent as i64 - bias + 15;
    if half_exponent >= 0x1f {
        return (sign | 0x7c00) as i32;
    }
    let magnitude = if half_exponent <= 0 {
        // Below f16's normal range: a multiple of 2^-24 (the least subnormal). Values under
        // 2^-25 round to zero; 2^-25 itself is a tie and rounds to even, zero.
        if half_exponent < -10 {
            0
        } else {
            let significand = mantissa | (1u64 << mantissa_bits);
            // significand × 2^(exponent - bias - mantissa_bits) / 2^-24.
            let shift = (mantissa_bits as i64 - 9 - half_exponent) as u32;
            round_shift(significand, shift)
        }
    } else {
        // Normal: exponent and mantissa side by side, so rounding up may carry into the
        // exponent (up to infinity, 0x7c00, which is right).
        let drop = mantissa_bits - 10;
        let kept = ((half_exponent as u64) << 10) | (mantissa >> drop);
        round_shift((kept << drop) | (mantissa & ((1u64 << drop) - 1)), drop)
    };
    (sign | magnitude as u32) as i32
}

/// `value >> shift`, rounded to nearest, ties to even (`1 <= shift < 64`).
fn round_shift(value: u64, shift: u32) -> u64 {
    let quotient = value >> shift;
    let remainder = value & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if remainder > half || (remainder == half && quotient & 1 == 1) {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f16 value as an f64 (exact), by bits, computed from its definition.
    fn half_value(half: u16) -> f64 {
        let sign = if half & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exponent = i32::from((half >> 10) & 0x1f);
        let mantissa = f64::from(half & 0x3ff);
        match exponent {
            0 => sign * mantissa * 2f64.powi(-24),
            0x1f if mantissa == 0.0 => sign * f64::INFINITY,
            0x1f => f64::NAN,
            _ => sign * (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15),
        }
    }

    /// The nearest f16 to a finite non-NaN `value` (ties to even), by search over all f16
    /// values: the reference for the narrowing conversions.
    fn nearest_half(value: f64, finite: &[(f64, u16)]) -> u16 {
        let sign = if value.is_sign_negative() { 0x8000 } else { 0 };
        let magnitude = value.abs();
        if magnitude.is_infinite() {
            return sign | 0x7c00;
        }
        // The largest finite f16 is 65504; from 65520 (the midpoint to 65536) on, infinity.
        if magnitude >= 65520.0 {
            return sign | 0x7c00;
        }
        let above = finite.partition_point(|&(v, _)| v < magnitude);
        if above == finite.len() {
            // Between 65504 and the midpoint 65520.
            return sign | 0x7bff;
        }
        let (high, high_bits) = finite[above];
        if above == 0 || high == magnitude {
            return sign | high_bits;
        }
        let (low, low_bits) = finite[above - 1];
        let pick = match (magnitude - low).partial_cmp(&(high - magnitude)).unwrap() {
            std::cmp::Ordering::Less => low_bits,
            std::cmp::Ordering::Greater => high_bits,
            std::cmp::Ordering::Equal if low_bits & 1 == 0 => low_bits,
            std::cmp::Ordering::Equal => high_bits,
        };
        sign | pick
    }

    /// Non-negative finite f16 values in increasing order, with their bits.
    fn finite_halves() -> Vec<(f64, u16)> {
        (0..0x7c00u16).map(|h| (half_value(h), h)).collect()
    }

    #[test]
    fn every_half_extends_exactly() {
        for half in 0..=u16::MAX {
            let value = half_to_f32(i32::from(half));
            let expected = half_value(half);
            if expected.is_nan() {
                assert!(value.is_nan(), "{half:#06x}");
                let bits = value.to_bits();
                assert_eq!(bits >> 31, u32::from(half >> 15), "{half:#06x} sign");
                assert_eq!(bits & 0x0040_0000, 0x0040_0000, "{half:#06x} quiet");
                assert_eq!(
                    (bits >> 13) & 0x1ff,
                    u32::from(half & 0x1ff),
                    "{half:#06x} payload"
                );
            } else {
                assert_eq!(f64::from(value), expected, "{half:#06x}");
                assert_eq!(
                    value.is_sign_negative(),
                    half & 0x8000 != 0,
                    "{half:#06x} sign"
                );
            }
            // The upper bits of the i32 are ignored.
            assert_eq!(
                half_to_f32(i32::from(half) | 0x5a5a_0000).to_bits(),
                value.to_bits()
            );
        }
    }

    #[test]
    fn narrowing_rounds_to_nearest_even() {
        let finite = finite_halves();
        let check32 = |value: f32| {
            let got = f32_to_half(value);
            assert_eq!(got as u32 >> 16, 0, "{value:e}: high bits");
            let expected = nearest_half(f64::from(value), &finite);
            assert_eq!(
                got as u16,
                expected,
                "{value:e} ({:#010x})",
                value.to_bits()
            );
        };
        let check64 = |value: f64| {
            let got = f64_to_half(value);
            assert_eq!(got as u32 >> 16, 0, "{value:e}: high bits");
            let expected = nearest_half(value, &finite);
            assert_eq!(
                got as u16,
                expected,
                "{value:e} ({:#018x})",
                value.to_bits()
            );
        };
        // Every f16 value, the midpoints between neighbours, and values just off them.
        for window in finite.windows(2) {
            let (low, high) = (window[0].0, window[1].0);
            let middle = (low + high) / 2.0;
            for value in [low, middle, middle.next_down(), middle.next_up()] {
                for signed in [value, -value] {
                    check64(signed);
                    // The f32 nearest each (exact for values and midpoints, which have at
                    // most 12 significant bits), and its neighbours.
                    let narrow = signed as f32;
                    for v in [narrow, narrow.next_down(), narrow.next_up()] {
                        check32(v);
                    }
                }
            }
        }
        // Around the top: 65504 is the largest, 65520 the midpoint to infinity.
        for value in [65504.0f32, 65519.996, 65520.0, 65536.0, 1e10, f32::MAX] {
            check32(value);
            check32(-value);
            check64(f64::from(value));
        }
        // Tiny values, f32 subnormals and f64 values far outside f16's range.
        for bits in [
            1u32,
            0x0000_ffff,
            0x007f_ffff,
            0x0080_0000,
            0x3300_0000,
            0x3300_0001,
        ] {
            check32(f32::from_bits(bits));
            check32(-f32::from_bits(bits));
        }
        for value in [f64::MIN_POSITIVE, 1e-300, 5e-324, 1e300, f64::MAX] {
            check64(value);
            check64(-value);
        }
        // A spread of f32 bit patterns.
        for bits in (0..=u32::MAX).step_by(65_521) {
            let value = f32::from_bits(bits);
            if value.is_finite() {
                check32(value);
                check64(f64::from(value));
            }
        }
        // f64 values that an f32 step would round twice: just above a midpoint by less than an
        // f32 ulp (1 + 2^-11 + 2^-40 rounds up to 1 + 2^-10 directly, down through f32).
        let tricky = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        check64(tricky);
        assert_eq!(f64_to_half(tricky), 0x3c01);
        // Infinities and NaNs.
        assert_eq!(f32_to_half(f32::INFINITY), 0x7c00);
        assert_eq!(f32_to_half(f32::NEG_INFINITY), 0xfc00);
        assert_eq!(f64_to_half(f64::NEG_INFINITY), 0xfc00);
        assert_eq!(f32_to_half(f32::from_bits(0x7fc0_0000)), 0x7e00);
        assert_eq!(f32_to_half(f32::from_bits(0xff80_0001)), 0xfe00);
        assert_eq!(f32_to_half(f32::from_bits(0x7fbf_e000)), 0x7fff);
        assert_eq!(f64_to_half(f64::from_bits(0x7ff0_0000_0000_0001)), 0x7e00);
        assert_eq!(f64_to_half(f64::from_bits(0xfff7_fc00_0000_0000)), 0xffff);
    }

    #[test]
    fn fmax_and_fmin_follow_c99_and_order_zeros() {
        let nan = f32::from_bits(0x7fc0_1234);
        assert_eq!(fmaxf(nan, 1.0), 1.0);
        assert_eq!(fmaxf(-1.0, nan), -1.0);
        assert_eq!(fminf(nan, 1.0), 1.0);
        assert_eq!(fminf(-1.0, nan), -1.0);
        assert!(fmaxf(nan, nan).is_nan() && fminf(nan, nan).is_nan());
        for (x, y) in [(0.0f32, -0.0f32), (-0.0, 0.0)] {
            assert_eq!(fmaxf(x, y).to_bits(), 0.0f32.to_bits());
            assert_eq!(fminf(x, y).to_bits(), (-0.0f32).to_bits());
            assert_eq!(fmax(x.into(), y.into()).to_bits(), 0.0f64.to_bits());
            assert_eq!(fmin(x.into(), y.into()).to_bits(), (-0.0f64).to_bits());
        }
        assert_eq!(fmaxf(f32::NEG_INFINITY, -3.0), -3.0);
        assert_eq!(fminf(f32::INFINITY, 3.0), 3.0);
        assert_eq!(fmax(f64::NAN, 2.0), 2.0);
        assert_eq!(fmin(2.0, f64::NAN), 2.0);
    }

    #[test]
    fn powi_squares_repeatedly() {
        assert_eq!(powisf2(2.0, 10), 1024.0);
        assert_eq!(powisf2(2.0, -2), 0.25);
        assert_eq!(powisf2(-3.0, 3), -27.0);
        assert_eq!(powisf2(0.0, -1), f32::INFINITY);
        assert_eq!(powisf2(5.0, 0), 1.0);
        assert_eq!(powidf2(2.0, i32::MIN), 0.0);
        assert_eq!(powidf2(1.5, 7), 1.5f64.powi(7));
    }

    #[test]
    fn names_are_unique() {
        for (i, f) in FUNCTIONS.iter().enumerate() {
            assert!(
                FUNCTIONS[..i].iter().all(|g| g.name != f.name),
                "{}",
                f.name
            );
            assert!(std::ptr::eq(lookup(f.name).unwrap(), f));
        }
        assert!(lookup("erff").is_none() && lookup("frexpf").is_none());
    }
}

//! The C math functions a module may import from `env` (as IREE's wasm32 executables linked with
//! `--allow-undefined` do), run through the HAL on both drivers: each kernel of a hand-written
//! side module calls one import over a list of arguments, and every result is checked to the bit
//! against Rust's function of the same meaning (computed with denormals flushed, as kernels run).
//! Imports of a known name with another type, and unknown imports, are refused at load.

mod common;

use common::{buffer_with, dispatch, prepare};
use hal_core::{Device, StatusCode};

use driver_task as _;

/// A function of the import list with its reference, by signature.
#[derive(Clone, Copy)]
enum Reference {
    F32(fn(f32) -> f32),
    F32F32(fn(f32, f32) -> f32),
    F32F32F32(fn(f32, f32, f32) -> f32),
    F32I32(fn(f32, i32) -> f32),
    F64(fn(f64) -> f64),
    F64F64(fn(f64, f64) -> f64),
    F64F64F64(fn(f64, f64, f64) -> f64),
    F64I32(fn(f64, i32) -> f64),
    HalfToF32(fn(u16) -> f32),
    F32ToHalf(fn(f32) -> u16),
    F64ToHalf(fn(f64) -> u16),
}

/// The wasm types of a reference's parameters and result.
fn signature(reference: Reference) -> (&'static [&'static str], &'static str) {
    use Reference::*;
    match reference {
        F32(_) => (&["f32"], "f32"),
        F32F32(_) => (&["f32", "f32"], "f32"),
        F32F32F32(_) => (&["f32", "f32", "f32"], "f32"),
        F32I32(_) => (&["f32", "i32"], "f32"),
        F64(_) => (&["f64"], "f64"),
        F64F64(_) => (&["f64", "f64"], "f64"),
        F64F64F64(_) => (&["f64", "f64", "f64"], "f64"),
        F64I32(_) => (&["f64", "i32"], "f64"),
        HalfToF32(_) => (&["i32"], "f32"),
        F32ToHalf(_) => (&["f32"], "i32"),
        F64ToHalf(_) => (&["f64"], "i32"),
    }
}

/// C99 `fmax` as the loader pins it: Rust's `max` (a NaN argument yields the other), and, where
/// Rust may return either zero, `+0`.
fn fmaxf(x: f32, y: f32) -> f32 {
    if x == 0.0 && y == 0.0 && x.is_sign_negative() != y.is_sign_negative() {
        assert_eq!(x.max(y), 0.0);
        0.0
    } else {
        x.max(y)
    }
}

fn fminf(x: f32, y: f32) -> f32 {
    if x == 0.0 && y == 0.0 && x.is_sign_negative() != y.is_sign_negative() {
        assert_eq!(x.min(y), 0.0);
        -0.0
    } else {
        x.min(y)
    }
}

fn fmax(x: f64, y: f64) -> f64 {
    if x == 0.0 && y == 0.0 && x.is_sign_negative() != y.is_sign_negative() {
        0.0
    } else {
        x.max(y)
    }
}

fn fmin(x: f64, y: f64) -> f64 {
    if x == 0.0 && y == 0.0 && x.is_sign_negative() != y.is_sign_negative() {
        -0.0
    } else {
        x.min(y)
    }
}

/// `x × 2^n`, rounded once: exact in f64 for f32 inputs (with `n` clamped where the result is
/// already 0 or infinity either way).
fn ldexpf(x: f32, n: i32) -> f32 {
    (f64::from(x) * 2f64.powi(n.clamp(-400, 400))) as f32
}

/// `x × 2^n` by exact steps of at most 2^±600, then one rounding step: the reference for f64.
fn ldexp(x: f64, n: i32) -> f64 {
    let n = n.clamp(-2200, 2200);
    // Exact while the intermediate stays normal; a subnormal result is rounded in the last
    // multiplication only.
    let mut value = x;
    let mut left = n;
    while left > 600 {
        value *= 2f64.powi(600);
        left -= 600;
    }
    while left < -600 && value.abs() >= 2f64.powi(-400) {
        value *= 2f64.powi(-600);
        left += 600;
    }
    if left < -1000 {
        // Any finite value times 2^left is below half the least subnormal.
        return value * 0.0;
    }
    if left < -600 {
        value *= 2f64.powi(-600);
        left += 600;
    }
    value * 2f64.powi(left)
}

fn half_to_f32(half: u16) -> f32 {
    let sign = if half & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exponent = i32::from((half >> 10) & 0x1f);
    let mantissa = f32::from(half & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24),
        0x1f if mantissa == 0.0 => sign * f32::INFINITY,
        // Quiet, with the payload's top bits.
        0x1f => f32::from_bits(
            (u32::from(half & 0x8000) << 16) | 0x7fc0_0000 | (u32::from(half & 0x3ff) << 13),
        ),
        _ => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15),
    }
}

/// The nearest f16 (ties to even), by search over the f16 values; NaNs quiet with the payload's
/// top bits.
fn nearest_half(value: f64, nan_payload: u16) -> u16 {
    let sign = if value.is_sign_negative() { 0x8000 } else { 0 };
    if value.is_nan() {
        return sign | 0x7e00 | nan_payload;
    }
    let magnitude = value.abs();
    if magnitude >= 65520.0 {
        return sign | 0x7c00;
    }
    let mut best = 0u16;
    for half in 0..0x7c00u16 {
        let candidate = f64::from(half_to_f32(half));
        let current = f64::from(half_to_f32(best));
        let (d, e) = ((candidate - magnitude).abs(), (current - magnitude).abs());
        if d < e || (d == e && half & 1 == 0 && best & 1 == 1) {
            best = half;
        }
    }
    sign | best
}

fn f32_to_half(value: f32) -> u16 {
    nearest_half(f64::from(value), ((value.to_bits() >> 13) & 0x1ff) as u16)
}

fn f64_to_half(value: f64) -> u16 {
    nearest_half(value, ((value.to_bits() >> 42) & 0x1ff) as u16)
}

/// Rust's `powi` calls the platform's `__powisf2`: libgcc's here, which starts its product from
/// `x` where compiler-rt's (the one LLVM's call means) starts from `1 × x`. The two differ only
/// where that product is not `x` itself: a signaling NaN (quieted) and, with denormals flushed,
/// a subnormal (zero). So the reference is `powi` of `1 × x`.
fn powisf2(x: f32, n: i32) -> f32 {
    use std::hint::black_box;
    (black_box(1.0f32) * black_box(x)).powi(black_box(n))
}

fn powidf2(x: f64, n: i32) -> f64 {
    use std::hint::black_box;
    (black_box(1.0f64) * black_box(x)).powi(black_box(n))
}

/// Every function the loader supplies, with the Rust reference of its C meaning.
fn functions() -> Vec<(&'static str, Reference)> {
    use Reference::*;
    vec![
        ("fmaxf", F32F32(fmaxf)),
        ("fminf", F32F32(fminf)),
        ("fmax", F64F64(fmax)),
        ("fmin", F64F64(fmin)),
        ("fmodf", F32F32(|x, y| x % y)),
        ("fmod", F64F64(|x, y| x % y)),
        ("fmaf", F32F32F32(f32::mul_add)),
        ("fma", F64F64F64(f64::mul_add)),
        ("sinf", F32(f32::sin)),
        ("sin", F64(f64::sin)),
        ("cosf", F32(f32::cos)),
        ("cos", F64(f64::cos)),
        ("tanf", F32(f32::tan)),
        ("tan", F64(f64::tan)),
        ("asinf", F32(f32::asin)),
        ("asin", F64(f64::asin)),
        ("acosf", F32(f32::acos)),
        ("acos", F64(f64::acos)),
        ("atanf", F32(f32::atan)),
        ("atan", F64(f64::atan)),
        ("atan2f", F32F32(f32::atan2)),
        ("atan2", F64F64(f64::atan2)),
        ("sinhf", F32(f32::sinh)),
        ("sinh", F64(f64::sinh)),
        ("coshf", F32(f32::cosh)),
        ("cosh", F64(f64::cosh)),
        ("tanhf", F32(f32::tanh)),
        ("tanh", F64(f64::tanh)),
        ("expf", F32(f32::exp)),
        ("exp", F64(f64::exp)),
        ("exp2f", F32(f32::exp2)),
        ("exp2", F64(f64::exp2)),
        ("logf", F32(f32::ln)),
        ("log", F64(f64::ln)),
        ("log2f", F32(f32::log2)),
        ("log2", F64(f64::log2)),
        ("log10f", F32(f32::log10)),
        ("log10", F64(f64::log10)),
        ("powf", F32F32(f32::powf)),
        ("pow", F64F64(f64::powf)),
        ("roundf", F32(f32::round)),
        ("round", F64(f64::round)),
        ("ldexpf", F32I32(ldexpf)),
        ("ldexp", F64I32(ldexp)),
        ("__powisf2", F32I32(powisf2)),
        ("__powidf2", F64I32(powidf2)),
        ("__extendhfsf2", HalfToF32(half_to_f32)),
        ("__gnu_h2f_ieee", HalfToF32(half_to_f32)),
        ("__truncsfhf2", F32ToHalf(f32_to_half)),
        ("__gnu_f2h_ieee", F32ToHalf(f32_to_half)),
        ("__truncdfhf2", F64ToHalf(f64_to_half)),
        ("floorf", F32(f32::floor)),
        ("floor", F64(f64::floor)),
        ("ceilf", F32(f32::ceil)),
        ("ceil", F64(f64::ceil)),
        ("truncf", F32(f32::trunc)),
        ("trunc", F64(f64::trunc)),
        ("rintf", F32(f32::round_ties_even)),
        ("rint", F64(f64::round_ties_even)),
        ("nearbyintf", F32(f32::round_ties_even)),
        ("nearbyint", F64(f64::round_ties_even)),
        ("roundevenf", F32(f32::round_ties_even)),
        ("roundeven", F64(f64::round_ties_even)),
        ("sqrtf", F32(f32::sqrt)),
        ("sqrt", F64(f64::sqrt)),
    ]
}

/// f32 arguments: zeros, infinities, NaNs (quiet, with a payload, negative, signaling), ties,
/// large and small values and subnormals.
fn f32_values() -> Vec<f32> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.5,
        -2.5,
        3.5,
        std::f32::consts::PI,
        -7.25,
        100.0,
        88.7,
        -103.9,
        1e-3,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        -1e-40,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(0x7fc0_0000),
        f32::from_bits(0x7fc0_1234),
        f32::from_bits(0xffc0_0000),
        f32::from_bits(0x7f80_0001),
    ];
    values.extend((0..40).map(|i| (i as f32 - 20.0) * 0.37));
    values
}

fn f64_values() -> Vec<f64> {
    let mut values: Vec<f64> = f32_values().into_iter().map(f64::from).collect();
    values.extend([
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        1e300,
        -1e-310,
        1.0 + f64::EPSILON,
        f64::from_bits(0x7ff8_0000_0000_1234),
        f64::from_bits(0x7ff0_0000_0000_0001),
    ]);
    values
}

fn i32_values() -> Vec<i32> {
    vec![
        0,
        1,
        -1,
        2,
        -2,
        3,
        10,
        -10,
        127,
        128,
        -126,
        -149,
        -150,
        1023,
        -1074,
        -1075,
        1000,
        -1000,
        i32::MAX,
        i32::MIN,
    ]
}

/// The argument slots (8 bytes each, 3 per call) and the expected result bits of `reference`
/// (the function `name`) over its inputs.
fn cases(name: &str, reference: Reference) -> (Vec<[u64; 3]>, Vec<u64>) {
    use Reference::*;
    let f32s = f32_values();
    let f64s = f64_values();
    let ints = i32_values();
    // The fmax/fmin inputs leave out subnormals: with denormals flushed, Rust's `max` may return
    // either of a subnormal and a zero.
    let ordered = matches!(name, "fmaxf" | "fminf" | "fmax" | "fmin");
    let ordered32: Vec<f32> = f32s.iter().copied().filter(|v| !v.is_subnormal()).collect();
    let ordered64: Vec<f64> = f64s.iter().copied().filter(|v| !v.is_subnormal()).collect();
    let few32 = &f32s[..27];
    let few64 = &f64s[..27];
    let b32 = |v: f32| u64::from(v.to_bits());
    let b64 = |v: f64| v.to_bits();
    let i = |v: i32| u64::from(v as u32);
    let mut args = Vec::new();
    let mut expected = Vec::new();
    // Denormals flushed while the references run, as around every kernel.
    let _flushed = hal_local::DenormalsFlushed::new();
    match reference {
        F32(f) => {
            for &x in &f32s {
                args.push([b32(x), 0, 0]);
                expected.push(b32(f(x)));
            }
        }
        F32F32(f) => {
            let list = if ordered { &ordered32 } else { &f32s };
            for &x in list {
                for &y in list {
                    args.push([b32(x), b32(y), 0]);
                    expected.push(b32(f(x, y)));
                }
            }
        }
        F32F32F32(f) => {
            for &x in few32 {
                for &y in few32 {
                    for &z in few32 {
                        args.push([b32(x), b32(y), b32(z)]);
                        expected.push(b32(f(x, y, z)));
                    }
                }
            }
        }
        F32I32(f) => {
            for &x in &f32s {
                for &n in &ints {
                    args.push([b32(x), i(n), 0]);
                    expected.push(b32(f(x, n)));
                }
            }
        }
        F64(f) => {
            for &x in &f64s {
                args.push([b64(x), 0, 0]);
                expected.push(b64(f(x)));
            }
        }
        F64F64(f) => {
            let list = if ordered { &ordered64 } else { &f64s };
            for &x in list {
                for &y in list {
                    args.push([b64(x), b64(y), 0]);
                    expected.push(b64(f(x, y)));
                }
            }
        }
        F64F64F64(f) => {
            for &x in few64 {
                for &y in few64 {
                    for &z in few64 {
                        args.push([b64(x), b64(y), b64(z)]);
                        expected.push(b64(f(x, y, z)));
                    }
                }
            }
        }
        F64I32(f) => {
            for &x in &f64s {
                for &n in &ints {
                    args.push([b64(x), i(n), 0]);
                    expected.push(b64(f(x, n)));
                }
            }
        }
        HalfToF32(f) => {
            // Every f16, with junk in the upper bits of the i32 on odd values.
            for half in 0..=u16::MAX {
                let junk = if half & 1 == 1 { 0xa5a5_0000 } else { 0 };
                args.push([u64::from(u32::from(half) | junk), 0, 0]);
                expected.push(b32(f(half)));
            }
        }
        F32ToHalf(f) => {
            let mut values = f32s.clone();
            values.extend([
                65504.0,
                65519.0,
                65520.0,
                1.0 + 2f32.powi(-11),
                2f32.powi(-25),
            ]);
            values.extend([
                2f32.powi(-25).next_up(),
                3.0 * 2f32.powi(-25),
                2f32.powi(-14),
            ]);
            for &x in &values {
                args.push([b32(x), 0, 0]);
                expected.push(u64::from(f(x)));
            }
        }
        F64ToHalf(f) => {
            let mut values = f64s.clone();
            values.push(1.0 + 2f64.powi(-11) + 2f64.powi(-40));
            for &x in &values {
                args.push([b64(x), 0, 0]);
                expected.push(u64::from(f(x)));
            }
        }
    }
    (args, expected)
}

/// Most exports of a test module.
const MAX_EXPORTS: usize = 96;
/// Where the tables lie in the data block: export function slots, export name pointers, export
/// attributes (64 bytes each) and export names (32 bytes each), 12 KiB in all.
const PTRS: usize = 256;
const NAMES: usize = PTRS + 4 * MAX_EXPORTS;
const ATTRS: usize = NAMES + 4 * MAX_EXPORTS;
const STRINGS: usize = ATTRS + 64 * MAX_EXPORTS;
const DATA_BYTES: usize = 0x3000;
const _: () = assert!(STRINGS + 32 * MAX_EXPORTS <= DATA_BYTES);

/// The bytes of the library's data block (at `__memory_base`): name and header at 0 and 16, the
/// library struct at 32, then the export tables. Pointers in it are set by
/// `__wasm_apply_data_relocs`.
fn data_block(names: &[&str]) -> Vec<u8> {
    let mut data = vec![0u8; DATA_BYTES];
    data[..4].copy_from_slice(b"libm");
    data[16..20].copy_from_slice(&6u32.to_le_bytes()); // header: version
    data[44..48].copy_from_slice(&(names.len() as u32).to_le_bytes()); // exports.count
    for (i, name) in names.iter().enumerate() {
        let attrs = ATTRS + 64 * i;
        data[attrs + 11] = 2; // binding_count
        data[attrs + 12..attrs + 16].copy_from_slice(&1u32.to_le_bytes());
        data[attrs + 16..attrs + 20].copy_from_slice(&1u32.to_le_bytes());
        data[attrs + 20..attrs + 22].copy_from_slice(&1u16.to_le_bytes());
        let at = STRINGS + 32 * i;
        data[at..at + name.len()].copy_from_slice(name.as_bytes());
    }
    data
}

/// A side module in IREE's convention whose export `k` (named after the function) calls the
/// import `functions[k]` once per argument record: binding 0 holds records of three 8-byte
/// slots, binding 1 gets one 8-byte slot per call with the result's bits.
fn module(functions: &[(&str, Reference)]) -> Vec<u8> {
    assert!(functions.len() <= MAX_EXPORTS);
    let names: Vec<&str> = functions.iter().map(|(name, _)| *name).collect();
    // MEM_INFO: 12 KiB of data (LEB128 80 60), aligned to 16, one table slot per export.
    let mut text = format!(
        "(module\n(@custom \"dylink.0\" (before first) \"\\01\\05\\80\\60\\04\\{:02x}\\00\")\n",
        functions.len()
    );
    text += "(import \"env\" \"memory\" (memory 1))\n";
    text += &format!(
        "(import \"env\" \"__indirect_function_table\" (table {} funcref))\n",
        functions.len()
    );
    text += "(import \"env\" \"__memory_base\" (global $mb i32))\n";
    text += "(import \"env\" \"__table_base\" (global $tb i32))\n";
    for (k, (name, reference)) in functions.iter().enumerate() {
        let (params, result) = signature(*reference);
        text += &format!(
            "(import \"env\" \"{name}\" (func $f{k} (param {}) (result {result})))\n",
            params.join(" ")
        );
    }
    let bytes: String = data_block(&names)
        .iter()
        .map(|b| format!("\\{b:02x}"))
        .collect();
    text += &format!("(data (global.get $mb) \"{bytes}\")\n");
    let kernels: Vec<String> = (0..functions.len()).map(|k| format!("$k{k}")).collect();
    text += &format!("(elem (global.get $tb) func {})\n", kernels.join(" "));
    // Pointer fields: header name, library header/ptrs/attrs/names, and each export's function
    // (table slot) and name.
    let mut relocs = String::new();
    let mut set = |offset: usize, value: String| {
        relocs += &format!("(i32.store (i32.add (global.get $mb) (i32.const {offset})) {value})\n");
    };
    let mb = |offset: usize| format!("(i32.add (global.get $mb) (i32.const {offset}))");
    set(20, mb(0));
    set(32, mb(16));
    set(48, mb(PTRS));
    set(52, mb(ATTRS));
    set(64, mb(NAMES));
    for k in 0..functions.len() {
        set(
            PTRS + 4 * k,
            format!("(i32.add (global.get $tb) (i32.const {k}))"),
        );
        set(NAMES + 4 * k, mb(STRINGS + 32 * k));
    }
    text += &format!("(func (export \"__wasm_apply_data_relocs\")\n{relocs})\n");
    text += r#"(func (export "iree_hal_executable_library_query") (param i32 i32) (result i32)
        (select (i32.add (global.get $mb) (i32.const 32)) (i32.const 0)
          (i32.eq (local.get 0) (i32.const 6))))
"#;
    for (k, (_, reference)) in functions.iter().enumerate() {
        let (params, result) = signature(*reference);
        let args: String = params
            .iter()
            .enumerate()
            .map(|(slot, ty)| format!("({ty}.load offset={} (local.get $in))", 8 * slot))
            .collect();
        text += &format!(
            r#"(func $k{k} (param $env i32) (param $state i32) (param $wg i32) (result i32)
  (local $in i32) (local $out i32) (local $n i32) (local $i i32)
  (local.set $in (i32.load (i32.load offset=28 (local.get $state))))
  (local.set $out (i32.load offset=4 (i32.load offset=28 (local.get $state))))
  (local.set $n (i32.shr_u (i32.load offset=4 (i32.load offset=32 (local.get $state)))
    (i32.const 3)))
  (block $done (loop $next
    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
    ({result}.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3)))
      (call $f{k} {args}))
    (local.set $in (i32.add (local.get $in) (i32.const 24)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $next)))
  (i32.const 0))
"#
        );
    }
    text += ")";
    wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn devices() -> Vec<(&'static str, Device)> {
    ["local-sync", "local-task://?workers=2"]
        .into_iter()
        .map(|uri| (uri, hal_core::create_device(uri).unwrap()))
        .collect()
}

/// The bits of a result slot: f32 and i32 results fill the low 4 bytes.
fn result_bits(reference: Reference, slot: u64) -> u64 {
    match signature(reference).1 {
        "f64" => slot,
        _ => slot & 0xffff_ffff,
    }
}

fn describe(reference: Reference, args: &[u64; 3]) -> String {
    let (params, _) = signature(reference);
    params
        .iter()
        .zip(args)
        .map(|(ty, &bits)| match *ty {
            "f32" => format!("{:e} ({bits:#010x})", f32::from_bits(bits as u32)),
            "f64" => format!("{:e} ({bits:#018x})", f64::from_bits(bits)),
            _ => format!("{}", bits as u32 as i32),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn every_math_import_computes_what_c_says_on_both_drivers() {
    let functions = functions();
    let wasm = module(&functions);
    for (uri, device) in devices() {
        let executable = prepare(&device, &wasm).unwrap();
        for &(name, reference) in &functions {
            let (args, expected) = cases(name, reference);
            let records: Vec<u64> = args.iter().flatten().copied().collect();
            let input = buffer_with(&device, &records);
            let output = buffer_with(&device, &vec![0u64; args.len()]);
            dispatch(
                &device,
                &executable,
                name,
                [1, 1, 1],
                &[],
                &[&input, &output],
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let results = output.read_elements::<u64>(0, args.len()).unwrap();
            for ((args, &want), &got) in args.iter().zip(&expected).zip(&results) {
                let got = result_bits(reference, got);
                assert_eq!(
                    got,
                    want,
                    "{name}({}) on {uri}: got {got:#x}, expected {want:#x}",
                    describe(reference, args),
                );
            }
        }
    }
}

#[test]
fn fmaxf_and_fminf_treat_nans_and_zeros_as_c99_says() {
    let functions = [
        ("fmaxf", Reference::F32F32(fmaxf)),
        ("fminf", Reference::F32F32(fminf)),
    ];
    let wasm = module(&functions);
    let nan = f32::from_bits(0x7fc0_1234);
    let other_nan = f32::from_bits(0xffc0_0042);
    // (x, y, fmaxf, fminf)
    let cases: &[(f32, f32, f32, f32)] = &[
        (nan, 1.0, 1.0, 1.0),
        (-2.0, nan, -2.0, -2.0),
        (nan, f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY),
        (f32::INFINITY, nan, f32::INFINITY, f32::INFINITY),
        (0.0, -0.0, 0.0, -0.0),
        (-0.0, 0.0, 0.0, -0.0),
        (-0.0, -0.0, -0.0, -0.0),
        (0.0, nan, 0.0, 0.0),
        (nan, -0.0, -0.0, -0.0),
        (
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ),
        (f32::NEG_INFINITY, -1e30, -1e30, f32::NEG_INFINITY),
        (3.0, 3.0, 3.0, 3.0),
        // Both NaN: a NaN (the second, as musl).
        (nan, other_nan, other_nan, other_nan),
    ];
    let records: Vec<u64> = cases
        .iter()
        .flat_map(|&(x, y, _, _)| [u64::from(x.to_bits()), u64::from(y.to_bits()), 0])
        .collect();
    for (uri, device) in devices() {
        let executable = prepare(&device, &wasm).unwrap();
        let input = buffer_with(&device, &records);
        for (column, name) in ["fmaxf", "fminf"].into_iter().enumerate() {
            let output = buffer_with(&device, &vec![0u64; cases.len()]);
            dispatch(
                &device,
                &executable,
                name,
                [1, 1, 1],
                &[],
                &[&input, &output],
            )
            .unwrap();
            let results = output.read_elements::<u64>(0, cases.len()).unwrap();
            for (&(x, y, max, min), &got) in cases.iter().zip(&results) {
                let want = if column == 0 { max } else { min };
                assert_eq!(got as u32, want.to_bits(), "{name}({x:?}, {y:?}) on {uri}");
                // Rust agrees wherever it is deterministic.
                let rust = if column == 0 { x.max(y) } else { x.min(y) };
                if x.is_nan() && y.is_nan() {
                    assert!(rust.is_nan());
                } else {
                    assert_eq!(rust, want, "{name}({x:?}, {y:?}): Rust");
                    if !(x == 0.0 && y == 0.0) {
                        assert_eq!(rust.to_bits(), want.to_bits(), "{name}({x:?}, {y:?}): Rust");
                    }
                }
            }
        }
    }
}

/// A side module importing `import` (a WAT import field) next to the base imports, with a null
/// library query.
fn importing(import: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (@custom "dylink.0" (before first) "\01\05\80\10\04\00\00")
             (import "env" "memory" (memory 1))
             (import "env" "__indirect_function_table" (table 1 funcref))
             (import "env" "__memory_base" (global i32))
             (import "env" "__table_base" (global i32))
             {import}
             (func (export "iree_hal_executable_library_query") (param i32 i32) (result i32)
               i32.const 0))"#
    ))
    .unwrap()
}

#[test]
fn known_imports_of_another_type_are_refused_naming_both_types() {
    let device = common::device();
    let cases = [
        (
            r#"(import "env" "fmaxf" (func (param f64 f64) (result f64)))"#,
            "the module imports env.fmaxf as (func (param f64 f64) (result f64)); this loader provides env.fmaxf as (func (param f32 f32) (result f32))",
        ),
        (
            r#"(import "env" "expf" (func (param f32)))"#,
            "the module imports env.expf as (func (param f32)); this loader provides env.expf as (func (param f32) (result f32))",
        ),
        (
            r#"(import "env" "__truncsfhf2" (func (param f32) (result f32)))"#,
            "env.__truncsfhf2 as (func (param f32) (result f32)); this loader provides env.__truncsfhf2 as (func (param f32) (result i32))",
        ),
        (
            r#"(import "env" "ldexpf" (global f32))"#,
            "the module imports env.ldexpf as (global f32); this loader provides env.ldexpf as (func (param f32 i32) (result f32))",
        ),
        (
            r#"(import "env" "__stack_pointer" (global i32))"#,
            "the module imports env.__stack_pointer as (global i32); this loader provides env.__stack_pointer as (global (mut i32))",
        ),
    ];
    for (import, message) in cases {
        let status = prepare(&device, &importing(import)).unwrap_err();
        assert_eq!(
            status.code(),
            StatusCode::Incompatible,
            "{import}: {status}"
        );
        assert!(status.to_string().contains(message), "{import}: {status}");
    }
}

#[test]
fn unknown_imports_are_refused_naming_module_and_field() {
    let device = common::device();
    let cases = [
        // Not supplied: pointer results into linear memory, or never called by LLVM.
        (
            r#"(import "env" "frexpf" (func (param f32 i32) (result f32)))"#,
            "'env.frexpf' as (func (param f32 i32) (result f32))",
        ),
        (
            r#"(import "env" "erff" (func (param f32) (result f32)))"#,
            "'env.erff'",
        ),
        (
            r#"(import "env" "memcpy" (func (param i32 i32 i32) (result i32)))"#,
            "'env.memcpy'",
        ),
        // Known names from another module.
        (
            r#"(import "libm" "fmaxf" (func (param f32 f32) (result f32)))"#,
            "'libm.fmaxf'",
        ),
        (
            r#"(import "GOT.func" "fmaxf" (global (mut i32)))"#,
            "'GOT.func.fmaxf' as (global (mut i32))",
        ),
    ];
    for (import, message) in cases {
        let status = prepare(&device, &importing(import)).unwrap_err();
        assert_eq!(
            status.code(),
            StatusCode::Unimplemented,
            "{import}: {status}"
        );
        let text = status.to_string();
        assert!(
            text.contains(message) && text.contains("does not provide"),
            "{import}: {text}"
        );
    }
    // With a correct math import, the same module loads as far as its (null) query.
    let status = prepare(
        &device,
        &importing(r#"(import "env" "fmaxf" (func (param f32 f32) (result f32)))"#),
    )
    .unwrap_err();
    assert_eq!(status.code(), StatusCode::Incompatible, "{status}");
    assert!(status.to_string().contains("null"), "{status}");
}

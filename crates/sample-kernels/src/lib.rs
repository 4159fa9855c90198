//! # sample-kernels: the built-in workload
//!
//! Library [`LIBRARY_NAME`] (format `static`) with two exports, shaped like the IREE programs in
//! `shared/peer/mlir`:
//!
//! - `add`: `out = a + b` over f32; each workgroup owns [`ADD_ELEMENTS_PER_WORKGROUP`] elements
//!   (1,048,576 floats = 256 workgroups, as IREE tiles it).
//! - `matmul`: `C[M×N] = A[M×K] · B[K×N]` over row-major f32; constants `(M, N, K, tile_bytes)`
//!   where each workgroup owns `tile_bytes / (4·N)` whole rows of C ([`matmul_constants`]).
//!
//! Both pick AVX2+FMA code at run time when the CPU has it (from the environment's feature bits).

use loader_static::{kernel_library, KernelError, KernelResult, Workgroup};

/// The library name, the `static` executable data.
pub const LIBRARY_NAME: &str = "samples";
/// Elements of the add each workgroup computes.
pub const ADD_ELEMENTS_PER_WORKGROUP: usize = 4096;
/// Rows of C each matmul workgroup computes by default.
pub const MATMUL_ROWS_PER_WORKGROUP: u32 = 8;

/// IREE feature bits (x86_64): AVX2 and FMA.
const AVX2_FMA_BITS: u64 = (1 << 15) | (1 << 11);

/// The push constants of a matmul dispatch and its workgroup count along x.
pub fn matmul_constants(m: u32, n: u32, k: u32, rows_per_workgroup: u32) -> ([u32; 4], u32) {
    (
        [m, n, k, rows_per_workgroup * n * 4],
        m.div_ceil(rows_per_workgroup),
    )
}

fn add(workgroup: &Workgroup<'_>) -> KernelResult {
    let out = workgroup.tile::<f32>(2)?;
    let start = workgroup.linear_id() as usize * ADD_ELEMENTS_PER_WORKGROUP;
    let a = workgroup
        .read::<f32>(0)?
        .get(start..start + out.len())
        .ok_or(KernelError::BAD_DISPATCH)?;
    let b = workgroup
        .read::<f32>(1)?
        .get(start..start + out.len())
        .ok_or(KernelError::BAD_DISPATCH)?;
    if workgroup.processor_features() & AVX2_FMA_BITS == AVX2_FMA_BITS {
        // SAFETY: the environment says this CPU has AVX2 and FMA.
        unsafe { add_avx2(a, b, out) };
    } else {
        add_portable(a, b, out);
    }
    Ok(())
}

fn add_portable(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x + y;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn add_avx2(a: &[f32], b: &[f32], out: &mut [f32]) {
    add_portable(a, b, out)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn add_avx2(a: &[f32], b: &[f32], out: &mut [f32]) {
    add_portable(a, b, out)
}

fn matmul(workgroup: &Workgroup<'_>) -> KernelResult {
    let &[m, n, k, tile_bytes] = workgroup.constants() else {
        return Err(KernelError::BAD_DISPATCH);
    };
    let (m, n, k) = (m as usize, n as usize, k as usize);
    if n == 0 || !(tile_bytes as usize).is_multiple_of(4 * n) {
        return Err(KernelError::BAD_DISPATCH);
    }
    let rows_per_workgroup = tile_bytes as usize / (4 * n);
    let c = workgroup.tile::<f32>(2)?;
    let first_row = workgroup.linear_id() as usize * rows_per_workgroup;
    let rows = c.len() / n;
    if first_row + rows > m {
        return Err(KernelError::BAD_DISPATCH);
    }
    let a = workgroup
        .read::<f32>(0)?
        .get(first_row * k..(first_row + rows) * k)
        .ok_or(KernelError::BAD_DISPATCH)?;
    let b = workgroup
        .read::<f32>(1)?
        .get(..k * n)
        .ok_or(KernelError::BAD_DISPATCH)?;
    if workgroup.processor_features() & AVX2_FMA_BITS == AVX2_FMA_BITS {
        // SAFETY: the environment says this CPU has AVX2 and FMA.
        unsafe { matmul_rows_avx2(a, b, c, n, k) };
    } else {
        matmul_rows::<false>(a, b, c, n, k);
    }
    Ok(())
}

/// `c[rows×n] = a[rows×k] · b[k×n]`, streaming each row of `b` once for all rows of the block.
/// `FUSED` uses fused multiply-add, which is a slow library call on CPUs without FMA.
#[inline(always)]
fn matmul_rows<const FUSED: bool>(a: &[f32], b: &[f32], c: &mut [f32], n: usize, k: usize) {
    c.fill(0.0);
    for (p, b_row) in b.chunks_exact(n).enumerate().take(k) {
        for (c_row, a_row) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
            let scale = a_row[p];
            for (c_value, b_value) in c_row.iter_mut().zip(b_row) {
                *c_value = if FUSED {
                    b_value.mul_add(scale, *c_value)
                } else {
                    *c_value + b_value * scale
                };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn matmul_rows_avx2(a: &[f32], b: &[f32], c: &mut [f32], n: usize, k: usize) {
    matmul_rows::<true>(a, b, c, n, k)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn matmul_rows_avx2(a: &[f32], b: &[f32], c: &mut [f32], n: usize, k: usize) {
    matmul_rows::<false>(a, b, c, n, k)
}

kernel_library! {
    /// Query function of the `samples` library.
    pub fn samples_library_query;
    library = "samples";
    executable_constants = 0;
    export "add" => add { constants: 0, bindings: [Read, Read, Write(Tile::Bytes(16384))] }
    export "matmul" => matmul { constants: 4, bindings: [Read, Read, Write(Tile::ConstantBytes(3))] }
}

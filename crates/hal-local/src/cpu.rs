//! What kernels learn about the CPU, and the floating-point state they run under.

use crate::abi::ProcessorV0;

/// This CPU's feature bits in IREE's x86_64 encoding (`cpu_feature_bits.inl`), word 0 of the
/// environment's processor data. Zero on other architectures (meaning "unknown").
pub fn processor_info() -> ProcessorV0 {
    let mut processor = ProcessorV0::default();
    processor.data[0] = x86_feature_bits();
    processor
}

#[cfg(target_arch = "x86_64")]
fn x86_feature_bits() -> u64 {
    macro_rules! bits {
        ($($bit:literal => $feature:tt),* $(,)?) => {{
            let mut bits = 0u64;
            $(if std::arch::is_x86_feature_detected!($feature) { bits |= 1 << $bit; })*
            bits
        }};
    }
    bits! {
        0 => "sse3", 1 => "ssse3", 2 => "sse4.1", 3 => "sse4.2", 4 => "sse4a",
        10 => "avx", 11 => "fma", 14 => "f16c", 15 => "avx2",
        20 => "avx512f", 21 => "avx512cd", 22 => "avx512vl", 23 => "avx512dq", 24 => "avx512bw",
        25 => "avx512ifma", 26 => "avx512vbmi", 27 => "avx512vpopcntdq", 28 => "avx512vnni",
        29 => "avx512vbmi2", 30 => "avx512bitalg", 31 => "avx512bf16", 32 => "avx512fp16",
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn x86_feature_bits() -> u64 {
    0
}

/// The logical CPU the calling thread runs on, as a hint (the thread may migrate right after).
pub fn current_processor_id() -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS_RDTSCP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        // CPUID leaf 0x8000_0001, EDX bit 27 says whether rdtscp exists.
        let has_rdtscp = *HAS_RDTSCP.get_or_init(|| {
            let max_extended = std::arch::x86_64::__cpuid(0x8000_0000).eax;
            max_extended >= 0x8000_0001
                && std::arch::x86_64::__cpuid(0x8000_0001).edx & (1 << 27) != 0
        });
        if has_rdtscp {
            let mut aux = 0u32;
            // SAFETY: rdtscp exists (checked above) and only writes `aux`. On Linux the low 12
            // bits of TSC_AUX hold the CPU number.
            unsafe { std::arch::x86_64::__rdtscp(&mut aux) };
            return aux & 0xfff;
        }
    }
    0
}

/// Flush-denormals-to-zero for the lifetime of the guard: MXCSR's FTZ and DAZ bits are set on
/// creation and the previous MXCSR restored on drop, as IREE does around kernel calls.
pub struct DenormalsFlushed {
    #[cfg(target_arch = "x86_64")]
    saved: Option<u32>,
}

#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

impl DenormalsFlushed {
    /// Sets FTZ and DAZ on this thread until the guard drops (a no-op if already set).
    #[inline]
    pub fn new() -> DenormalsFlushed {
        #[cfg(target_arch = "x86_64")]
        {
            let current = read_mxcsr();
            if current & FTZ_DAZ == FTZ_DAZ {
                return DenormalsFlushed { saved: None };
            }
            write_mxcsr(current | FTZ_DAZ);
            DenormalsFlushed {
                saved: Some(current),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        DenormalsFlushed {}
    }
}

impl Default for DenormalsFlushed {
    fn default() -> Self {
        DenormalsFlushed::new()
    }
}

impl Drop for DenormalsFlushed {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(saved) = self.saved {
            write_mxcsr(saved);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_mxcsr() -> u32 {
    let mut value = 0u32;
    // SAFETY: stmxcsr stores the 32-bit MXCSR to the given, valid, aligned location.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags))
    };
    value
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn write_mxcsr(value: u32) {
    // SAFETY: ldmxcsr loads a value read from MXCSR with only the FTZ/DAZ bits changed (or the
    // saved original), so no reserved bit is set and no exception can be raised.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denormals_are_flushed_inside_the_guard_only() {
        let before = read_mxcsr();
        {
            let _guard = DenormalsFlushed::new();
            assert_eq!(read_mxcsr() & FTZ_DAZ, FTZ_DAZ);
            let tiny = std::hint::black_box(f32::MIN_POSITIVE);
            assert_eq!(std::hint::black_box(tiny / 4.0), 0.0);
        }
        assert_eq!(read_mxcsr(), before);
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        assert_ne!(std::hint::black_box(tiny / 4.0), 0.0);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn feature_bits_agree_with_std() {
        let bits = processor_info().data[0];
        assert_eq!(bits & 1 != 0, std::arch::is_x86_feature_detected!("sse3"));
        assert_eq!(
            bits >> 15 & 1 != 0,
            std::arch::is_x86_feature_detected!("avx2")
        );
        assert_eq!(
            bits >> 20 & 1 != 0,
            std::arch::is_x86_feature_detected!("avx512f")
        );
    }
}

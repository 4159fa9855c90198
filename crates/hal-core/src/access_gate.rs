//! Who may touch a buffer's memory right now: the host (shared readers or one writer), device
//! work, or nobody because the memory is not allocated yet or was released.
//!
//! This is what makes host mapping safe. A safe `&[u8]` or `&mut [u8]` over buffer memory must
//! never coexist with device work writing that memory, nor with another host writer. Every
//! allocation carries one gate; host mappings and device work acquire it first, and a conflicting
//! acquisition fails with `FAILED_PRECONDITION` instead of racing. Device users do not exclude
//! each other: ordering between device work is what semaphores and barriers are for.

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, Ordering};

use crate::race_annotations::{happens_after, happens_before};
use crate::range_claims::RangeClaims;
use crate::status::{Result, Status};

const READER_ONE: u64 = 1;
const READER_MASK: u64 = (1 << 24) - 1;
const WRITER: u64 = 1 << 24;
const DEVICE_SHIFT: u32 = 25;
const DEVICE_ONE: u64 = 1 << DEVICE_SHIFT;
const DEVICE_MASK: u64 = ((1 << 32) - 1) << DEVICE_SHIFT;
const COMMITTED: u64 = 1 << 62;
const RELEASED: u64 = 1 << 63;

/// The access state of one allocation: who holds it, in one atomic word, and which ranges
/// running device work claimed ([`RangeClaims`]).
#[derive(Debug)]
pub struct AccessGate {
    state: AtomicU64,
    claims: RangeClaims,
}

impl AccessGate {
    /// A gate for memory that is already allocated.
    pub fn committed() -> AccessGate {
        AccessGate {
            state: AtomicU64::new(COMMITTED),
            claims: RangeClaims::new(),
        }
    }

    /// A gate for memory that will be allocated later by [`AccessGate::mark_committed`].
    pub fn uncommitted() -> AccessGate {
        AccessGate {
            state: AtomicU64::new(0),
            claims: RangeClaims::new(),
        }
    }

    /// The ranges running device work claimed. Claim only while holding device access.
    #[inline]
    pub fn claims(&self) -> &RangeClaims {
        &self.claims
    }

    /// Whether the memory is allocated and not yet released.
    pub fn is_committed(&self) -> bool {
        self.state.load(Ordering::Acquire) & COMMITTED != 0
    }

    #[inline]
    fn unavailable(state: u64) -> Option<Status> {
        if state & RELEASED != 0 {
            Some(Status::failed_precondition(
                "buffer memory was released by a queue dealloca and may not be used",
            ))
        } else if state & COMMITTED == 0 {
            Some(Status::failed_precondition(
                "buffer memory is not allocated yet (its queue alloca has not executed)",
            ))
        } else {
            None
        }
    }

    #[inline]
    fn transition(&self, step: impl Fn(u64) -> Result<u64>) -> Result<()> {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let next = step(current)?;
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    happens_after(&self.state);
                    return Ok(());
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes shared host read access. Fails while a host writer or device work holds the memory.
    pub fn acquire_host_read(&self) -> Result<()> {
        self.transition(|s| {
            if let Some(status) = Self::unavailable(s) {
                return Err(status);
            }
            if s & WRITER != 0 {
                return Err(Status::failed_precondition(
                    "buffer is mapped for writing by the host",
                ));
            }
            if s & DEVICE_MASK != 0 {
                return Err(Self::busy_with_device(s));
            }
            if s & READER_MASK == READER_MASK {
                return Err(Status::resource_exhausted(
                    "too many concurrent host mappings",
                ));
            }
            Ok(s + READER_ONE)
        })
    }

    /// Gives back access taken by [`AccessGate::acquire_host_read`].
    pub fn release_host_read(&self) {
        happens_before(&self.state);
        self.state.fetch_sub(READER_ONE, Ordering::Release);
    }

    /// Takes exclusive host write access. Fails while anyone else holds the memory.
    pub fn acquire_host_write(&self) -> Result<()> {
        self.transition(|s| {
            if let Some(status) = Self::unavailable(s) {
                return Err(status);
            }
            if s & (WRITER | READER_MASK) != 0 {
                return Err(Status::failed_precondition(format!(
                    "buffer is already mapped by the host ({} reader(s), {} writer)",
                    s & READER_MASK,
                    u8::from(s & WRITER != 0)
                )));
            }
            if s & DEVICE_MASK != 0 {
                return Err(Self::busy_with_device(s));
            }
            Ok(s | WRITER)
        })
    }

    /// Gives back access taken by [`AccessGate::acquire_host_write`].
    pub fn release_host_write(&self) {
        happens_before(&self.state);
        self.state.fetch_and(!WRITER, Ordering::Release);
    }

    /// Takes access for device work. Fails while the host has the memory mapped.
    #[inline]
    pub fn acquire_device(&self) -> Result<()> {
        self.transition(|s| {
            if let Some(status) = Self::unavailable(s) {
                return Err(status);
            }
            if s & (WRITER | READER_MASK) != 0 {
                return Err(Status::failed_precondition(
                    "buffer is mapped by the host while device work tries to use it",
                ));
            }
            if s & DEVICE_MASK == DEVICE_MASK {
                return Err(Status::resource_exhausted(
                    "too many concurrent device uses",
                ));
            }
            Ok(s + DEVICE_ONE)
        })
    }

    /// Gives back access taken by [`AccessGate::acquire_device`].
    #[inline]
    pub fn release_device(&self) {
        happens_before(&self.state);
        self.state.fetch_sub(DEVICE_ONE, Ordering::Release);
    }

    /// Marks newly allocated memory as usable. Fails if it was committed or released before.
    pub fn mark_committed(&self) -> Result<()> {
        self.transition(|s| {
            if s & RELEASED != 0 {
                return Err(Status::failed_precondition(
                    "buffer memory was already released",
                ));
            }
            if s & COMMITTED != 0 {
                return Err(Status::failed_precondition(
                    "buffer memory is already allocated",
                ));
            }
            Ok(s | COMMITTED)
        })
    }

    /// Marks the memory released, so that nobody can acquire it again; the caller may then free
    /// it. Fails if anyone holds it or it is not committed.
    pub fn mark_released(&self) -> Result<()> {
        self.transition(|s| {
            if let Some(status) = Self::unavailable(s) {
                return Err(status);
            }
            if s & (WRITER | READER_MASK) != 0 {
                return Err(Status::failed_precondition(
                    "buffer is mapped by the host and cannot be deallocated",
                ));
            }
            if s & DEVICE_MASK != 0 {
                return Err(Self::busy_with_device(s));
            }
            Ok((s & !COMMITTED) | RELEASED)
        })
    }

    fn busy_with_device(state: u64) -> Status {
        Status::failed_precondition(format!(
            "buffer is in use by {} running device operation(s)",
            (state & DEVICE_MASK) >> DEVICE_SHIFT
        ))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn readers_share_writers_exclude() {
        let gate = AccessGate::committed();
        gate.acquire_host_read().unwrap();
        gate.acquire_host_read().unwrap();
        assert!(gate.acquire_host_write().is_err());
        assert!(gate.acquire_device().is_err());
        gate.release_host_read();
        gate.release_host_read();
        gate.acquire_host_write().unwrap();
        assert!(gate.acquire_host_read().is_err());
        gate.release_host_write();
        gate.acquire_device().unwrap();
        gate.acquire_device().unwrap();
        assert!(gate.acquire_host_read().is_err());
        assert!(gate.mark_released().is_err());
        gate.release_device();
        gate.release_device();
        gate.mark_released().unwrap();
        let err = gate.acquire_host_read().unwrap_err();
        assert!(err.message().contains("released"), "{err}");
    }

    #[test]
    fn uncommitted_memory_cannot_be_touched() {
        let gate = AccessGate::uncommitted();
        assert!(gate.acquire_device().is_err());
        gate.mark_committed().unwrap();
        assert!(gate.mark_committed().is_err());
        gate.acquire_device().unwrap();
        gate.release_device();
    }

    #[test]
    fn concurrent_readers_and_devices_never_overlap() {
        use std::sync::atomic::AtomicUsize;
        let gate = AccessGate::committed();
        let host = AtomicUsize::new(0);
        let device = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let (gate, host, device) = (&gate, &host, &device);
                scope.spawn(move || {
                    for _ in 0..20_000 {
                        if thread % 2 == 0 {
                            if gate.acquire_host_write().is_ok() {
                                assert_eq!(host.fetch_add(1, Ordering::SeqCst), 0);
                                assert_eq!(device.load(Ordering::SeqCst), 0);
                                host.fetch_sub(1, Ordering::SeqCst);
                                gate.release_host_write();
                            }
                        } else if gate.acquire_device().is_ok() {
                            device.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(host.load(Ordering::SeqCst), 0);
                            device.fetch_sub(1, Ordering::SeqCst);
                            gate.release_device();
                        }
                    }
                });
            }
        });
    }
}

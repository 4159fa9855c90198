//! Which byte ranges of an allocation running device work uses, and how: what keeps unordered
//! device work from racing with Rust code.
//!
//! Device work is ordered only by semaphores and barriers. Work the user left unordered may run
//! at the same time on the same bytes; for native and sandboxed kernels and for the runtime's own
//! byte copies that gives unspecified bytes, as in IREE. But a kernel written in safe Rust sees
//! its bindings as `&[T]` and `&mut [T]`, and the compiler may assume nobody writes behind a `&[T]`
//! nor touches what a `&mut [T]` covers: a race there is undefined behaviour. So every unit of
//! device work (an inline command buffer, a queue operation, a local-task execution) claims the
//! ranges it touches before it runs, saying how ([`RangeUse`]), and a claim that would let
//! another unit race with such references is refused with `FAILED_PRECONDITION` instead: the
//! later work fails, nothing races. Claims of one unit never conflict with each other (its own
//! commands are ordered, or checked by the driver that runs them concurrently).

use parking_lot::Mutex;

use crate::{Result, Status};

/// How device work uses a byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeUse {
    /// The work may write the range.
    pub writes: bool,
    /// Rust code holds references into the range while the work runs (a safe kernel's views),
    /// so nothing else may write it, and nothing else may touch it if those are `&mut`.
    pub referenced: bool,
}

impl RangeUse {
    /// Read as raw bytes (a copy's source, indirect workgroup counts).
    pub const READ: RangeUse = RangeUse {
        writes: false,
        referenced: false,
    };
    /// Written as raw bytes (a fill, update or copy target), or used by kernel code the runtime
    /// cannot see into (native or WebAssembly kernels, which may read or write any binding).
    pub const WRITE: RangeUse = RangeUse {
        writes: true,
        referenced: false,
    };
    /// Read through shared references (`&[T]`) by a safe kernel.
    pub const SHARED_REFERENCE: RangeUse = RangeUse {
        writes: false,
        referenced: true,
    };
    /// Written through exclusive references (`&mut [T]`) by a safe kernel.
    pub const EXCLUSIVE_REFERENCE: RangeUse = RangeUse {
        writes: true,
        referenced: true,
    };

    /// Whether two units using overlapping bytes like this at the same time would race with
    /// references: one side holds references and one side writes.
    #[inline]
    pub fn conflicts_with(self, other: RangeUse) -> bool {
        (self.referenced || other.referenced) && (self.writes || other.writes)
    }

    /// Whether this use already allows everything `other` does.
    #[inline]
    pub fn covers(self, other: RangeUse) -> bool {
        (self.writes || !other.writes) && (self.referenced || !other.referenced)
    }

    fn describe(self) -> &'static str {
        match (self.writes, self.referenced) {
            (false, false) => "reads",
            (true, false) => "writes (or runs a kernel on)",
            (false, true) => "holds shared references into",
            (true, true) => "holds exclusive references into",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Claim {
    owner: u64,
    start: u64,
    end: u64,
    usage: RangeUse,
}

/// The ranges of one allocation that running device work has claimed.
#[derive(Debug, Default)]
pub struct RangeClaims {
    claims: Mutex<Vec<Claim>>,
}

impl RangeClaims {
    /// No claims.
    pub const fn new() -> RangeClaims {
        RangeClaims {
            claims: Mutex::new(Vec::new()),
        }
    }

    /// Claims bytes `[start, end)` for `owner`'s work, used as `usage`; refused with
    /// `FAILED_PRECONDITION` naming both ranges if another owner's claim conflicts. An empty
    /// range claims nothing.
    pub fn claim(&self, owner: u64, start: u64, end: u64, usage: RangeUse) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let mut claims = self.claims.lock();
        if let Some(other) = claims.iter().find(|c| {
            c.owner != owner && c.start < end && start < c.end && c.usage.conflicts_with(usage)
        }) {
            return Err(Status::failed_precondition(format!(
                "device work that {} bytes [{start}, {end}) of a buffer's memory overlaps device \
                 work that {} bytes [{}, {}), and nothing orders them: order them with a \
                 semaphore or a barrier",
                usage.describe(),
                other.usage.describe(),
                other.start,
                other.end
            )));
        }
        claims.push(Claim {
            owner,
            start,
            end,
            usage,
        });
        Ok(())
    }

    /// Drops every claim of `owner`.
    pub fn release(&self, owner: u64) {
        self.claims.lock().retain(|c| c.owner != owner);
    }

    /// How many claims are held (for tests).
    pub fn len(&self) -> usize {
        self.claims.lock().len()
    }

    /// Whether no claim is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatusCode;

    #[test]
    fn references_exclude_writers_and_mut_excludes_all() {
        let all = [
            RangeUse::READ,
            RangeUse::WRITE,
            RangeUse::SHARED_REFERENCE,
            RangeUse::EXCLUSIVE_REFERENCE,
        ];
        for a in all {
            for b in all {
                let expected = (a.referenced || b.referenced) && (a.writes || b.writes);
                assert_eq!(a.conflicts_with(b), expected, "{a:?} vs {b:?}");
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a));
            }
        }
        // Raw users never conflict with each other: their races give unspecified bytes only.
        assert!(!RangeUse::WRITE.conflicts_with(RangeUse::WRITE));
        assert!(!RangeUse::SHARED_REFERENCE.conflicts_with(RangeUse::READ));
    }

    #[test]
    fn claims_conflict_only_across_owners_and_overlaps() {
        let claims = RangeClaims::new();
        claims
            .claim(1, 0, 100, RangeUse::EXCLUSIVE_REFERENCE)
            .unwrap();
        // Same owner: its own commands.
        claims.claim(1, 50, 150, RangeUse::WRITE).unwrap();
        // Disjoint: fine.
        claims.claim(2, 150, 200, RangeUse::WRITE).unwrap();
        let status = claims.claim(2, 99, 101, RangeUse::READ).unwrap_err();
        assert_eq!(status.code(), StatusCode::FailedPrecondition);
        assert!(status.message().contains("[99, 101)"), "{status}");
        assert!(status.message().contains("[0, 100)"), "{status}");
        // Empty ranges claim nothing.
        claims.claim(3, 10, 10, RangeUse::WRITE).unwrap();
        claims.release(1);
        claims
            .claim(2, 0, 100, RangeUse::EXCLUSIVE_REFERENCE)
            .unwrap();
        claims.release(2);
        assert!(claims.is_empty());
    }
}

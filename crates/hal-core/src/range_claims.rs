//! Which byte ranges of an allocation running device work uses, and how: what keeps unordered
//! device work from racing with Rust code.
//!
//! Device work is ordered only by semaphores and barriers; work the user left unordered may run
//! at the same time on the same bytes. Where Rust code is one of the racers that is undefined
//! behaviour, whatever the outcome: the runtime's own transfers (fills, updates, copies) write
//! bytes, and a kernel written in safe Rust sees its bindings as `&[T]` and `&mut [T]`, which the
//! compiler assumes nobody writes behind (nor, for `&mut`, reads). So every unit of device work (an
//! inline command buffer, a queue operation, a local-task execution) claims the ranges it touches
//! before it runs, saying how ([`RangeUse`]), and a claim that would race with Rust code of
//! another unit is refused with `FAILED_PRECONDITION` instead: the later work fails, nothing
//! races. The only races left are between kernels the runtime cannot see into (native and
//! WebAssembly code, which may or may not write a binding): for them it cannot tell a race from
//! two readers, and they give unspecified bytes, as in IREE. Claims of one unit never conflict
//! with each other (its commands are ordered, or checked by the driver that runs them at once).

use parking_lot::Mutex;

use crate::status::{Result, Status};

/// How device work uses a byte range: three facts, packed in a byte so that comparing uses on
/// the dispatch path is one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RangeUse(u8);

const WRITES: u8 = 1;
const MAY_WRITE: u8 = 2;
const REFERENCED: u8 = 4;

impl RangeUse {
    /// Read as raw bytes (a copy's source, indirect workgroup counts).
    pub const READ: RangeUse = RangeUse(0);
    /// Written as raw bytes (a fill, update or copy target).
    pub const WRITE: RangeUse = RangeUse(WRITES | MAY_WRITE);
    /// A binding of a kernel the runtime cannot see into (native or WebAssembly code), which
    /// may read or write it.
    pub const OPAQUE: RangeUse = RangeUse(MAY_WRITE);
    /// Read through shared references (`&[T]`) by a safe kernel.
    pub const SHARED_REFERENCE: RangeUse = RangeUse(REFERENCED);
    /// Written through exclusive references (`&mut [T]`) by a safe kernel.
    pub const EXCLUSIVE_REFERENCE: RangeUse = RangeUse(WRITES | MAY_WRITE | REFERENCED);

    /// The work writes the range (Rust code does: a transfer, or a safe kernel's `&mut`).
    #[inline]
    pub fn writes(self) -> bool {
        self.0 & WRITES != 0
    }

    /// The work may write the range (also true of kernels the runtime cannot see into).
    #[inline]
    pub fn may_write(self) -> bool {
        self.0 & MAY_WRITE != 0
    }

    /// Rust code holds references into the range while the work runs (a safe kernel's views).
    #[inline]
    pub fn referenced(self) -> bool {
        self.0 & REFERENCED != 0
    }

    /// Whether two units using overlapping bytes like this at the same time would race with
    /// Rust code: one side surely writes (a race whoever the other side is), or one side holds
    /// references and the other may write.
    #[inline]
    pub fn conflicts_with(self, other: RangeUse) -> bool {
        self.writes()
            || other.writes()
            || (self.referenced() && other.may_write())
            || (other.referenced() && self.may_write())
    }

    /// Whether this use conflicts with everything `other` does (so a claim of this one also
    /// stands for `other`).
    #[inline]
    pub fn covers(self, other: RangeUse) -> bool {
        other.0 & !self.0 == 0
    }

    fn describe(self) -> &'static str {
        match (self.writes(), self.may_write(), self.referenced()) {
            (true, _, true) => "holds exclusive references into",
            (false, _, true) => "holds shared references into",
            (true, _, false) => "writes",
            (false, true, false) => "runs a kernel on",
            (false, false, false) => "reads",
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
    use crate::status::StatusCode;

    #[test]
    fn only_opaque_kernels_may_race_each_other() {
        use RangeUse as U;
        let all = [
            U::READ,
            U::WRITE,
            U::OPAQUE,
            U::SHARED_REFERENCE,
            U::EXCLUSIVE_REFERENCE,
        ];
        for a in all {
            for b in all {
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a), "{a:?} vs {b:?}");
                // Reads go with anything but a write; references go with reads and references;
                // opaque kernels go with reads and each other.
                let allowed = matches!(
                    (a, b),
                    (U::READ | U::OPAQUE | U::SHARED_REFERENCE, U::READ)
                        | (U::READ | U::SHARED_REFERENCE, U::SHARED_REFERENCE)
                        | (U::READ | U::OPAQUE, U::OPAQUE)
                );
                assert_eq!(!a.conflicts_with(b), allowed, "{a:?} vs {b:?}");
                assert!(a.covers(a));
            }
        }
        assert!(U::EXCLUSIVE_REFERENCE.covers(U::WRITE));
        assert!(U::WRITE.covers(U::OPAQUE) && !U::OPAQUE.covers(U::WRITE));
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

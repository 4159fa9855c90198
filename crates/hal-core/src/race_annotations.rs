//! Telling a race detector about hand-offs made through atomics.
//!
//! Threads of the runtime hand data to each other through atomics with release/acquire ordering
//! (a region published to workers, a semaphore value reached, an allocation's gate given back).
//! Valgrind's helgrind understands locks, not atomics, so without help it reports every access
//! on either side of such a hand-off as a race. Built with `--cfg hal_valgrind` (as
//! `cargo xtask sanitize` builds for helgrind), [`happens_before`] and [`happens_after`] become
//! helgrind's `ANNOTATE_HAPPENS_BEFORE` / `ANNOTATE_HAPPENS_AFTER` client requests on the atomic's
//! address, so helgrind checks the data on both sides for real; otherwise they compile to
//! nothing. Call `happens_before(x)` just before the release operation on `x`, and
//! `happens_after(x)` just after an acquire operation on `x` that saw it.

/// Marks what this thread did so far as happening before whatever a thread does after
/// [`happens_after`] on the same `tag`.
#[inline(always)]
pub fn happens_before<T: ?Sized>(tag: &T) {
    #[cfg(all(hal_valgrind, target_arch = "x86_64"))]
    helgrind::client_request(
        helgrind::USERSO_SEND_PRE,
        tag as *const T as *const () as usize,
    );
    #[cfg(not(all(hal_valgrind, target_arch = "x86_64")))]
    let _ = tag;
}

/// Marks what this thread does from now on as happening after what other threads did before
/// [`happens_before`] on the same `tag`.
#[inline(always)]
pub fn happens_after<T: ?Sized>(tag: &T) {
    #[cfg(all(hal_valgrind, target_arch = "x86_64"))]
    helgrind::client_request(
        helgrind::USERSO_RECV_POST,
        tag as *const T as *const () as usize,
    );
    #[cfg(not(all(hal_valgrind, target_arch = "x86_64")))]
    let _ = tag;
}

#[cfg(all(hal_valgrind, target_arch = "x86_64"))]
mod helgrind {
    /// `_VG_USERREQ__HG_USERSO_SEND_PRE` and `_RECV_POST` of valgrind's `helgrind.h`: tool base
    /// `'H' << 24 | 'G' << 16`, entries 289 and 290 of its (append-only) ABI enum.
    pub(super) const USERSO_SEND_PRE: usize = 0x4847_0121;
    pub(super) const USERSO_RECV_POST: usize = 0x4847_0122;

    /// Valgrind's client request for amd64 (`VALGRIND_DO_CLIENT_REQUEST_EXPR` of `valgrind.h`):
    /// the rotations of `rdi` (by 128 bits in all, so it keeps its value) followed by
    /// `xchg rbx, rbx` do nothing on a real CPU; valgrind recognises the sequence and reads the
    /// request from the block `rax` points to.
    #[inline(always)]
    pub(super) fn client_request(request: usize, argument: usize) {
        let block: [usize; 6] = [request, argument, 0, 0, 0, 0];
        // SAFETY: the sequence changes only rdi (restored, and declared), rdx (declared) and the
        // flags (not preserved), and only reads the block, which lives across the call.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") block.as_ptr(),
                inout("rdx") 0usize => _,
                inout("rdi") 0usize => _,
                options(nostack, readonly),
            );
        }
    }
}

//! A `fork` child does not share the parent's buffer pages: the pool's memory is not inherited,
//! so a child touching a buffer faults instead of writing into the parent's data. Alone in its
//! process because it forks.

mod common;

use common::{buffer_with, device};

#[test]
fn a_fork_child_cannot_reach_the_parents_buffers() {
    let device = device();
    let buffer = buffer_with(&device, &[7u32; 1024]);
    // SAFETY: the child only touches the buffer and exits without running destructors or
    // returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // The child: this read faults (the pool's view is MADV_DONTFORK). If it ever did not, the
        // write below would reach the parent's pages, which the parent checks.
        let _ = buffer.write_elements(0, &[13u32]);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        "the child touched the buffer without faulting (status {status:#x})"
    );
    assert_eq!(buffer.read_elements::<u32>(0, 1).unwrap(), [7]);
}

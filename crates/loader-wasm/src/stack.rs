//! Enough machine stack for every call into wasm.
//!
//! Wasmtime lets wasm code use [`MAX_WASM_STACK`] bytes of stack measured from where the host
//! called in, and assumes the thread's stack has that much room left: a call made on a small
//! stack (a thread spawned with 256 KiB that dispatches on `local-sync`) would run past the end of
//! the stack before wasmtime's own limit stops it, and die of a fault that is not a wasm trap.
//! So before entering wasm the loader checks how much stack the calling thread has left (its
//! bounds are read once per thread); if that is less than the wasm limit plus a margin for the
//! host frames below it (libcalls, trap handling), the call runs on a helper thread with a big
//! stack instead, synchronously: the caller waits for it. Each small-stack thread gets its own
//! helper, kept while the thread lives, so the instances the helper makes for its calls are kept
//! too.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use hal_core::{Result, Status};

use crate::engine::MAX_WASM_STACK;

/// Stack the host needs below the deepest wasm frame, and above the entry (the loader's and
/// wasmtime's frames of the call).
const HOST_MARGIN: usize = 512 * 1024;
/// Stack needed at the entry of a call into wasm.
const NEEDED: usize = MAX_WASM_STACK + HOST_MARGIN;
/// Stack size of helper threads.
const HELPER_STACK: usize = NEEDED + (2 << 20);

thread_local! {
    /// The lowest usable address of this thread's stack: 0 before it is read, 1 if it cannot be.
    static STACK_LIMIT: Cell<usize> = const { Cell::new(0) };
    static HELPER: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// The lowest usable address of the calling thread's stack, if the system says.
fn read_stack_limit() -> Option<usize> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and destroyed once;
    // the out-pointers are valid.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut low: *mut libc::c_void = std::ptr::null_mut();
        let mut size = 0usize;
        let result = libc::pthread_attr_getstack(&attr, &mut low, &mut size);
        let mut guard = 0usize;
        libc::pthread_attr_getguardsize(&attr, &mut guard);
        libc::pthread_attr_destroy(&mut attr);
        // glibc reports the stack without its guard; adding the guard size again only errs on
        // the safe side.
        (result == 0 && !low.is_null()).then(|| low as usize + guard)
    }
}

/// Bytes of stack the calling thread has left, if known.
#[inline(never)]
fn stack_left() -> Option<usize> {
    let limit = STACK_LIMIT.with(|limit| {
        if limit.get() == 0 {
            limit.set(read_stack_limit().unwrap_or(1));
        }
        limit.get()
    });
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    (limit > 1).then(|| here.saturating_sub(limit))
}

/// Runs `call` (which enters wasm) on this thread if its stack has room for wasm's limit, else on
/// this thread's helper thread, waiting for it. A panic in `call` is resumed here.
pub(crate) fn with_wasm_stack<R: Send>(call: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    if stack_left().is_some_and(|left| left >= NEEDED) {
        return call();
    }
    HELPER.with(|helper| {
        let mut helper = helper
            .try_borrow_mut()
            .map_err(|_| Status::internal("a call into wasm re-entered its stack helper"))?;
        if helper.is_none() {
            *helper = Some(Helper::spawn()?);
        }
        helper.as_ref().expect("spawned above").run(call)
    })
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A thread with a big stack that runs one caller's jobs.
struct Helper {
    jobs: mpsc::Sender<Job>,
}

impl Helper {
    fn spawn() -> Result<Helper> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("loader-wasm-stack".into())
            .stack_size(HELPER_STACK)
            .spawn(move || {
                // Ends when the caller's thread ends (its sender drops); the thread's instances
                // drop with it.
                for job in queue {
                    job();
                }
            })
            .map_err(|e| {
                Status::resource_exhausted(format!(
                    "cannot start a thread with a {HELPER_STACK}-byte stack for wasm calls: {e}"
                ))
            })?;
        Ok(Helper { jobs })
    }

    fn run<R: Send>(&self, call: impl FnOnce() -> Result<R> + Send) -> Result<R> {
        let (done, finished) = mpsc::sync_channel(1);
        let job = move || {
            let result = catch_unwind(AssertUnwindSafe(call));
            let _ = done.send(result);
        };
        let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
        // SAFETY: only the lifetime is changed. The job borrows from the caller's stack (through
        // `call`), and this function does not return before the job is gone: `finished` yields
        // either the result, sent after `call` was consumed (its captures dropped), or an error
        // once the job's sender `done` is dropped, which happens only when the job itself has
        // been dropped, run or not. The send below returns the job on failure, dropped here.
        let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
        if self.jobs.send(job).is_err() {
            return Err(Status::internal("the wasm stack helper thread is gone"));
        }
        match finished.recv() {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => Err(Status::internal(
                "the wasm stack helper thread dropped a call without running it",
            )),
        }
    }
}

/// Lets a call's borrowed arguments (raw pointers of the ABI structs included) go to the helper
/// thread: the caller waits for the call to end, so they are used as if on the caller's thread.
pub(crate) struct Lent<T>(pub(crate) T);

// SAFETY: a `Lent` is only moved into a `with_wasm_stack` call, which runs on another thread only
// while the lending thread waits, so nothing is used on two threads at once; the values lent
// (references to runners and workgroup batches, with their dispatch states and export entries)
// have no thread affinity.
unsafe impl<T> Send for Lent<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stacks_hand_calls_to_a_helper() {
        let big = std::thread::current().id();
        let on = with_wasm_stack(|| Ok(std::thread::current().id()));
        // The test harness's threads have 2 MiB stacks, enough.
        assert_eq!(on.unwrap(), big);
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                assert!(stack_left().unwrap() < NEEDED);
                let me = std::thread::current().id();
                let mut data = vec![1, 2, 3];
                let borrowed = &mut data;
                let (id, left) = with_wasm_stack(|| {
                    borrowed.push(4);
                    Ok((std::thread::current().id(), stack_left().unwrap()))
                })
                .unwrap();
                assert_ne!(id, me);
                assert!(left >= NEEDED, "{left}");
                assert_eq!(data, [1, 2, 3, 4]);
                // Errors and panics come back.
                let error = with_wasm_stack(|| Err::<(), _>(Status::internal("x"))).unwrap_err();
                assert_eq!(error.message(), "x");
                let panic = catch_unwind(|| with_wasm_stack(|| -> Result<()> { panic!("boom") }));
                assert!(panic.is_err());
                // The same helper serves the next call.
                let again = with_wasm_stack(|| Ok(std::thread::current().id())).unwrap();
                assert_eq!(again, id);
            })
            .unwrap()
            .join()
            .unwrap();
    }
}

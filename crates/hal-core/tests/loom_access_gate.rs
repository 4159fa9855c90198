//! Model check of the access gate under every interleaving loom explores:
//! `RUSTFLAGS="--cfg loom" cargo test -p hal-core --test loom_access_gate --release`
//! (run by `cargo xtask ci` in its own target directory).
#![cfg(loom)]

use std::sync::Arc;

use hal_core::AccessGate;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

/// A host writer, a device user and a host reader race for one allocation: whoever holds the
/// gate never overlaps a conflicting holder.
#[test]
fn host_writer_device_and_reader_exclude_each_other() {
    loom::model(|| {
        let gate = Arc::new(AccessGate::committed());
        // Bits: 1 host writer inside, 2 device inside, 4 host reader inside.
        let inside = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (gate, inside) = (gate.clone(), inside.clone());
            thread::spawn(move || {
                if gate.acquire_host_write().is_ok() {
                    assert_eq!(inside.fetch_or(1, Ordering::SeqCst), 0, "writer overlapped");
                    inside.fetch_and(!1, Ordering::SeqCst);
                    gate.release_host_write();
                }
            })
        };
        let device = {
            let (gate, inside) = (gate.clone(), inside.clone());
            thread::spawn(move || {
                if gate.acquire_device().is_ok() {
                    assert_eq!(
                        inside.fetch_or(2, Ordering::SeqCst) & 5,
                        0,
                        "device overlapped the host"
                    );
                    inside.fetch_and(!2, Ordering::SeqCst);
                    gate.release_device();
                }
            })
        };
        if gate.acquire_host_read().is_ok() {
            assert_eq!(
                inside.fetch_or(4, Ordering::SeqCst) & 3,
                0,
                "reader overlapped"
            );
            inside.fetch_and(!4, Ordering::SeqCst);
            gate.release_host_read();
        }
        writer.join().unwrap();
        device.join().unwrap();
        // Everyone left: exclusive access is available again.
        gate.acquire_host_write().unwrap();
        gate.release_host_write();
    });
}

/// Release (queue dealloca) never succeeds while anyone holds the memory, and nobody acquires
/// it afterwards.
#[test]
fn release_excludes_every_holder() {
    loom::model(|| {
        let gate = Arc::new(AccessGate::committed());
        let user = {
            let gate = gate.clone();
            thread::spawn(move || {
                if gate.acquire_device().is_ok() {
                    gate.release_device();
                    true
                } else {
                    false
                }
            })
        };
        let released = gate.mark_released().is_ok();
        let used = user.join().unwrap();
        if released {
            assert!(gate.acquire_device().is_err());
            assert!(gate.acquire_host_read().is_err());
        } else {
            assert!(
                used,
                "release can only fail because the device held the memory"
            );
        }
    });
}

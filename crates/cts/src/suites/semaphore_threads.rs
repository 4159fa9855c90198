//! Semaphores across threads: wake-ups, ping-pong, timeouts, multi-waiters, failure wake-ups.

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use hal_core::{Status, StatusCode, Timeout, WaitMode};

use crate::case::Case;
use crate::check::expect_err;
use crate::ctx::{Ctx, WAIT};
use crate::Tag;

const SUITE: &str = "semaphore_threads";
const TAGS: &[Tag] = &[Tag::Threads];

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "wake_on_signal", wake_on_signal).tags(TAGS),
        Case::new(SUITE, "wait_any_wakes", wait_any_wakes).tags(TAGS),
        Case::new(SUITE, "ping_pong", ping_pong).tags(TAGS),
        Case::new(SUITE, "timeouts", timeouts).tags(TAGS),
        Case::new(SUITE, "two_waiters_all", two_waiters_all).tags(TAGS),
        Case::new(SUITE, "failure_wakes", failure_wakes).tags(TAGS),
    ]
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>, what: &str) -> Result<T> {
    handle
        .join()
        .map_err(|_| anyhow!("{what}: the thread panicked"))?
}

/// A waiter for 3 wakes when another thread signals 10.
fn wake_on_signal(ctx: &Ctx<'_>) -> Result<()> {
    let semaphore = ctx.semaphore(0)?;
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| -> Result<u64> {
            semaphore.wait(3, WAIT)?;
            Ok(semaphore.query()?)
        });
        std::thread::sleep(Duration::from_millis(10));
        semaphore.signal(10)?;
        let seen = join(waiter, "waiter")?;
        ensure!(seen == 10, "the waiter woke at value {seen}");
        Ok(())
    })
}

fn wait_any_wakes(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| -> Result<()> {
            ctx.device
                .wait_semaphores(WaitMode::Any, &[a.at(1), b.at(1)], WAIT)?;
            Ok(())
        });
        std::thread::sleep(Duration::from_millis(10));
        b.signal(1)?;
        join(waiter, "wait-any waiter")?;
        ensure!(a.query()? == 0, "the unsignalled semaphore moved");
        Ok(())
    })
}

/// Two threads hand a token back and forth through two semaphores.
fn ping_pong(ctx: &Ctx<'_>) -> Result<()> {
    const ROUNDS: u64 = 2000;
    let (ping, pong) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| -> Result<()> {
            for round in 1..=ROUNDS {
                ping.wait(round, WAIT)?;
                pong.signal(round)?;
            }
            Ok(())
        });
        for round in 1..=ROUNDS {
            ping.signal(round)?;
            pong.wait(round, WAIT)?;
        }
        join(other, "pong thread")?;
        ensure!(
            ping.query()? == ROUNDS && pong.query()? == ROUNDS,
            "ended at {} / {}",
            ping.query()?,
            pong.query()?
        );
        Ok(())
    })
}

/// Relative and absolute timeouts expire without changing the value, then the wait succeeds
/// once another thread signals.
fn timeouts(ctx: &Ctx<'_>) -> Result<()> {
    let semaphore = ctx.semaphore(1)?;
    let start = Instant::now();
    expect_err(
        semaphore.wait(2, Duration::from_millis(30)),
        StatusCode::DeadlineExceeded,
        &[],
        "relative timeout",
    )?;
    ensure!(
        start.elapsed() >= Duration::from_millis(25),
        "a 30 ms wait returned after {:?}",
        start.elapsed()
    );
    let deadline = Instant::now() + Duration::from_millis(30);
    expect_err(
        semaphore.wait(2, Timeout::Deadline(deadline)),
        StatusCode::DeadlineExceeded,
        &[],
        "absolute timeout",
    )?;
    ensure!(
        Instant::now() >= deadline,
        "an absolute wait returned before its deadline"
    );
    expect_err(
        ctx.device
            .wait_semaphores(WaitMode::All, &[semaphore.at(2)], Duration::from_millis(20)),
        StatusCode::DeadlineExceeded,
        &[],
        "device wait timeout",
    )?;
    ensure!(
        semaphore.query()? == 1,
        "timeouts changed the value to {}",
        semaphore.query()?
    );
    std::thread::scope(|scope| {
        let signaller = scope.spawn(|| -> Result<()> {
            std::thread::sleep(Duration::from_millis(20));
            semaphore.signal(2)?;
            Ok(())
        });
        semaphore.wait(2, Timeout::Deadline(Instant::now() + WAIT))?;
        join(signaller, "signaller")
    })
}

/// Two threads wait-all on a list while a third signals it; both wake.
fn two_waiters_all(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b, c) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(0)?);
    let list = [a.at(1), b.at(2), c.at(3)];
    std::thread::scope(|scope| {
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    Ok(ctx.device.wait_semaphores(WaitMode::All, &list, WAIT)?)
                })
            })
            .collect();
        let signaller = scope.spawn(|| -> Result<()> {
            for (semaphore, value) in [(&a, 1), (&b, 2), (&c, 3)] {
                std::thread::sleep(Duration::from_millis(5));
                semaphore.signal(value)?;
            }
            Ok(())
        });
        join(signaller, "signaller")?;
        for waiter in waiters {
            join(waiter, "wait-all waiter")?;
        }
        Ok(())
    })
}

/// A blocked waiter, a multi-waiter and a device-level wait-any all wake with the failure.
fn failure_wakes(ctx: &Ctx<'_>) -> Result<()> {
    let (failing, other) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    std::thread::scope(|scope| {
        let single = scope.spawn(|| -> Result<Status> {
            expect_err(
                failing.wait(1, WAIT),
                StatusCode::Cancelled,
                &[],
                "blocked waiter",
            )
        });
        let multi = scope.spawn(|| -> Result<Status> {
            expect_err(
                ctx.device
                    .wait_semaphores(WaitMode::All, &[other.at(0), failing.at(5)], WAIT),
                StatusCode::Cancelled,
                &[],
                "wait-all waiter",
            )
        });
        let any = scope.spawn(|| -> Result<Status> {
            expect_err(
                ctx.device
                    .wait_semaphores(WaitMode::Any, &[other.at(1), failing.at(1)], WAIT),
                StatusCode::Cancelled,
                &[],
                "wait-any waiter",
            )
        });
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        failing.fail(Status::cancelled("cts cancels the semaphore"));
        for (handle, what) in [
            (single, "blocked waiter"),
            (multi, "wait-all waiter"),
            (any, "wait-any waiter"),
        ] {
            join(handle, what)?;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(5),
            "waiters took {:?} to wake on failure",
            start.elapsed()
        );
        Ok(())
    })
}

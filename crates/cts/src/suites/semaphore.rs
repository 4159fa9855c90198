//! Semaphores on one thread: values, signal rules, sticky failure, and waits of every kind.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use hal_core::{Status, StatusCode, Timeout, WaitMode};

use crate::case::Case;
use crate::check::expect_err;
use crate::ctx::Ctx;

const SUITE: &str = "semaphore";

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(SUITE, "initial_value", initial_value),
        Case::new(SUITE, "signal_sequence", signal_sequence),
        Case::new(SUITE, "signal_not_increasing", signal_not_increasing),
        Case::new(SUITE, "fail_sticky", fail_sticky),
        Case::new(SUITE, "wait_empty", wait_empty),
        Case::new(SUITE, "wait_reached", wait_reached),
        Case::new(SUITE, "wait_unreached", wait_unreached),
        Case::new(SUITE, "wait_all_one_unmet", wait_all_one_unmet),
        Case::new(SUITE, "wait_any_one_met", wait_any_one_met),
        Case::new(SUITE, "wait_failed", wait_failed),
    ]
}

fn initial_value(ctx: &Ctx<'_>) -> Result<()> {
    for initial in [0u64, 1, 5, 1 << 40] {
        let semaphore = ctx.semaphore(initial)?;
        ensure!(
            semaphore.query()? == initial,
            "created at {initial}, queried {}",
            semaphore.query()?
        );
    }
    Ok(())
}

fn signal_sequence(ctx: &Ctx<'_>) -> Result<()> {
    let semaphore = ctx.semaphore(0)?;
    for value in [2u64, 3, 40] {
        semaphore.signal(value)?;
        ensure!(
            semaphore.query()? == value,
            "signalled {value}, queried {}",
            semaphore.query()?
        );
    }
    Ok(())
}

fn signal_not_increasing(ctx: &Ctx<'_>) -> Result<()> {
    let semaphore = ctx.semaphore(10)?;
    expect_err(
        semaphore.signal(10),
        StatusCode::InvalidArgument,
        &["10"],
        "signal of the current value",
    )?;
    expect_err(
        semaphore.signal(3),
        StatusCode::InvalidArgument,
        &["3"],
        "signal of a lower value",
    )?;
    expect_err(
        semaphore.signal(0),
        StatusCode::InvalidArgument,
        &[],
        "signal of 0",
    )?;
    ensure!(
        semaphore.query()? == 10,
        "rejected signals changed the value to {}",
        semaphore.query()?
    );
    semaphore.signal(11)?;
    ensure!(
        semaphore.query()? == 11,
        "value {} after signalling 11",
        semaphore.query()?
    );
    Ok(())
}

/// The first failure wins; its code and message survive query and later failures.
fn fail_sticky(ctx: &Ctx<'_>) -> Result<()> {
    let semaphore = ctx.semaphore(1)?;
    semaphore.fail(Status::aborted("cts first failure"));
    expect_err(
        semaphore.query(),
        StatusCode::Aborted,
        &["cts first failure"],
        "query after fail",
    )?;
    semaphore.fail(Status::internal("cts second failure"));
    let status = expect_err(
        semaphore.query(),
        StatusCode::Aborted,
        &["cts first failure"],
        "query after a second fail",
    )?;
    ensure!(
        !status.to_string().contains("second"),
        "the second failure leaked into {status}"
    );
    let _ = semaphore.signal(5); // may be refused; must not clear the failure
    expect_err(
        semaphore.query(),
        StatusCode::Aborted,
        &["cts first failure"],
        "query after signalling a failed semaphore",
    )?;
    Ok(())
}

fn wait_empty(ctx: &Ctx<'_>) -> Result<()> {
    for mode in [WaitMode::All, WaitMode::Any] {
        for timeout in [Timeout::Immediate, Timeout::Infinite] {
            ctx.device.wait_semaphores(mode, &[], timeout)?;
        }
    }
    Ok(())
}

fn wait_reached(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b) = (ctx.semaphore(5)?, ctx.semaphore(0)?);
    b.signal(2)?;
    for value in [0u64, 1, 5] {
        a.wait(value, Timeout::Immediate)?;
        a.wait(value, Timeout::Infinite)?;
    }
    b.wait(
        2,
        Timeout::Deadline(Instant::now() - Duration::from_millis(1)),
    )?;
    for mode in [WaitMode::All, WaitMode::Any] {
        ctx.device
            .wait_semaphores(mode, &[a.at(5), b.at(1)], Timeout::Immediate)?;
    }
    Ok(())
}

/// Unreached values with an immediate, past or short timeout are DEADLINE_EXCEEDED.
fn wait_unreached(ctx: &Ctx<'_>) -> Result<()> {
    let semaphore = ctx.semaphore(3)?;
    let past = Instant::now() - Duration::from_millis(5);
    for timeout in [
        Timeout::Immediate,
        Timeout::Deadline(past),
        Timeout::After(Duration::from_millis(5)),
        Timeout::After(Duration::ZERO),
    ] {
        expect_err(
            semaphore.wait(4, timeout),
            StatusCode::DeadlineExceeded,
            &[],
            &format!("wait with {timeout:?}"),
        )?;
        for mode in [WaitMode::All, WaitMode::Any] {
            expect_err(
                ctx.device
                    .wait_semaphores(mode, &[semaphore.at(4)], timeout),
                StatusCode::DeadlineExceeded,
                &[],
                &format!("device wait {mode:?} with {timeout:?}"),
            )?;
        }
    }
    ensure!(
        semaphore.query()? == 3,
        "timed-out waits changed the value to {}",
        semaphore.query()?
    );
    Ok(())
}

fn wait_all_one_unmet(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b, c) = (ctx.semaphore(1)?, ctx.semaphore(1)?, ctx.semaphore(0)?);
    let list = [a.at(1), b.at(1), c.at(1)];
    expect_err(
        ctx.device
            .wait_semaphores(WaitMode::All, &list, Timeout::Immediate),
        StatusCode::DeadlineExceeded,
        &[],
        "wait-all, one unmet",
    )?;
    expect_err(
        ctx.device
            .wait_semaphores(WaitMode::All, &list, Duration::from_millis(5)),
        StatusCode::DeadlineExceeded,
        &[],
        "wait-all 5 ms, one unmet",
    )?;
    c.signal(1)?;
    ctx.device
        .wait_semaphores(WaitMode::All, &list, Timeout::Immediate)?;
    Ok(())
}

fn wait_any_one_met(ctx: &Ctx<'_>) -> Result<()> {
    let (a, b, c) = (ctx.semaphore(0)?, ctx.semaphore(0)?, ctx.semaphore(7)?);
    ctx.device.wait_semaphores(
        WaitMode::Any,
        &[a.at(1), b.at(1), c.at(7)],
        Timeout::Immediate,
    )?;
    expect_err(
        ctx.device.wait_semaphores(
            WaitMode::Any,
            &[a.at(1), b.at(1), c.at(8)],
            Timeout::Immediate,
        ),
        StatusCode::DeadlineExceeded,
        &[],
        "wait-any, none met",
    )?;
    Ok(())
}

/// Waiting on a failed semaphore returns its failure, whether the value was reached or not.
fn wait_failed(ctx: &Ctx<'_>) -> Result<()> {
    let (failed, fine) = (ctx.semaphore(0)?, ctx.semaphore(0)?);
    failed.fail(Status::data_loss("cts failure for waiters"));
    expect_err(
        failed.wait(1, Timeout::Immediate),
        StatusCode::DataLoss,
        &["cts failure for waiters"],
        "wait on a failed semaphore",
    )?;
    expect_err(
        failed.wait(1, Duration::from_secs(5)),
        StatusCode::DataLoss,
        &[],
        "bounded wait on a failed semaphore",
    )?;
    expect_err(
        ctx.device.wait_semaphores(
            WaitMode::All,
            &[fine.at(0), failed.at(1)],
            Duration::from_secs(5),
        ),
        StatusCode::DataLoss,
        &[],
        "wait-all including a failed semaphore",
    )?;
    expect_err(
        ctx.device.wait_semaphores(
            WaitMode::Any,
            &[fine.at(1), failed.at(1)],
            Duration::from_secs(5),
        ),
        StatusCode::DataLoss,
        &[],
        "wait-any including a failed semaphore",
    )?;
    Ok(())
}

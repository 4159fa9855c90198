//! Reading the median line of Google-benchmark output (IREE's benchmark tools).

use anyhow::{bail, Context as _, Result};

fn median_line(output: &str) -> Result<&str> {
    output
        .lines()
        .find(|l| l.contains("_median"))
        .with_context(|| format!("no median in benchmark output:\n{output}"))
}

/// The median's first time column (`12.3 ns`, `0.011 ms`, …), in ns.
pub(crate) fn median_time_ns(output: &str) -> Result<f64> {
    let line = median_line(output)?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    for pair in fields.windows(2) {
        if let Ok(value) = pair[0].parse::<f64>() {
            let scale = match pair[1] {
                "ns" => 1.0,
                "us" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                _ => continue,
            };
            return Ok(value * scale);
        }
    }
    bail!("cannot read a time from '{line}'")
}

/// The median in ns per item, from `items_per_second=461.8k/s` when present (IREE prints
/// times in ms with three decimals, too coarse for µs work), else the time column. Only for
/// benchmarks whose items are what is being timed: `iree-benchmark-executable` counts
/// workgroups, so this is per dispatch only for one-workgroup dispatches.
pub(crate) fn median_ns_per_item(output: &str) -> Result<f64> {
    let line = median_line(output)?;
    if let Some(rate) = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("items_per_second="))
    {
        let rate = rate.trim_end_matches("/s");
        let (digits, scale) = match rate.chars().last() {
            Some('k') => (&rate[..rate.len() - 1], 1e3),
            Some('M') => (&rate[..rate.len() - 1], 1e6),
            Some('G') => (&rate[..rate.len() - 1], 1e9),
            _ => (rate, 1.0),
        };
        let per_second: f64 = digits
            .parse()
            .with_context(|| format!("bad rate in '{line}'"))?;
        return Ok(1e9 / (per_second * scale));
    }
    median_time_ns(output)
}

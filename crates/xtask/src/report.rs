//! The benchmark report `cargo xtask bench` writes: `docs/benchmarks.md` (the machine, then every
//! row of each benchmark family beside IREE's, with the command that produced it and what it
//! times) and `docs/benchmarks.svg` (one bar per row that has a ratio, ours / IREE on a log
//! scale, grouped by family), drawn with `plotters`' SVG backend.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context as _, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The benchmark families `cargo xtask bench` runs, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// Per-dispatch and per-submission overhead: criterion benches of both drivers against
    /// `iree-benchmark-executable` / `iree-benchmark-module` ([`crate::bench`]).
    Runtime,
    /// IREE-compiled add and matmul against `iree-benchmark-executable`
    /// ([`crate::bench_kernels`]).
    Kernels,
    /// Whole programs: `hal-tool replay` against `iree-benchmark-replay`
    /// ([`crate::bench_replay`]).
    Replay,
}

impl Family {
    pub(crate) const ALL: [Family; 3] = [Family::Runtime, Family::Kernels, Family::Replay];

    /// The name `--only` takes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Family::Runtime => "runtime",
            Family::Kernels => "kernels",
            Family::Replay => "replay",
        }
    }

    pub(crate) fn from_key(key: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|family| family.key() == key)
    }

    fn title(self) -> &'static str {
        match self {
            Family::Runtime => "Runtime overhead: dispatch and submission",
            Family::Kernels => "IREE-compiled kernels",
            Family::Replay => "Whole programs: replayed captures",
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Family::Runtime => RGBColor(0x1f, 0x77, 0xb4),
            Family::Kernels => RGBColor(0xff, 0x7f, 0x0e),
            Family::Replay => RGBColor(0x2c, 0xa0, 0x2c),
        }
    }
}

/// One measurement: ours, and IREE's on the same work when there is an equal.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) family: Family,
    pub(crate) name: String,
    pub(crate) driver: String,
    pub(crate) ours_ns: f64,
    pub(crate) iree_ns: Option<f64>,
    /// What the figure is per, and anything else a reader needs (a target, GFLOP/s).
    pub(crate) note: String,
}

impl Row {
    /// Ours / IREE's: below 1.0 we are faster.
    pub(crate) fn ratio(&self) -> Option<f64> {
        self.iree_ns.map(|iree| self.ours_ns / iree)
    }
}

/// One family's rows, with the command that produced them and what they time.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub(crate) family: Family,
    pub(crate) command: String,
    pub(crate) timed: String,
    pub(crate) rows: Vec<Row>,
}

/// The machine a report was measured on.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: String,
    pub(crate) memory: String,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    /// `None` when IREE's tools were not run.
    pub(crate) iree: Option<String>,
    pub(crate) date: String,
}

impl Machine {
    /// Describes this machine; `iree_bin` is the IREE environment's `bin`, when IREE ran.
    pub(crate) fn describe(iree_bin: Option<&Path>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let logical = cpuinfo
            .lines()
            .filter(|line| line.starts_with("processor"))
            .count();
        let available = std::thread::available_parallelism().map_or(0, |n| n.get());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| format!("Linux {}", release.trim()))
            .unwrap_or_else(|_| "unknown".into());
        let rustc = command_line(
            Command::new("rustc")
                .arg("-V")
                .current_dir(crate::workspace_root()),
            "rustc",
        );
        let iree = iree_bin.map(|bin| {
            command_line(
                Command::new(bin.join("iree-compile")).arg("--version"),
                "version",
            )
        });
        Machine {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            cores: format!("{logical} logical CPUs ({available} available to the benchmarks)"),
            memory: mem_total(&meminfo).unwrap_or_else(|| "unknown".into()),
            kernel,
            rustc,
            iree,
            date: utc_date_time(SystemTime::now()),
        }
    }
}

/// The first line of a command's output containing `marker`, trimmed, or why there is none.
fn command_line(command: &mut Command, marker: &str) -> String {
    match command.output() {
        Ok(output) => String::from_utf8_lossy(&output.stdout)
            .lines()
            .find(|line| line.contains(marker))
            .map_or_else(|| "unknown".into(), |line| line.trim().to_string()),
        Err(error) => format!("unknown ({error})"),
    }
}

/// `model name` from `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// `MemTotal` from `/proc/meminfo`, in GiB.
fn mem_total(meminfo: &str) -> Option<String> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
}

/// `YYYY-MM-DD HH:MM UTC` (days to civil date: Howard Hinnant's algorithm).
fn utc_date_time(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

/// A duration in ns, in the unit that reads best.
pub(crate) fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

/// The geometric mean of the section's ratios, if it has any.
fn geometric_mean_ratio(rows: &[Row]) -> Option<f64> {
    let logs: Vec<f64> = rows.iter().filter_map(Row::ratio).map(f64::ln).collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

/// The report. `chart` is the chart's file name beside it, when one was drawn.
pub(crate) fn markdown(machine: &Machine, sections: &[Section], chart: Option<&str>) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# Benchmarks: this runtime beside IREE 3.13\n");
    let _ = writeln!(
        text,
        "Written by `cargo xtask bench` (do not edit by hand). **One run; compare ratios within \
         it:** this machine's cores are shared with other work (builds and benchmarks of other \
         processes ran alongside), so absolute figures move from run to run, while both sides \
         of a ratio were measured back to back under the same load.\n"
    );
    let _ = writeln!(text, "| machine | |\n|---|---|");
    let iree = machine.iree.as_deref().unwrap_or("not run (`--no-iree`)");
    for (key, value) in [
        ("CPU", machine.cpu.as_str()),
        ("cores", &machine.cores),
        ("memory", &machine.memory),
        ("kernel", &machine.kernel),
        ("rustc", &machine.rustc),
        ("IREE", iree),
        ("date", &machine.date),
    ] {
        let _ = writeln!(text, "| {key} | {} |", escape(value));
    }
    text.push('\n');
    if machine.iree.is_none() {
        let _ = writeln!(
            text,
            "IREE's tools were not run (`cargo xtask bench --no-iree`): **our numbers only**, \
             with no ratios and no chart.\n"
        );
    } else {
        let _ = writeln!(
            text,
            "Ratio = ours / IREE's time on the same work: **below 1.0 this runtime is faster**. \
             Rows without an IREE figure have no equal in IREE's tools."
        );
    }
    if let Some(chart) = chart {
        let _ = writeln!(text, "\n![ratios]({chart})");
    }
    for section in sections {
        let _ = writeln!(text, "\n## {}\n", section.family.title());
        let _ = writeln!(text, "Command: {}\n", section.command);
        let _ = writeln!(text, "What is timed: {}\n", section.timed);
        if let Some(mean) = geometric_mean_ratio(&section.rows) {
            let count = section
                .rows
                .iter()
                .filter(|row| row.iree_ns.is_some())
                .count();
            let plural = if count == 1 { "" } else { "s" };
            let _ = writeln!(
                text,
                "Geometric mean of the ratios: {mean:.2} over {count} row{plural}.\n"
            );
        }
        if section.rows.is_empty() {
            let _ = writeln!(text, "No results in this run.");
            continue;
        }
        let with_iree = section.rows.iter().any(|row| row.iree_ns.is_some());
        if with_iree {
            let _ = writeln!(
                text,
                "| benchmark | driver | ours | IREE 3.13 | ratio | note |\n|---|---|---:|---:|---:|---|"
            );
        } else {
            let _ = writeln!(
                text,
                "| benchmark | driver | ours | note |\n|---|---|---:|---|"
            );
        }
        for row in &section.rows {
            let ours = format_ns(row.ours_ns);
            let note = escape(&row.note);
            let (name, driver) = (escape(&row.name), escape(&row.driver));
            if with_iree {
                let iree = row.iree_ns.map_or("–".into(), format_ns);
                let ratio = row.ratio().map_or("–".into(), |r| format!("{r:.2}"));
                let _ = writeln!(
                    text,
                    "| {name} | {driver} | {ours} | {iree} | {ratio} | {note} |"
                );
            } else {
                let _ = writeln!(text, "| {name} | {driver} | {ours} | {note} |");
            }
        }
    }
    text
}

/// A table cell: `|` would end it.
fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

const CHART_WIDTH: u32 = 1200;
const ROW_HEIGHT: u32 = 18;
const LABEL_WIDTH: u32 = 380;

/// The chart of every row's ratio, one bar per row that has one (from 1.0 to the ratio, on a
/// log scale with a line at 1.0), grouped by family: each group under its family's title, in
/// its family's colour. `None` when no row has a ratio.
pub(crate) fn chart_svg(sections: &[Section]) -> Result<Option<String>> {
    // Slots from the top: per family with ratios, a title slot, then one slot per bar.
    let mut titles: Vec<(usize, Family)> = Vec::new();
    let mut bars: Vec<(usize, &Row, f64)> = Vec::new();
    let mut slot = 0;
    for section in sections {
        let ratios: Vec<_> = section
            .rows
            .iter()
            .filter_map(|row| Some((row, row.ratio()?)))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        titles.push((slot, section.family));
        slot += 1;
        for (row, ratio) in ratios {
            bars.push((slot, row, ratio));
            slot += 1;
        }
    }
    if bars.is_empty() {
        return Ok(None);
    }
    let total = slot as f64;
    let (low, high) = bars.iter().fold((1.0f64, 1.0f64), |(low, high), bar| {
        (low.min(bar.2), high.max(bar.2))
    });
    let (low, high) = ((low / 1.6).min(0.5), (high * 1.6).max(2.0));

    let height = 110 + ROW_HEIGHT * slot as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "ours / IREE 3.13, time on the same work (left of 1.0: this runtime is faster)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(LABEL_WIDTH)
            .build_cartesian_2d(
                (low..high).log_scale().with_key_points(ticks(low, high)),
                total..0.0,
            )
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .y_label_formatter(&|_| String::new())
            .x_desc("ours / IREE (log scale)")
            .x_label_formatter(&|value| format!("{value}"))
            .draw()
            .map_err(plot_error)?;
        let label = |size: u32, anchor: HPos| {
            TextStyle::from(("sans-serif", size).into_font()).pos(Pos::new(anchor, VPos::Center))
        };
        for &(slot, family) in &titles {
            let colour = family.colour();
            let (x, y) = chart.backend_coord(&(low, slot as f64 + 0.5));
            let style = TextStyle::from(("sans-serif", 14, FontStyle::Bold).into_font())
                .color(&colour)
                .pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(family.title(), (x - 8, y), style))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(bars.iter().map(|&(slot, row, ratio)| {
                let top = slot as f64 + 0.15;
                Rectangle::new(
                    [(ratio.min(1.0), top), (ratio.max(1.0), top + 0.7)],
                    row.family.colour().filled(),
                )
            }))
            .map_err(plot_error)?;
        chart
            .draw_series(bars.iter().map(|&(slot, _, ratio)| {
                let (anchor, x) = if ratio >= 1.0 {
                    (HPos::Left, ratio * 1.02)
                } else {
                    (HPos::Right, ratio / 1.02)
                };
                Text::new(
                    format!("{ratio:.2}"),
                    (x, slot as f64 + 0.5),
                    label(11, anchor),
                )
            }))
            .map_err(plot_error)?;
        for &(slot, row, _) in &bars {
            let (x, y) = chart.backend_coord(&(low, slot as f64 + 0.5));
            root.draw(&Text::new(
                format!("{} · {}", row.name, row.driver),
                (x - 8, y),
                label(12, HPos::Right),
            ))
            .map_err(plot_error)?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(1.0, 0.0), (1.0, total)],
                BLACK.stroke_width(2),
            )))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(Some(svg))
}

/// The x axis' ticks: the powers of 2 in `low..=high`, or of 10 when those would be too many.
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let base: f64 = if (high / low).log2() <= 12.0 {
        2.0
    } else {
        10.0
    };
    let first = low.log(base).ceil() as i32;
    let last = high.log(base).floor() as i32;
    (first..=last).map(|power| base.powi(power)).collect()
}

fn plot_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> anyhow::Error {
    anyhow!("drawing the chart: {error}")
}

/// Writes `benchmarks.md` and (when any row has a ratio) `benchmarks.svg` into `dir`; a chart
/// left from an earlier run is removed when this run has none. Returns the report's path.
pub(crate) fn write(dir: &Path, machine: &Machine, sections: &[Section]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let chart_path = dir.join("benchmarks.svg");
    let chart = match chart_svg(sections)? {
        Some(svg) => {
            std::fs::write(&chart_path, svg)
                .with_context(|| format!("writing {}", chart_path.display()))?;
            Some("benchmarks.svg")
        }
        None => {
            if chart_path.exists() {
                std::fs::remove_file(&chart_path)?;
            }
            None
        }
    };
    let report = dir.join("benchmarks.md");
    std::fs::write(&report, markdown(machine, sections, chart))
        .with_context(|| format!("writing {}", report.display()))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(family: Family, name: &str, ours_ns: f64, iree_ns: Option<f64>) -> Row {
        Row {
            family,
            name: name.into(),
            driver: "local-sync".into(),
            ours_ns,
            iree_ns,
            note: "per dispatch".into(),
        }
    }

    fn sections() -> Vec<Section> {
        vec![
            Section {
                family: Family::Runtime,
                command: "`cargo xtask bench --only runtime`".into(),
                timed: "one dispatch.".into(),
                rows: vec![
                    row(Family::Runtime, "one dispatch", 500.0, Some(1000.0)),
                    row(Family::Runtime, "direct call", 3.0, None),
                ],
            },
            Section {
                family: Family::Kernels,
                command: "`cargo xtask bench-kernels`".into(),
                timed: "add and matmul.".into(),
                rows: vec![row(Family::Kernels, "add", 2.5e6, Some(2e6))],
            },
            Section {
                family: Family::Replay,
                command: "`cargo xtask bench-replay`".into(),
                timed: "whole programs.".into(),
                rows: vec![
                    row(Family::Replay, "resnet50 serial", 2e9, Some(2e9)),
                    row(Family::Replay, "mlp serial", 7e3, Some(5e3)),
                ],
            },
        ]
    }

    fn machine(iree: Option<&str>) -> Machine {
        Machine {
            cpu: "Test CPU @ 2.0GHz".into(),
            cores: "2 logical CPUs".into(),
            memory: "7.8 GiB".into(),
            kernel: "Linux 6.0".into(),
            rustc: "rustc 1.95.0".into(),
            iree: iree.map(Into::into),
            date: "2025-01-02 03:04 UTC".into(),
        }
    }

    #[test]
    fn the_report_describes_the_machine_and_every_row_with_its_ratio() {
        let text = markdown(
            &machine(Some("IREE compiler version 3.13.0")),
            &sections(),
            Some("benchmarks.svg"),
        );
        assert!(text.contains("| CPU | Test CPU @ 2.0GHz |"), "{text}");
        assert!(
            text.contains("| IREE | IREE compiler version 3.13.0 |"),
            "{text}"
        );
        assert!(text.contains("One run; compare ratios within it"), "{text}");
        assert!(text.contains("![ratios](benchmarks.svg)"), "{text}");
        assert!(text
            .contains("| one dispatch | local-sync | 500.0 ns | 1.00 µs | 0.50 | per dispatch |"));
        assert!(text.contains("| direct call | local-sync | 3.0 ns | – | – | per dispatch |"));
        assert!(text.contains("| add | local-sync | 2.50 ms | 2.00 ms | 1.25 |"));
        assert!(text.contains("| resnet50 serial | local-sync | 2.000 s | 2.000 s | 1.00 |"));
        assert!(text.contains("Command: `cargo xtask bench-kernels`"));
        assert!(text.contains("What is timed: add and matmul."), "{text}");
        // Sections in order, each with one header row and its rows.
        let runtime = text.find("## Runtime overhead").unwrap();
        let kernels = text.find("## IREE-compiled kernels").unwrap();
        let replay = text.find("## Whole programs").unwrap();
        assert!(runtime < kernels && kernels < replay);
        assert_eq!(text.matches("| benchmark | driver |").count(), 3);
        assert!(text.contains("Geometric mean of the ratios: 1.18 over 2 rows."));
    }

    #[test]
    fn without_iree_the_report_says_so_and_has_our_numbers_only() {
        let mut sections = sections();
        for section in &mut sections {
            for row in &mut section.rows {
                row.iree_ns = None;
            }
        }
        assert!(chart_svg(&sections).unwrap().is_none());
        let text = markdown(&machine(None), &sections, None);
        assert!(text.contains("our numbers only"), "{text}");
        assert!(text.contains("| IREE | not run (`--no-iree`) |"));
        assert!(!text.contains("![ratios]"));
        assert!(!text.contains("IREE 3.13 | ratio"));
        assert!(text.contains("| one dispatch | local-sync | 500.0 ns | per dispatch |"));
    }

    /// Checks tags nest: every opening tag closed in order, or self-closing.
    fn well_formed(svg: &str) -> Result<(), String> {
        let mut stack = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').ok_or("unterminated tag")? + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if tag.starts_with('/') {
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        match stack.is_empty() {
            true => Ok(()),
            false => Err(format!("unclosed: {stack:?}")),
        }
    }

    #[test]
    fn the_chart_is_well_formed_svg_with_one_bar_per_ratio() {
        let sections = sections();
        let svg = chart_svg(&sections).unwrap().unwrap();
        assert!(svg.trim_start().starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        well_formed(&svg).unwrap();
        let rects: Vec<&str> = svg
            .split("<rect")
            .skip(1)
            .map(|rest| &rest[..rest.find('>').unwrap()])
            .collect();
        for family in Family::ALL {
            let RGBColor(r, g, b) = family.colour();
            let fill = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
            let bars = rects.iter().filter(|rect| rect.contains(&fill)).count();
            let rows = sections
                .iter()
                .flat_map(|s| &s.rows)
                .filter(|row| row.family == family && row.iree_ns.is_some())
                .count();
            assert_eq!(bars, rows, "{family:?}");
        }
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|rest| {
                let body = &rest[rest.find('>')? + 1..];
                Some(body[..body.find("</text>")?].trim())
            })
            .collect();
        assert!(texts.contains(&"one dispatch · local-sync"), "{texts:?}");
        assert!(
            texts.contains(&"IREE-compiled kernels"),
            "families have titles"
        );
        assert!(
            texts.contains(&"0.50"),
            "bars are labelled with their ratio"
        );
        assert!(
            !texts.iter().any(|text| text.contains("direct call")),
            "a row without a ratio has no bar"
        );
    }

    #[test]
    fn the_report_and_chart_are_written_and_a_stale_chart_removed() {
        let dir = crate::target_dir().join("tmp/report-test");
        let _ = std::fs::remove_dir_all(&dir);
        let report = write(&dir, &machine(Some("3.13")), &sections()).unwrap();
        assert!(std::fs::read_to_string(report)
            .unwrap()
            .contains("![ratios](benchmarks.svg)"));
        assert!(dir.join("benchmarks.svg").exists());
        let mut ours_only = sections();
        ours_only.iter_mut().for_each(|s| s.rows.truncate(0));
        write(&dir, &machine(None), &ours_only).unwrap();
        assert!(!dir.join("benchmarks.svg").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn machine_details_are_read_from_proc_text() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(
            mem_total("MemTotal:        8141288 kB\nMemFree: 1 kB\n").as_deref(),
            Some("7.8 GiB")
        );
        let time = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(utc_date_time(time), "2023-11-14 22:13 UTC");
        assert_eq!(utc_date_time(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        assert_eq!(format_ns(12.34), "12.3 ns");
        assert_eq!(format_ns(1234.0), "1.23 µs");
        assert_eq!(ticks(0.3, 2.5), [0.5, 1.0, 2.0]);
        assert_eq!(ticks(0.001, 50.0), [0.01, 0.1, 1.0, 10.0]);
    }
}

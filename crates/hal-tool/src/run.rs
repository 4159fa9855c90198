//! `hal-tool run` and `hal-tool benchmark`: one export of any executable file, with bindings
//! given on the command line, once (printing the results) or timed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use hal::{Buffer, BufferParams, BufferRef, CommandBufferParams, Device, Executable, Workgroups};

use crate::binding_spec::BindingValue;

const WAIT: Duration = Duration::from_secs(600);

/// Which executable, export, bindings and device.
#[derive(Args, Debug)]
pub struct ExecutableArgs {
    /// The executable file (an IREE-compiled `.so` or `.wasm`, or an embedded ELF).
    pub file: PathBuf,
    /// The export to run: its name or ordinal.
    #[arg(long)]
    pub export: String,
    /// A binding, in order: `SHAPExTYPE` (an output, zeroed), `SHAPExTYPE=V` (splat),
    /// `SHAPExTYPE=V1,V2,…` or `=[V1 V2][V3 V4]`, or `@file.npy`.
    #[arg(long = "binding")]
    pub bindings: Vec<String>,
    /// A push constant (32-bit), in order.
    #[arg(long = "constant")]
    pub constants: Vec<u32>,
    /// Workgroup counts `X,Y,Z`.
    #[arg(long, default_value = "1,1,1")]
    pub workgroups: String,
    /// The device URI.
    #[arg(long, default_value = "local-sync")]
    pub device: String,
    /// The file's format, when the loaders cannot tell it from the bytes.
    #[arg(long)]
    pub format: Option<String>,
    /// Executable-level constants, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub executable_constants: Vec<u32>,
}

/// `run`: dispatch once and print (or write) the results.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub executable: ExecutableArgs,
    /// Write every output binding as `binding_N.npy` into this directory.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// How many elements of each output to print.
    #[arg(long, default_value_t = 16)]
    pub print_limit: usize,
}

/// `benchmark`: time the dispatch.
#[derive(Args, Debug)]
pub struct BenchmarkArgs {
    #[command(flatten)]
    pub executable: ExecutableArgs,
    /// Untimed submissions first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed submissions.
    #[arg(long, default_value_t = 10)]
    pub repetitions: usize,
    /// Dispatches per submission (each followed by a barrier), as IREE's `--batch_size`.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Bytes one dispatch moves, to report GB/s.
    #[arg(long)]
    pub bytes: Option<u64>,
    /// Floating-point operations of one dispatch, to report GFLOP/s.
    #[arg(long)]
    pub flops: Option<u64>,
}

struct Prepared {
    device: Device,
    executable: Executable,
    ordinal: u32,
    workgroups: [u32; 3],
    constants: Vec<u32>,
    values: Vec<BindingValue>,
    buffers: Vec<Buffer>,
}

fn parse_workgroups(text: &str) -> Result<[u32; 3]> {
    let counts = text
        .split(',')
        .map(|count| {
            count
                .trim()
                .parse::<u32>()
                .with_context(|| format!("--workgroups '{text}': '{count}' is not a count"))
        })
        .collect::<Result<Vec<u32>>>()?;
    let counts: [u32; 3] = counts
        .try_into()
        .map_err(|_| anyhow::anyhow!("--workgroups '{text}': give X,Y,Z"))?;
    Ok(counts)
}

fn prepare(args: &ExecutableArgs) -> Result<Prepared> {
    let workgroups = parse_workgroups(&args.workgroups)?;
    let values = args
        .bindings
        .iter()
        .map(|spec| BindingValue::parse(spec))
        .collect::<Result<Vec<_>>>()?;
    let device = hal::create_device(&args.device)
        .with_context(|| format!("creating device '{}'", args.device))?;
    let executable = crate::executable_file::load(
        &device,
        &args.file,
        args.format.as_deref(),
        &args.executable_constants,
    )?
    .executable;
    let ordinal = match args.export.parse::<u32>() {
        Ok(ordinal) => ordinal,
        Err(_) => executable.lookup_export(&args.export)?,
    };
    let export = executable.export(ordinal)?;
    ensure!(
        values.len() == export.binding_count as usize,
        "export '{}' takes {} bindings, but {} --binding were given",
        export.name,
        export.binding_count,
        values.len()
    );
    ensure!(
        args.constants.len() == export.constant_count as usize,
        "export '{}' takes {} push constants, but {} --constant were given",
        export.name,
        export.constant_count,
        args.constants.len()
    );
    let buffers = values
        .iter()
        .map(|value| {
            let buffer =
                device.allocate_buffer(BufferParams::default(), value.bytes.len().max(1) as u64)?;
            if !value.bytes.is_empty() {
                buffer.write(0, &value.bytes)?;
            }
            Ok(buffer)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Prepared {
        device,
        executable,
        ordinal,
        workgroups,
        constants: args.constants.clone(),
        values,
        buffers,
    })
}

impl Prepared {
    fn bindings(&self) -> Vec<BufferRef<'_>> {
        self.buffers.iter().map(BufferRef::whole).collect()
    }

    fn dispatch_once(&self) -> Result<()> {
        let done = self.device.create_semaphore(0)?;
        self.device.queue_dispatch(
            &[],
            &[done.at(1)],
            &self.executable,
            self.ordinal,
            Workgroups::Static(self.workgroups),
            &self.constants,
            &self.bindings(),
        )?;
        done.wait(1, WAIT)?;
        Ok(())
    }
}

/// Runs the export once and prints every output binding (those given without values).
pub fn run(args: &RunArgs) -> Result<()> {
    let prepared = prepare(&args.executable)?;
    prepared.dispatch_once()?;
    if let Some(directory) = &args.output {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
    }
    for (index, (value, buffer)) in prepared.values.iter().zip(&prepared.buffers).enumerate() {
        if value.has_values {
            continue;
        }
        let mut bytes = vec![0u8; value.bytes.len()];
        buffer.read(0, &mut bytes)?;
        println!(
            "binding {index}: {}",
            value.describe(&bytes, args.print_limit)
        );
        if let Some(directory) = &args.output {
            let path = directory.join(format!("binding_{index}.npy"));
            value.to_npy(bytes).write(&path)?;
        }
    }
    Ok(())
}

/// Times the export: `repetitions` submissions of `batch` dispatches each.
pub fn benchmark(args: &BenchmarkArgs) -> Result<()> {
    ensure!(args.repetitions > 0, "--repetitions must be at least 1");
    ensure!(args.batch > 0, "--batch must be at least 1");
    let prepared = prepare(&args.executable)?;
    let mut command_buffer = prepared
        .device
        .create_command_buffer(CommandBufferParams::reusable(0))?;
    command_buffer.begin()?;
    let bindings = prepared.bindings();
    for _ in 0..args.batch {
        command_buffer.dispatch(
            &prepared.executable,
            prepared.ordinal,
            Workgroups::Static(prepared.workgroups),
            &prepared.constants,
            &bindings,
        )?;
        command_buffer.execution_barrier()?;
    }
    command_buffer.end()?;
    let semaphore = prepared.device.create_semaphore(0)?;
    let mut value = 0;
    let mut submit = || -> Result<Duration> {
        value += 1;
        let start = Instant::now();
        prepared
            .device
            .queue_execute(&[], &[semaphore.at(value)], &command_buffer, &[])?;
        semaphore.wait(value, WAIT)?;
        Ok(start.elapsed())
    };
    for _ in 0..args.warmup {
        submit()?;
    }
    let mut progress = crate::progress::Progress::new(args.repetitions, "timing");
    let mut per_dispatch: Vec<f64> = (0..args.repetitions)
        .map(|_| {
            let seconds = submit()?.as_secs_f64();
            progress.step();
            Ok(seconds / args.batch as f64)
        })
        .collect::<Result<_>>()?;
    drop(progress);
    per_dispatch.sort_by(f64::total_cmp);
    let median = per_dispatch[per_dispatch.len() / 2];
    let export = prepared.executable.export(prepared.ordinal)?;
    println!(
        "{} '{}' on {}: {} submissions of {} dispatch(es)",
        args.executable.file.display(),
        export.name,
        args.executable.device,
        args.repetitions,
        args.batch
    );
    println!(
        "per dispatch: median {}, min {}, max {}",
        time(median),
        time(per_dispatch[0]),
        time(per_dispatch[per_dispatch.len() - 1])
    );
    if let Some(bytes) = args.bytes {
        println!("{:.2} GB/s", bytes as f64 / median / 1e9);
    }
    if let Some(flops) = args.flops {
        println!("{:.2} GFLOP/s", flops as f64 / median / 1e9);
    }
    if args.bytes.is_none() && args.flops.is_none() && per_dispatch.is_empty() {
        bail!("nothing was timed");
    }
    Ok(())
}

fn time(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{:.3} us", seconds * 1e6)
    } else {
        format!("{:.3} ms", seconds * 1e3)
    }
}

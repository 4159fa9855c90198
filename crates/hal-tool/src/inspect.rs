//! `hal-tool inspect FILE`: what an executable file is, as this runtime's loaders see it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use hal::{BindingFlags, ExportFlags};

/// Shows an executable's format, library name and exports.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The executable file (an IREE-compiled `.so` or `.wasm`, or an embedded ELF).
    pub file: PathBuf,
    /// Its format, when the loaders cannot tell it from the bytes.
    #[arg(long)]
    pub format: Option<String>,
    /// Values of the executable-level constants, for libraries that take some (comma-separated
    /// 32-bit integers).
    #[arg(long, value_delimiter = ',')]
    pub constants: Vec<u32>,
}

fn binding_flags(flags: BindingFlags) -> &'static str {
    match (
        flags.contains(BindingFlags::READ_ONLY),
        flags.contains(BindingFlags::INDIRECT),
    ) {
        (true, true) => "read-only indirect",
        (true, false) => "read-only",
        (false, true) => "indirect",
        (false, false) => "read-write",
    }
}

/// Loads the file on a local-sync device and prints what it holds.
pub fn inspect(args: &InspectArgs) -> Result<()> {
    let device = hal::create_device("local-sync")?;
    let crate::executable_file::LoadedFile {
        executable,
        format,
        how,
    } = crate::executable_file::load(&device, &args.file, args.format.as_deref(), &args.constants)?;
    println!("{}", args.file.display());
    println!("  format: {format} ({how})");
    println!("  library: {}", executable.library_name());
    println!(
        "  executable constants: {}",
        executable.executable_constant_count()
    );
    println!("  exports: {}", executable.export_count());
    for (ordinal, export) in executable.exports().iter().enumerate() {
        println!("  {ordinal}: {}", export.name);
        println!("      constants: {}", export.constant_count);
        let bindings: Vec<String> = (0..export.binding_count as usize)
            .map(|binding| {
                let flags = export
                    .binding_flags
                    .get(binding)
                    .copied()
                    .unwrap_or_default();
                format!("{binding} ({})", binding_flags(flags))
            })
            .collect();
        println!("      bindings: {}", bindings.join(", "));
        let [x, y, z] = export.workgroup_size;
        println!("      workgroup size: {x}x{y}x{z}");
        println!("      local memory: {} bytes", export.local_memory_size);
        if export.flags != ExportFlags::empty() {
            println!("      flags: {:?}", export.flags);
        }
    }
    Ok(())
}

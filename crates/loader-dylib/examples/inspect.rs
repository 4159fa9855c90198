//! Checks and loads kernel libraries and prints their exports:
//! `cargo run -p loader-dylib --example inspect -- FILE.so [CONSTANT...]`.

use hal_local::NoImports;
use loader_dylib::{check_shared_object, DylibLoader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: inspect FILE.so [CONSTANT...]")?;
    let constants = args.map(|a| a.parse()).collect::<Result<Vec<u32>, _>>()?;
    let facts = check_shared_object(&std::fs::read(&path)?)?;
    println!("{path}: needs {:?}", facts.needed);
    let executable = DylibLoader::new().load_file(path.as_ref(), &constants, &NoImports)?;
    for (ordinal, export) in executable.exports().iter().enumerate() {
        println!(
            "  {ordinal}: {} constants={} bindings={} workgroup_size={:?} local_memory={}",
            export.name,
            export.constant_count,
            export.binding_count,
            export.workgroup_size,
            export.local_memory_size
        );
    }
    Ok(())
}

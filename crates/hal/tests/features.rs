//! Builds the `registry` example with several feature sets and checks that each program sees
//! exactly the drivers and loaders its features name — which also proves the facade keeps the
//! link-time registrations of crates that are otherwise only dependencies.

use std::path::PathBuf;
use std::process::Command;

fn registry_with(features: &[&str]) -> Vec<String> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = workspace.join("target/feature-probe");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "run",
            "--quiet",
            "--offline",
            "-p",
            "hal",
            "--example",
            "registry",
            "--no-default-features",
        ])
        .args(if features.is_empty() {
            vec![]
        } else {
            vec!["--features".to_string(), features.join(",")]
        })
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "build with {features:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn each_feature_set_sees_exactly_its_drivers_and_loaders() {
    assert_eq!(registry_with(&[]), Vec::<String>::new());
    assert_eq!(registry_with(&["local-sync"]), ["driver local-sync"]);
    assert_eq!(
        registry_with(&["loader-static"]),
        ["loader static", "format static"]
    );
    assert_eq!(
        registry_with(&["local-sync", "loader-static"]),
        ["driver local-sync", "loader static", "format static"]
    );
    assert_eq!(registry_with(&["local-task"]), ["driver local-task"]);
    assert_eq!(
        registry_with(&["local-sync", "local-task", "loader-static"]),
        [
            "driver local-sync",
            "driver local-task",
            "loader static",
            "format static"
        ]
    );
    assert_eq!(
        registry_with(&["loader-dylib"]),
        [
            "loader dylib",
            "format embedded-elf-x86_64",
            "format system-elf-x86_64"
        ]
    );
    assert_eq!(
        registry_with(&["local-sync", "loader-static", "loader-dylib"]),
        [
            "driver local-sync",
            "loader dylib",
            "loader static",
            "format embedded-elf-x86_64",
            "format static",
            "format system-elf-x86_64"
        ]
    );
    assert_eq!(
        registry_with(&["loader-wasm"]),
        ["loader wasm", "format system-wasm-wasm_32"]
    );
}

//! proptest mutations of valid libraries through the pre-load checks only (a mutated file is never
//! mapped): whatever the bytes, `check_shared_object` returns — accepting or refusing with a
//! message — and never panics or reads out of bounds.

mod common;

use common::mutation::{apply_all, mutations};
use loader_dylib::{check_shared_object, is_elf};
use proptest::prelude::*;

fn valid_libraries() -> Vec<Vec<u8>> {
    ["cts_kernels", "add", "matmul"]
        .iter()
        .flat_map(|name| common::FORMS.map(|(form, _)| common::library(name, form)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_libraries_are_checked_without_crashing(
        which in 0usize..6,
        mutations in mutations(),
    ) {
        let data = apply_all(valid_libraries()[which].clone(), &mutations);
        match check_shared_object(&data) {
            Ok(_) => prop_assert!(is_elf(&data)),
            Err(status) => prop_assert!(!status.message().is_empty()),
        }
    }
}

#[test]
fn the_unmutated_libraries_pass() {
    for data in valid_libraries() {
        check_shared_object(&data).unwrap();
    }
}

//! proptest mutations of valid libraries through the pre-load checks only (a mutated file is never
//! mapped): whatever the bytes, `check_shared_object` returns — accepting or refusing with a
//! message — and never panics or reads out of bounds.

mod common;

use loader_dylib::{check_shared_object, is_elf};
use proptest::prelude::*;

fn valid_libraries() -> Vec<Vec<u8>> {
    ["cts_kernels", "add", "matmul"]
        .iter()
        .flat_map(|name| common::FORMS.map(|(form, _)| common::library(name, form)))
        .collect()
}

/// One edit of a library.
#[derive(Clone, Debug)]
enum Mutation {
    /// Overwrite one byte.
    Byte(usize, u8),
    /// Overwrite 8 bytes (a header field, an offset, a size).
    Word(usize, u64),
    /// Truncate.
    Truncate(usize),
    /// Insert bytes, shifting everything after.
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Byte(at, b)),
        // Biased to the headers, where offsets and counts live.
        (0usize..128, any::<u64>()).prop_map(|(at, w)| Mutation::Word(at, w)),
        (any::<usize>(), any::<u64>()).prop_map(|(at, w)| Mutation::Word(at, w)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
    ]
}

fn apply(mut data: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let len = data.len();
    match mutation {
        Mutation::Byte(at, b) => data[at % len] = *b,
        Mutation::Word(at, w) => {
            let at = at % len.saturating_sub(8).max(1);
            let end = (at + 8).min(len);
            data[at..end].copy_from_slice(&w.to_le_bytes()[..end - at]);
        }
        Mutation::Truncate(at) => data.truncate(at % len),
        Mutation::Insert(at, bytes) => {
            let at = at % len;
            data.splice(at..at, bytes.iter().copied());
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_libraries_are_checked_without_crashing(
        which in 0usize..6,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let libraries = valid_libraries();
        let mut data = libraries[which].clone();
        for m in &mutations {
            if data.is_empty() {
                break;
            }
            data = apply(data, m);
        }
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

//! Random damage to a library's bytes, shared by the proptest of the pre-load checks
//! (`tests/mutations.rs`) and the damage survey (`examples/damage_survey.rs`), so both measure
//! the same kind of damage.

use proptest::prelude::*;

/// One edit of a library.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Overwrite one byte.
    Byte(usize, u8),
    /// Overwrite 8 bytes (a header field, an offset, a size).
    Word(usize, u64),
    /// Truncate.
    Truncate(usize),
    /// Insert bytes, shifting everything after.
    Insert(usize, Vec<u8>),
}

/// One random edit; positions are reduced modulo the length when applied.
pub fn mutation() -> impl Strategy<Value = Mutation> {
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

/// One to five edits, applied in order.
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..6)
}

/// `data` with `mutation` applied; empty data stays empty.
pub fn apply(mut data: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let len = data.len();
    if len == 0 {
        return data;
    }
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

/// `data` with every edit of `mutations` applied in order.
pub fn apply_all(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        data = apply(data, m);
    }
    data
}

//! Fuzz target: arbitrary bytes through RedRaft's RESP request and reply decoders.
//!
//! The checks live in `resp::fuzz_check`, shared with the corpus replay test in
//! `crates/resp/tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    resp::fuzz_check(data);
});

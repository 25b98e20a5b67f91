//! Replays the fuzz seed corpus (`fuzz/corpus/decode`) through the fuzz target's checks, so
//! every `cargo test` covers what the fuzzer starts from.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use std::path::Path;

#[test]
fn replay_fuzz_corpus() {
    // The crate's directory at run time, not build time: a test binary reused from a clone
    // elsewhere (a shared target directory) would otherwise look in that clone.
    let crate_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
    let dir = Path::new(&crate_dir).join("../../fuzz/corpus/decode");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/decode exists") {
        let path = entry.expect("readable corpus entry").path();
        let data = std::fs::read(&path).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| resp::fuzz_check(&data));
        assert!(outcome.is_ok(), "fuzz check failed on {}", path.display());
        files += 1;
    }
    assert!(files >= 24, "only {files} corpus files");
}

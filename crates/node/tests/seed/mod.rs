//! Seeds of randomized tests: the environment variable's value when it is set (a replay),
//! else the clock; printed either way, so a failure can be replayed from the test output.
#![allow(dead_code)]

/// The seed named by `var` (e.g. `SIM_SEED`), or one from the clock; printed for replay.
pub fn from_env(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("{var}={seed} (replay with {var}={seed})");
    seed
}

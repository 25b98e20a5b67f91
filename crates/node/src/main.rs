//! The `redraft` binary: parses the configuration, sets up logging, runs the server.

use std::io::IsTerminal;

use node::config::Config;

/// jemalloc serves every allocation in the process, RocksDB's included, and puts
/// memtable arenas on transparent huge pages (DESIGN.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let config = match Config::load() {
        Ok(config) => config,
        // `--help` and `--version` print to stdout and exit 0; a bad flag prints the usage
        // error to stderr and exits 2, as command-line tools do.
        Err(e) => match e.downcast::<clap::Error>() {
            Ok(usage) => usage.exit(),
            Err(e) => return Err(e),
        },
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads())
        .enable_all()
        .thread_name("redraft-io")
        .build()?;
    let result = runtime.block_on(node::server::run(config));
    if let Err(e) = &result {
        tracing::error!(error = %e, "redraft failed");
    }
    result
}

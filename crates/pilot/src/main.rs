//! `pilot`, RedRaft's command-line client.
//!
//! It sits outside the cluster, like `redis-cli`: it sends one command (or, with none, opens
//! an interactive console) to a RedRaft node over RESP, using the `resp` crate for the wire
//! format, and prints replies exactly as `redis-cli` does on a terminal.
//!
//! The command line has one seam for what comes next: [`Mode`]. Cluster and shard
//! administration (`pilot admin ...`) will be a clap subcommand that becomes a third mode,
//! dispatched in [`main`] next to the two existing ones.

mod conn;
mod console;
mod format;
mod session;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;

use session::{Options, Session};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "pilot",
    version,
    about = "RedRaft's command-line client",
    after_help = "With no command, pilot opens an interactive console."
)]
struct Cli {
    /// Server address, host:port.
    #[arg(
        short = 'a',
        long = "addr",
        env = "PILOT_ADDR",
        default_value = "127.0.0.1:6379"
    )]
    addr: String,
    /// Password to AUTH with after connecting.
    #[arg(long = "pass", env = "PILOT_PASS")]
    pass: Option<String>,
    /// Speak RESP3 (send HELLO 3 after connecting).
    #[arg(short = '3', long = "resp3")]
    resp3: bool,
    /// Longest wait for the connection to open, in milliseconds.
    #[arg(long = "connect-timeout-ms", default_value_t = 5000)]
    connect_timeout_ms: u64,
    /// The command and its arguments, sent as they are (binary-safe).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<OsString>,
}

/// What a `pilot` invocation does.
enum Mode {
    /// Send one command and print its reply.
    Command(Vec<Bytes>),
    /// Read commands interactively.
    Console,
}

impl Cli {
    fn mode(&self) -> Mode {
        if self.command.is_empty() {
            Mode::Console
        } else {
            Mode::Command(self.command.iter().map(os_bytes).collect())
        }
    }
}

/// The raw bytes of an argument.
fn os_bytes(arg: &OsString) -> Bytes {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Bytes::copy_from_slice(arg.as_bytes())
    }
    #[cfg(not(unix))]
    {
        Bytes::from(arg.to_string_lossy().into_owned())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = cli.mode();
    let options = Options {
        addr: cli.addr,
        pass: cli.pass,
        resp3: cli.resp3,
        connect_timeout: Duration::from_millis(cli.connect_timeout_ms),
    };
    let mut session = match Session::open(options) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode {
        Mode::Command(args) => session.command(&args),
        Mode::Console => console::run(&mut session),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

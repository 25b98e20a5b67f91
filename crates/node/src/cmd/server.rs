//! Server commands answered by the node: COMMAND, INFO, TIME, CONFIG.

use bytes::Bytes;
use storage::{ExecResult, Output};

use super::connection::unknown_subcommand;
use super::table::{table, Entry};
use super::{CommandSpec, Flags, KeySpec};
use crate::errors;
use crate::session::{err, Session};

const fn local(name: &'static str, arity: i32, flags: Flags, summary: &'static str) -> CommandSpec {
    super::local_command("server", name, arity, flags, summary)
}

/// The server command table.
pub const COMMANDS: &[CommandSpec] = &[
    local(
        "command",
        -1,
        Flags::NONE,
        "Returns detailed information about all commands.",
    ),
    local(
        "info",
        -1,
        Flags::READS_DATA,
        "Returns information and statistics about the server.",
    ),
    local("time", 1, Flags::FAST, "Returns the server time."),
    local(
        "config",
        -2,
        Flags::ADMIN,
        "A container for server configuration commands.",
    ),
];

/// Runs a server command.
pub fn run(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let name = args[0].to_ascii_lowercase();
    match name.as_slice() {
        b"command" => command(args),
        b"info" => Ok(Output::Bulk(
            crate::info::render(&session.node, &args[1..]).into_bytes(),
        )),
        b"time" => {
            let us = crate::state::unix_us();
            Ok(Output::bulks([
                (us / 1_000_000).to_string().into_bytes(),
                (us % 1_000_000).to_string().into_bytes(),
            ]))
        }
        b"config" => super::config::run(session, args),
        _ => unreachable!("server::run called for {}", String::from_utf8_lossy(&name)),
    }
}

/// `COMMAND [COUNT | LIST | INFO name... | DOCS name...]`.
fn command(args: &[Bytes]) -> ExecResult {
    let table = table();
    let Some(sub) = args.get(1) else {
        return Ok(Output::Array(
            table.all().iter().map(command_info).collect(),
        ));
    };
    let names = &args[2..];
    match sub.to_ascii_lowercase().as_slice() {
        b"count" if names.is_empty() => Ok(Output::Int(table.all().len() as i64)),
        b"list" => Ok(Output::Array(
            table
                .all()
                .iter()
                .map(|e| Output::bulk(e.spec.name))
                .collect(),
        )),
        b"info" if names.is_empty() => Ok(Output::Array(
            table.all().iter().map(command_info).collect(),
        )),
        b"info" => Ok(Output::Array(
            names
                .iter()
                .map(|n| table.lookup(n).map_or(Output::Nil, |e| command_info(&e)))
                .collect(),
        )),
        b"docs" if names.is_empty() => {
            Ok(Output::Map(table.all().iter().map(command_docs).collect()))
        }
        b"docs" => Ok(Output::Map(
            names
                .iter()
                .filter_map(|n| table.lookup(n))
                .map(|e| command_docs(&e))
                .collect(),
        )),
        b"count" => err(&errors::wrong_arity("command|count")),
        _ => err(&unknown_subcommand("COMMAND", sub)),
    }
}

/// One command in Redis 7's `COMMAND INFO` shape: name, arity, flags, first key, last key,
/// step, ACL categories, tips, key specs, subcommands.
fn command_info(entry: &Entry) -> Output {
    let spec = entry.spec;
    let mut flags: Vec<Output> = spec.flags.names().map(Output::Status).collect();
    let (first, last, step) = match spec.keys {
        KeySpec::None => (0, 0, 0),
        KeySpec::Range { first, last, step } => (first, last, step),
        KeySpec::Movable(_) => {
            flags.push(Output::Status("movablekeys"));
            (0, 0, 0)
        }
    };
    let categories = vec![Output::Status(category(spec.group))];
    Output::Array(vec![
        Output::bulk(spec.name),
        Output::Int(i64::from(spec.arity)),
        Output::Set(flags),
        Output::Int(i64::from(first)),
        Output::Int(i64::from(last)),
        Output::Int(i64::from(step)),
        Output::Set(categories),
        Output::Set(Vec::new()),
        Output::Array(Vec::new()),
        Output::Array(Vec::new()),
    ])
}

/// The ACL category of a command group.
fn category(group: &str) -> &'static str {
    match group {
        "string" => "@string",
        "hash" => "@hash",
        "list" => "@list",
        "set" => "@set",
        "sorted-set" | "zset" => "@sortedset",
        "connection" => "@connection",
        "server" => "@admin",
        _ => "@keyspace",
    }
}

/// One command's `COMMAND DOCS` entry: summary, since, group.
fn command_docs(entry: &Entry) -> (Output, Output) {
    let spec = entry.spec;
    let docs = Output::Map(vec![
        (Output::bulk("summary"), Output::bulk(spec.summary)),
        (Output::bulk("since"), Output::bulk("1.0.0")),
        (Output::bulk("group"), Output::bulk(spec.group)),
    ]);
    (Output::bulk(spec.name), docs)
}

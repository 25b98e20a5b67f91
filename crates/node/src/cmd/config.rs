//! `CONFIG GET | SET | RESETSTAT | REWRITE | HELP`.
//!
//! Parameters that take effect when set: `maxclients`, `requirepass`, `proto-max-bulk-len`
//! (for new connections and every value size check). Parameters accepted with no effect (so
//! tools that tune Redis keep working): see [`INERT`]. Others are read-only.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use storage::{ExecResult, Output};

use super::connection::unknown_subcommand;
use crate::errors;
use crate::session::{err, Session};
use crate::state::Node;

/// Parameters `CONFIG SET` accepts without any effect, with the value `CONFIG GET` shows until
/// they are set.
pub const INERT: &[(&str, &str)] = &[
    ("save", ""),
    ("appendonly", "yes"),
    ("appendfsync", "always"),
    ("maxmemory", "0"),
    ("maxmemory-policy", "noeviction"),
    ("timeout", "0"),
    ("tcp-keepalive", "300"),
    ("hz", "10"),
    ("loglevel", "notice"),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("latency-tracking", "no"),
];

/// Read-only parameters (their values come from the node's startup configuration).
const READ_ONLY: &[&str] = &[
    "port",
    "bind",
    "dir",
    "databases",
    "cluster-enabled",
    "client-query-buffer-limit",
];

/// Parameters that take effect when set.
const LIVE: &[&str] = &["maxclients", "requirepass", "proto-max-bulk-len"];

/// Runs `CONFIG <subcommand>`.
pub fn run(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let sub = args[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"get" if args.len() >= 3 => Ok(get(&session.node, &args[2..])),
        b"set" if args.len() >= 4 && args.len().is_multiple_of(2) => set(&session.node, &args[2..]),
        b"resetstat" if args.len() == 2 => {
            let stats = &session.node.stats;
            for counter in [
                &stats.commands_processed,
                &stats.connections_received,
                &stats.rejected_connections,
                &stats.expired_keys,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            Ok(Output::Ok)
        }
        b"rewrite" if args.len() == 2 => err("ERR The server is running without a config file"),
        b"help" => Ok(Output::bulks(
            [
                "CONFIG <subcommand> [<arg> ...]. Subcommands are:",
                "GET <pattern>",
                "SET <directive> <value>",
                "RESETSTAT",
            ]
            .map(|s| s.as_bytes().to_vec()),
        )),
        b"get" | b"set" | b"resetstat" | b"rewrite" => err(&errors::wrong_arity(&format!(
            "config|{}",
            String::from_utf8_lossy(&sub)
        ))),
        _ => err(&unknown_subcommand("CONFIG", &args[1])),
    }
}

/// The current value of a parameter.
fn value(node: &Node, name: &str) -> Option<String> {
    let config = &node.config;
    let v = match name {
        "maxclients" => node.live.maxclients.load(Ordering::Relaxed).to_string(),
        "requirepass" => node.requirepass().unwrap_or_default(),
        "proto-max-bulk-len" => node
            .live
            .proto_max_bulk_len
            .load(Ordering::Relaxed)
            .to_string(),
        "port" => config.redis_port.to_string(),
        "bind" => config.bind.clone(),
        "dir" => std::fs::canonicalize(&config.data_dir)
            .unwrap_or_else(|_| config.data_dir.clone())
            .display()
            .to_string(),
        "databases" => "1".into(),
        "cluster-enabled" => "no".into(),
        "client-query-buffer-limit" => config.query_buffer_max_bytes.to_string(),
        _ => {
            let (_, default) = INERT.iter().find(|(n, _)| *n == name)?;
            node.live
                .inert
                .read()
                .get(name)
                .cloned()
                .unwrap_or_else(|| (*default).to_string())
        }
    };
    Some(v)
}

fn names() -> impl Iterator<Item = &'static str> {
    LIVE.iter()
        .chain(READ_ONLY)
        .copied()
        .chain(INERT.iter().map(|(n, _)| *n))
}

/// `CONFIG GET pattern [pattern ...]`: a map of every parameter matching any pattern.
fn get(node: &Node, patterns: &[Bytes]) -> Output {
    let pairs = names()
        .filter(|name| {
            patterns
                .iter()
                .any(|p| storage::glob::matches(p, name.as_bytes(), true))
        })
        .filter_map(|name| Some((Output::bulk(name), Output::bulk(value(node, name)?))))
        .collect();
    Output::Map(pairs)
}

/// `CONFIG SET name value [name value ...]`: validates every pair, then applies them all.
fn set(node: &Node, pairs: &[Bytes]) -> ExecResult {
    let mut changes = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        if READ_ONLY.contains(&name.as_str()) {
            return err(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"));
        }
        if !names().any(|n| n == name) {
            return err(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        }
        if (name == "maxclients" || name == "proto-max-bulk-len") && parse_memory(&value).is_none()
        {
            return err(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"));
        }
        changes.push((name, value));
    }
    for (name, value) in changes {
        apply(node, &name, value);
    }
    Ok(Output::Ok)
}

fn apply(node: &Node, name: &str, value: String) {
    let live = &node.live;
    match name {
        "maxclients" => live.maxclients.store(
            parse_memory(&value).unwrap_or(0) as usize,
            Ordering::Relaxed,
        ),
        "proto-max-bulk-len" => live
            .proto_max_bulk_len
            .store(parse_memory(&value).unwrap_or(0), Ordering::Relaxed),
        "requirepass" => *live.requirepass.write() = Some(value).filter(|v| !v.is_empty()),
        _ => {
            live.inert.write().insert(name.to_string(), value);
        }
    }
    tracing::info!(parameter = name, "CONFIG SET");
}

/// Parses a number with an optional Redis memory unit (`k`, `kb`, `m`, `mb`, `g`, `gb`).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(digits_end);
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_are_redis_units() {
        assert_eq!(parse_memory("10"), Some(10));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1K"), Some(1000));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory(""), None);
    }
}

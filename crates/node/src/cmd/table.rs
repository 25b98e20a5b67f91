//! The command table: every family's `COMMANDS` plus the connection and server commands,
//! looked up by name ignoring case. Built once, on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use storage::ExecResult;

use super::{cluster, connection, hash, keyspace, list, server, set, string, zset, CommandSpec};
use crate::session::Session;

/// Runs a command the node answers itself (flag `LOCAL`), with the connection's state.
pub type LocalFn = fn(&mut Session, &[Bytes]) -> ExecResult;

/// One command: its spec and, for local commands, the function that runs it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The declarative spec.
    pub spec: &'static CommandSpec,
    /// The runner of a local command (called at once when the spec has no parser, or when
    /// the parser plans [`super::Plan::Local`]); `None` for data commands.
    pub local: Option<LocalFn>,
}

/// The longest command name looked up; longer names are unknown without hashing.
const NAME_LEN_MAX: usize = 32;

/// Every command the node knows.
pub struct CommandTable {
    by_name: HashMap<&'static str, Entry>,
    sorted: Vec<Entry>,
}

impl CommandTable {
    fn build() -> CommandTable {
        let families: [(&'static [CommandSpec], Option<LocalFn>); 9] = [
            (connection::COMMANDS, Some(connection::run)),
            (server::COMMANDS, Some(server::run)),
            (cluster::COMMANDS, Some(cluster::run)),
            (string::COMMANDS, None),
            (keyspace::COMMANDS, None),
            (hash::COMMANDS, None),
            (list::COMMANDS, None),
            (set::COMMANDS, None),
            (zset::COMMANDS, None),
        ];
        let mut by_name = HashMap::new();
        for (specs, local) in families {
            for spec in specs {
                let entry = Entry { spec, local };
                if by_name.insert(spec.name, entry).is_some() {
                    panic!(
                        "command '{}' is defined twice in the command table",
                        spec.name
                    );
                }
            }
        }
        let mut sorted: Vec<Entry> = by_name.values().copied().collect();
        sorted.sort_by_key(|e| e.spec.name);
        CommandTable { by_name, sorted }
    }

    /// The command named `name` (any case).
    pub fn lookup(&self, name: &[u8]) -> Option<Entry> {
        if name.len() > NAME_LEN_MAX {
            return None;
        }
        let mut lower = [0u8; NAME_LEN_MAX];
        let lower = &mut lower[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let name = std::str::from_utf8(lower).ok()?;
        self.by_name.get(name).copied()
    }

    /// Every command, by name.
    pub fn all(&self) -> &[Entry] {
        &self.sorted
    }
}

/// The node's command table.
pub fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(CommandTable::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_every_command_is_runnable() {
        let t = table();
        assert_eq!(t.lookup(b"PiNg").unwrap().spec.name, "ping");
        assert!(t.lookup(b"nosuchcommand").is_none());
        assert!(t.lookup(&[b'x'; 100]).is_none());
        for e in t.all() {
            assert!(
                e.spec.parse.is_some() || e.local.is_some(),
                "{} cannot run",
                e.spec.name
            );
        }
    }
}

//! Keyspace commands: parsing arguments into `storage::types::keyspace` ops.

use super::CommandSpec;

/// The keyspace command table.
pub const COMMANDS: &[CommandSpec] = &[];

//! Sorted-set commands: parsing arguments into `storage::types::zset` ops.

use super::CommandSpec;

/// The zset command table.
pub const COMMANDS: &[CommandSpec] = &[];

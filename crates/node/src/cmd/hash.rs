//! Hash commands: parsing arguments into `storage::types::hash` ops.

use super::CommandSpec;

/// The hash command table.
pub const COMMANDS: &[CommandSpec] = &[];

//! List commands: parsing arguments into `storage::types::list` ops.

use super::CommandSpec;

/// The list command table.
pub const COMMANDS: &[CommandSpec] = &[];

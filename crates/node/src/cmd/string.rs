//! String commands: parsing arguments into `storage::types::string` ops.

use super::CommandSpec;

/// The string command table.
pub const COMMANDS: &[CommandSpec] = &[];

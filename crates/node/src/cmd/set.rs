//! Set commands: parsing arguments into `storage::types::set` ops.

use super::CommandSpec;

/// The set command table.
pub const COMMANDS: &[CommandSpec] = &[];

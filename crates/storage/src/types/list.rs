//! List commands.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::output::ExecResult;

/// A list write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ListWrite {}

impl ListWrite {
    /// Applies the op.
    pub fn apply(&self, _txn: &mut Txn<'_>) -> ExecResult {
        match *self {}
    }
}

/// A list read op.
#[derive(Debug, Clone, PartialEq)]
pub enum ListRead {}

impl ListRead {
    /// Executes the op.
    pub fn execute(&self, _reader: &dyn Reader) -> ExecResult {
        match *self {}
    }
}

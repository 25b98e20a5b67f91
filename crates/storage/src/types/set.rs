//! Set commands.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::output::ExecResult;

/// A set write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SetWrite {}

impl SetWrite {
    /// Applies the op.
    pub fn apply(&self, _txn: &mut Txn<'_>) -> ExecResult {
        match *self {}
    }
}

/// A set read op.
#[derive(Debug, Clone, PartialEq)]
pub enum SetRead {}

impl SetRead {
    /// Executes the op.
    pub fn execute(&self, _reader: &dyn Reader) -> ExecResult {
        match *self {}
    }
}

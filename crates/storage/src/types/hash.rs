//! Hash commands.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::output::ExecResult;

/// A hash write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HashWrite {}

impl HashWrite {
    /// Applies the op.
    pub fn apply(&self, _txn: &mut Txn<'_>) -> ExecResult {
        match *self {}
    }
}

/// A hash read op.
#[derive(Debug, Clone, PartialEq)]
pub enum HashRead {}

impl HashRead {
    /// Executes the op.
    pub fn execute(&self, _reader: &dyn Reader) -> ExecResult {
        match *self {}
    }
}

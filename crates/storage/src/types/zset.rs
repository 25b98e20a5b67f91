//! ZSet commands.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::output::ExecResult;

/// A zset write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZSetWrite {}

impl ZSetWrite {
    /// Applies the op.
    pub fn apply(&self, _txn: &mut Txn<'_>) -> ExecResult {
        match *self {}
    }
}

/// A zset read op.
#[derive(Debug, Clone, PartialEq)]
pub enum ZSetRead {}

impl ZSetRead {
    /// Executes the op.
    pub fn execute(&self, _reader: &dyn Reader) -> ExecResult {
        match *self {}
    }
}

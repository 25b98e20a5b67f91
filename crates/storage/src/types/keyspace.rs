//! Keyspace commands.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::output::ExecResult;

/// A keyspace write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyspaceWrite {}

impl KeyspaceWrite {
    /// Applies the op.
    pub fn apply(&self, _txn: &mut Txn<'_>) -> ExecResult {
        match *self {}
    }
}

/// A keyspace read op.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyspaceRead {}

impl KeyspaceRead {
    /// Executes the op.
    pub fn execute(&self, _reader: &dyn Reader) -> ExecResult {
        match *self {}
    }
}

//! String commands.

use serde::{Deserialize, Serialize};

use crate::engine::{Reader, Txn};
use crate::output::ExecResult;

/// A string write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StringWrite {}

impl StringWrite {
    /// Applies the op.
    pub fn apply(&self, _txn: &mut Txn<'_>) -> ExecResult {
        match *self {}
    }
}

/// A string read op.
#[derive(Debug, Clone, PartialEq)]
pub enum StringRead {}

impl StringRead {
    /// Executes the op.
    pub fn execute(&self, _reader: &dyn Reader) -> ExecResult {
        match *self {}
    }
}

//! Executing plans: routing a command to the shard that owns its keys, running reads, merging
//! per-shard results of keyless commands, and finishing proposed writes.
//!
//! Reads run inline on the connection's task: a RocksDB point read on a snapshot takes
//! microseconds, less than a hop to another thread would.

use bytes::Bytes;
use router::ShardId;
use storage::{ExecError, ExecResult, Output, ReadOp};

use crate::cmd::{CommandSpec, Merge};
use crate::errors;
use crate::state::Node;
use crate::write_path::{Proposal, ProposeError};

/// The shard a keyed command goes to: the owner of its first key's slot; keyless commands go to
/// the lowest shard.
///
/// TODO(#4): with several shards, keys in different shards are `CROSSSLOT`, and a shard not
/// hosted here is `MOVED`.
pub fn route(node: &Node, spec: &CommandSpec, args: &[Bytes]) -> Result<ShardId, ExecError> {
    let owner = spec
        .keys
        .positions(args)
        .first()
        .and_then(|&i| args.get(i))
        .and_then(|key| node.shard_for_key(key));
    match owner.or_else(|| node.shard_ids().first().copied()) {
        Some(shard) if node.shards.contains_key(&shard) => Ok(shard),
        _ => Err(ExecError::Reply(errors::CLUSTER_DOWN.into())),
    }
}

/// Executes `op` on `shard` at `now_ms`.
pub fn read(node: &Node, shard: ShardId, now_ms: u64, op: &ReadOp) -> ExecResult {
    match node.shards.get(&shard) {
        Some(store) => store.read(now_ms, op),
        None => Err(ExecError::Reply(errors::CLUSTER_DOWN.into())),
    }
}

/// Executes `op` on every shard hosted here and merges the results.
pub fn read_all(node: &Node, now_ms: u64, op: &ReadOp, merge: Merge) -> ExecResult {
    let results = node
        .shard_ids()
        .into_iter()
        .map(|shard| read(node, shard, now_ms, op))
        .collect();
    merge_results(merge, results)
}

/// Combines per-shard results; the first error wins.
pub fn merge_results(merge: Merge, results: Vec<ExecResult>) -> ExecResult {
    let mut outputs = Vec::with_capacity(results.len());
    for result in results {
        outputs.push(result?);
    }
    if outputs.len() == 1 {
        return Ok(outputs.pop().unwrap_or(Output::Nil));
    }
    match merge {
        Merge::Sum => Ok(Output::Int(
            outputs
                .iter()
                .map(|o| if let Output::Int(n) = o { *n } else { 0 })
                .sum(),
        )),
        Merge::Concat => Ok(concat(outputs)),
        Merge::AnyNonNil => Ok(outputs
            .into_iter()
            .find(|o| *o != Output::Nil)
            .unwrap_or(Output::Nil)),
        // TODO(#4): a cursor that names the shard it is in; one shard per node until then.
        Merge::Scan => Ok(outputs.into_iter().next().unwrap_or(Output::Nil)),
        Merge::AllOk => Ok(Output::Ok),
    }
}

fn concat(outputs: Vec<Output>) -> Output {
    let mut items = Vec::new();
    let mut is_set = false;
    for output in outputs {
        match output {
            Output::Array(part) => items.extend(part),
            Output::Set(part) => {
                is_set = true;
                items.extend(part);
            }
            other => items.push(other),
        }
    }
    if is_set {
        Output::Set(items)
    } else {
        Output::Array(items)
    }
}

/// A write that was proposed and whose reply is still to come.
#[derive(Debug)]
pub struct PendingWrite {
    /// One proposal per shard written.
    pub proposals: Vec<Proposal>,
    /// How to combine per-shard results (`WriteAll`); `None` for a single-shard write.
    pub merge: Option<Merge>,
}

impl PendingWrite {
    /// Waits for every proposal and returns the command's result.
    pub async fn finish(self) -> ExecResult {
        let mut results = Vec::with_capacity(self.proposals.len());
        for proposal in self.proposals {
            results.push(first_result(proposal.await));
        }
        match self.merge {
            Some(merge) => merge_results(merge, results),
            None => results.pop().unwrap_or(Ok(Output::Nil)),
        }
    }
}

/// The result of the single op of a command's entry.
fn first_result(result: Result<Vec<ExecResult>, ProposeError>) -> ExecResult {
    match result {
        Ok(mut results) if !results.is_empty() => results.swap_remove(0),
        Ok(_) => panic!("a write entry with one op produced no result"),
        Err(ProposeError::Stopped) => Err(ExecError::Reply(errors::SHUTTING_DOWN.into())),
        Err(e) => {
            tracing::error!(error = %e, "write failed");
            Err(ExecError::Reply(errors::INTERNAL.into()))
        }
    }
}

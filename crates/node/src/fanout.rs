//! Commands that span shards: MGET, DEL, UNLINK, EXISTS and TOUCH with keys in several shards
//! (forward mode only; redirect mode answers `CROSSSLOT` like Redis Cluster), and SCAN, whose
//! cursor carries the slot it resumes at and so names its shard.
//!
//! A fanned-out command is re-parsed per shard with that shard's keys (the same parser, so
//! the same checks and ops); each part is atomic in its shard, the whole is not, as in Redis
//! Cluster clients that split such commands.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use router::{ShardId, Slot};
use storage::types::keyspace::{scan_cursor_at_slot, scan_cursor_slot, KeyspaceRead};
use storage::{ExecError, ExecResult, Output, ReadOp, WriteEntry};

use crate::cmd::{CommandSpec, Merge, ParseFn, Plan, PlanCtx};
use crate::config::ClusterMode;
use crate::dispatch::{first_result, merge_results};
use crate::errors;
use crate::state::Node;

/// How the parts of a fanned-out command combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMerge {
    /// Add the integer replies (DEL, UNLINK, EXISTS, TOUCH).
    Sum,
    /// Put each reply at its key's position (MGET).
    ByPosition,
}

/// Whether `spec` may fan out over shards, and how.
pub fn merge_of(spec: &CommandSpec) -> Option<FanMerge> {
    match spec.name {
        "mget" => Some(FanMerge::ByPosition),
        "del" | "unlink" | "exists" | "touch" => Some(FanMerge::Sum),
        _ => None,
    }
}

/// The key positions of `args` per shard, when they are in more than one shard and the node
/// forwards; `None` when the command runs as one part.
pub fn split(
    node: &Node,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Option<BTreeMap<ShardId, Vec<usize>>> {
    if node.config.cluster_mode != ClusterMode::Forward || node.topology.placement.len() < 2 {
        return None;
    }
    let table = node.routing.read().clone();
    let mut groups: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
    for i in spec.keys.positions(args) {
        let shard = table.shard_for_key(&args[i])?;
        groups.entry(shard).or_default().push(i);
    }
    (groups.len() > 1).then_some(groups)
}

/// Runs one part per shard (the command re-parsed with that shard's keys) and combines the
/// replies. Writes of all parts are started before any is awaited.
pub async fn run(
    node: &Arc<Node>,
    ctx: &PlanCtx,
    args: &[Bytes],
    parse: ParseFn,
    merge: FanMerge,
    groups: BTreeMap<ShardId, Vec<usize>>,
) -> ExecResult {
    let mut plans = Vec::with_capacity(groups.len());
    for (shard, positions) in groups {
        let mut sub = Vec::with_capacity(positions.len() + 1);
        sub.push(args[0].clone());
        sub.extend(positions.iter().map(|&i| args[i].clone()));
        plans.push((shard, positions, parse(ctx, &sub)?));
    }
    let mut results = Vec::with_capacity(plans.len());
    let mut writes = Vec::new();
    for (shard, positions, plan) in plans {
        match plan {
            Plan::Write(op) => {
                let entry = WriteEntry {
                    now_ms: ctx.now_ms,
                    ops: vec![op],
                };
                writes.push((positions, node.start_write(shard, &entry)));
            }
            Plan::Read(op) => results.push((positions, node.read(shard, &op, ctx.now_ms).await)),
            other => panic!("a fan-out command planned {other:?}"),
        }
    }
    for (positions, write) in writes {
        results.push((positions, first_result(write.await)));
    }
    match merge {
        FanMerge::Sum => merge_results(Merge::Sum, results.into_iter().map(|(_, r)| r).collect()),
        FanMerge::ByPosition => {
            let keys = results.iter().map(|(p, _)| p.len()).sum();
            let mut out = vec![Output::Nil; keys];
            for (positions, result) in results {
                let Output::Array(items) = result? else {
                    return Err(ExecError::Reply(errors::INTERNAL.into()));
                };
                for (&p, item) in positions.iter().zip(items) {
                    out[p - 1] = item;
                }
            }
            Ok(Output::Array(out))
        }
    }
}

/// SCAN over the whole cluster: the cursor's slot names the shard; when a shard is done the
/// cursor moves to the first slot of the next shard (shards in order of their first slot).
pub async fn scan(node: &Node, op: ReadOp, now_ms: u64) -> ExecResult {
    let ReadOp::Keyspace(KeyspaceRead::Scan {
        cursor,
        pattern,
        count,
        type_name,
    }) = op
    else {
        return Err(ExecError::Reply(errors::INTERNAL.into()));
    };
    let table = node.routing.read().clone();
    let mut order: Vec<(u16, ShardId)> = Vec::new();
    for (range, shard) in table.ranges() {
        if !order.iter().any(|(_, s)| *s == shard) {
            order.push((range.start.get(), shard));
        }
    }
    order.sort_unstable();
    // A cursor past the last slot (which no SCAN hands out) ends the iteration.
    let Ok(slot) = Slot::new(scan_cursor_slot(cursor)) else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let owner = table
        .shard_for_slot(slot)
        .ok_or_else(|| ExecError::Reply(errors::CLUSTER_DOWN.into()))?;
    let mut at = order.iter().position(|(_, s)| *s == owner).unwrap_or(0);
    let mut cursor = cursor;
    loop {
        let page = ReadOp::Keyspace(KeyspaceRead::Scan {
            cursor,
            pattern: pattern.clone(),
            count,
            type_name: type_name.clone(),
        });
        let (next, keys) = scan_page(node.read(order[at].1, &page, now_ms).await?)?;
        if next != 0 {
            return Ok(scan_reply(next, keys));
        }
        at += 1;
        let Some(&(first_slot, _)) = order.get(at) else {
            return Ok(scan_reply(0, keys));
        };
        cursor = scan_cursor_at_slot(first_slot);
        if !keys.is_empty() {
            return Ok(scan_reply(cursor, keys));
        }
    }
}

/// `[cursor, [keys...]]` of one shard's SCAN page.
fn scan_page(output: Output) -> Result<(u64, Vec<Output>), ExecError> {
    if let Output::Array(mut parts) = output {
        if let (Some(Output::Array(keys)), Some(Output::Bulk(next))) = (parts.pop(), parts.pop()) {
            let next = std::str::from_utf8(&next)
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            return Ok((next, keys));
        }
    }
    Err(ExecError::Reply(errors::INTERNAL.into()))
}

fn scan_reply(cursor: u64, keys: Vec<Output>) -> Output {
    Output::Array(vec![Output::bulk(cursor.to_string()), Output::Array(keys)])
}

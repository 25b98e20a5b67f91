//! Cluster commands, answered by the node: CLUSTER (SLOTS, SHARDS, NODES, INFO, KEYSLOT, MYID,
//! COUNTKEYSINSLOT, GETKEYSINSLOT, HELP), READONLY and READWRITE. They let Redis Cluster
//! clients (`redis-cli -c`, redis-py's `RedisCluster`, `redis-benchmark --cluster`) find
//! where each slot lives, in Redis 7's reply shapes.
//!
//! How the Multi-Raft cluster looks through Redis Cluster's eyes:
//! - Slot ranges come from the routing table (`Node::routing`); its epoch is the cluster's
//!   current epoch and every node's config epoch.
//! - Each shard is a Redis Cluster shard: the node believed to lead it
//!   ([`Node::leader_guess`]) is its master, its other replicas are its replicas. That is the
//!   node a keyed command is redirected to (`-MOVED`), so a client's slot map and the
//!   redirects agree.
//! - A node leads some shards and follows others, so `CLUSTER NODES` shows every node as a
//!   master with the slots of the shards it leads; `CLUSTER SLOTS` and `CLUSTER SHARDS` show
//!   the replicas of each range.
//! - Node ids are 40 hex digits derived from the member name ([`cluster_node_id`]): the same
//!   on every node and across restarts.
//! - Addresses are the Redis addresses the members announced (`Hello`). A node whose address
//!   is not known yet is left out of `CLUSTER SLOTS` and `CLUSTER SHARDS` and marked `noaddr`
//!   in `CLUSTER NODES`; a range whose master has no known address is left out, and
//!   `CLUSTER INFO` says `cluster_state:fail` until every slot's shard has a known leader with
//!   a known address.
//!
//! `COUNTKEYSINSLOT` and `GETKEYSINSLOT` are planned as reads of the slot's shard
//! (`Plan::ReadAt`): in redirect mode a node that does not lead the shard answers `-MOVED` (a
//! READONLY client reads a replica here); in forward mode the read goes to the shard's leader
//! like any other.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use raft::NodeId;
use router::{ShardId, Slot, SlotRange, SLOT_COUNT};
use storage::types::keyspace::KeyspaceRead;
use storage::{ExecError, ExecResult, Output, ReadOp};

use super::connection::unknown_subcommand;
use super::{arg_i64, CommandSpec, Flags, Plan, PlanCtx};
use crate::errors;
use crate::session::{err, Session};
use crate::state::Node;

const fn local(name: &'static str, arity: i32, flags: Flags, summary: &'static str) -> CommandSpec {
    super::local_command("cluster", name, arity, flags, summary)
}

/// The cluster command table.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        // COUNTKEYSINSLOT and GETKEYSINSLOT read the slot's shard (routed, forwarded or
        // redirected like any read); every other subcommand is answered here.
        parse: Some(parse_cluster),
        ..local(
            "cluster",
            -2,
            Flags::NONE,
            "A container for Redis Cluster commands.",
        )
    },
    local(
        "readonly",
        1,
        Flags::FAST,
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
    ),
    local(
        "readwrite",
        1,
        Flags::FAST,
        "Enables read-write queries for a connection to a Redis Cluster replica node.",
    ),
];

/// Runs a cluster command.
pub fn run(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let name = args[0].to_ascii_lowercase();
    match name.as_slice() {
        b"cluster" => cluster(session, args),
        b"readonly" => {
            session.readonly = true;
            Ok(Output::Ok)
        }
        b"readwrite" => {
            session.readonly = false;
            Ok(Output::Ok)
        }
        _ => unreachable!("cluster::run called for {}", String::from_utf8_lossy(&name)),
    }
}

/// `CLUSTER subcommand ...`.
fn cluster(session: &Session, args: &[Bytes]) -> ExecResult {
    let sub = args[1].to_ascii_lowercase();
    let arity: usize = match sub.as_slice() {
        b"slots" | b"shards" | b"nodes" | b"info" | b"myid" | b"help" => 2,
        b"keyslot" | b"countkeysinslot" => 3,
        b"getkeysinslot" => 4,
        _ => return err(&unknown_subcommand("CLUSTER", &args[1])),
    };
    if args.len() != arity {
        return err(&errors::wrong_arity(&format!(
            "cluster|{}",
            String::from_utf8_lossy(&sub)
        )));
    }
    let node = &session.node;
    match sub.as_slice() {
        b"slots" => Ok(slots(node)),
        b"shards" => Ok(shards(node)),
        b"nodes" => Ok(Output::Bulk(nodes(node).into_bytes())),
        b"info" => Ok(Output::Bulk(info(node).into_bytes())),
        b"myid" => Ok(Output::bulk(cluster_node_id(&node.topology.myself().name))),
        b"keyslot" => Ok(Output::Int(i64::from(Slot::for_key(&args[2]).get()))),
        b"help" => Ok(help()),
        _ => unreachable!("CLUSTER {sub:?} is planned as a slot read by parse_cluster"),
    }
}

/// Plans CLUSTER: a read at the slot for COUNTKEYSINSLOT and GETKEYSINSLOT (with their
/// arity), the local function for everything else.
fn parse_cluster(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let sub = args[1].to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"countkeysinslot", 3) | (b"getkeysinslot", 4) => {
            slot_read(args).map(|(slot, op)| Plan::ReadAt(slot, op))
        }
        _ => Ok(Plan::Local),
    }
}

/// The 40-hex-digit Redis Cluster node id of the member named `name`: three 64-bit FNV-1a
/// hashes of the name with different offset bases, each finalized with SplitMix64's mixer.
/// Deterministic, so every node and every restart gives a member the same id.
pub fn cluster_node_id(name: &str) -> String {
    let mut id = String::with_capacity(48);
    for lane in 0u64..3 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ lane.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let _ = write!(id, "{:016x}", mix64(h));
    }
    id.truncate(40);
    id
}

/// SplitMix64's finalizer: spreads every input bit over the output.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What one command sees of the cluster: taken once, so a reply is consistent in itself.
struct View {
    /// The routing table's epoch.
    epoch: u64,
    /// Maximal slot ranges with their shard, in slot order.
    ranges: Vec<(SlotRange, ShardId)>,
    /// Each shard's master (believed leader) and other replicas, master first.
    nodes: BTreeMap<ShardId, Vec<NodeId>>,
}

impl View {
    fn of(node: &Node) -> View {
        let table = node.routing.read().clone();
        let ranges = table.ranges();
        let mut nodes = BTreeMap::new();
        for &shard in table.shards() {
            let replicas = node.topology.replicas(shard);
            let master = node.leader_guess(shard);
            let others = replicas.iter().copied().filter(|&r| Some(r) != master);
            let list: Vec<NodeId> = master.into_iter().chain(others).collect();
            nodes.insert(shard, list);
        }
        View {
            epoch: table.epoch(),
            ranges,
            nodes,
        }
    }

    /// `shard`'s master, if one is believed.
    fn master(&self, shard: ShardId) -> Option<NodeId> {
        self.nodes.get(&shard).and_then(|n| n.first().copied())
    }
}

/// A Redis address split into host and port (`[::1]:6379` gives `::1`).
fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.parse().ok()?))
}

/// The Redis host and port of `id`, once known.
fn endpoint(node: &Node, id: NodeId) -> Option<(String, u16)> {
    split_addr(&node.redis_addr(id)?)
}

/// The Redis Cluster id of member `id` (its Raft id in hex for an unknown member).
fn id_of(node: &Node, id: NodeId) -> String {
    node.topology
        .member(id)
        .map_or_else(|| format!("{:040x}", id.0), |m| cluster_node_id(&m.name))
}

/// `CLUSTER SLOTS`: `[start, end, master, replicas...]` per range, each node
/// `[ip, port, id, {}]`.
fn slots(node: &Node) -> Output {
    let view = View::of(node);
    let mut out = Vec::new();
    for (range, shard) in &view.ranges {
        let Some(list) = view.nodes.get(shard) else {
            continue;
        };
        // A range whose master cannot be reached is left out entirely.
        if list.first().and_then(|&m| endpoint(node, m)).is_none() {
            continue;
        }
        let entries = list.iter().filter_map(|&id| slots_node(node, id));
        let mut item = vec![
            Output::Int(i64::from(range.start.get())),
            Output::Int(i64::from(range.end.get())),
        ];
        item.extend(entries);
        out.push(Output::Array(item));
    }
    Output::Array(out)
}

/// One node of a `CLUSTER SLOTS` range; `None` while its address is unknown.
fn slots_node(node: &Node, id: NodeId) -> Option<Output> {
    let (ip, port) = endpoint(node, id)?;
    Some(Output::Array(vec![
        Output::bulk(ip),
        Output::Int(i64::from(port)),
        Output::bulk(id_of(node, id)),
        Output::Map(Vec::new()),
    ]))
}

/// `CLUSTER SHARDS`: per shard, its slot ranges and its nodes (master first).
fn shards(node: &Node) -> Output {
    let view = View::of(node);
    let mut slots_of: BTreeMap<ShardId, Vec<Output>> = BTreeMap::new();
    for (range, shard) in &view.ranges {
        let slots = slots_of.entry(*shard).or_default();
        slots.push(Output::Int(i64::from(range.start.get())));
        slots.push(Output::Int(i64::from(range.end.get())));
    }
    let mut out = Vec::new();
    for (shard, list) in &view.nodes {
        let members = list
            .iter()
            .enumerate()
            .filter_map(|(i, &id)| shard_node(node, *shard, id, i == 0))
            .collect();
        out.push(Output::Map(vec![
            (
                Output::bulk("slots"),
                Output::Array(slots_of.remove(shard).unwrap_or_default()),
            ),
            (Output::bulk("nodes"), Output::Array(members)),
        ]));
    }
    Output::Array(out)
}

/// One node of a `CLUSTER SHARDS` entry; `None` while its address is unknown.
fn shard_node(node: &Node, shard: ShardId, id: NodeId, master: bool) -> Option<Output> {
    let (ip, port) = endpoint(node, id)?;
    // Only this node's own progress is known here.
    let offset = if id == node.topology.me {
        node.store.applied_index(shard).unwrap_or(0)
    } else {
        0
    };
    let field = |name: &str, value: Output| (Output::bulk(name), value);
    Some(Output::Map(vec![
        field("id", Output::bulk(id_of(node, id))),
        field("port", Output::Int(i64::from(port))),
        field("ip", Output::bulk(ip.clone())),
        field("endpoint", Output::bulk(ip)),
        field(
            "role",
            Output::bulk(if master { "master" } else { "replica" }),
        ),
        field(
            "replication-offset",
            Output::Int(i64::try_from(offset).unwrap_or(i64::MAX)),
        ),
        field("health", Output::bulk("online")),
    ]))
}

/// `CLUSTER NODES`: one line per member,
/// `<id> <ip:port@bus-port> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link>
/// <slot>...`; the slots are those of the shards the member is believed to lead.
fn nodes(node: &Node) -> String {
    let view = View::of(node);
    let mut text = String::new();
    for member in &node.topology.members {
        let myself = member.id == node.topology.me;
        let bus_port = split_addr(&member.addr).map_or(0, |(_, p)| p);
        let (addr, flags, link) = match endpoint(node, member.id) {
            Some((ip, port)) => (format!("{ip}:{port}@{bus_port}"), "master", "connected"),
            None => (":0@0".to_string(), "master,noaddr", "disconnected"),
        };
        let flags = if myself {
            format!("myself,{flags}")
        } else {
            flags.to_string()
        };
        let _ = write!(
            text,
            "{} {addr} {flags} - 0 0 {} {link}",
            cluster_node_id(&member.name),
            view.epoch
        );
        let led = view
            .ranges
            .iter()
            .filter(|(_, shard)| view.master(*shard) == Some(member.id))
            .map(|(range, _)| *range);
        for range in merge_adjacent(led) {
            if range.start == range.end {
                let _ = write!(text, " {}", range.start.get());
            } else {
                let _ = write!(text, " {}-{}", range.start.get(), range.end.get());
            }
        }
        text.push('\n');
    }
    text
}

/// Joins ranges (in slot order) that touch.
fn merge_adjacent(ranges: impl Iterator<Item = SlotRange>) -> Vec<SlotRange> {
    let mut out: Vec<SlotRange> = Vec::new();
    for range in ranges {
        match out.last_mut() {
            Some(last) if last.end.index() + 1 == range.start.index() => last.end = range.end,
            _ => out.push(range),
        }
    }
    out
}

/// The leader of `shard` this node actually knows of (its own replica's, or the last one a
/// forward reply named), unlike [`Node::leader_guess`], which falls back to the preferred one.
fn known_leader(node: &Node, shard: ShardId) -> Option<NodeId> {
    if node.topology.hosts(shard) {
        node.store.leader_of(shard)
    } else {
        node.peers.leader_hint(shard)
    }
}

/// `CLUSTER INFO`: a slot is ok when its shard has a known leader whose address is known.
fn info(node: &Node) -> String {
    let view = View::of(node);
    let (mut assigned, mut ok) = (0usize, 0usize);
    let mut masters: Vec<NodeId> = Vec::new();
    for (range, shard) in &view.ranges {
        assigned += range.len();
        let leader = known_leader(node, *shard).filter(|l| node.redis_addr(*l).is_some());
        if let Some(leader) = leader {
            ok += range.len();
            if !masters.contains(&leader) {
                masters.push(leader);
            }
        }
    }
    let state = if ok == usize::from(SLOT_COUNT) {
        "ok"
    } else {
        "fail"
    };
    let lines = [
        ("cluster_state", state.to_string()),
        ("cluster_slots_assigned", assigned.to_string()),
        ("cluster_slots_ok", ok.to_string()),
        ("cluster_slots_pfail", "0".into()),
        ("cluster_slots_fail", (assigned - ok).to_string()),
        (
            "cluster_known_nodes",
            node.topology.members.len().to_string(),
        ),
        ("cluster_size", masters.len().to_string()),
        ("cluster_current_epoch", view.epoch.to_string()),
        ("cluster_my_epoch", view.epoch.to_string()),
    ];
    let mut text = String::new();
    for (key, value) in lines {
        let _ = write!(text, "{key}:{value}\r\n");
    }
    text
}

/// The slot and read op of `CLUSTER COUNTKEYSINSLOT slot` or
/// `CLUSTER GETKEYSINSLOT slot count` (arity checked).
fn slot_read(args: &[Bytes]) -> Result<(Slot, ReadOp), ExecError> {
    let slot = arg_i64(&args[2])?;
    let slot = u16::try_from(slot).ok().and_then(|s| Slot::new(s).ok());
    let reply = |text: &str| ExecError::Reply(text.into());
    let (slot, op) = match args.get(3) {
        None => {
            let slot = slot.ok_or_else(|| reply(errors::INVALID_SLOT))?;
            (slot, KeyspaceRead::CountKeysInSlot { slot: slot.get() })
        }
        Some(count) => {
            let count = u64::try_from(arg_i64(count)?).ok();
            let (Some(slot), Some(count)) = (slot, count) else {
                return Err(reply(errors::INVALID_SLOT_OR_COUNT));
            };
            let op = KeyspaceRead::KeysInSlot {
                slot: slot.get(),
                count,
            };
            (slot, op)
        }
    };
    Ok((slot, ReadOp::Keyspace(op)))
}

/// `CLUSTER HELP`.
fn help() -> Output {
    Output::Array(
        [
            "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "HELP",
            "    Print this help.",
        ]
        .into_iter()
        .map(Output::Status)
        .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_40_hex_digits_stable_and_distinct() {
        let a = cluster_node_id("node1");
        assert_eq!(a.len(), 40);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, cluster_node_id("node1"));
        assert_ne!(a, cluster_node_id("node2"));
        assert_ne!(cluster_node_id(""), cluster_node_id("a"));
    }

    #[test]
    fn slot_reads_check_their_arguments_as_redis_does() {
        let args = |v: &[&str]| -> Vec<Bytes> {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        let text = |r: Result<(Slot, ReadOp), ExecError>| match r {
            Err(e) => errors::exec_error_text(&e),
            Ok(_) => "ok".into(),
        };
        let count = |slot: &str| text(slot_read(&args(&["cluster", "countkeysinslot", slot])));
        let keys =
            |slot: &str, n: &str| text(slot_read(&args(&["cluster", "getkeysinslot", slot, n])));
        assert_eq!(count("0"), "ok");
        assert_eq!(count("16383"), "ok");
        assert_eq!(count("16384"), errors::INVALID_SLOT);
        assert_eq!(count("-1"), errors::INVALID_SLOT);
        assert_eq!(count("x"), errors::NOT_INTEGER);
        assert_eq!(keys("5", "0"), "ok");
        assert_eq!(keys("5", "-1"), errors::INVALID_SLOT_OR_COUNT);
        assert_eq!(keys("16384", "1"), errors::INVALID_SLOT_OR_COUNT);
        assert_eq!(keys("5", "y"), errors::NOT_INTEGER);
        let (slot, op) = slot_read(&args(&["cluster", "getkeysinslot", "866", "3"])).unwrap();
        assert_eq!(slot.get(), 866);
        assert_eq!(
            op,
            ReadOp::Keyspace(KeyspaceRead::KeysInSlot {
                slot: 866,
                count: 3
            })
        );
    }

    #[test]
    fn addresses_split_and_adjacent_ranges_merge() {
        assert_eq!(
            split_addr("127.0.0.1:7000"),
            Some(("127.0.0.1".into(), 7000))
        );
        assert_eq!(split_addr("[::1]:7001"), Some(("::1".into(), 7001)));
        assert_eq!(split_addr("nohost"), None);
        let r = |a: u16, b: u16| SlotRange::from_numbers(a, b).unwrap();
        assert_eq!(
            merge_adjacent([r(0, 9), r(10, 19), r(30, 39)].into_iter()),
            vec![r(0, 19), r(30, 39)]
        );
    }
}

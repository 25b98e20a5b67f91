//! Who is in the cluster and where every shard lives: the members from `--cluster`, the
//! bootstrap routing table (`--shards` evenly over the slots) and the placement of each shard's
//! replicas (`--replicas`), computed the same way on every node from the same flags.
//!
//! Node ids: a member's Raft id is a hash of its name ([`node_id_of`]), so it does not depend
//! on the order of the `--cluster` list and stays the same when members are added later.
//!
//! Placement: members sorted by name; shard `i` (1-based) has its replicas on members
//! `i-1, i, ..., i-2+replicas` (mod n). The first is the shard's *preferred leader*; the
//! balancer moves leadership there when it can, so leaders spread evenly over the nodes.
//!
//! The metadata group ([`META_SHARD`]) has a voter on every member and holds the routing table
//! under one reserved key, so every node agrees on it (see [`crate::placement`]).

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context};
use raft::NodeId;
use router::{RoutingTable, ShardId, SlotRange};

use crate::cluster::ShardReplicas;
use crate::config::Config;

/// The metadata Raft group's shard id; no slot ever maps to it.
pub const META_SHARD: ShardId = ShardId(0);

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Raft node id (hash of the name).
    pub id: NodeId,
    /// The name given by `--node-id`.
    pub name: String,
    /// Internal address (`host:port`) of its transport.
    pub addr: String,
}

/// The cluster as this node was started with.
#[derive(Debug, Clone)]
pub struct Topology {
    /// This node.
    pub me: NodeId,
    /// Every member, sorted by name.
    pub members: Vec<Member>,
    /// Slot ranges to shards, as bootstrapped from the flags.
    pub table: RoutingTable,
    /// Each shard's replicas; the first is the preferred leader.
    pub placement: BTreeMap<ShardId, Vec<NodeId>>,
}

/// The Raft id of the node named `name`: FNV-1a over the name, never 0.
pub fn node_id_of(name: &str) -> NodeId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Keep ids within i64 so tools that print them signed stay readable.
    NodeId((h >> 1).max(1))
}

impl Topology {
    /// The topology the flags describe: `--cluster`, `--shards`, `--replicas`.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Topology> {
        let spec = match &cfg.cluster {
            Some(spec) => spec.clone(),
            None => format!("{}={}:{}", cfg.node_id, cfg.bind, cfg.port),
        };
        let members = parse_members(&spec)?;
        let me = node_id_of(&cfg.node_id);
        ensure!(
            members.iter().any(|m| m.id == me),
            "--node-id {} is not among the --cluster members",
            cfg.node_id
        );
        let default_shards = if cfg.cluster.is_some() { 16 } else { 1 };
        Topology::new(
            me,
            members,
            cfg.shards.unwrap_or(default_shards),
            cfg.replicas,
        )
    }

    /// `shards` shards over `members`, `replicas` each (capped at the member count).
    pub fn new(
        me: NodeId,
        mut members: Vec<Member>,
        shards: u64,
        replicas: usize,
    ) -> anyhow::Result<Topology> {
        ensure!(!members.is_empty(), "a cluster needs at least one member");
        ensure!(
            (1..=16384).contains(&shards),
            "--shards must be between 1 and 16384, not {shards}"
        );
        ensure!(replicas >= 1, "--replicas must be at least 1");
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let ids: Vec<ShardId> = (1..=shards).map(ShardId).collect();
        let table = RoutingTable::even_split_over(1, &ids).context("splitting the slots")?;
        let n = members.len();
        let replicas = replicas.min(n);
        let placement = ids
            .iter()
            .map(|&shard| {
                let first = (shard.0 as usize - 1) % n;
                let nodes = (0..replicas).map(|j| members[(first + j) % n].id).collect();
                (shard, nodes)
            })
            .collect();
        Ok(Topology {
            me,
            members,
            table,
            placement,
        })
    }

    /// The shard replicas this node hosts: the metadata group and every data shard placed here.
    pub fn local_shards(&self) -> Vec<ShardReplicas> {
        let mut out = vec![ShardReplicas {
            shard: META_SHARD,
            nodes: self.members.iter().map(|m| m.id).collect(),
        }];
        for (&shard, nodes) in &self.placement {
            if nodes.contains(&self.me) {
                out.push(ShardReplicas {
                    shard,
                    nodes: nodes.clone(),
                });
            }
        }
        out
    }

    /// Whether this node hosts a replica of `shard`.
    pub fn hosts(&self, shard: ShardId) -> bool {
        shard == META_SHARD
            || self
                .placement
                .get(&shard)
                .is_some_and(|n| n.contains(&self.me))
    }

    /// The member with Raft id `id`.
    pub fn member(&self, id: NodeId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// This node's member entry.
    pub fn myself(&self) -> &Member {
        self.member(self.me)
            .expect("Topology::from_config checked that this node is a member")
    }

    /// The replicas of `shard` (the first is the preferred leader).
    pub fn replicas(&self, shard: ShardId) -> &[NodeId] {
        self.placement.get(&shard).map_or(&[], Vec::as_slice)
    }

    /// Every data shard, ascending.
    pub fn shards(&self) -> Vec<ShardId> {
        self.placement.keys().copied().collect()
    }
}

/// Parses `name=host:port,name=host:port,...`.
pub fn parse_members(spec: &str) -> anyhow::Result<Vec<Member>> {
    let mut members: Vec<Member> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, addr)) = part.split_once('=') else {
            bail!("--cluster entry '{part}' is not name=host:port");
        };
        let (name, addr) = (name.trim(), addr.trim());
        ensure!(!name.is_empty(), "--cluster entry '{part}' has no name");
        let port = addr.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
        ensure!(
            matches!(port, Some(Ok(_))),
            "--cluster entry '{part}': '{addr}' is not host:port"
        );
        let id = node_id_of(name);
        if let Some(other) = members.iter().find(|m| m.name == name || m.id == id) {
            bail!("--cluster names '{}' twice", other.name);
        }
        members.push(Member {
            id,
            name: name.to_string(),
            addr: addr.to_string(),
        });
    }
    ensure!(!members.is_empty(), "--cluster lists no members");
    Ok(members)
}

/// The routing table as text, for the metadata group: `epoch;start-end=shard;...`.
pub fn encode_table(table: &RoutingTable) -> String {
    let mut s = table.epoch().to_string();
    for (range, shard) in table.ranges() {
        s.push_str(&format!(
            ";{}-{}={}",
            range.start.get(),
            range.end.get(),
            shard.0
        ));
    }
    s
}

/// Parses what [`encode_table`] wrote.
pub fn decode_table(text: &str) -> anyhow::Result<RoutingTable> {
    let mut parts = text.split(';');
    let epoch: u64 = parts
        .next()
        .and_then(|e| e.parse().ok())
        .context("routing table without an epoch")?;
    let mut ranges = Vec::new();
    for part in parts {
        let (range, shard) = part.split_once('=').context("malformed range")?;
        let (start, end) = range.split_once('-').context("malformed range")?;
        let range = SlotRange::from_numbers(start.parse()?, end.parse()?)?;
        ranges.push((range, ShardId(shard.parse()?)));
    }
    Ok(RoutingTable::from_ranges(epoch, ranges)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Member> {
        parse_members("node3=127.0.0.1:5003, node1=127.0.0.1:5001,node2=127.0.0.1:5002").unwrap()
    }

    #[test]
    fn members_parse_and_bad_lists_are_refused() {
        assert_eq!(three().len(), 3);
        for bad in ["", "node1", "node1=host", "=h:1", "a=h:1,a=h:2", "a=h:x"] {
            assert!(parse_members(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn placement_spreads_preferred_leaders_and_replicas() {
        let t = Topology::new(node_id_of("node1"), three(), 16, 3).unwrap();
        let mut leaders: BTreeMap<NodeId, usize> = BTreeMap::new();
        for nodes in t.placement.values() {
            assert_eq!(nodes.len(), 3);
            *leaders.entry(nodes[0]).or_default() += 1;
        }
        assert!(
            leaders.values().all(|&n| (5..=6).contains(&n)),
            "{leaders:?}"
        );
        assert_eq!(t.local_shards().len(), 17);
        let two = Topology::new(node_id_of("node1"), three(), 3, 2).unwrap();
        assert_eq!(two.local_shards().len(), 1 + 2);
        assert!(t.table.is_complete());
    }

    #[test]
    fn routing_table_text_round_trips() {
        let t = Topology::new(node_id_of("node1"), three(), 7, 3).unwrap();
        assert_eq!(decode_table(&encode_table(&t.table)).unwrap(), t.table);
        assert!(decode_table("x;1-2=3").is_err());
    }
}

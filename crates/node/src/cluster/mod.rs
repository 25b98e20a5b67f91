//! The Multi-Raft node runtime: a node hosts one replica of many shards, each shard's writes
//! going through that shard's Raft log before they are applied to its data.
//!
//! Where it sits: between the command layer (which plans a command into a `WriteEntry` or a
//! `ReadOp`) and `storage` (which applies entries and runs reads on a shard's column family).
//! The server calls [`Store::propose`] and [`Store::read`]; the store drives the `raft` crate's
//! `RawNode`s following its numbered driver contract (see `store.rs` and MULTI_RAFT.md).
//!
//! - [`codec`]: Raft types <-> protobuf (wire and stored values).
//! - [`log_store`]: `raft::Storage` on the `raft` column family.
//! - [`peer`]: one shard replica: its Raft node and the requests waiting on it.
//! - [`store`]: the store loop (one `WriteBatch` and at most one fsync per round for all
//!   shards) and the [`Store`] handle.
//! - [`apply`]: the apply worker.
//! - [`snapshot`]: streaming a shard's data to a follower, staging and installing it.
//! - [`transport`], [`sim`], [`grpc`]: the transport seam, an in-memory network with
//!   partitions for tests, and the tonic implementation.

pub mod apply;
pub mod chain;
pub mod codec;
pub mod error;
pub mod grpc;
pub mod log_store;
pub mod peer;
pub mod sim;
pub mod snapshot;
pub mod store;
mod store_loop;
pub mod transport;

pub use error::{ClusterError, ClusterResult};
pub use grpc::{GrpcTransport, GrpcTransportConfig, NodeService, TransportService};
pub use sim::{SimNetwork, SimTransport};
pub use store::{PendingProposal, ReadConsistency, ShardReplicas, Store, StoreConfig, StoreStats};
pub use transport::{
    DeliverError, Inbound, SendError, ShardMessage, SnapshotChunk, SnapshotError, SnapshotSink,
    Transport,
};

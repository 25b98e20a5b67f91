//! The `redraft` server: opens storage, starts the write path and background tasks, accepts
//! Redis clients, and shuts down gracefully on SIGINT or SIGTERM.
//!
//! Shutdown order: stop accepting; tell every connection to close after the batch it is
//! executing (so in-flight commands finish and get their replies); wait for them, up to
//! `shutdown_grace_ms`; stop the write path, which applies and fsyncs everything it accepted;
//! return (the process exits 0).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use parking_lot::RwLock;
use router::{RoutingTable, ShardId};
use storage::Db;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::clients::Clients;
use crate::config::Config;
use crate::state::{LiveConfig, Node, Stats};
use crate::write_path::LocalProposer;
use crate::{connection, cron, errors};

/// The single shard of a single-node server, owning every slot.
pub const SINGLE_SHARD: ShardId = ShardId(1);

/// Opens the node's storage and builds the shared node state.
pub fn open_node(config: Config) -> anyhow::Result<Arc<Node>> {
    let db = Db::open(&config.data_dir, &config.storage())
        .with_context(|| format!("opening {}", config.data_dir.display()))?;
    // TODO(#4): the shards and the routing table come from the cluster configuration.
    let routing = RoutingTable::even_split(1).context("building the routing table")?;
    let mut shards = HashMap::new();
    for &shard in routing.shards() {
        db.create_shard(shard.0)?;
        shards.insert(shard, Arc::new(db.shard(shard.0)?));
    }
    for (shard, store) in &shards {
        tracing::info!(
            shard = shard.0,
            applied = store.state().applied_index,
            "shard opened"
        );
    }
    let proposer = LocalProposer::start(
        Arc::clone(&db),
        shards.clone(),
        config.pending_writes_max,
        config.write_batch_max,
    )?;
    let live = LiveConfig {
        maxclients: AtomicUsize::new(config.maxclients),
        requirepass: RwLock::new(config.requirepass.clone().filter(|p| !p.is_empty())),
        proto_max_bulk_len: AtomicU64::new(config.proto_max_bulk_len),
        inert: RwLock::new(HashMap::new()),
    };
    Ok(Arc::new(Node {
        config,
        live,
        db,
        shards,
        routing: RwLock::new(Arc::new(routing)),
        proposer: Arc::new(proposer),
        clients: Clients::default(),
        stats: Stats::default(),
        started: Instant::now(),
    }))
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.bind, config.redis_port);
    let node = open_node(config)?;
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let cron = tokio::spawn(cron::run(Arc::clone(&node), stop_rx.clone()));
    tracing::info!(node = %node.config.node_id, redis_addr = %local, data_dir = %node.config.data_dir.display(), "ready to accept connections");
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => on_accept(&node, stream, peer, local, &stop_rx),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            signal = &mut stop => {
                tracing::info!(signal, "shutting down");
                break;
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    wait_for_clients(&node).await;
    let _ = cron.await;
    node.proposer.shutdown().await;
    node.db.sync_wal().context("final sync")?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Registers and serves a new client, or refuses it when `maxclients` are connected.
fn on_accept(
    node: &Arc<Node>,
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    stop: &watch::Receiver<bool>,
) {
    Node::bump(&node.stats.connections_received);
    let max = node
        .live
        .maxclients
        .load(std::sync::atomic::Ordering::Relaxed);
    match node.clients.try_register(peer, local, max) {
        Some(info) => {
            tracing::debug!(client = info.id, %peer, "client connected");
            tokio::spawn(connection::serve(
                Arc::clone(node),
                stream,
                info,
                stop.clone(),
            ));
        }
        None => {
            Node::bump(&node.stats.rejected_connections);
            tracing::warn!(%peer, max, "refusing client: max number of clients reached");
            tokio::spawn(async move {
                let reply = format!("-{}\r\n", errors::MAX_CLIENTS);
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    }
}

/// Waits until every client is gone, up to `shutdown_grace_ms`.
async fn wait_for_clients(node: &Node) {
    let deadline = Instant::now() + Duration::from_millis(node.config.shutdown_grace_ms);
    while node.clients.connected() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let left = node.clients.connected();
    if left > 0 {
        tracing::warn!(
            clients = left,
            "shutdown grace period over with clients still connected"
        );
    }
}

/// Resolves with the signal's name on SIGINT or SIGTERM.
async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

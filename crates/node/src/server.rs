//! The `redraft` server: opens storage, starts the Multi-Raft store, the internal transport
//! (gRPC on `--port`) and background tasks, accepts Redis clients, and shuts down gracefully
//! on SIGINT or SIGTERM.
//!
//! Shutdown order: stop accepting; tell every connection to close after the batch it is
//! executing (so in-flight commands finish and get their replies); wait for them, up to
//! `shutdown_grace_ms`; stop the background tasks and the internal transport; stop the
//! Multi-Raft store (every acknowledged write is already in a synced Raft log); sync the WAL;
//! return (the process exits 0).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use parking_lot::RwLock;
use storage::Db;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clients::Clients;
use crate::cluster::{
    GrpcTransport, GrpcTransportConfig, Store, StoreConfig, Transport, TransportService,
};
use crate::config::{Config, ReadMode};
use crate::forward::{ForwardServer, Peers};
use crate::state::{LiveConfig, Node, Stats};
use crate::topology::Topology;
use crate::{connection, cron, errors, placement};

/// Opens the node's storage, starts its Multi-Raft store and transport, and builds the
/// shared node state. Must run inside the Tokio runtime (the transport's tasks live there).
pub fn open_node(config: Config) -> anyhow::Result<Arc<Node>> {
    let topology = Topology::from_config(&config)?;
    let shards: Vec<u64> = topology.local_shards().iter().map(|r| r.shard.0).collect();
    let db = Db::open_with_shards(&config.data_dir, &config.storage(), &shards)
        .with_context(|| format!("opening {}", config.data_dir.display()))?;
    let me = topology.me;
    let addrs = topology
        .members
        .iter()
        .filter(|m| m.id != me)
        .map(|m| (m.id, format!("http://{}", m.addr)))
        .collect();
    let mut transport_cfg = GrpcTransportConfig::new(me);
    transport_cfg.message_bytes_max = config.transport_message_bytes_max;
    let transport = GrpcTransport::new(transport_cfg, addrs, tokio::runtime::Handle::current());
    let mut store_cfg = StoreConfig::new(me);
    store_cfg.tick_interval_ms = config.raft_tick_ms.max(1);
    store_cfg.election_ticks = config.raft_election_ticks.max(3);
    store_cfg.request_deadline_ms = config.request_deadline_ms;
    store_cfg.lease_read = config.read_consistency == ReadMode::Lease;
    store_cfg.inbox_max = config.store_inbox_max.max(1);
    store_cfg.inputs_per_round_max = config.store_inputs_per_round_max.max(1);
    store_cfg.pending_requests_per_shard_max = config.pending_requests_per_shard_max.max(1);
    store_cfg.apply_queue_max = config.apply_queue_max.max(1);
    store_cfg.snapshot_bytes_per_sec_max = config.snapshot_bytes_per_sec_max.max(1);
    store_cfg.log_compact_entries_min = config.log_compact_entries_min;
    store_cfg.log_compact_bytes_min = config.log_compact_bytes_min;
    store_cfg.log_lag_entries_max = config.log_lag_entries_max;
    let store = Store::start(
        store_cfg,
        Arc::clone(&db),
        &topology.local_shards(),
        Arc::clone(&transport) as Arc<dyn Transport>,
    )
    .context("starting the Multi-Raft store")?;
    transport.set_inbound(store.inbound());
    for shard in store.shards() {
        tracing::info!(
            shard = shard.0,
            applied = store.applied_index(shard).unwrap_or(0),
            "shard replica opened"
        );
    }
    let peers = Peers::new(
        &topology,
        config.transport_message_bytes_max,
        config.forward_inflight_max,
    );
    let live = LiveConfig {
        maxclients: AtomicUsize::new(config.maxclients),
        requirepass: RwLock::new(config.requirepass.clone().filter(|p| !p.is_empty())),
        proto_max_bulk_len: AtomicU64::new(config.proto_max_bulk_len),
        inert: RwLock::new(HashMap::new()),
    };
    let routing = RwLock::new(Arc::new(topology.table.clone()));
    Ok(Arc::new(Node {
        config,
        live,
        db,
        topology,
        store,
        routing,
        peers,
        redis_addr: OnceLock::new(),
        clients: Clients::default(),
        stats: Stats::default(),
        started: Instant::now(),
    }))
}

/// Serves the node-to-node transport (Raft, snapshots, forwarding) on `--bind:--port`.
async fn serve_transport(
    node: &Arc<Node>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let addr = format!("{}:{}", node.config.bind, node.config.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding the internal port {addr}"))?;
    let service = ForwardServer {
        store: node.store.clone(),
        name: node.config.node_id.clone(),
        redis_addr: node.redis_addr.get().cloned().unwrap_or_default(),
    };
    let svc = TransportService::new(node.topology.me, node.store.inbound())
        .with_node_service(Arc::new(service))
        .into_server(node.config.transport_message_bytes_max);
    // Small messages (acks, forwarded replies) must not wait for Nagle's algorithm.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut stop = stop;
    Ok(tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
        {
            tracing::error!(error = %e, "internal transport server failed");
        }
    }))
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.bind, config.redis_port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let node = open_node(config)?;
    let announced = match &node.config.announce_ip {
        Some(ip) => format!("{ip}:{}", local.port()),
        None => {
            if local.ip().is_unspecified() {
                tracing::warn!(
                    bind = %local.ip(),
                    "binding a wildcard address: set --announce-ip, or redirects and CLUSTER replies name an address clients cannot reach"
                );
            }
            local.to_string()
        }
    };
    let _ = node.redis_addr.set(announced);
    let (stop_tx, stop_rx) = watch::channel(false);
    // The transport outlives the clients: their last writes still need the other replicas.
    let (transport_stop_tx, transport_stop_rx) = watch::channel(false);
    let transport = serve_transport(&node, transport_stop_rx).await?;
    let cron = tokio::spawn(cron::run(Arc::clone(&node), stop_rx.clone()));
    let placement = tokio::spawn(placement::run(Arc::clone(&node), stop_rx.clone()));
    tracing::info!(
        node = %node.config.node_id,
        redis_addr = %local,
        internal_port = node.config.port,
        members = node.topology.members.len(),
        shards = node.topology.shards().len(),
        data_dir = %node.config.data_dir.display(),
        "ready to accept connections"
    );
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
    // Their cycles may wait on a shard for up to a request deadline; nothing of theirs needs
    // finishing (an abandoned expiry write is retried by the next leader's cron).
    for task in [cron, placement] {
        task.abort();
        let _ = task.await;
    }
    // Every acknowledged write is in the Raft log, synced before its reply.
    let store = node.store.clone();
    tokio::task::spawn_blocking(move || store.stop()).await?;
    let _ = transport_stop_tx.send(true);
    let _ = transport.await;
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

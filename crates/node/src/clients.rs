//! The registry of connected clients, for `CLIENT LIST`, `CLIENT INFO`, `INFO clients` and the
//! `maxclients` limit.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// What the registry knows about one client. Shared between its connection task and the
/// registry; the connection updates it as commands run.
#[derive(Debug)]
pub struct ClientInfo {
    /// Unique id (`CLIENT ID`), increasing from 1.
    pub id: u64,
    /// The client's address.
    pub addr: SocketAddr,
    /// The server address it connected to.
    pub laddr: SocketAddr,
    /// When it connected.
    pub connected_at: Instant,
    /// Milliseconds after `connected_at` of its last command.
    pub last_cmd_ms: AtomicI64,
    /// Its name (`CLIENT SETNAME`), empty when unset.
    pub name: Mutex<String>,
    /// The last command's name.
    pub last_cmd: Mutex<&'static str>,
    /// RESP version it speaks (2 or 3).
    pub resp: AtomicU8,
    /// Bytes waiting in its query buffer.
    pub qbuf_bytes: AtomicUsize,
}

impl ClientInfo {
    /// One `CLIENT LIST` line (without the trailing newline), in Redis 7's field order.
    pub fn line(&self) -> String {
        let age = self.connected_at.elapsed();
        let idle_ms = (age.as_millis() as i64 - self.last_cmd_ms.load(Ordering::Relaxed)).max(0);
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 \
             multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 \
             tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name= lib-ver=",
            self.id,
            self.addr,
            self.laddr,
            self.name.lock(),
            age.as_secs(),
            idle_ms / 1000,
            self.qbuf_bytes.load(Ordering::Relaxed),
            self.last_cmd.lock(),
            self.resp.load(Ordering::Relaxed),
        )
    }

    /// Records that a command started now.
    pub fn touch(&self) {
        self.last_cmd_ms.store(
            self.connected_at.elapsed().as_millis() as i64,
            Ordering::Relaxed,
        );
    }
}

/// The clients connected to the node.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    connected: AtomicUsize,
    all: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    /// Registers a new client if fewer than `max` are connected; `None` when full.
    pub fn try_register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        max: usize,
    ) -> Option<Arc<ClientInfo>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut all = self.all.lock();
        if all.len() >= max {
            return None;
        }
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            connected_at: Instant::now(),
            last_cmd_ms: AtomicI64::new(0),
            name: Mutex::new(String::new()),
            last_cmd: Mutex::new("NULL"),
            resp: AtomicU8::new(2),
            qbuf_bytes: AtomicUsize::new(0),
        });
        all.insert(id, Arc::clone(&info));
        self.connected.store(all.len(), Ordering::Relaxed);
        Some(info)
    }

    /// Removes a client.
    pub fn unregister(&self, id: u64) {
        let mut all = self.all.lock();
        all.remove(&id);
        self.connected.store(all.len(), Ordering::Relaxed);
    }

    /// How many clients are connected.
    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// Every client, by id.
    pub fn list(&self) -> Vec<Arc<ClientInfo>> {
        self.all.lock().values().cloned().collect()
    }
}

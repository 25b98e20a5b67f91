//! Datadriven scenario tests for RedRaft's Raft: every `tests/testdata/*.txt` file is a
//! list of commands with their expected output. Run with `REWRITE=1` to regenerate the
//! expected output (then read the diff before committing).

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{fmt_msg, test_config, Network};
use raft::{ConfChange, ConfChangeSingle, ConfChangeType, Message, MessageType, NodeId};

/// One `command args\n----\noutput` block.
struct Case {
    /// Comment lines before the command.
    comments: Vec<String>,
    /// The command line.
    command: String,
    /// The expected output.
    expected: String,
}

fn parse(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut lines = text.lines().peekable();
    let mut comments = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('#') {
            comments.push(line.to_string());
            continue;
        }
        let command = line.to_string();
        assert_eq!(lines.next(), Some("----"), "expected ---- after {command}");
        let mut expected = String::new();
        while let Some(l) = lines.peek() {
            if l.is_empty() {
                break;
            }
            expected.push_str(l);
            expected.push('\n');
            lines.next();
        }
        cases.push(Case {
            comments: std::mem::take(&mut comments),
            command,
            expected,
        });
    }
    cases
}

/// Parsed arguments: positional values and `key=value` pairs.
struct Args {
    pos: Vec<String>,
    kv: Vec<(String, String)>,
}

impl Args {
    fn parse(words: &[&str]) -> Self {
        let mut a = Self {
            pos: Vec::new(),
            kv: Vec::new(),
        };
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => a.kv.push((k.to_string(), v.to_string())),
                None => a.pos.push((*w).to_string()),
            }
        }
        a
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.kv
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn u64(&self, key: &str, default: u64) -> u64 {
        self.get(key)
            .map_or(default, |v| v.parse().expect("number"))
    }
    fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }
    fn list(&self, key: &str) -> Vec<u64> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().expect("id"))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn id(&self, i: usize) -> u64 {
        self.pos[i].parse().expect("node id")
    }
}

/// The state a scenario file builds up.
struct Env {
    net: Option<Network>,
}

impl Env {
    fn net(&mut self) -> &mut Network {
        self.net.as_mut().expect("run `cluster` first")
    }

    fn run(&mut self, command: &str) -> String {
        let words: Vec<&str> = command.split_whitespace().collect();
        let args = Args::parse(&words[1..]);
        let before = self.net.as_ref().map_or(0, |n| n.out.len());
        let extra = self.dispatch(words[0], &args);
        let net = self.net();
        let mut out = net.out[before..].to_string();
        out.push_str(&extra);
        if out.is_empty() {
            out = "ok\n".to_string();
        }
        out
    }

    fn dispatch(&mut self, cmd: &str, a: &Args) -> String {
        match cmd {
            "cluster" => self.cluster(a),
            "add-node" => {
                let cfg = config_from(a.id(0), a);
                self.net().add_empty_node(a.id(0), cfg);
                String::new()
            }
            "log-terms" => self.log_terms(a),
            "campaign" => result(self.net().raw(a.id(0)).campaign()),
            "tick" => {
                let (n, quiet) = (a.u64("n", 1), a.pos.iter().any(|p| p == "quiet"));
                let net = self.net();
                net.verbose = !quiet;
                net.tick(a.id(0), n);
                net.verbose = true;
                String::new()
            }
            "tick-all" => {
                let (n, quiet) = (a.u64("n", 1), a.pos.iter().any(|p| p == "quiet"));
                let net = self.net();
                net.verbose = !quiet;
                net.tick_all(n);
                net.verbose = true;
                String::new()
            }
            "propose" => {
                let id = a.id(0);
                let batch: Vec<Vec<u8>> =
                    a.pos[1..].iter().map(|s| s.as_bytes().to_vec()).collect();
                let r = self.net().raw(id).propose_batch(batch);
                self.net().process(id);
                match r {
                    Ok(p) => format!(
                        "proposed {}..={} term={}\n",
                        p.indexes.start(),
                        p.indexes.end(),
                        p.term
                    ),
                    Err(e) => format!("error: {e}\n"),
                }
            }
            "conf-change" => self.conf_change(a),
            "transfer" => result(
                self.net()
                    .raw(a.id(0))
                    .transfer_leader(NodeId(a.u64("to", 0))),
            ),
            "read-index" => {
                let ctx = a.pos[1].as_bytes().to_vec();
                result(self.net().raw(a.id(0)).read_index(ctx))
            }
            _ => self.dispatch_net(cmd, a),
        }
    }

    fn dispatch_net(&mut self, cmd: &str, a: &Args) -> String {
        let net = self.net();
        match cmd {
            "stabilize" => {
                net.verbose = !a.pos.iter().any(|p| p == "quiet");
                net.stabilize();
                net.verbose = true;
                String::new()
            }
            "deliver" => {
                let n = a.u64("n", u64::MAX);
                let mut i = 0;
                while i < n && net.deliver_one() {
                    i += 1;
                }
                String::new()
            }
            "drop" => {
                let dropped: Vec<Message> = net.queue.drain(..).collect();
                dropped
                    .iter()
                    .map(|m| format!("dropped: {}\n", fmt_msg(m)))
                    .collect()
            }
            "process" => {
                net.process_all();
                String::new()
            }
            "isolate" => {
                net.isolate(a.id(0));
                String::new()
            }
            "cut" => {
                net.cut.insert((a.id(0), a.id(1)));
                String::new()
            }
            "heal" => {
                net.cut.clear();
                String::new()
            }
            "crash" => {
                net.crash(a.id(0));
                String::new()
            }
            "restart" => {
                net.restart(a.id(0));
                String::new()
            }
            "split" => {
                net.show_split = a.pos.first().is_some_and(|p| p == "on");
                String::new()
            }
            "wake" => {
                net.raw(a.id(0)).wake();
                String::new()
            }
            "compact" => format!("compacted n{} to {}\n", a.id(0), net.compact(a.id(0))),
            "inject" => inject(net, a),
            "state" => net.state(),
            "log" => a
                .pos
                .iter()
                .map(|p| net.log_of(p.parse().expect("id")) + "\n")
                .collect(),
            "status" => format!("{:?}\n", net.raw(a.id(0)).status().progress),
            "queue" => net.queue.iter().map(|m| fmt_msg(m) + "\n").collect(),
            _ => panic!("unknown command {cmd}"),
        }
    }

    fn cluster(&mut self, a: &Args) -> String {
        let voters = a.list("voters");
        let learners = a.list("learners");
        self.net = Some(Network::new(&voters, &learners, |id| config_from(id, a)));
        self.net().state()
    }

    /// Rewrites a node's durable log to entries of the given terms (starting at index 2,
    /// after the bootstrap snapshot) and restarts it.
    fn log_terms(&mut self, a: &Args) -> String {
        let id = a.id(0);
        let terms: Vec<u64> = a.pos[1..]
            .iter()
            .map(|t| t.parse().expect("term"))
            .collect();
        let net = self.net();
        net.crash(id);
        let node = net.nodes.get_mut(&id).expect("node");
        let store = node.crashed_store.as_mut().expect("crashed");
        let ents: Vec<raft::Entry> = terms
            .iter()
            .enumerate()
            .map(|(i, &t)| raft::Entry {
                term: t,
                index: i as u64 + 2,
                ..Default::default()
            })
            .collect();
        store.append(&ents);
        let mut hs = store.hard_state();
        hs.term = hs
            .term
            .max(a.u64("term", terms.iter().copied().max().unwrap_or(1)));
        store.set_hard_state(hs);
        net.restart(id);
        net.log_of(id) + "\n"
    }

    fn conf_change(&mut self, a: &Args) -> String {
        let id = a.id(0);
        let mut changes = Vec::new();
        for (k, v) in &a.kv {
            let change_type = match k.as_str() {
                "add" => ConfChangeType::AddNode,
                "learner" => ConfChangeType::AddLearner,
                "remove" => ConfChangeType::RemoveNode,
                _ => panic!("unknown change {k}"),
            };
            for n in v.split(',') {
                let node_id = NodeId(n.parse().expect("id"));
                changes.push(ConfChangeSingle {
                    change_type,
                    node_id,
                });
            }
        }
        let cc = ConfChange {
            changes,
            context: Vec::new(),
        };
        let r = self.net().raw(id).propose_conf_change(&cc);
        self.net().process(id);
        match r {
            Ok(p) => format!("proposed conf change at {}\n", p.indexes.end()),
            Err(e) => format!("error: {e}\n"),
        }
    }
}

fn inject(net: &mut Network, a: &Args) -> String {
    let msg_type = match a.get("type").expect("type=") {
        "AppendResponse" => MessageType::AppendResponse,
        "Heartbeat" => MessageType::Heartbeat,
        "RequestVote" => MessageType::RequestVote,
        "RequestPreVote" => MessageType::RequestPreVote,
        "Append" => MessageType::Append,
        t => panic!("unsupported type {t}"),
    };
    let m = Message {
        msg_type,
        from: NodeId(a.u64("from", 0)),
        to: NodeId(a.u64("to", 0)),
        term: a.u64("term", 0),
        index: a.u64("index", 0),
        log_term: a.u64("log-term", 0),
        commit: a.u64("commit", 0),
        reject: a.flag("reject"),
        ..Default::default()
    };
    let to = m.to.0;
    net.out.push_str(&format!("injected: {}\n", fmt_msg(&m)));
    let r = net.raw(to).step(m);
    net.process(to);
    result(r)
}

fn result(r: raft::Result<()>) -> String {
    match r {
        Ok(()) => String::new(),
        Err(e) => format!("error: {e}\n"),
    }
}

fn config_from(id: u64, a: &Args) -> raft::Config {
    let mut c = test_config(id);
    c.pre_vote = a.flag("prevote");
    c.check_quorum = a.flag("checkquorum");
    c.lease_read = a.flag("lease");
    c.quiesce_after_ticks = a.u64("quiesce", 0);
    c.election_ticks = a.u64("election", 10);
    c.lease_ticks = a.u64("lease-ticks", c.election_ticks - 2);
    c.max_inflight_msgs = a.u64("inflight", 256) as usize;
    c.max_size_per_msg_bytes = a.u64("max-msg-bytes", 1 << 20);
    c.max_uncommitted_bytes = a.u64("max-uncommitted", 64 << 20);
    // Distinct seeds per node so randomized timeouts differ but runs repeat.
    c.seed = a.u64("seed", 7);
    c
}

fn run_file(path: &Path) {
    let text = std::fs::read_to_string(path).expect("read testdata");
    let cases = parse(&text);
    let mut env = Env { net: None };
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut rewritten = String::new();
    for case in &cases {
        let got = env.run(&case.command);
        for c in &case.comments {
            rewritten.push_str(c);
            rewritten.push('\n');
        }
        let _ = write!(rewritten, "{}\n----\n{}\n", case.command, got);
        if !rewrite {
            assert_eq!(
                got,
                case.expected,
                "{}: command `{}` output differs (REWRITE=1 regenerates)",
                path.display(),
                case.command
            );
        }
    }
    if rewrite {
        std::fs::write(path, rewritten).expect("rewrite testdata");
    }
}

#[test]
fn testdata_scenarios() {
    // The crate's directory at run time, not build time: a test binary reused from a clone
    // elsewhere (a shared target directory) would otherwise look in that clone.
    let crate_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
    let dir = Path::new(&crate_dir).join("tests/testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files");
    for f in files {
        run_file(&f);
    }
}

//! Commands: parse and plan. A command's parser turns its arguments into a [`Plan`] (a read
//! op, a write op, or work for the server itself); it never touches storage. Storage executes
//! the ops (`storage::types::*`), and the server turns their [`Output`]s into RESP replies.
//!
//! One file per Redis command group. Each exposes `pub const COMMANDS: &[CommandSpec]`, the
//! declarative table (name, arity, flags, key positions) that the dispatcher, `COMMAND` and the
//! cluster router read.
//!
//! To add a command: write its parser in the group's file, add a [`CommandSpec`] to that file's
//! `COMMANDS`, add the op and its executor in `storage::types::<group>`, and test it in the
//! group's black-box test.

pub mod cluster;
pub mod config;
pub mod connection;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod server;
pub mod set;
pub mod string;
pub mod table;
pub mod zset;

use bytes::Bytes;
use storage::types::keyspace::{KeyspaceRead, MissingKey};
use storage::{ExecError, Output, ReadOp, WriteOp};

use crate::errors;

/// A command's flags, as `COMMAND INFO` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// Changes data.
    pub const WRITE: Flags = Flags(1);
    /// Only reads data.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory use (Redis's `denyoom`).
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 3);
    /// O(1) or O(log n).
    pub const FAST: Flags = Flags(1 << 4);
    /// Allowed before authentication.
    pub const NO_AUTH: Flags = Flags(1 << 5);
    /// Answered by the node without storage (connection and server commands).
    pub const LOCAL: Flags = Flags(1 << 6);
    /// A local command that reads this node's shard data directly (INFO's key counts), not
    /// through a read op: it runs once the writes this node answered at commit are applied,
    /// the wait that reads get from the read path. Not listed by `COMMAND INFO`.
    pub const READS_DATA: Flags = Flags(1 << 7);
    /// No flags.
    pub const NONE: Flags = Flags(0);

    const NAMES: [(Flags, &'static str); 6] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
    ];

    /// Both sets of flags.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names `COMMAND INFO` lists.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

/// Where a command's keys are among its arguments (`args[0]` is the command name).
#[derive(Debug, Clone, Copy)]
pub enum KeySpec {
    /// No keys.
    None,
    /// Keys at `first`, `first + step`, ... up to `last` (negative `last` counts from the end:
    /// -1 is the last argument), as in `COMMAND INFO`.
    Range {
        /// Position of the first key.
        first: i32,
        /// Position of the last key; negative counts from the end.
        last: i32,
        /// Distance between keys.
        step: i32,
    },
    /// Keys found by a function (commands with a `numkeys` argument); `first`, `last` and
    /// `step` are what `COMMAND INFO` reports (Redis reports 0 0 0 plus `movablekeys`).
    Movable(fn(&[Bytes]) -> Vec<usize>),
}

impl KeySpec {
    /// The common case: one key at position 1.
    pub const ONE: KeySpec = KeySpec::Range {
        first: 1,
        last: 1,
        step: 1,
    };
    /// Every argument after the name is a key.
    pub const ALL: KeySpec = KeySpec::Range {
        first: 1,
        last: -1,
        step: 1,
    };

    /// The positions of the keys in `args` (invalid arities yield what exists).
    pub fn positions(&self, args: &[Bytes]) -> Vec<usize> {
        match *self {
            KeySpec::None => Vec::new(),
            KeySpec::Range { first, last, step } => {
                let len = args.len() as i32;
                let last = if last < 0 {
                    len + last
                } else {
                    last.min(len - 1)
                };
                (first..=last)
                    .step_by(step.max(1) as usize)
                    .map(|i| i as usize)
                    .collect()
            }
            KeySpec::Movable(find) => find(args),
        }
    }
}

/// Inputs a parser may use besides the arguments. Values chosen here enter the op, so every
/// replica applies the same thing.
#[derive(Debug, Clone, Copy)]
pub struct PlanCtx {
    /// Now, in Unix milliseconds (for relative expiry times like `SET ... EX 10`).
    pub now_ms: u64,
    /// A fresh random seed for ops that choose at random (SPOP, SRANDMEMBER...).
    pub seed: u64,
    /// The longest string value allowed (`proto-max-bulk-len`).
    pub bulk_len_max: u64,
    /// The most elements a negative *RANDMEMBER / HRANDFIELD count may ask for.
    pub rand_count_max: u64,
}

/// How per-shard results of a keyless command combine into one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Add integers (DBSIZE).
    Sum,
    /// Concatenate arrays (KEYS).
    Concat,
    /// Any non-nil result (RANDOMKEY).
    AnyNonNil,
    /// Scan cursors (SCAN): the node owns the cursor's shard part.
    Scan,
    /// All shards must reply OK (FLUSHDB, FLUSHALL).
    AllOk,
}

/// What a parsed command asks the node to do.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Execute a read op on the shard that owns the command's keys.
    Read(ReadOp),
    /// Propose a write op to the shard that owns the command's keys.
    Write(WriteOp),
    /// Execute a read op on the shard owning `slot` (CLUSTER COUNTKEYSINSLOT, GETKEYSINSLOT).
    ReadAt(router::Slot, ReadOp),
    /// Execute a read op on every shard and merge the results (KEYS, SCAN, DBSIZE, RANDOMKEY).
    ReadAll(ReadOp, Merge),
    /// Propose a write op to every shard (FLUSHDB, FLUSHALL).
    WriteAll(WriteOp, Merge),
    /// Reply without touching storage.
    Reply(Output),
    /// Run the command's local function with the connection's state (a local command whose
    /// parser sends only some subcommands to storage, like CLUSTER).
    Local,
}

/// A data command's parser. `args[0]` is the command name; arity was checked already.
pub type ParseFn = fn(&PlanCtx, &[Bytes]) -> Result<Plan, ExecError>;

/// One row of the command table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n > 0` exactly n arguments including the name, `n < 0` at least `-n`.
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Where the keys are.
    pub keys: KeySpec,
    /// The `COMMAND DOCS` group (`string`, `keyspace`/`generic`, `hash`...).
    pub group: &'static str,
    /// One-line summary for `COMMAND DOCS` and `pilot help`.
    pub summary: &'static str,
    /// The parser; `None` for commands the server answers itself (flag `LOCAL`).
    pub parse: Option<ParseFn>,
}

/// A command of `group` that the server answers itself (flag `LOCAL`, no keys, no parser).
pub(crate) const fn local_command(
    group: &'static str,
    name: &'static str,
    arity: i32,
    flags: Flags,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: flags.with(Flags::LOCAL),
        keys: KeySpec::None,
        group,
        summary,
        parse: None,
    }
}

impl CommandSpec {
    /// Whether `argc` arguments (including the name) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn arg_i64(arg: &[u8]) -> Result<i64, ExecError> {
    storage::number::parse_i64(arg).ok_or(ExecError::NotInteger)
}

/// Parses a float argument (`ERR value is not a valid float`).
pub fn arg_f64(arg: &[u8]) -> Result<f64, ExecError> {
    storage::number::parse_f64(arg).ok_or(ExecError::NotFloat)
}

/// Parses a non-negative count (`ERR value is out of range, must be positive`).
pub fn arg_count(arg: &[u8]) -> Result<u64, ExecError> {
    arg_non_negative(arg, errors::COUNT_NOT_POSITIVE)
}

/// Parses a non-negative integer. Redis gives such an argument one message for a negative
/// value and for one that is not an integer at all, so both get `err`.
pub fn arg_non_negative(arg: &[u8], err: &str) -> Result<u64, ExecError> {
    arg_i64(arg)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| ExecError::Reply(err.into()))
}

/// Whether `arg` equals the option name `name` ignoring ASCII case.
pub fn is_opt(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// An argument as an owned byte vector (ops own their data).
pub fn owned(arg: &Bytes) -> Vec<u8> {
    arg.to_vec()
}

/// A plan to run a read op on the shard owning the command's keys.
pub fn read(op: impl Into<ReadOp>) -> Result<Plan, ExecError> {
    Ok(Plan::Read(op.into()))
}

/// The plan for a command whose argument failed to parse with `error` where Redis looks the
/// key up before reading that argument: a read that replies as `missing` says for a missing
/// key, WRONGTYPE for a key of another type than `type_name`, and `error` only for a key of
/// that type.
pub fn fail_after_lookup(
    key: &[u8],
    type_name: &str,
    missing: MissingKey,
    error: &ExecError,
) -> Result<Plan, ExecError> {
    fail_after_lookups(vec![key.to_vec()], &[type_name], missing, error)
}

/// [`fail_after_lookup`] for a command with several keys, which Redis looks up in order;
/// a key may hold any of `type_names`.
pub fn fail_after_lookups(
    keys: Vec<Vec<u8>>,
    type_names: &[&str],
    missing: MissingKey,
    error: &ExecError,
) -> Result<Plan, ExecError> {
    read(KeyspaceRead::FailAfterLookup {
        keys,
        type_names: type_names.iter().map(|t| (*t).to_owned()).collect(),
        missing,
        error: errors::exec_error_text(error),
    })
}

/// A plan to propose a write op to the shard owning the command's keys.
pub fn write(op: impl Into<WriteOp>) -> Result<Plan, ExecError> {
    Ok(Plan::Write(op.into()))
}

/// The command's first argument after its name, as an owned key.
pub fn key(args: &[Bytes]) -> Vec<u8> {
    owned(&args[1])
}

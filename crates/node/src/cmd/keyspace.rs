//! Keyspace commands (Redis's `generic` group, plus DBSIZE/FLUSHDB/FLUSHALL): parsing
//! arguments into `storage::types::keyspace` ops.
//!
//! Keyless commands run on every shard: KEYS, SCAN, RANDOMKEY and DBSIZE as
//! [`Plan::ReadAll`], FLUSHDB and FLUSHALL as [`Plan::WriteAll`]. The `SCAN` cursor format is
//! documented in `storage::types::keyspace`.

use bytes::Bytes;
use storage::types::keyspace::{ExpireCond, KeyspaceRead, KeyspaceWrite, TtlKind};
use storage::{ExecError, ReadOp, WriteOp};

use super::{
    arg_i64, is_opt, key, owned, read, write, CommandSpec, Flags, KeySpec, Merge, Plan, PlanCtx,
};
use crate::errors;

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.with(Flags::FAST);
/// RENAME, RENAMENX, COPY: the source and the destination.
const TWO: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: KeySpec,
    summary: &'static str,
    parse: super::ParseFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group: "generic",
        summary,
        parse: Some(parse),
    }
}

const fn server(
    name: &'static str,
    arity: i32,
    flags: Flags,
    summary: &'static str,
    parse: super::ParseFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: KeySpec::None,
        group: "server",
        summary,
        parse: Some(parse),
    }
}

/// The keyspace command table.
pub const COMMANDS: &[CommandSpec] = &[
    spec("del", -2, W, KeySpec::ALL, "Deletes one or more keys.", parse_del),
    spec("unlink", -2, WF, KeySpec::ALL, "Asynchronously deletes one or more keys.", parse_del),
    spec("exists", -2, RF, KeySpec::ALL, "Determines whether one or more keys exist.", parse_exists),
    spec("touch", -2, RF, KeySpec::ALL, "Returns the number of existing keys out of those specified after updating the time they were last accessed.", parse_exists),
    spec("type", 2, RF, KeySpec::ONE, "Determines the type of value stored at a key.", parse_type),
    spec("expire", -3, WF, KeySpec::ONE, "Sets the expiration time of a key in seconds.", parse_expire),
    spec("pexpire", -3, WF, KeySpec::ONE, "Sets the expiration time of a key in milliseconds.", parse_pexpire),
    spec("expireat", -3, WF, KeySpec::ONE, "Sets the expiration time of a key to a Unix timestamp.", parse_expireat),
    spec("pexpireat", -3, WF, KeySpec::ONE, "Sets the expiration time of a key to a Unix milliseconds timestamp.", parse_pexpireat),
    spec("ttl", 2, RF, KeySpec::ONE, "Returns the expiration time in seconds of a key.", parse_ttl),
    spec("pttl", 2, RF, KeySpec::ONE, "Returns the expiration time in milliseconds of a key.", parse_pttl),
    spec("expiretime", 2, RF, KeySpec::ONE, "Returns the expiration time of a key as a Unix timestamp.", parse_expiretime),
    spec("pexpiretime", 2, RF, KeySpec::ONE, "Returns the expiration time of a key as a Unix milliseconds timestamp.", parse_pexpiretime),
    spec("persist", 2, WF, KeySpec::ONE, "Removes the expiration time of a key.", parse_persist),
    spec("rename", 3, W, TWO, "Renames a key and overwrites the destination.", parse_rename),
    spec("renamenx", 3, WF, TWO, "Renames a key only when the target key name doesn't exist.", parse_renamenx),
    spec("copy", -3, WD, TWO, "Copies the value of a key to a new key.", parse_copy),
    spec("keys", 2, R, KeySpec::None, "Returns all key names that match a pattern.", parse_keys),
    spec("scan", -2, R, KeySpec::None, "Iterates over the key names in the database.", parse_scan),
    spec("randomkey", 1, R, KeySpec::None, "Returns a random key name from the database.", parse_randomkey),
    server("dbsize", 1, RF, "Returns the number of keys in the database.", parse_dbsize),
    server("flushdb", -1, W, "Remove all keys from the current database.", parse_flush),
    server("flushall", -1, W, "Removes all keys from all databases.", parse_flush),
];

/// `COUNT` of `SCAN` when not given, as in Redis.
const SCAN_COUNT_DEFAULT: u64 = 10;

fn all_keys(args: &[Bytes]) -> Vec<Vec<u8>> {
    args[1..].iter().map(owned).collect()
}

fn parse_del(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(KeyspaceWrite::Del {
        keys: all_keys(args),
    })
}

fn parse_exists(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(KeyspaceRead::Exists {
        keys: all_keys(args),
    })
}

fn parse_type(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(KeyspaceRead::Type { key: key(args) })
}

/// How an `EXPIRE`-family time argument is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Seconds,
    Millis,
}

/// Parses `NX`/`XX`/`GT`/`LT` as Redis 7 does: unknown options first, then conflicts.
fn parse_expire_cond(options: &[Bytes]) -> Result<ExpireCond, ExecError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in options {
        match () {
            _ if is_opt(opt, "nx") => nx = true,
            _ if is_opt(opt, "xx") => xx = true,
            _ if is_opt(opt, "gt") => gt = true,
            _ if is_opt(opt, "lt") => lt = true,
            _ => return Err(ExecError::Reply(errors::unsupported_option(opt))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(ExecError::Reply(errors::EXPIRE_OPTIONS_CONFLICT.into()));
    }
    if gt && lt {
        return Err(ExecError::Reply(errors::EXPIRE_GT_LT.into()));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCond::NoExpiry,
        (_, _, true, _) => ExpireCond::Later,
        (_, true, _, true) => ExpireCond::EarlierWithExpiry,
        (_, _, _, true) => ExpireCond::Earlier,
        (_, true, ..) => ExpireCond::HasExpiry,
        _ => ExpireCond::Always,
    })
}

/// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`: the absolute time in milliseconds, with Redis's
/// overflow checks (`ERR invalid expire time in '<command>' command`).
fn parse_expire_generic(
    ctx: &PlanCtx,
    args: &[Bytes],
    unit: ExpireUnit,
    relative: bool,
) -> Result<Plan, ExecError> {
    let command = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let cond = parse_expire_cond(&args[3..])?;
    let when = arg_i64(&args[2])?;
    let invalid = || ExecError::Reply(errors::invalid_expire(&command));
    let when_ms = match unit {
        ExpireUnit::Seconds => when.checked_mul(1000).ok_or_else(invalid)?,
        ExpireUnit::Millis => when,
    };
    let base_ms = if relative {
        i64::try_from(ctx.now_ms).map_err(|_| invalid())?
    } else {
        0
    };
    let at_ms = when_ms.checked_add(base_ms).ok_or_else(invalid)?;
    write(KeyspaceWrite::Expire {
        key: key(args),
        at_ms,
        cond,
    })
}

fn parse_expire(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    parse_expire_generic(ctx, args, ExpireUnit::Seconds, true)
}

fn parse_pexpire(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    parse_expire_generic(ctx, args, ExpireUnit::Millis, true)
}

fn parse_expireat(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    parse_expire_generic(ctx, args, ExpireUnit::Seconds, false)
}

fn parse_pexpireat(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    parse_expire_generic(ctx, args, ExpireUnit::Millis, false)
}

fn ttl(args: &[Bytes], kind: TtlKind) -> Result<Plan, ExecError> {
    read(KeyspaceRead::Ttl {
        key: key(args),
        kind,
    })
}

fn parse_ttl(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    ttl(args, TtlKind::Seconds)
}

fn parse_pttl(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    ttl(args, TtlKind::Millis)
}

fn parse_expiretime(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    ttl(args, TtlKind::AtSeconds)
}

fn parse_pexpiretime(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    ttl(args, TtlKind::AtMillis)
}

fn parse_persist(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(KeyspaceWrite::Persist { key: key(args) })
}

fn parse_rename(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(KeyspaceWrite::Rename {
        src: key(args),
        dst: owned(&args[2]),
        nx: false,
    })
}

fn parse_renamenx(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(KeyspaceWrite::Rename {
        src: key(args),
        dst: owned(&args[2]),
        nx: true,
    })
}

fn parse_copy(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is_opt(&args[i], "replace") {
            replace = true;
        } else if is_opt(&args[i], "db") && i + 1 < args.len() {
            // RedRaft has one database, like Redis Cluster.
            if arg_i64(&args[i + 1])? != 0 {
                return Err(ExecError::Reply(errors::DB_INDEX_OUT_OF_RANGE.into()));
            }
            i += 1;
        } else {
            return Err(ExecError::Syntax);
        }
        i += 1;
    }
    if args[1] == args[2] {
        return Err(ExecError::Reply(errors::SAME_OBJECT.into()));
    }
    write(KeyspaceWrite::Copy {
        src: key(args),
        dst: owned(&args[2]),
        replace,
    })
}

fn parse_keys(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    Ok(Plan::ReadAll(
        ReadOp::Keyspace(KeyspaceRead::Keys { pattern: key(args) }),
        Merge::Concat,
    ))
}

/// Parses a `SCAN` cursor as Redis does with `strtoul`: optional sign, decimal digits, at most
/// `u64::MAX`; a `-` negates modulo 2^64 (so `-1` is `u64::MAX`).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, ExecError> {
    let invalid = || ExecError::Reply(errors::INVALID_CURSOR.into());
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let text = std::str::from_utf8(digits).map_err(|_| invalid())?;
    let value = text.parse::<u64>().map_err(|_| invalid())?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn parse_scan(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let cursor = parse_cursor(&args[1])?;
    let (mut pattern, mut count, mut type_name) = (None, SCAN_COUNT_DEFAULT, None);
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(ExecError::Syntax);
        };
        if is_opt(&args[i], "count") {
            count = u64::try_from(arg_i64(value)?)
                .ok()
                .filter(|&c| c >= 1)
                .ok_or(ExecError::Syntax)?;
        } else if is_opt(&args[i], "match") {
            pattern = Some(owned(value));
        } else if is_opt(&args[i], "type") {
            type_name = Some(owned(value));
        } else {
            return Err(ExecError::Syntax);
        }
        i += 2;
    }
    let op = KeyspaceRead::Scan {
        cursor,
        pattern,
        count,
        type_name,
    };
    Ok(Plan::ReadAll(ReadOp::Keyspace(op), Merge::Scan))
}

fn parse_randomkey(ctx: &PlanCtx, _: &[Bytes]) -> Result<Plan, ExecError> {
    Ok(Plan::ReadAll(
        ReadOp::Keyspace(KeyspaceRead::RandomKey { seed: ctx.seed }),
        Merge::AnyNonNil,
    ))
}

fn parse_dbsize(_: &PlanCtx, _: &[Bytes]) -> Result<Plan, ExecError> {
    Ok(Plan::ReadAll(
        ReadOp::Keyspace(KeyspaceRead::DbSize),
        Merge::Sum,
    ))
}

fn parse_flush(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    // ASYNC and SYNC are accepted; a range delete is O(1) either way.
    match &args[1..] {
        [] => {}
        [mode] if is_opt(mode, "async") || is_opt(mode, "sync") => {}
        _ => return Err(ExecError::Syntax),
    }
    Ok(Plan::WriteAll(
        WriteOp::Keyspace(KeyspaceWrite::FlushAll),
        Merge::AllOk,
    ))
}

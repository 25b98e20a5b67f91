//! Hash commands: parsing arguments into `storage::types::hash` ops.
//!
//! Also home of the argument parsers the collection families share: `*SCAN` options and the
//! count of `*RAND*` commands.

use bytes::Bytes;
use storage::types::collection::ScanArgs;
use storage::types::hash::{HashPart, HashRead, HashWrite};
use storage::types::keyspace::MissingKey;
use storage::{ExecError, ReadOp};

use super::{
    arg_f64, arg_i64, fail_after_lookup, is_opt, key, owned, read, write, CommandSpec, Flags,
    KeySpec, Plan, PlanCtx,
};
use crate::errors;

const W: Flags = Flags::WRITE;
const R: Flags = Flags::READONLY;
const WDF: Flags = Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST);
const RF: Flags = Flags::READONLY.with(Flags::FAST);

const fn spec(
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
        keys: KeySpec::ONE,
        group: "hash",
        summary,
        parse: Some(parse),
    }
}

/// The hash command table.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "hset",
        -4,
        WDF,
        "Creates or modifies the value of fields in a hash.",
        parse_hset,
    ),
    spec(
        "hsetnx",
        4,
        WDF,
        "Sets the value of a field in a hash only when the field doesn't exist.",
        parse_hsetnx,
    ),
    spec(
        "hget",
        3,
        RF,
        "Returns the value of a field in a hash.",
        parse_hget,
    ),
    spec(
        "hmget",
        -3,
        RF,
        "Returns the values of all fields in a hash.",
        parse_hmget,
    ),
    spec(
        "hmset",
        -4,
        WDF,
        "Sets the values of multiple fields.",
        parse_hmset,
    ),
    spec(
        "hdel",
        -3,
        W.with(Flags::FAST),
        "Deletes one or more fields and their values from a hash.",
        parse_hdel,
    ),
    spec(
        "hexists",
        3,
        RF,
        "Determines whether a field exists in a hash.",
        parse_hexists,
    ),
    spec(
        "hlen",
        2,
        RF,
        "Returns the number of fields in a hash.",
        parse_hlen,
    ),
    spec(
        "hstrlen",
        3,
        RF,
        "Returns the length of the value of a field.",
        parse_hstrlen,
    ),
    spec(
        "hgetall",
        2,
        R,
        "Returns all fields and values in a hash.",
        parse_hgetall,
    ),
    spec("hkeys", 2, R, "Returns all fields in a hash.", parse_hkeys),
    spec("hvals", 2, R, "Returns all values in a hash.", parse_hvals),
    spec(
        "hincrby",
        4,
        WDF,
        "Increments the integer value of a field in a hash by a number.",
        parse_hincrby,
    ),
    spec(
        "hincrbyfloat",
        4,
        WDF,
        "Increments the floating point value of a field by a number.",
        parse_hincrbyfloat,
    ),
    spec(
        "hrandfield",
        -2,
        R,
        "Returns one or more random fields from a hash.",
        parse_hrandfield,
    ),
    spec(
        "hscan",
        -3,
        R,
        "Iterates over fields and values of a hash.",
        parse_hscan,
    ),
];

/// `COUNT` of a `*SCAN` when not given, as in Redis.
const SCAN_COUNT_DEFAULT: u64 = 10;

/// Field-value pairs.
type FieldValues = Vec<(Vec<u8>, Vec<u8>)>;

/// Field-value pairs from `args[2..]`; an odd count is a wrong-arity error for `name`.
fn pairs(name: &str, args: &[Bytes]) -> Result<FieldValues, ExecError> {
    let rest = &args[2..];
    if !rest.len().is_multiple_of(2) {
        return Err(ExecError::Reply(errors::wrong_arity(name)));
    }
    Ok(rest
        .chunks(2)
        .map(|p| (owned(&p[0]), owned(&p[1])))
        .collect())
}

fn parse_hset(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(HashWrite::Set {
        key: key(args),
        pairs: pairs("hset", args)?,
        reply_ok: false,
    })
}

fn parse_hmset(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(HashWrite::Set {
        key: key(args),
        pairs: pairs("hmset", args)?,
        reply_ok: true,
    })
}

fn parse_hsetnx(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(HashWrite::SetNx {
        key: key(args),
        field: owned(&args[2]),
        value: owned(&args[3]),
    })
}

fn parse_hget(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::Get {
        key: key(args),
        field: owned(&args[2]),
    })
}

fn parse_hmget(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::MGet {
        key: key(args),
        fields: args[2..].iter().map(owned).collect(),
    })
}

fn parse_hdel(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(HashWrite::Del {
        key: key(args),
        fields: args[2..].iter().map(owned).collect(),
    })
}

fn parse_hexists(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::Exists {
        key: key(args),
        field: owned(&args[2]),
    })
}

fn parse_hlen(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::Len { key: key(args) })
}

fn parse_hstrlen(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::StrLen {
        key: key(args),
        field: owned(&args[2]),
    })
}

fn parse_hgetall(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::GetAll {
        key: key(args),
        part: HashPart::All,
    })
}

fn parse_hkeys(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::GetAll {
        key: key(args),
        part: HashPart::Keys,
    })
}

fn parse_hvals(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(HashRead::GetAll {
        key: key(args),
        part: HashPart::Values,
    })
}

fn parse_hincrby(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(HashWrite::IncrBy {
        key: key(args),
        field: owned(&args[2]),
        by: arg_i64(&args[3])?,
    })
}

fn parse_hincrbyfloat(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let by = arg_f64(&args[3])?;
    if !by.is_finite() {
        return Err(ExecError::Reply(errors::VALUE_NAN_OR_INFINITY.into()));
    }
    write(HashWrite::IncrByFloat {
        key: key(args),
        field: owned(&args[2]),
        by,
    })
}

fn parse_hrandfield(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (count, with_values) = parse_rand_count(ctx, args, "withvalues")?;
    read(HashRead::RandField {
        key: key(args),
        count,
        with_values,
        seed: ctx.seed,
    })
}

fn parse_hscan(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    plan_member_scan(args, "hash", |key, args| {
        HashRead::Scan { key, args }.into()
    })
}

/// `key [count [WITH...]]` of HRANDFIELD, SRANDMEMBER (no option) and ZRANDMEMBER: the count
/// (range-checked like Redis, and a negative one against `--rand-count-max`) and whether the
/// option `with` was given.
pub(crate) fn parse_rand_count(
    ctx: &PlanCtx,
    args: &[Bytes],
    with: &str,
) -> Result<(Option<i64>, bool), ExecError> {
    let Some(count_arg) = args.get(2) else {
        return Ok((None, false));
    };
    let count = arg_i64(count_arg)?;
    if count == i64::MIN {
        return Err(ExecError::Reply(errors::RAND_COUNT_RANGE.into()));
    }
    if count < 0 && count.unsigned_abs() > ctx.rand_count_max {
        return Err(ExecError::Reply(errors::rand_count_too_negative(
            ctx.rand_count_max,
        )));
    }
    match &args[3..] {
        [] => Ok((Some(count), false)),
        [opt] if !with.is_empty() && is_opt(opt, with) => Ok((Some(count), true)),
        _ => Err(ExecError::Syntax),
    }
}

/// The plan of HSCAN, SSCAN or ZSCAN (`key cursor [MATCH pattern] [COUNT count]`), `op`
/// making the family's read. A bad cursor is refused at once; a bad option only once the key
/// is known to hold a `type_name` (a missing key gets an empty page), as Redis does.
pub(crate) fn plan_member_scan(
    args: &[Bytes],
    type_name: &str,
    op: fn(Vec<u8>, ScanArgs) -> ReadOp,
) -> Result<Plan, ExecError> {
    let cursor = std::str::from_utf8(&args[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| ExecError::Reply(errors::INVALID_CURSOR.into()))?;
    match parse_scan_options(cursor, &args[3..]) {
        Ok(scan) => read(op(key(args), scan)),
        Err(e) => fail_after_lookup(&args[1], type_name, MissingKey::EmptyScan, &e),
    }
}

/// `[MATCH pattern] [COUNT count]` after a scan's cursor.
fn parse_scan_options(cursor: u64, options: &[Bytes]) -> Result<ScanArgs, ExecError> {
    let mut scan = ScanArgs {
        cursor,
        pattern: None,
        count: SCAN_COUNT_DEFAULT,
    };
    let mut rest = options;
    while let [opt, value, tail @ ..] = rest {
        if is_opt(opt, "match") {
            scan.pattern = Some(owned(value));
        } else if is_opt(opt, "count") {
            let count = arg_i64(value)?;
            scan.count = u64::try_from(count)
                .ok()
                .filter(|&c| c >= 1)
                .ok_or(ExecError::Syntax)?;
        } else {
            return Err(ExecError::Syntax);
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(ExecError::Syntax);
    }
    // MATCH * filters nothing; skip the matching work.
    if scan.pattern.as_deref() == Some(b"*") {
        scan.pattern = None;
    }
    Ok(scan)
}

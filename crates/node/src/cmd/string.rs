//! String commands: parsing arguments into `storage::types::string` ops.
//!
//! Relative expiry times (`EX`, `PX`, `SETEX`, `PSETEX`) become absolute `expire_at_ms` here,
//! from [`PlanCtx::now_ms`], so the op replicas apply is the same everywhere.

use bytes::Bytes;
use storage::types::keyspace::MissingKey;
use storage::types::string::{ExpiryChange, SetCond, StringRead, StringWrite};
use storage::ExecError;

use super::{
    arg_f64, arg_i64, fail_after_lookup, is_opt, key, owned, read, write, CommandSpec, Flags,
    KeySpec, Plan, PlanCtx,
};
use crate::errors;

const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const WDF: Flags = Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.with(Flags::FAST);
/// `MSET`/`MSETNX`: keys at 1, 3, 5...
const PAIRS: KeySpec = KeySpec::Range {
    first: 1,
    last: -1,
    step: 2,
};

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
        group: "string",
        summary,
        parse: Some(parse),
    }
}

const fn spec_keys(
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
        group: "string",
        summary,
        parse: Some(parse),
    }
}

/// The string command table.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "get",
        2,
        RF,
        "Returns the string value of a key.",
        parse_get,
    ),
    spec(
        "set",
        -3,
        WD,
        "Sets the string value of a key, ignoring its type.",
        parse_set,
    ),
    spec(
        "setnx",
        3,
        WDF,
        "Set the string value of a key only when the key doesn't exist.",
        parse_setnx,
    ),
    spec(
        "setex",
        4,
        WD,
        "Sets the string value and expiration time of a key.",
        parse_setex,
    ),
    spec(
        "psetex",
        4,
        WD,
        "Sets both string value and expiration time in milliseconds of a key.",
        parse_psetex,
    ),
    spec(
        "getset",
        3,
        WDF,
        "Returns the previous string value of a key after setting it to a new value.",
        parse_getset,
    ),
    spec(
        "getdel",
        2,
        WF,
        "Returns the string value of a key after deleting the key.",
        parse_getdel,
    ),
    spec(
        "getex",
        -2,
        WF,
        "Returns the string value of a key after setting its expiration time.",
        parse_getex,
    ),
    spec_keys(
        "mget",
        -2,
        RF,
        KeySpec::ALL,
        "Atomically returns the string values of one or more keys.",
        parse_mget,
    ),
    spec_keys(
        "mset",
        -3,
        WD,
        PAIRS,
        "Atomically creates or modifies the string values of one or more keys.",
        parse_mset,
    ),
    spec_keys(
        "msetnx",
        -3,
        WD,
        PAIRS,
        "Atomically sets the values of keys only when none of them exist.",
        parse_msetnx,
    ),
    spec(
        "append",
        3,
        WDF,
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        parse_append,
    ),
    spec(
        "strlen",
        2,
        RF,
        "Returns the length of a string value.",
        parse_strlen,
    ),
    spec(
        "incr",
        2,
        WDF,
        "Increments the integer value of a key by one.",
        parse_incr,
    ),
    spec(
        "decr",
        2,
        WDF,
        "Decrements the integer value of a key by one.",
        parse_decr,
    ),
    spec(
        "incrby",
        3,
        WDF,
        "Increments the integer value of a key by a number.",
        parse_incrby,
    ),
    spec(
        "decrby",
        3,
        WDF,
        "Decrements a number from the integer value of a key.",
        parse_decrby,
    ),
    spec(
        "incrbyfloat",
        3,
        WDF,
        "Increment the floating point value of a key by a number.",
        parse_incrbyfloat,
    ),
    spec(
        "getrange",
        4,
        R,
        "Returns a substring of the string stored at a key.",
        parse_getrange,
    ),
    spec(
        "setrange",
        4,
        WD,
        "Overwrites a part of a string value with another by an offset.",
        parse_setrange,
    ),
];

/// How an expiry argument is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryUnit {
    /// `EX`: relative seconds.
    Seconds,
    /// `PX`: relative milliseconds.
    Millis,
    /// `EXAT`: absolute Unix seconds.
    AtSeconds,
    /// `PXAT`: absolute Unix milliseconds.
    AtMillis,
}

/// Turns an expiry argument into an absolute time as Redis 7 does (`getExpireMillisecondsOrReply`):
/// not an integer -> not-an-integer error; <= 0 or overflowing -> invalid expire time.
fn expire_at_ms(
    ctx: &PlanCtx,
    arg: &[u8],
    unit: ExpiryUnit,
    command: &str,
) -> Result<u64, ExecError> {
    let value = arg_i64(arg)?;
    let invalid = || ExecError::Reply(errors::invalid_expire(command));
    if value <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        ExpiryUnit::Seconds | ExpiryUnit::AtSeconds => {
            value.checked_mul(1000).ok_or_else(invalid)?
        }
        ExpiryUnit::Millis | ExpiryUnit::AtMillis => value,
    };
    let ms = match unit {
        ExpiryUnit::Seconds | ExpiryUnit::Millis => {
            let now = i64::try_from(ctx.now_ms).map_err(|_| invalid())?;
            ms.checked_add(now).ok_or_else(invalid)?
        }
        ExpiryUnit::AtSeconds | ExpiryUnit::AtMillis => ms,
    };
    u64::try_from(ms).map_err(|_| invalid())
}

/// The options of `SET` and `GETEX` (Redis 7's `parseExtendedStringArgumentsOrReply`).
#[derive(Debug, Default)]
struct StringOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(ExpiryUnit, &'a [u8])>,
}

/// Parses `args` as `SET` options (`is_set`) or `GETEX` options. Conflicting or unknown
/// options and a missing expiry value are syntax errors.
fn parse_string_opts(args: &[Bytes], is_set: bool) -> Result<StringOpts<'_>, ExecError> {
    let mut opts = StringOpts::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i][..];
        let next = args.get(i + 1).map(|b| &b[..]);
        let unit = expiry_unit(arg);
        let expiry_free = |o: &StringOpts<'_>, u: ExpiryUnit| {
            !o.keep_ttl && !o.persist && o.expiry.is_none_or(|(cur, _)| cur == u)
        };
        if is_set && is_opt(arg, "nx") && !opts.xx {
            opts.nx = true;
        } else if is_set && is_opt(arg, "xx") && !opts.nx {
            opts.xx = true;
        } else if is_set && is_opt(arg, "get") {
            opts.get = true;
        } else if is_set && is_opt(arg, "keepttl") && opts.expiry.is_none() {
            opts.keep_ttl = true;
        } else if !is_set && is_opt(arg, "persist") && opts.expiry.is_none() {
            opts.persist = true;
        } else if let (Some(u), Some(value)) = (unit, next) {
            if !expiry_free(&opts, u) {
                return Err(ExecError::Syntax);
            }
            opts.expiry = Some((u, value));
            i += 1;
        } else {
            return Err(ExecError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

fn expiry_unit(arg: &[u8]) -> Option<ExpiryUnit> {
    [
        ("ex", ExpiryUnit::Seconds),
        ("px", ExpiryUnit::Millis),
        ("exat", ExpiryUnit::AtSeconds),
        ("pxat", ExpiryUnit::AtMillis),
    ]
    .into_iter()
    .find(|(name, _)| is_opt(arg, name))
    .map(|(_, unit)| unit)
}

fn parse_get(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(StringRead::Get { key: key(args) })
}

fn parse_set(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let opts = parse_string_opts(&args[3..], true)?;
    let expiry = match opts.expiry {
        Some((unit, value)) => ExpiryChange::At(expire_at_ms(ctx, value, unit, "set")?),
        None if opts.keep_ttl => ExpiryChange::Keep,
        None => ExpiryChange::Clear,
    };
    let cond = if opts.nx {
        SetCond::IfMissing
    } else if opts.xx {
        SetCond::IfExists
    } else {
        SetCond::Always
    };
    write(StringWrite::Set {
        key: key(args),
        value: owned(&args[2]),
        cond,
        expiry,
        get: opts.get,
    })
}

fn parse_setnx(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(StringWrite::MSet {
        pairs: vec![(key(args), owned(&args[2]))],
        nx: true,
    })
}

fn setex(
    ctx: &PlanCtx,
    args: &[Bytes],
    unit: ExpiryUnit,
    command: &str,
) -> Result<Plan, ExecError> {
    let at_ms = expire_at_ms(ctx, &args[2], unit, command)?;
    write(StringWrite::Set {
        key: key(args),
        value: owned(&args[3]),
        cond: SetCond::Always,
        expiry: ExpiryChange::At(at_ms),
        get: false,
    })
}

fn parse_setex(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    setex(ctx, args, ExpiryUnit::Seconds, "setex")
}

fn parse_psetex(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    setex(ctx, args, ExpiryUnit::Millis, "psetex")
}

fn parse_getset(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(StringWrite::Set {
        key: key(args),
        value: owned(&args[2]),
        cond: SetCond::Always,
        expiry: ExpiryChange::Clear,
        get: true,
    })
}

fn parse_getdel(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(StringWrite::GetDel { key: key(args) })
}

fn parse_getex(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let opts = parse_string_opts(&args[2..], false)?;
    let expiry = match opts.expiry {
        // Redis checks the key before the expiry's value (but after the options' syntax).
        Some((unit, value)) => match expire_at_ms(ctx, value, unit, "getex") {
            Ok(at_ms) => ExpiryChange::At(at_ms),
            Err(e) => return fail_after_lookup(&args[1], "string", MissingKey::Nil, &e),
        },
        None if opts.persist => ExpiryChange::Clear,
        // GETEX without options changes nothing: a plain read.
        None => return read(StringRead::Get { key: key(args) }),
    };
    write(StringWrite::GetEx {
        key: key(args),
        expiry,
    })
}

fn parse_mget(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(StringRead::MGet {
        keys: args[1..].iter().map(owned).collect(),
    })
}

/// Key-value pairs of MSET and MSETNX.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn mset_pairs(name: &str, args: &[Bytes]) -> Result<Pairs, ExecError> {
    let rest = &args[1..];
    if !rest.len().is_multiple_of(2) {
        return Err(ExecError::Reply(errors::wrong_arity(name)));
    }
    Ok(rest
        .chunks(2)
        .map(|p| (owned(&p[0]), owned(&p[1])))
        .collect())
}

fn parse_mset(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(StringWrite::MSet {
        pairs: mset_pairs("mset", args)?,
        nx: false,
    })
}

fn parse_msetnx(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(StringWrite::MSet {
        pairs: mset_pairs("msetnx", args)?,
        nx: true,
    })
}

fn parse_append(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(StringWrite::Append {
        key: key(args),
        value: owned(&args[2]),
        bulk_len_max: ctx.bulk_len_max,
    })
}

fn parse_strlen(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(StringRead::StrLen { key: key(args) })
}

fn incr_by(args: &[Bytes], delta: i64) -> Result<Plan, ExecError> {
    write(StringWrite::IncrBy {
        key: key(args),
        delta,
    })
}

fn parse_incr(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    incr_by(args, 1)
}

fn parse_decr(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    incr_by(args, -1)
}

fn parse_incrby(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    incr_by(args, arg_i64(&args[2])?)
}

fn parse_decrby(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let delta = arg_i64(&args[2])?;
    // Negating i64::MIN overflows; Redis rejects it before looking at the key.
    let delta = delta
        .checked_neg()
        .ok_or_else(|| ExecError::Reply(errors::DECREMENT_OVERFLOW.into()))?;
    incr_by(args, delta)
}

fn parse_incrbyfloat(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    // An infinite increment parses; applying it fails with NaN-or-Infinity after the stored
    // value is checked, in Redis's order.
    let delta = arg_f64(&args[2])?;
    write(StringWrite::IncrByFloat {
        key: key(args),
        delta,
    })
}

fn parse_getrange(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(StringRead::GetRange {
        key: key(args),
        start: arg_i64(&args[2])?,
        end: arg_i64(&args[3])?,
    })
}

fn parse_setrange(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let offset = arg_i64(&args[2])?;
    let offset =
        u64::try_from(offset).map_err(|_| ExecError::Reply(errors::OFFSET_OUT_OF_RANGE.into()))?;
    write(StringWrite::SetRange {
        key: key(args),
        offset,
        value: owned(&args[3]),
        bulk_len_max: ctx.bulk_len_max,
    })
}

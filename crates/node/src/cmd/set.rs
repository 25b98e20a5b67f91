//! Set commands: parsing arguments into `storage::types::set` ops.
//!
//! Also home of the `numkeys` helpers the multi-key collection commands share (SINTERCARD,
//! LMPOP, ZMPOP, ZUNION...).

use bytes::Bytes;
use storage::types::set::{SetAlgebra, SetRead, SetWrite};
use storage::ExecError;

use super::hash::{parse_rand_count, plan_member_scan};
use super::{
    arg_count, arg_non_negative, is_opt, key, owned, read, write, CommandSpec, Flags, KeySpec,
    Plan, PlanCtx,
};
use crate::errors;

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);

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
        group: "set",
        summary,
        parse: Some(parse),
    }
}

const ONE: KeySpec = KeySpec::ONE;
const ALL: KeySpec = KeySpec::ALL;
const TWO: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

/// The set command table.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "sadd",
        -3,
        WD.with(Flags::FAST),
        ONE,
        "Adds one or more members to a set.",
        parse_sadd,
    ),
    spec(
        "srem",
        -3,
        WF,
        ONE,
        "Removes one or more members from a set.",
        parse_srem,
    ),
    spec(
        "scard",
        2,
        RF,
        ONE,
        "Returns the number of members in a set.",
        parse_scard,
    ),
    spec(
        "sismember",
        3,
        RF,
        ONE,
        "Determines whether a member belongs to a set.",
        parse_sismember,
    ),
    spec(
        "smismember",
        -3,
        RF,
        ONE,
        "Determines whether multiple members belong to a set.",
        parse_smismember,
    ),
    spec(
        "smembers",
        2,
        R,
        ONE,
        "Returns all members of a set.",
        parse_smembers,
    ),
    spec(
        "spop",
        -2,
        WF,
        ONE,
        "Returns one or more random members from a set after removing them.",
        parse_spop,
    ),
    spec(
        "srandmember",
        -2,
        R,
        ONE,
        "Get one or multiple random members from a set.",
        parse_srandmember,
    ),
    spec(
        "smove",
        4,
        WF,
        TWO,
        "Moves a member from one set to another.",
        parse_smove,
    ),
    spec(
        "sinter",
        -2,
        R,
        ALL,
        "Returns the intersect of multiple sets.",
        parse_sinter,
    ),
    spec(
        "sintercard",
        -3,
        R,
        KeySpec::Movable(numkeys_at_1),
        "Returns the number of members of the intersect of multiple sets.",
        parse_sintercard,
    ),
    spec(
        "sunion",
        -2,
        R,
        ALL,
        "Returns the union of multiple sets.",
        parse_sunion,
    ),
    spec(
        "sdiff",
        -2,
        R,
        ALL,
        "Returns the difference of multiple sets.",
        parse_sdiff,
    ),
    spec(
        "sinterstore",
        -3,
        WD,
        ALL,
        "Stores the intersect of multiple sets in a key.",
        parse_sinterstore,
    ),
    spec(
        "sunionstore",
        -3,
        WD,
        ALL,
        "Stores the union of multiple sets in a key.",
        parse_sunionstore,
    ),
    spec(
        "sdiffstore",
        -3,
        WD,
        ALL,
        "Stores the difference of multiple sets in a key.",
        parse_sdiffstore,
    ),
    spec(
        "sscan",
        -3,
        R,
        ONE,
        "Iterates over members of a set.",
        parse_sscan,
    ),
];

fn rest(args: &[Bytes], from: usize) -> Vec<Vec<u8>> {
    args[from..].iter().map(owned).collect()
}

/// Key positions of a command shaped `name numkeys key... [options]`.
pub(crate) fn numkeys_at_1(args: &[Bytes]) -> Vec<usize> {
    numkeys_positions(args, 1)
}

/// Key positions of `numkeys` at `at` followed by that many keys (what exists of them).
pub(crate) fn numkeys_positions(args: &[Bytes], at: usize) -> Vec<usize> {
    let n = args
        .get(at)
        .and_then(|a| storage::number::parse_i64(a))
        .unwrap_or(0)
        .max(0) as usize;
    (at + 1..args.len().min(at + 1 + n)).collect()
}

/// `numkeys` at `args[at]` for SINTERCARD, LMPOP and ZMPOP: an integer of at least 1
/// (`ERR numkeys should be greater than 0` otherwise, even when it does not parse).
pub(crate) fn parse_numkeys(args: &[Bytes], at: usize) -> Result<usize, ExecError> {
    storage::number::parse_i64(&args[at])
        .filter(|&n| n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| ExecError::Reply(errors::NUMKEYS_NOT_POSITIVE.into()))
}

fn parse_sadd(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(SetWrite::Add {
        key: key(args),
        members: rest(args, 2),
    })
}

fn parse_srem(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(SetWrite::Rem {
        key: key(args),
        members: rest(args, 2),
    })
}

fn parse_scard(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::Card { key: key(args) })
}

fn parse_sismember(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::IsMember {
        key: key(args),
        member: owned(&args[2]),
    })
}

fn parse_smismember(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::MIsMember {
        key: key(args),
        members: rest(args, 2),
    })
}

fn parse_smembers(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::Members { key: key(args) })
}

fn parse_spop(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let count = match &args[2..] {
        [] => None,
        [count] => Some(arg_count(count)?),
        _ => return Err(ExecError::Syntax),
    };
    write(SetWrite::Pop {
        key: key(args),
        count,
        seed: ctx.seed,
    })
}

fn parse_srandmember(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (count, _) = parse_rand_count(ctx, args, "")?;
    read(SetRead::RandMember {
        key: key(args),
        count,
        seed: ctx.seed,
    })
}

fn parse_smove(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(SetWrite::Move {
        source: key(args),
        destination: owned(&args[2]),
        member: owned(&args[3]),
    })
}

fn parse_sinter(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::Combine {
        keys: rest(args, 1),
        algebra: SetAlgebra::Inter,
    })
}

fn parse_sunion(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::Combine {
        keys: rest(args, 1),
        algebra: SetAlgebra::Union,
    })
}

fn parse_sdiff(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(SetRead::Combine {
        keys: rest(args, 1),
        algebra: SetAlgebra::Diff,
    })
}

fn store(args: &[Bytes], algebra: SetAlgebra) -> Result<Plan, ExecError> {
    write(SetWrite::Store {
        destination: key(args),
        keys: rest(args, 2),
        algebra,
    })
}

fn parse_sinterstore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    store(args, SetAlgebra::Inter)
}

fn parse_sunionstore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    store(args, SetAlgebra::Union)
}

fn parse_sdiffstore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    store(args, SetAlgebra::Diff)
}

fn parse_sintercard(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (keys, limit) = parse_intercard(args)?;
    read(SetRead::InterCard { keys, limit })
}

/// `numkeys key... [LIMIT limit]` of SINTERCARD.
fn parse_intercard(args: &[Bytes]) -> Result<(Vec<Vec<u8>>, u64), ExecError> {
    let n = parse_numkeys(args, 1)?;
    if n > args.len() - 2 {
        return Err(ExecError::Reply(errors::NUMKEYS_TOO_MANY.into()));
    }
    let keys = args[2..2 + n].iter().map(owned).collect();
    Ok((keys, parse_card_limit(&args[2 + n..])?))
}

/// The `[LIMIT limit]` after SINTERCARD's or ZINTERCARD's keys (0: no limit).
pub(crate) fn parse_card_limit(opts: &[Bytes]) -> Result<u64, ExecError> {
    let mut limit = 0u64;
    let mut opts = opts;
    while let [opt, value, tail @ ..] = opts {
        if !is_opt(opt, "limit") {
            return Err(ExecError::Syntax);
        }
        limit = arg_non_negative(value, errors::LIMIT_NEGATIVE)?;
        opts = tail;
    }
    if !opts.is_empty() {
        return Err(ExecError::Syntax);
    }
    Ok(limit)
}

fn parse_sscan(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    plan_member_scan(args, "set", |key, args| SetRead::Scan { key, args }.into())
}

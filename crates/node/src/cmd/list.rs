//! List commands: parsing arguments into `storage::types::list` ops.

use bytes::Bytes;
use storage::types::keyspace::MissingKey;
use storage::types::list::{ListRead, ListWrite};
use storage::ExecError;

use super::set::{numkeys_at_1, parse_numkeys};
use super::{
    arg_count, arg_i64, arg_non_negative, fail_after_lookup, is_opt, key, owned, read, write,
    CommandSpec, Flags, KeySpec, Plan, PlanCtx,
};
use crate::errors;

const R: Flags = Flags::READONLY;
const W: Flags = Flags::WRITE;
const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WDF: Flags = WD.with(Flags::FAST);

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
        group: "list",
        summary,
        parse: Some(parse),
    }
}

const ONE: KeySpec = KeySpec::ONE;
const TWO: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

/// The list command table.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "lpush",
        -3,
        WDF,
        ONE,
        "Prepends one or more elements to a list.",
        parse_lpush,
    ),
    spec(
        "rpush",
        -3,
        WDF,
        ONE,
        "Appends one or more elements to a list.",
        parse_rpush,
    ),
    spec(
        "lpushx",
        -3,
        WDF,
        ONE,
        "Prepends elements to a list only when the list exists.",
        parse_lpushx,
    ),
    spec(
        "rpushx",
        -3,
        WDF,
        ONE,
        "Appends elements to a list only when the list exists.",
        parse_rpushx,
    ),
    spec(
        "lpop",
        -2,
        W.with(Flags::FAST),
        ONE,
        "Returns the first elements in a list after removing it.",
        parse_lpop,
    ),
    spec(
        "rpop",
        -2,
        W.with(Flags::FAST),
        ONE,
        "Returns and removes the last elements of a list.",
        parse_rpop,
    ),
    spec(
        "llen",
        2,
        R.with(Flags::FAST),
        ONE,
        "Returns the length of a list.",
        parse_llen,
    ),
    spec(
        "lrange",
        4,
        R,
        ONE,
        "Returns a range of elements from a list.",
        parse_lrange,
    ),
    spec(
        "lindex",
        3,
        R,
        ONE,
        "Returns an element from a list by its index.",
        parse_lindex,
    ),
    spec(
        "lset",
        4,
        WD,
        ONE,
        "Sets the value of an element in a list by its index.",
        parse_lset,
    ),
    spec(
        "linsert",
        5,
        WD,
        ONE,
        "Inserts an element before or after another element in a list.",
        parse_linsert,
    ),
    spec(
        "lrem",
        4,
        W,
        ONE,
        "Removes elements from a list.",
        parse_lrem,
    ),
    spec(
        "ltrim",
        4,
        W,
        ONE,
        "Removes elements from both ends a list.",
        parse_ltrim,
    ),
    spec(
        "lpos",
        -3,
        R,
        ONE,
        "Returns the index of matching elements in a list.",
        parse_lpos,
    ),
    spec(
        "lmove",
        5,
        WD,
        TWO,
        "Returns an element after popping it from one list and pushing it to another.",
        parse_lmove,
    ),
    spec(
        "rpoplpush",
        3,
        WD,
        TWO,
        "Returns the last element of a list after removing and pushing it to another list.",
        parse_rpoplpush,
    ),
    spec(
        "lmpop",
        -4,
        W,
        KeySpec::Movable(numkeys_at_1),
        "Returns multiple elements from a list after removing them.",
        parse_lmpop,
    ),
];

fn push(args: &[Bytes], left: bool, only_if_exists: bool) -> Result<Plan, ExecError> {
    let elements = args[2..].iter().map(owned).collect();
    write(ListWrite::Push {
        key: key(args),
        elements,
        left,
        only_if_exists,
    })
}

fn parse_lpush(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    push(args, true, false)
}

fn parse_rpush(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    push(args, false, false)
}

fn parse_lpushx(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    push(args, true, true)
}

fn parse_rpushx(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    push(args, false, true)
}

fn pop(args: &[Bytes], left: bool) -> Result<Plan, ExecError> {
    let count = match &args[2..] {
        [] => None,
        [count] => Some(arg_count(count)?),
        _ => {
            return Err(ExecError::Reply(errors::wrong_arity(if left {
                "lpop"
            } else {
                "rpop"
            })))
        }
    };
    write(ListWrite::Pop {
        key: key(args),
        left,
        count,
    })
}

fn parse_lpop(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    pop(args, true)
}

fn parse_rpop(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    pop(args, false)
}

fn parse_llen(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ListRead::Len { key: key(args) })
}

fn parse_lrange(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ListRead::Range {
        key: key(args),
        start: arg_i64(&args[2])?,
        stop: arg_i64(&args[3])?,
    })
}

fn parse_lindex(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    match arg_i64(&args[2]) {
        Ok(index) => read(ListRead::Index {
            key: key(args),
            index,
        }),
        Err(e) => fail_after_lookup(&args[1], "list", MissingKey::Nil, &e),
    }
}

fn parse_lset(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    match arg_i64(&args[2]) {
        Ok(index) => write(ListWrite::Set {
            key: key(args),
            index,
            element: owned(&args[3]),
        }),
        Err(e) => fail_after_lookup(&args[1], "list", MissingKey::NoSuchKey, &e),
    }
}

fn parse_linsert(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let before = side(&args[2], "before", "after")?;
    write(ListWrite::Insert {
        key: key(args),
        before,
        pivot: owned(&args[3]),
        element: owned(&args[4]),
    })
}

fn parse_lrem(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(ListWrite::Rem {
        key: key(args),
        count: arg_i64(&args[2])?,
        element: owned(&args[3]),
    })
}

fn parse_ltrim(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(ListWrite::Trim {
        key: key(args),
        start: arg_i64(&args[2])?,
        stop: arg_i64(&args[3])?,
    })
}

/// `true` for `yes`, `false` for `no` (ignoring case), a syntax error otherwise.
fn side(arg: &[u8], yes: &str, no: &str) -> Result<bool, ExecError> {
    if is_opt(arg, yes) {
        Ok(true)
    } else if is_opt(arg, no) {
        Ok(false)
    } else {
        Err(ExecError::Syntax)
    }
}

fn parse_lpos(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0u64);
    let mut opts = &args[3..];
    while let [opt, value, tail @ ..] = opts {
        if is_opt(opt, "rank") {
            let value = arg_i64(value)?;
            if value == 0 {
                return Err(ExecError::Reply(errors::LPOS_RANK_ZERO.into()));
            }
            // Redis 7.2 bounds RANK to +-i64::MAX (its negation must fit).
            if value == i64::MIN {
                return Err(ExecError::Reply(errors::RAND_COUNT_RANGE.into()));
            }
            rank = value;
        } else if is_opt(opt, "count") {
            count = Some(arg_non_negative(value, errors::LPOS_COUNT_NEGATIVE)?);
        } else if is_opt(opt, "maxlen") {
            maxlen = arg_non_negative(value, errors::LPOS_MAXLEN_NEGATIVE)?;
        } else {
            return Err(ExecError::Syntax);
        }
        opts = tail;
    }
    if !opts.is_empty() {
        return Err(ExecError::Syntax);
    }
    read(ListRead::Pos {
        key: key(args),
        element: owned(&args[2]),
        rank,
        count,
        maxlen,
    })
}

fn parse_lmove(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let from_left = side(&args[3], "left", "right")?;
    let to_left = side(&args[4], "left", "right")?;
    write(ListWrite::Move {
        source: key(args),
        destination: owned(&args[2]),
        from_left,
        to_left,
    })
}

fn parse_rpoplpush(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(ListWrite::Move {
        source: key(args),
        destination: owned(&args[2]),
        from_left: false,
        to_left: true,
    })
}

fn parse_lmpop(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (keys, left, count) = parse_mpop(args, "left", "right")?;
    write(ListWrite::MPop { keys, left, count })
}

/// `numkeys key... <first>|<second> [COUNT count]` of LMPOP and ZMPOP: the keys, whether the
/// direction is `first`, and the count (1 when absent).
pub(crate) fn parse_mpop(
    args: &[Bytes],
    first: &str,
    second: &str,
) -> Result<(Vec<Vec<u8>>, bool, u64), ExecError> {
    let n = parse_numkeys(args, 1)?;
    let Some(direction) = args.get(2 + n) else {
        return Err(ExecError::Syntax);
    };
    let keys = args[2..2 + n].iter().map(owned).collect();
    let is_first = side(direction, first, second)?;
    let count = match &args[3 + n..] {
        [] => 1,
        [opt, value] if is_opt(opt, "count") => storage::number::parse_i64(value)
            .filter(|&c| c > 0)
            .map(|c| c as u64)
            .ok_or_else(|| ExecError::Reply(errors::COUNT_NOT_POSITIVE_MPOP.into()))?,
        _ => return Err(ExecError::Syntax),
    };
    Ok((keys, is_first, count))
}

//! Sorted-set commands: parsing arguments into `storage::types::zset` ops.

use bytes::Bytes;
use storage::types::keyspace::MissingKey;
use storage::types::zset::algebra::{Aggregate, Combine, ZAlgebra};
use storage::types::zset::range::{LexBound, LexRange, RangeBy, RangeSpec, ScoreRange};
use storage::types::zset::{ZAddFlags, ZSetRead, ZSetWrite};
use storage::ExecError;

use super::hash::{parse_rand_count, plan_member_scan};
use super::list::parse_mpop;
use super::set::{numkeys_at_1, numkeys_positions, parse_card_limit};
use super::{
    arg_count, arg_f64, arg_i64, fail_after_lookups, is_opt, key, owned, read, write, CommandSpec,
    Flags, KeySpec, Plan, PlanCtx,
};
use crate::errors;

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.with(Flags::FAST);
const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.with(Flags::FAST);
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
        group: "sorted-set",
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
const NUMKEYS: KeySpec = KeySpec::Movable(numkeys_at_1);
const STORE_NUMKEYS: KeySpec = KeySpec::Movable(store_keys);

/// The sorted-set command table.
pub const COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WDF, ONE, "Adds one or more members to a sorted set, or updates their scores.", parse_zadd),
    spec("zincrby", 4, WDF, ONE, "Increments the score of a member in a sorted set.", parse_zincrby),
    spec("zrem", -3, WF, ONE, "Removes one or more members from a sorted set.", parse_zrem),
    spec("zcard", 2, RF, ONE, "Returns the number of members in a sorted set.", parse_zcard),
    spec("zcount", 4, RF, ONE, "Returns the count of members in a sorted set that have scores within a range.", parse_zcount),
    spec("zlexcount", 4, RF, ONE, "Returns the number of members in a sorted set within a lexicographical range.", parse_zlexcount),
    spec("zscore", 3, RF, ONE, "Returns the score of a member in a sorted set.", parse_zscore),
    spec("zmscore", -3, RF, ONE, "Returns the score of one or more members in a sorted set.", parse_zmscore),
    spec("zrank", -3, RF, ONE, "Returns the index of a member in a sorted set ordered by ascending scores.", parse_zrank),
    spec("zrevrank", -3, RF, ONE, "Returns the index of a member in a sorted set ordered by descending scores.", parse_zrevrank),
    spec("zrange", -4, R, ONE, "Returns members in a sorted set within a range of indexes, scores or members.", parse_zrange),
    spec("zrangestore", -5, WD, TWO, "Stores a range of members from sorted set in a key.", parse_zrangestore),
    spec("zrangebyscore", -4, R, ONE, "Returns members in a sorted set within a range of scores.", parse_zrangebyscore),
    spec("zrevrangebyscore", -4, R, ONE, "Returns members in a sorted set within a range of scores in reverse order.", parse_zrevrangebyscore),
    spec("zrangebylex", -4, R, ONE, "Returns members in a sorted set within a lexicographical range.", parse_zrangebylex),
    spec("zrevrangebylex", -4, R, ONE, "Returns members in a sorted set within a lexicographical range in reverse order.", parse_zrevrangebylex),
    spec("zrevrange", -4, R, ONE, "Returns members in a sorted set within a range of indexes in reverse order.", parse_zrevrange),
    spec("zpopmin", -2, WF, ONE, "Returns the lowest-scoring members from a sorted set after removing them.", parse_zpopmin),
    spec("zpopmax", -2, WF, ONE, "Returns the highest-scoring members from a sorted set after removing them.", parse_zpopmax),
    spec("zmpop", -4, W, NUMKEYS, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them.", parse_zmpop),
    spec("zremrangebyrank", 4, W, ONE, "Removes members in a sorted set within a range of indexes.", parse_zremrangebyrank),
    spec("zremrangebyscore", 4, W, ONE, "Removes members in a sorted set within a range of scores.", parse_zremrangebyscore),
    spec("zremrangebylex", 4, W, ONE, "Removes members in a sorted set within a lexicographical range.", parse_zremrangebylex),
    spec("zunion", -3, R, NUMKEYS, "Returns the union of multiple sorted sets.", parse_zunion),
    spec("zinter", -3, R, NUMKEYS, "Returns the intersect of multiple sorted sets.", parse_zinter),
    spec("zdiff", -3, R, NUMKEYS, "Returns the difference between multiple sorted sets.", parse_zdiff),
    spec("zunionstore", -4, WD, STORE_NUMKEYS, "Stores the union of multiple sorted sets in a key.", parse_zunionstore),
    spec("zinterstore", -4, WD, STORE_NUMKEYS, "Stores the intersect of multiple sorted sets in a key.", parse_zinterstore),
    spec("zdiffstore", -4, WD, STORE_NUMKEYS, "Stores the difference of multiple sorted sets in a key.", parse_zdiffstore),
    spec("zintercard", -3, R, NUMKEYS, "Returns the number of members of the intersect of multiple sorted sets.", parse_zintercard),
    spec("zrandmember", -2, R, ONE, "Returns one or more random members from a sorted set.", parse_zrandmember),
    spec("zscan", -3, R, ONE, "Iterates over members and scores of a sorted set.", parse_zscan),
];

/// Key positions of `name destination numkeys key...`.
fn store_keys(args: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    keys.extend(numkeys_positions(args, 2));
    keys
}

fn parse_zadd(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    plan_zadd(args, ZAddFlags::default())
}

/// ZADD's plan, starting from `flags` and adding the ones `args` give.
fn plan_zadd(args: &[Bytes], mut flags: ZAddFlags) -> Result<Plan, ExecError> {
    let mut at = 2;
    while let Some(arg) = args.get(at) {
        let flag = match () {
            _ if is_opt(arg, "nx") => &mut flags.nx,
            _ if is_opt(arg, "xx") => &mut flags.xx,
            _ if is_opt(arg, "gt") => &mut flags.gt,
            _ if is_opt(arg, "lt") => &mut flags.lt,
            _ if is_opt(arg, "ch") => &mut flags.ch,
            _ if is_opt(arg, "incr") => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        at += 1;
    }
    let rest = &args[at..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(ExecError::Syntax);
    }
    check_zadd_flags(flags, rest.len() / 2)?;
    let items = rest
        .chunks(2)
        .map(|p| Ok((arg_f64(&p[0])?, owned(&p[1]))))
        .collect::<Result<_, ExecError>>()?;
    write(ZSetWrite::Add {
        key: key(args),
        flags,
        items,
    })
}

/// ZADD's option conflicts, in Redis's order.
fn check_zadd_flags(flags: ZAddFlags, pairs: usize) -> Result<(), ExecError> {
    if flags.nx && flags.xx {
        return Err(ExecError::Reply(errors::ZADD_XX_NX.into()));
    }
    if [flags.gt, flags.lt, flags.nx]
        .iter()
        .filter(|&&f| f)
        .count()
        > 1
    {
        return Err(ExecError::Reply(errors::ZADD_GT_LT_NX.into()));
    }
    if flags.incr && pairs > 1 {
        return Err(ExecError::Reply(errors::ZADD_INCR_PAIR.into()));
    }
    Ok(())
}

/// Redis runs ZINCRBY as ZADD with INCR, so ZADD's flags parse here too (with ZINCRBY's
/// fixed arity, a flag leaves one argument and is a syntax error).
fn parse_zincrby(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let flags = ZAddFlags {
        incr: true,
        ..ZAddFlags::default()
    };
    plan_zadd(args, flags)
}

fn parse_zrem(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(ZSetWrite::Rem {
        key: key(args),
        members: args[2..].iter().map(owned).collect(),
    })
}

fn parse_zcard(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ZSetRead::Card { key: key(args) })
}

fn parse_zcount(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ZSetRead::Count {
        key: key(args),
        by: RangeBy::Score(score_range(&args[2], &args[3])?),
    })
}

fn parse_zlexcount(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ZSetRead::Count {
        key: key(args),
        by: RangeBy::Lex(lex_range(&args[2], &args[3])?),
    })
}

fn parse_zscore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ZSetRead::Score {
        key: key(args),
        member: owned(&args[2]),
    })
}

fn parse_zmscore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    read(ZSetRead::MScore {
        key: key(args),
        members: args[2..].iter().map(owned).collect(),
    })
}

fn rank(args: &[Bytes], rev: bool) -> Result<Plan, ExecError> {
    let with_score = match &args[3..] {
        [] => false,
        [opt] if is_opt(opt, "withscore") => true,
        _ => return Err(ExecError::Syntax),
    };
    read(ZSetRead::Rank {
        key: key(args),
        member: owned(&args[2]),
        rev,
        with_score,
    })
}

fn parse_zrank(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    rank(args, false)
}

fn parse_zrevrank(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    rank(args, true)
}

/// One end of a score range: `1.5`, `(1.5`, `-inf`, `+inf`. Redis reads it with a bare
/// `strtod`, so `""` and `(` are 0 and `1e400` is infinity.
fn score_bound(arg: &[u8]) -> Result<(f64, bool), ExecError> {
    let (text, exclusive) = match arg.split_first() {
        Some((b'(', rest)) => (rest, true),
        _ => (arg, false),
    };
    let value = storage::number::parse_f64_lenient(text)
        .ok_or_else(|| ExecError::Reply(errors::MIN_MAX_NOT_FLOAT.into()))?;
    Ok((value, exclusive))
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, ExecError> {
    let ((min, min_exclusive), (max, max_exclusive)) = (score_bound(min)?, score_bound(max)?);
    Ok(ScoreRange {
        min,
        min_exclusive,
        max,
        max_exclusive,
    })
}

/// One end of a lex range: `-`, `+`, `[member`, `(member`.
fn lex_bound(arg: &[u8]) -> Result<LexBound, ExecError> {
    match arg {
        b"-" => Ok(LexBound::NegInf),
        b"+" => Ok(LexBound::PosInf),
        [b'[', rest @ ..] => Ok(LexBound::Inclusive(rest.to_vec())),
        [b'(', rest @ ..] => Ok(LexBound::Exclusive(rest.to_vec())),
        _ => Err(ExecError::Reply(errors::MIN_MAX_NOT_LEX.into())),
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, ExecError> {
    Ok(LexRange {
        min: lex_bound(min)?,
        max: lex_bound(max)?,
    })
}

/// Which range kind a ZRANGE-family command selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// What a ZRANGE-family command's options may contain.
#[derive(Debug, Clone, Copy)]
struct Form {
    /// The kind before options (ZRANGE: rank, changed by BYSCORE/BYLEX).
    kind: Kind,
    /// Reverse before options.
    rev: bool,
    /// BYSCORE, BYLEX and REV are accepted (ZRANGE, ZRANGESTORE).
    unified: bool,
    /// WITHSCORES is accepted (not ZRANGESTORE).
    scores_allowed: bool,
}

/// Parses `start stop [options]` at `args[at..]` of any ZRANGE-family command, as Redis's
/// `zrangeGenericCommand` does: options, then their conflicts, then the range bounds.
fn parse_range(args: &[Bytes], at: usize, form: Form) -> Result<(RangeSpec, bool), ExecError> {
    let (mut kind, mut rev, mut limit, mut with_scores) = (form.kind, form.rev, None, false);
    let mut opts = &args[at + 2..];
    while let [opt, tail @ ..] = opts {
        opts = tail;
        if form.scores_allowed && is_opt(opt, "withscores") {
            with_scores = true;
        } else if is_opt(opt, "limit") && tail.len() >= 2 {
            limit = Some((arg_i64(&tail[0])?, arg_i64(&tail[1])?));
            opts = &tail[2..];
        } else if form.unified && is_opt(opt, "byscore") && kind == Kind::Rank {
            kind = Kind::Score;
        } else if form.unified && is_opt(opt, "bylex") && kind == Kind::Rank {
            kind = Kind::Lex;
        } else if form.unified && is_opt(opt, "rev") && !rev {
            // A second REV is a syntax error, as a second BYSCORE or BYLEX is.
            rev = true;
        } else {
            return Err(ExecError::Syntax);
        }
    }
    if limit.is_some() && kind == Kind::Rank {
        return Err(ExecError::Reply(errors::ZRANGE_LIMIT.into()));
    }
    if with_scores && kind == Kind::Lex {
        return Err(ExecError::Reply(errors::ZRANGE_BYLEX_WITHSCORES.into()));
    }
    // Reversed score and lex ranges are written `max min`.
    let (first, second) = (&args[at], &args[at + 1]);
    let (lo, hi) = if rev && kind != Kind::Rank {
        (second, first)
    } else {
        (first, second)
    };
    let by = match kind {
        Kind::Rank => RangeBy::Rank {
            start: arg_i64(lo)?,
            stop: arg_i64(hi)?,
        },
        Kind::Score => RangeBy::Score(score_range(lo, hi)?),
        Kind::Lex => RangeBy::Lex(lex_range(lo, hi)?),
    };
    Ok((RangeSpec { by, rev, limit }, with_scores))
}

fn range_read(args: &[Bytes], form: Form) -> Result<Plan, ExecError> {
    let (spec, with_scores) = parse_range(args, 2, form)?;
    read(ZSetRead::Range {
        key: key(args),
        spec,
        with_scores,
    })
}

const fn form(kind: Kind, rev: bool) -> Form {
    Form {
        kind,
        rev,
        unified: false,
        scores_allowed: true,
    }
}

fn parse_zrange(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    range_read(
        args,
        Form {
            unified: true,
            ..form(Kind::Rank, false)
        },
    )
}

fn parse_zrangestore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let form = Form {
        kind: Kind::Rank,
        rev: false,
        unified: true,
        scores_allowed: false,
    };
    let (spec, _) = parse_range(args, 3, form)?;
    write(ZSetWrite::RangeStore {
        destination: key(args),
        source: owned(&args[2]),
        spec,
    })
}

fn parse_zrangebyscore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    range_read(args, form(Kind::Score, false))
}

fn parse_zrevrangebyscore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    range_read(args, form(Kind::Score, true))
}

fn parse_zrangebylex(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    range_read(args, form(Kind::Lex, false))
}

fn parse_zrevrangebylex(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    range_read(args, form(Kind::Lex, true))
}

fn parse_zrevrange(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    range_read(args, form(Kind::Rank, true))
}

fn pop(args: &[Bytes], max: bool) -> Result<Plan, ExecError> {
    let count = match &args[2..] {
        [] => None,
        [count] => Some(arg_count(count)?),
        _ => return Err(ExecError::Syntax),
    };
    write(ZSetWrite::Pop {
        key: key(args),
        max,
        count,
    })
}

fn parse_zpopmin(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    pop(args, false)
}

fn parse_zpopmax(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    pop(args, true)
}

fn parse_zmpop(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (keys, min, count) = parse_mpop(args, "min", "max")?;
    write(ZSetWrite::MPop {
        keys,
        max: !min,
        count,
    })
}

fn parse_zremrangebyrank(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let by = RangeBy::Rank {
        start: arg_i64(&args[2])?,
        stop: arg_i64(&args[3])?,
    };
    write(ZSetWrite::RemRange { key: key(args), by })
}

fn parse_zremrangebyscore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(ZSetWrite::RemRange {
        key: key(args),
        by: RangeBy::Score(score_range(&args[2], &args[3])?),
    })
}

fn parse_zremrangebylex(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    write(ZSetWrite::RemRange {
        key: key(args),
        by: RangeBy::Lex(lex_range(&args[2], &args[3])?),
    })
}

/// The `numkeys key...` of the ZUNION family at `args[at]`: numkeys problems are refused at
/// once, before any key is looked up, as Redis does.
fn combine_keys(args: &[Bytes], at: usize) -> Result<Vec<Vec<u8>>, ExecError> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let n = arg_i64(&args[at])?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| ExecError::Reply(errors::at_least_one_key(&name)))?;
    if n > args.len() - at - 1 {
        return Err(ExecError::Syntax);
    }
    Ok(args[at + 1..at + 1 + n].iter().map(owned).collect())
}

/// The options after the keys of the ZUNION family (WEIGHTS, AGGREGATE, and WITHSCORES
/// unless `store`), into `combine`; whether WITHSCORES was given.
fn combine_options(opts: &[Bytes], combine: &mut Combine, store: bool) -> Result<bool, ExecError> {
    let (n, algebra) = (combine.keys.len(), combine.algebra);
    let mut with_scores = false;
    let mut opts = opts;
    while let [opt, tail @ ..] = opts {
        opts = tail;
        if algebra != ZAlgebra::Diff && is_opt(opt, "weights") && tail.len() >= n {
            combine.weights = tail[..n]
                .iter()
                .map(|w| {
                    storage::number::parse_f64(w)
                        .ok_or_else(|| ExecError::Reply(errors::WEIGHT_NOT_FLOAT.into()))
                })
                .collect::<Result<_, _>>()?;
            opts = &tail[n..];
        } else if algebra != ZAlgebra::Diff && is_opt(opt, "aggregate") && !tail.is_empty() {
            combine.aggregate = match &tail[0] {
                a if is_opt(a, "sum") => Aggregate::Sum,
                a if is_opt(a, "min") => Aggregate::Min,
                a if is_opt(a, "max") => Aggregate::Max,
                _ => return Err(ExecError::Syntax),
            };
            opts = &tail[1..];
        } else if !store && is_opt(opt, "withscores") {
            with_scores = true;
        } else {
            return Err(ExecError::Syntax);
        }
    }
    Ok(with_scores)
}

/// The ZUNION family's source keys hold sorted sets or sets (read as scores of 1).
const COMBINE_TYPES: [&str; 2] = ["zset", "set"];

/// The plan of a ZUNION-family command whose `keys` start at `args[at]`, `plan` making the
/// op. Redis looks the source keys up before it reads the options, so a bad option is
/// answered only once no source key has the wrong type.
fn plan_combine(
    args: &[Bytes],
    at: usize,
    algebra: ZAlgebra,
    store: bool,
    plan: impl FnOnce(Combine, bool) -> Result<Plan, ExecError>,
) -> Result<Plan, ExecError> {
    let keys = combine_keys(args, at)?;
    let opts = &args[at + 1 + keys.len()..];
    let mut combine = Combine {
        keys,
        weights: Vec::new(),
        aggregate: Aggregate::Sum,
        algebra,
    };
    match combine_options(opts, &mut combine, store) {
        Ok(with_scores) => plan(combine, with_scores),
        Err(e) => fail_after_lookups(combine.keys, &COMBINE_TYPES, MissingKey::Skip, &e),
    }
}

fn combine_read(args: &[Bytes], algebra: ZAlgebra) -> Result<Plan, ExecError> {
    plan_combine(args, 1, algebra, false, |combine, with_scores| {
        read(ZSetRead::Combine {
            combine,
            with_scores,
        })
    })
}

fn combine_store(args: &[Bytes], algebra: ZAlgebra) -> Result<Plan, ExecError> {
    plan_combine(args, 2, algebra, true, |combine, _| {
        write(ZSetWrite::Store {
            destination: key(args),
            combine,
        })
    })
}

fn parse_zunion(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    combine_read(args, ZAlgebra::Union)
}

fn parse_zinter(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    combine_read(args, ZAlgebra::Inter)
}

fn parse_zdiff(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    combine_read(args, ZAlgebra::Diff)
}

fn parse_zunionstore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    combine_store(args, ZAlgebra::Union)
}

fn parse_zinterstore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    combine_store(args, ZAlgebra::Inter)
}

fn parse_zdiffstore(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    combine_store(args, ZAlgebra::Diff)
}

fn parse_zintercard(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    // ZINTERCARD reports numkeys problems like ZINTER, not like SINTERCARD, and (unlike
    // SINTERCARD) Redis looks its keys up before it reads LIMIT.
    let keys = combine_keys(args, 1)?;
    match parse_card_limit(&args[2 + keys.len()..]) {
        Ok(limit) => read(ZSetRead::InterCard { keys, limit }),
        Err(e) => fail_after_lookups(keys, &COMBINE_TYPES, MissingKey::Skip, &e),
    }
}

fn parse_zrandmember(ctx: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    let (count, with_scores) = parse_rand_count(ctx, args, "withscores")?;
    read(ZSetRead::RandMember {
        key: key(args),
        count,
        with_scores,
        seed: ctx.seed,
    })
}

fn parse_zscan(_: &PlanCtx, args: &[Bytes]) -> Result<Plan, ExecError> {
    plan_member_scan(args, "zset", |key, args| {
        ZSetRead::Scan { key, args }.into()
    })
}

//! Every error text RedRaft sends to clients, in one place (Redis 7's wording where Redis has
//! one). Command code refers to these constants; nothing else spells an error reply.

use storage::ExecError;

/// `WRONGTYPE` reply.
pub const WRONG_TYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// Integer parse failure or overflow of an argument or value.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// Float parse failure.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Generic syntax error.
pub const SYNTAX: &str = "ERR syntax error";
/// INCR family overflow.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// INCRBYFLOAT to NaN or infinity.
pub const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
/// RENAME and friends on a missing key.
pub const NO_SUCH_KEY: &str = "ERR no such key";
/// LSET out of range.
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
/// HINCRBY on a non-integer field.
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
/// HINCRBYFLOAT on a non-float field.
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
/// A value would exceed `proto-max-bulk-len`.
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// ZINCRBY / ZADD INCR producing NaN.
pub const SCORE_NAN: &str = "ERR resulting score is not a number (NaN)";
/// Engine failure (details go to the log, not the client).
pub const INTERNAL: &str = "ERR internal storage error";
/// Timeouts and offsets must be positive integers.
pub const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
/// A count argument that must be positive.
pub const COUNT_NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// Minimum and maximum of a score range that do not parse.
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
/// Minimum and maximum of a lex range that do not parse.
pub const MIN_MAX_NOT_LEX: &str = "ERR min or max not valid string range item";

/// A command before `AUTH` when a password is set.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// `AUTH` with a wrong password or user.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// `AUTH <password>` when no password is configured.
pub const AUTH_NOT_CONFIGURED: &str =
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
/// `HELLO` with a protocol version other than 2 or 3.
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
/// `SELECT` of a database other than 0.
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// `SELECT` with a non-integer index.
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
/// `CLIENT SETNAME` with a bad name.
pub const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
/// A new connection beyond `maxclients`.
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// A write accepted while the node shuts down.
pub const SHUTTING_DOWN: &str = "ERR the server is shutting down";
/// No reachable leader for the key's shard within the request deadline (Redis's text).
pub const CLUSTER_DOWN: &str = "CLUSTERDOWN The cluster is down";
/// Redis Cluster's reply for keys of one command in different slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in the request don't hash to the same slot";

/// `CLUSTER COUNTKEYSINSLOT` with a slot outside `0..=16383`.
pub const INVALID_SLOT: &str = "ERR Invalid slot";
/// `CLUSTER GETKEYSINSLOT` with a bad slot or a negative count.
pub const INVALID_SLOT_OR_COUNT: &str = "ERR Invalid slot or number of keys";

/// A full queue in front of a shard: the client may retry.
pub fn busy(limit: &str) -> String {
    format!("TRYAGAIN the shard's queue is full ({limit}); retry shortly")
}

/// A stale read on a replica that is installing a snapshot.
pub const INSTALLING: &str = "TRYAGAIN the replica is installing a snapshot; retry shortly";

/// `HELLO` with a protocol version that is not a number.
pub const HELLO_PROTO_NOT_INTEGER: &str = "ERR Protocol version is not an integer or out of range";
/// `HELLO` from an unauthenticated client without its `AUTH` option.
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

/// `ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(name: &str) -> String {
    format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    )
}

/// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `.
pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> String {
    let mut text = format!(
        "ERR unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(name)
    );
    for arg in args.iter().take(16) {
        text.push_str(&format!("'{}' ", String::from_utf8_lossy(arg)));
    }
    text
}

/// `ERR invalid expire time in '<cmd>' command`.
pub fn invalid_expire(command: &str) -> String {
    format!(
        "ERR invalid expire time in '{}' command",
        command.to_ascii_lowercase()
    )
}

/// The full error reply text (without the leading `-`) for an op failure.
pub fn exec_error_text(err: &ExecError) -> String {
    match err {
        ExecError::WrongType => WRONG_TYPE.into(),
        ExecError::NotInteger => NOT_INTEGER.into(),
        ExecError::NotFloat => NOT_FLOAT.into(),
        ExecError::HashNotInteger => HASH_NOT_INTEGER.into(),
        ExecError::HashNotFloat => HASH_NOT_FLOAT.into(),
        ExecError::Overflow => OVERFLOW.into(),
        ExecError::NanOrInfinity => NAN_OR_INFINITY.into(),
        ExecError::NoSuchKey => NO_SUCH_KEY.into(),
        ExecError::IndexOutOfRange => INDEX_OUT_OF_RANGE.into(),
        ExecError::StringTooLong => STRING_TOO_LONG.into(),
        ExecError::ScoreNan => SCORE_NAN.into(),
        ExecError::Syntax => SYNTAX.into(),
        ExecError::Reply(text) => text.clone(),
        ExecError::Storage(e) => {
            tracing::error!(error = %e, "storage failure while executing a command");
            INTERNAL.into()
        }
    }
}

// Collection command errors (hash, list, set, sorted set).

/// HINCRBYFLOAT with an infinite increment.
pub const VALUE_NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
/// HRANDFIELD / SRANDMEMBER / ZRANDMEMBER with a count of `i64::MIN`.
pub const RAND_COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
/// HRANDFIELD / SRANDMEMBER / ZRANDMEMBER with a negative count past `--rand-count-max`.
pub fn rand_count_too_negative(max: u64) -> String {
    format!("ERR value is out of range, value must between -{max} and 9223372036854775807")
}
/// A `*SCAN` cursor that is not an unsigned 64-bit integer.
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
/// `numkeys` of SINTERCARD, LMPOP, ZMPOP below 1.
pub const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
/// `numkeys` of SINTERCARD beyond the arguments.
pub const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";
/// SINTERCARD / ZINTERCARD with a negative LIMIT.
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
/// LMPOP / ZMPOP with COUNT below 1.
pub const COUNT_NOT_POSITIVE_MPOP: &str = "ERR count should be greater than 0";
/// LPOS with RANK 0.
pub const LPOS_RANK_ZERO: &str =
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
/// LPOS with a negative COUNT.
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
/// LPOS with a negative MAXLEN.
pub const LPOS_MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
/// ZADD with both XX and NX.
pub const ZADD_XX_NX: &str = "ERR XX and NX options at the same time are not compatible";
/// ZADD with more than one of GT, LT, NX.
pub const ZADD_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
/// ZADD INCR with several pairs.
pub const ZADD_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
/// ZRANGE with LIMIT but neither BYSCORE nor BYLEX.
pub const ZRANGE_LIMIT: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
/// ZRANGE BYLEX with WITHSCORES.
pub const ZRANGE_BYLEX_WITHSCORES: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
/// ZUNION / ZINTER / ZDIFF with a WEIGHTS value that is not a float.
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";

/// `ERR at least 1 input key is needed for '<name>' command` (ZUNION and friends, numkeys < 1).
pub fn at_least_one_key(command: &str) -> String {
    format!(
        "ERR at least 1 input key is needed for '{}' command",
        command.to_ascii_lowercase()
    )
}

// String and keyspace command errors.

/// DECRBY with `i64::MIN`.
pub const DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";
/// SETRANGE with a negative offset.
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
/// EXPIRE and friends with more than one of NX, XX, GT, LT in a conflicting way.
pub const EXPIRE_OPTIONS_CONFLICT: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
/// EXPIRE and friends with both GT and LT.
pub const EXPIRE_GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
/// COPY with the same source and destination.
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// `ERR Unsupported option <opt>` (EXPIRE and friends).
pub fn unsupported_option(option: &[u8]) -> String {
    format!("ERR Unsupported option {}", String::from_utf8_lossy(option))
}

//! What executing a read or write op produces, independent of any wire protocol.
//!
//! The node crate turns an [`Output`] into a RESP2 or RESP3 reply and an [`ExecError`] into the
//! Redis error text (all error texts live in the node's `errors` module).

use crate::error::StorageError;

/// The result of one op.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `+OK`.
    Ok,
    /// Another simple status, for example `+QUEUED` or a `TYPE` name.
    Status(&'static str),
    /// A null bulk (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// A null array (`*-1` in RESP2, `_` in RESP3), as BLPOP-style and LMPOP-style commands send.
    NilArray,
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Vec<u8>),
    /// A double: a bulk string in RESP2, `,` in RESP3 (for example ZSCORE).
    Double(f64),
    /// An array.
    Array(Vec<Output>),
    /// A map: a flat array in RESP2, `%` in RESP3 (for example HGETALL).
    Map(Vec<(Output, Output)>),
    /// A set: an array in RESP2, `~` in RESP3 (for example SMEMBERS).
    Set(Vec<Output>),
    /// Pairs: a flat array in RESP2, an array of two-element arrays in RESP3 (for example
    /// `ZRANGE ... WITHSCORES`, `HRANDFIELD ... WITHVALUES`, `ZPOPMIN key count`).
    Pairs(Vec<(Output, Output)>),
}

impl Output {
    /// A bulk string from anything byte-like.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Self {
        Output::Bulk(bytes.into())
    }

    /// A bulk string, or nil when absent.
    pub fn bulk_or_nil(bytes: Option<Vec<u8>>) -> Self {
        bytes.map_or(Output::Nil, Output::Bulk)
    }

    /// An array of bulk strings.
    pub fn bulks<I: IntoIterator<Item = Vec<u8>>>(items: I) -> Self {
        Output::Array(items.into_iter().map(Output::Bulk).collect())
    }
}

/// A user-visible failure of an op. Executing an op that fails writes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    #[error("wrong type")]
    WrongType,
    /// `ERR value is not an integer or out of range`.
    #[error("not an integer")]
    NotInteger,
    /// `ERR value is not a valid float`.
    #[error("not a float")]
    NotFloat,
    /// `ERR hash value is not an integer`.
    #[error("hash value is not an integer")]
    HashNotInteger,
    /// `ERR hash value is not a float`.
    #[error("hash value is not a float")]
    HashNotFloat,
    /// `ERR increment or decrement would overflow`.
    #[error("overflow")]
    Overflow,
    /// `ERR increment would produce NaN or Infinity`.
    #[error("nan or infinity")]
    NanOrInfinity,
    /// `ERR no such key`.
    #[error("no such key")]
    NoSuchKey,
    /// `ERR index out of range`.
    #[error("index out of range")]
    IndexOutOfRange,
    /// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`.
    #[error("string too long")]
    StringTooLong,
    /// `ERR resulting score is not a number (NaN)`.
    #[error("score is nan")]
    ScoreNan,
    /// `ERR syntax error`.
    #[error("syntax error")]
    Syntax,
    /// Any other error reply; the text is the full reply without the leading `-`.
    #[error("{0}")]
    Reply(String),
    /// The engine failed; the node logs it and replies with a generic error.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The result of executing one op.
pub type ExecResult = Result<Output, ExecError>;

//! The one error type of the crate.

/// A protocol error. The `Display` text is what a Redis 7 server puts after `-ERR `.
///
/// The first group are the errors of request decoding, with Redis's exact wording; the
/// second group only arise while decoding reply frames (client side), where Redis has no
/// wording of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A multibulk count that is not a number, or exceeds `multibulk_len_max`.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A bulk length that is not a number, is negative, or exceeds `bulk_len_max`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An element of a request multibulk that does not start with `$`.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedBulk(u8),
    /// An inline request line longer than `inline_len_max`.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// A multibulk count line longer than `inline_len_max`.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A bulk length line longer than `inline_len_max`.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An inline request (or console line) with unbalanced quotes.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A reply frame starting with a byte that is no RESP2/RESP3 type.
    #[error("Protocol error: invalid frame type '{}'", char::from(*.0))]
    InvalidFrameType(u8),
    /// A reply line (simple string, error, number) longer than `inline_len_max`.
    #[error("Protocol error: too big line")]
    TooBigLine,
    /// A line not terminated by CRLF, or bulk data not followed by CRLF.
    #[error("Protocol error: expected CRLF")]
    ExpectedCrlf,
    /// An integer frame that is not a valid signed 64-bit number.
    #[error("Protocol error: invalid integer")]
    InvalidInteger,
    /// A double frame that is not a valid floating-point number.
    #[error("Protocol error: invalid double")]
    InvalidDouble,
    /// A boolean frame other than `#t` or `#f`.
    #[error("Protocol error: invalid boolean")]
    InvalidBoolean,
    /// A big number frame that is not an optionally signed run of digits.
    #[error("Protocol error: invalid big number")]
    InvalidBigNumber,
    /// A verbatim string without its three-byte format and `:`.
    #[error("Protocol error: invalid verbatim string")]
    InvalidVerbatim,
    /// A null frame (`_`) with content.
    #[error("Protocol error: invalid null")]
    InvalidNull,
    /// Aggregates nested deeper than `depth_max`.
    #[error("Protocol error: nesting deeper than depth_max")]
    TooDeep,
    /// A RESP3 streamed string or aggregate (`$?`, `*?`), which RedRaft does not support.
    #[error("Protocol error: streamed types are not supported")]
    Streamed,
}

//! The protocol version a connection speaks.

/// The RESP version of a connection, switched by `HELLO 2|3`.
///
/// Decoders accept both versions; the [`Encoder`](crate::Encoder) uses it to downgrade
/// RESP3-only reply types for RESP2 clients exactly as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProtocolVersion {
    /// RESP2, the default of every new connection.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl ProtocolVersion {
    /// The version for the number `HELLO` takes (`2` or `3`), `None` for any other.
    pub fn from_hello(n: i64) -> Option<Self> {
        match n {
            2 => Some(Self::Resp2),
            3 => Some(Self::Resp3),
            _ => None,
        }
    }

    /// The number `HELLO` reports in its `proto` field.
    pub fn number(self) -> i64 {
        match self {
            Self::Resp2 => 2,
            Self::Resp3 => 3,
        }
    }
}

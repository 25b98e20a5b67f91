//! Size limits applied while decoding.

/// Limits every decoder checks *before* allocating for a length read off the wire.
///
/// All fields are public so a server can take them from its configuration; [`Limits::default`]
/// gives Redis's defaults where Redis has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string accepted, in bytes (Redis `proto-max-bulk-len`, default 512 MiB).
    /// A larger `$<len>` is `Protocol error: invalid bulk length`.
    pub bulk_len_max: usize,
    /// Largest element count of a request multibulk or of a reply aggregate (array, set, push,
    /// map pairs, attribute pairs); default 1 Mi. A larger count is
    /// `Protocol error: invalid multibulk length`.
    pub multibulk_len_max: usize,
    /// Deepest nesting of aggregates in a reply frame (a flat array is depth 1); default 128.
    /// Decoding recurses once per level, so keep this modest.
    pub depth_max: usize,
    /// Longest protocol line: an inline request, a `*`/`$` count line, or a reply's simple
    /// string / error / number line, counting the bytes before the line end (default 64 KiB,
    /// Redis's `PROTO_INLINE_MAX_SIZE`).
    pub inline_len_max: usize,
}

impl Limits {
    /// Redis's `proto-max-bulk-len` default: 512 MiB.
    pub const BULK_LEN_MAX: usize = 512 * 1024 * 1024;
    /// Default [`Limits::multibulk_len_max`]: 1 Mi elements.
    pub const MULTIBULK_LEN_MAX: usize = 1024 * 1024;
    /// Default [`Limits::depth_max`].
    pub const DEPTH_MAX: usize = 128;
    /// Redis's `PROTO_INLINE_MAX_SIZE`: 64 KiB.
    pub const INLINE_LEN_MAX: usize = 64 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            bulk_len_max: Self::BULK_LEN_MAX,
            multibulk_len_max: Self::MULTIBULK_LEN_MAX,
            depth_max: Self::DEPTH_MAX,
            inline_len_max: Self::INLINE_LEN_MAX,
        }
    }
}

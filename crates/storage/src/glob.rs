//! Redis glob-style pattern matching (`stringmatchlen`), used by KEYS and the SCAN family.
//!
//! `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal `x`.

/// Whether `text` matches `pattern`, optionally ignoring ASCII case.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Patterns can be attacker-controlled: bound the work like Redis does (its nesting limit
    // guards recursion; this iterative matcher backtracks only to the last `*`).
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                _ => {
                    if let Some(next_p) = match_one(pattern, p, text[t], nocase) {
                        p = next_p;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches one pattern element at `p` against byte `c`; the position after the element on a
/// match.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, c, nocase),
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], c).then_some(p + 2),
        other => eq(other, c).then_some(p + 1),
    }
}

/// Matches a `[...]` class starting after the `[` at `p`.
fn match_class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<usize> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = fold(c);
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut hit = false;
    loop {
        match pattern.get(p) {
            // An unterminated class ends at the pattern's end, as in Redis.
            None => break,
            Some(b']') => {
                p += 1;
                break;
            }
            Some(b'\\') if p + 1 < pattern.len() => {
                hit |= fold(pattern[p + 1]) == c;
                p += 2;
            }
            Some(&lo) if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() => {
                let hi = pattern[p + 2];
                let (lo, hi) = if lo <= hi {
                    (fold(lo), fold(hi))
                } else {
                    (fold(hi), fold(lo))
                };
                hit |= lo <= c && c <= hi;
                p += 3;
            }
            Some(&b) => {
                hit |= fold(b) == c;
                p += 1;
            }
        }
    }
    (hit != negate).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_examples() {
        assert!(matches(b"h?llo", b"hello", false));
        assert!(matches(b"h*llo", b"heeeello", false));
        assert!(matches(b"h[ae]llo", b"hallo", false));
        assert!(!matches(b"h[ae]llo", b"hillo", false));
        assert!(matches(b"h[^e]llo", b"hallo", false));
        assert!(!matches(b"h[^e]llo", b"hello", false));
        assert!(matches(b"h[a-b]llo", b"hbllo", false));
        assert!(matches(b"*", b"", false));
        assert!(matches(b"a\\*b", b"a*b", false));
        assert!(!matches(b"a\\*b", b"axb", false));
        assert!(matches(b"*foo*bar", b"xxfooyybar", false));
        assert!(!matches(b"*foo*bar", b"xxfooyybaz", false));
        assert!(matches(b"HELLO", b"hello", true));
        assert!(matches(b"user:*", b"user:1000", false));
    }
}

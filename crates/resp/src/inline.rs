//! Splitting an inline command line into arguments, as Redis's `sdssplitargs` does.

use bytes::Bytes;

use crate::{Error, Result};

/// Splits one inline command line (telnet style, or a `pilot` console line) into arguments
/// exactly as Redis's `sdssplitargs` does.
///
/// Arguments are separated by blanks. Inside double quotes, `\n \r \t \b \a \\ \"` and `\xHH`
/// are unescaped (any other `\c` is `c`); inside single quotes only `\'` is. A closing quote
/// must be followed by a blank or the end of the line. Quotes may open in the middle of an
/// argument (`a"b c"` is `ab c`). As in Redis the line ends at its first NUL byte. A line of
/// only blanks gives no arguments.
///
/// # Errors
/// [`Error::UnbalancedQuotes`] for an unterminated quote or a closing quote followed by a
/// non-blank.
pub fn split_args(line: &[u8]) -> Result<Vec<Bytes>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p == line.len() {
            return Ok(args);
        }
        let (arg, next) = token(line, p)?;
        args.push(Bytes::from(arg));
        p = next;
    }
}

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Double,
    Single,
}

/// Reads one argument starting at `p` (not a blank); returns it and the index after it.
fn token(line: &[u8], mut p: usize) -> Result<(Vec<u8>, usize)> {
    let mut cur = Vec::new();
    let mut quote = Quote::None;
    let at = |i: usize| line.get(i).copied();
    loop {
        let Some(c) = at(p) else {
            return if quote == Quote::None {
                Ok((cur, p))
            } else {
                Err(Error::UnbalancedQuotes)
            };
        };
        match quote {
            Quote::Double => match (c, at(p + 1)) {
                (b'\\', Some(b'x')) if hex_pair(at(p + 2), at(p + 3)).is_some() => {
                    cur.extend(hex_pair(at(p + 2), at(p + 3)));
                    p += 3;
                }
                (b'\\', Some(e)) => {
                    cur.push(unescape(e));
                    p += 1;
                }
                (b'"', next) => return close(cur, p, next),
                _ => cur.push(c),
            },
            Quote::Single => match (c, at(p + 1)) {
                (b'\\', Some(b'\'')) => {
                    cur.push(b'\'');
                    p += 1;
                }
                (b'\'', next) => return close(cur, p, next),
                _ => cur.push(c),
            },
            Quote::None => match c {
                b' ' | b'\n' | b'\r' | b'\t' => return Ok((cur, p + 1)),
                b'"' => quote = Quote::Double,
                b'\'' => quote = Quote::Single,
                _ => cur.push(c),
            },
        }
        p += 1;
    }
}

/// A closing quote at `p`: it must be followed by a blank or the end of the line.
fn close(cur: Vec<u8>, p: usize, next: Option<u8>) -> Result<(Vec<u8>, usize)> {
    match next {
        Some(n) if !is_space(n) => Err(Error::UnbalancedQuotes),
        Some(_) => Ok((cur, p + 2)),
        None => Ok((cur, p + 1)),
    }
}

fn unescape(e: u8) -> u8 {
    match e {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => other,
    }
}

fn hex_pair(hi: Option<u8>, lo: Option<u8>) -> Option<u8> {
    let hex = |c: Option<u8>| char::from(c?).to_digit(16);
    // Two hex digits are at most 255.
    Some((hex(hi)? * 16 + hex(lo)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_words() {
        assert_eq!(split("SET  foo\tbar ").unwrap(), ["SET", "foo", "bar"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("   \t ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(
            split(r#"set "a b" "x\n\r\t\"\\\q""#).unwrap(),
            ["set", "a b", "x\n\r\t\"\\q"]
        );
        assert_eq!(split_args(br#""\x41\x7a\xzz""#).unwrap(), [&b"Azxzz"[..]]);
        assert_eq!(split_args(br#""\b\a""#).unwrap(), [&[8u8, 7][..]]);
        assert_eq!(split(r#"a"b c"d"#), Err(Error::UnbalancedQuotes));
        assert_eq!(split(r#"a"b c" d"#).unwrap(), ["ab c", "d"]);
        assert_eq!(split(r#""""#).unwrap(), [""]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'it\'s' 'a\nb'").unwrap(), ["it's", "a\\nb"]);
        assert_eq!(split("'x'y"), Err(Error::UnbalancedQuotes));
    }

    #[test]
    fn unbalanced() {
        assert_eq!(split("\"abc"), Err(Error::UnbalancedQuotes));
        assert_eq!(split("'abc"), Err(Error::UnbalancedQuotes));
        assert_eq!(split("\"abc\\"), Err(Error::UnbalancedQuotes));
    }

    #[test]
    fn stops_at_nul() {
        assert_eq!(split_args(b"a b\0c d").unwrap(), [&b"a"[..], b"b"]);
    }
}

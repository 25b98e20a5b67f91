//! Numbers as Redis reads and writes them in values: strict integers (`string2ll`), floats
//! (`string2ld`), and the human float format of INCRBYFLOAT and HINCRBYFLOAT.

/// Parses a signed 64-bit integer exactly as Redis does: optional `-`, digits, no `+`, no
/// spaces, no leading zeros (except `0` itself), nothing else, at most 20 characters.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let (negative, digits) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || negative)) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Parses a float as Redis does for values and arguments: decimal or exponent notation,
/// `inf`/`-inf`/`+inf` (any case), no surrounding spaces, not NaN.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty() || text.trim() != text || text.len() > 5120 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let value = strtod(&lower)?;
    if value.is_infinite() && !lower.contains("inf") {
        // strtod reports overflow (ERANGE) and Redis rejects the number.
        return None;
    }
    if value == 0.0 && has_nonzero_mantissa(&lower) {
        // Underflow to zero is ERANGE too.
        return None;
    }
    (!value.is_nan()).then_some(value)
}

/// Parses a float as C's `strtod` does where Redis does not check its range (the bounds of
/// a score range: ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYSCORE): leading whitespace is skipped,
/// the empty string is 0, overflow is infinity and underflow is 0. Anything after the number
/// (trailing spaces too), a string of spaces only, and NaN are rejected.
pub fn parse_f64_lenient(bytes: &[u8]) -> Option<f64> {
    if bytes.is_empty() {
        // strtod converts nothing and leaves the end pointer on the terminating NUL.
        return Some(0.0);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    if text.is_empty() || text.len() > 5120 || text.contains(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    strtod(&text.to_ascii_lowercase()).filter(|v| !v.is_nan())
}

/// The value of lowercase `lower` as `strtod` reads it when it consumes all of it.
fn strtod(lower: &str) -> Option<f64> {
    Some(match lower {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ if lower.contains("inf") || lower.contains("nan") => return None,
        // C's strtod, which Redis uses, reads hexadecimal floats too.
        _ if lower.trim_start_matches(['+', '-']).starts_with("0x") => parse_hex_f64(lower)?,
        _ => lower.parse::<f64>().ok()?,
    })
}

/// Whether the digits before any exponent include a nonzero one.
fn has_nonzero_mantissa(lower: &str) -> bool {
    let body = lower.trim_start_matches(['+', '-']);
    let (body, exp_marker) = match body.strip_prefix("0x") {
        Some(hex) => (hex, 'p'),
        None => (body, 'e'),
    };
    let mantissa = body.split(exp_marker).next().unwrap_or("");
    mantissa.chars().any(|c| c.is_ascii_hexdigit() && c != '0')
}

/// Parses a C99 hexadecimal float (`[+-]0x<hex>[.<hex>][p[+-]<dec>]`, lower-cased), as
/// `strtod` does. Digits beyond the first 16 significant ones are dropped (truncation).
fn parse_hex_f64(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest.strip_prefix("0x")?;
    let (digits, exponent) = match rest.split_once('p') {
        Some((digits, exp)) => (digits, exp.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut shift: i64 = i64::from(exponent);
    for (i, c) in int_part.chars().chain(frac_part.chars()).enumerate() {
        let d = u64::from(c.to_digit(16)?);
        if mantissa >> 60 == 0 {
            mantissa = mantissa * 16 + d;
            if i >= int_part.len() {
                shift -= 4;
            }
        } else if i < int_part.len() {
            shift += 4;
        }
    }
    let value = mantissa as f64 * 2f64.powi(shift.clamp(-2000, 2000) as i32);
    Some(if negative { -value } else { value })
}

/// Formats a float the way INCRBYFLOAT and HINCRBYFLOAT store and return it: the shortest
/// decimal that reads back to the same value, never in exponent notation, `inf`/`-inf` for
/// infinities.
pub fn format_f64_human(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == 0.0 {
        return "0".into();
    }
    // Rust's Display for f64 is the shortest round-trip representation without exponent.
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"1a",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_reject_nan_and_spaces() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_f64(b"-0X.8"), Some(-0.5));
        assert_eq!(parse_f64(b"0x1P-2"), Some(0.25));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b"0e-400"), Some(0.0));
        assert!(parse_f64(b"1e-320").is_some_and(|v| v > 0.0));
        for bad in [
            &b""[..],
            b"nan",
            b" 1",
            b"1 ",
            b"abc",
            b"0x",
            b"0x1p",
            b"0xg",
            b"1e",
            b"1e400",
            b"-1e400",
            b"1e-400",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn range_bounds_read_like_strtod() {
        assert_eq!(parse_f64_lenient(b""), Some(0.0));
        assert_eq!(parse_f64_lenient(b" \t1.5"), Some(1.5));
        assert_eq!(parse_f64_lenient(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_f64_lenient(b"-1e400"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_lenient(b"1e-400"), Some(0.0));
        assert_eq!(parse_f64_lenient(b"-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_lenient(b"0x10"), Some(16.0));
        for bad in [&b"1 "[..], b"  ", b"nan", b"+", b"1e", b"abc", b"1 2"] {
            assert_eq!(
                parse_f64_lenient(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn human_format_matches_redis_examples() {
        assert_eq!(format_f64_human(10.5), "10.5");
        assert_eq!(format_f64_human(3.0), "3");
        assert_eq!(format_f64_human(5000.0), "5000");
        assert_eq!(format_f64_human(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_f64_human(f64::INFINITY), "inf");
    }
}

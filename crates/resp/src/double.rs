//! Redis 7.2's text for doubles.

/// Formats a double the way Redis 7.2 replies with it (`ZSCORE`, RESP3 `,` doubles,
/// `INCRBYFLOAT`-style results in RESP2 bulk strings).
///
/// Redis 7.2 prints doubles with `fpconv_dtoa`: the shortest digits that round-trip
/// (Grisu), laid out like `%.17g` but not identically. This function takes the shortest
/// round-trip digits from Rust's formatter and applies `fpconv_dtoa`'s layout:
///
/// * integers print without a decimal point while they end in at most 7 zeros beyond their
///   significant digits (6 for negatives): `1`, `-3`, `10000000`, `12345678901234567000`;
///   otherwise in exponent form: `1e+8`, `-1e+7`, `1e+300`;
/// * other numbers print plainly when at most 6 digits follow the last significant one, or
///   the decimal exponent is between -3 and 3: `1.5`, `0.1`, `0.000015`, `123456.789`;
///   otherwise in exponent form: `1.5e-6`, `1e-7`, `1.5e-10`;
/// * exponents have no leading zeros (`1e+7`, not `1e+07` as `%g` would print);
/// * `inf`, `-inf`, `nan`, and `0` / `-0` for zeros.
///
/// Redis 7.0 printed `%.17g` (so `0.1` was `0.10000000000000001`); RedRaft follows 7.2.
/// Grisu2 occasionally yields one digit more than the shortest; Rust's formatter never does,
/// so for those rare values the output may be one digit shorter than Redis's.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let neg = d.is_sign_negative();
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    if d == 0.0 {
        out.push('0');
        return out;
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddddde<exp>`.
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp10: i32 = exp.parse().unwrap_or(0);
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // fpconv's K: the value is digits * 10^k.
    let k = exp10 - (ndigits - 1);
    emit(&mut out, &digits, k, exp10, neg);
    out
}

/// `fpconv_dtoa`'s `emit_digits`.
fn emit(out: &mut String, digits: &str, k: i32, exp10: i32, neg: bool) {
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let exp = exp10.abs();
    let max_trailing_zeros = if neg { 6 } else { 7 };
    if k >= 0 && exp < ndigits + max_trailing_zeros {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', k.unsigned_abs() as usize));
        return;
    }
    if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits + k;
        if offset <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', offset.unsigned_abs() as usize));
            out.push_str(digits);
        } else {
            let (int, frac) = digits.split_at(offset.unsigned_abs() as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
        return;
    }
    let (first, rest) = digits.split_at(1);
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    out.push('e');
    out.push(if exp10 < 0 { '-' } else { '+' });
    out.push_str(&exp.to_string());
}

#[cfg(test)]
mod tests {
    use super::format_double as f;

    #[test]
    fn integers() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(1000000.0), "1000000");
        assert_eq!(f(10000000.0), "10000000");
        assert_eq!(f(100000000.0), "1e+8");
        assert_eq!(f(-1000000.0), "-1000000");
        assert_eq!(f(-10000000.0), "-1e+7");
        assert_eq!(f(12345678.0), "12345678");
        assert_eq!(f(1.2345678901234567e19), "12345678901234567000");
        assert_eq!(f(9007199254740993.0), "9007199254740992");
    }

    #[test]
    fn fractions() {
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(3.5), "3.5");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(-0.25), "-0.25");
        assert_eq!(f(10.5), "10.5");
        assert_eq!(f(0.000015), "0.000015");
        assert_eq!(f(0.0000015), "1.5e-6");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e-10), "1.5e-10");
        assert_eq!(f(123456.789), "123456.789");
        assert_eq!(f(3.0000000000000004), "3.0000000000000004");
        assert_eq!(f(1.0 / 3.0), "0.3333333333333333");
    }

    #[test]
    fn exponents_and_specials() {
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
        assert_eq!(f(f64::NAN), "nan");
    }

    #[test]
    fn round_trips() {
        for x in [0.1, 1.0 / 3.0, 2.5e-8, 6.02214076e23, -1.25e-300, 123.456] {
            assert_eq!(f(x).parse::<f64>().unwrap(), x);
        }
    }
}

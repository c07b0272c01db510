//! Duration strings (`"10m"`, `"1h30m"`, `"250ms"`), parsed at compile time.
//!
//! A pure function over text: the argument table turns its result into a
//! `Duration::from_nanos` literal, so a typo is a compile error rather than
//! a panic in every test run.

/// Nanoseconds in a second.
const SECOND: u64 = 1_000_000_000;

/// The units a duration string accepts, with their length in nanoseconds.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", SECOND),
    ("m", 60 * SECOND),
    ("h", 60 * 60 * SECOND),
    ("d", 24 * 60 * 60 * SECOND),
];

/// The accepted forms, for error messages.
pub(crate) const FORMS: &str = "write one or more `<integer><unit>` parts with the units \
     ns, us, ms, s, m, h and d, like \"10m\", \"1h30m\" or \"250ms\"";

/// Parses a duration string into nanoseconds.
///
/// The string is one or more `<integer><unit>` parts, added up: `"1h30m"` is
/// ninety minutes. Zero is a valid result here; whether it is allowed is the
/// caller's decision. The error says what is wrong, without the accepted
/// forms (see [`FORMS`]).
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("the string is empty".to_owned());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = prefix_len(rest, |c| c.is_ascii_digit());
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let (number, after) = rest.split_at(digits);
        let letters = prefix_len(after, |c| c.is_ascii_alphabetic());
        let (unit, after) = after.split_at(letters);
        if unit.is_empty() {
            return Err(match after.chars().next() {
                Some(c) => format!("expected a unit after `{number}`, found `{c}`"),
                None => format!("`{number}` has no unit"),
            });
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("`{unit}` is not a unit"));
        };
        let part = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .and_then(|n| total.checked_add(n));
        total = part.ok_or_else(|| {
            "it does not fit in a u64 of nanoseconds (about 584 years)".to_owned()
        })?;
        rest = after;
    }
    Ok(total)
}

/// The length in bytes of the longest prefix of ASCII characters matching `f`.
fn prefix_len(text: &str, f: impl Fn(char) -> bool) -> usize {
    text.find(|c: char| !f(c)).unwrap_or(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_parts() {
        assert_eq!(parse("7ns"), Ok(7));
        assert_eq!(parse("3us"), Ok(3_000));
        assert_eq!(parse("250ms"), Ok(250_000_000));
        assert_eq!(parse("2s"), Ok(2 * SECOND));
        assert_eq!(parse("10m"), Ok(600 * SECOND));
        assert_eq!(parse("1h"), Ok(3_600 * SECOND));
        assert_eq!(parse("1d"), Ok(86_400 * SECOND));
    }

    #[test]
    fn parts_add_up() {
        assert_eq!(parse("1h30m"), Ok(5_400 * SECOND));
        assert_eq!(parse("1m1s1ms1us1ns"), Ok(61_001_001_001));
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse("007s"), Ok(7 * SECOND));
    }

    #[test]
    fn the_largest_duration_fits() {
        assert_eq!(parse("18446744073709551615ns"), Ok(u64::MAX));
        assert_eq!(parse("18446744073s"), Ok(18_446_744_073 * SECOND));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse(""), Err("the string is empty".to_owned()));
        assert_eq!(parse("10"), Err("`10` has no unit".to_owned()));
        assert_eq!(parse("1h30"), Err("`30` has no unit".to_owned()));
        assert_eq!(
            parse("10 m"),
            Err("expected a unit after `10`, found ` `".to_owned())
        );
        assert_eq!(
            parse("1.5h"),
            Err("expected a unit after `1`, found `.`".to_owned())
        );
        assert_eq!(parse("m"), Err("expected a number at `m`".to_owned()));
        assert_eq!(parse("-1s"), Err("expected a number at `-1s`".to_owned()));
        assert_eq!(parse("10min"), Err("`min` is not a unit".to_owned()));
        assert_eq!(parse("10M"), Err("`M` is not a unit".to_owned()));
        assert_eq!(
            parse("5µs"),
            Err("expected a unit after `5`, found `µ`".to_owned())
        );
    }

    #[test]
    fn overflow_is_an_error() {
        let too_big = Err("it does not fit in a u64 of nanoseconds (about 584 years)".to_owned());
        assert_eq!(parse("18446744073709551616ns"), too_big);
        assert_eq!(parse("18446744074s"), too_big);
        assert_eq!(parse("18446744073709551615ns1ns"), too_big);
        assert_eq!(parse("99999999999999999999999d"), too_big);
    }
}

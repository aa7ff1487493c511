//! Ids the sagas derive from what they react to: deterministic, safe in a
//! stream id, and telling apart what they name.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// The longest token [`token`] makes, in characters; a longer one is cut
/// and ends in a hash of the whole.
const MAX_TOKEN_CHARS: usize = 100;

/// `value` as a token of ASCII letters, digits, `-` and `_` only, which
/// names nothing else: letters, digits and `-` stay, every other
/// character becomes `_<hex code point>_` (`a.b@c` → `a_2e_b_40_c`), so a
/// token never holds a `.` and two tokens joined by one stay apart. A token
/// over [`MAX_TOKEN_CHARS`] characters is cut and ends in `__<hash>`, which
/// [`untoken`] does not read back.
pub(crate) fn token(value: &str) -> String {
    let mut escaped = String::new();
    for c in value.chars() {
        if escaped.len() >= MAX_TOKEN_CHARS {
            escaped.push_str(&format!("__{:016x}", fnv1a(value)));
            return escaped;
        }
        if c.is_ascii_alphanumeric() || c == '-' {
            escaped.push(c);
        } else {
            escaped.push_str(&format!("_{:x}_", u32::from(c)));
        }
    }
    escaped
}

/// The value a [`token`] was made from, unless it was cut (or is no token).
pub(crate) fn untoken(token: &str) -> Option<String> {
    let mut value = String::new();
    let mut rest = token;
    while let Some(at) = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        value.push_str(&rest[..at]);
        let escape = rest[at..].strip_prefix('_')?;
        let (hex, after) = escape.split_once('_')?;
        if hex.is_empty() {
            return None;
        }
        value.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        rest = after;
    }
    value.push_str(rest);
    Some(value)
}

/// `value`, or, when it is over `max` characters, its first characters and
/// a hash of the whole (`…#<hash>`), `max` characters in all.
pub(crate) fn bounded(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let hash = format!("#{:016x}", fnv1a(value));
    let kept: String = value.chars().take(max.saturating_sub(hash.len())).collect();
    kept + &hash
}

/// The 64-bit FNV-1a hash: stable across builds and platforms, unlike the
/// standard library's hasher, so ids made with it stay the same.
fn fnv1a(value: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    value.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// A day as `yyyymmdd`.
pub(crate) fn day_token(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// The day a `yyyymmdd` token names.
pub(crate) fn parse_day_token(token: &str) -> Option<NaiveDate> {
    if token.len() != 8 {
        return None;
    }
    NaiveDate::parse_from_str(token, "%Y%m%d").ok()
}

/// The start of `day`, UTC.
pub(crate) fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// The first midnight (UTC) after `at`.
pub(crate) fn next_midnight_after(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    at.date_naive().succ_opt().map(start_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_ids_stay_as_they_are() {
        assert_eq!(token("0190ab-cd"), "0190ab-cd");
        assert_eq!(token("a.b@c_d"), "a_2e_b_40_c_5f_d");
        assert_eq!(untoken("a_2e_b_40_c_5f_d").as_deref(), Some("a.b@c_d"));
    }

    #[test]
    fn long_ids_are_cut_with_a_hash_and_do_not_read_back() {
        let long = "x".repeat(300);
        let cut = token(&long);
        assert!(cut.len() < 130, "{cut}");
        assert_ne!(cut, token(&"x".repeat(299)));
        assert_eq!(untoken(&cut), None);
        assert_eq!(bounded(&long, 50).chars().count(), 50);
        assert_eq!(bounded("short", 50), "short");
    }

    proptest! {
        #[test]
        fn tokens_are_safe_short_and_read_back_unless_cut(value in "\\PC{0,40}|[a-z0-9@./_-]{0,40}") {
            let made = token(&value);
            prop_assert!(made.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
            // At most one escape (`_10ffff_`) past the limit, then the hash.
            prop_assert!(made.len() <= MAX_TOKEN_CHARS + 8 + 18, "{}", made);
            match untoken(&made) {
                Some(back) => prop_assert_eq!(back, value),
                None => prop_assert!(made.len() > MAX_TOKEN_CHARS, "{} was cut", made),
            }
        }
    }
}

//! Input rules shared by the store, the CLI and the API, so every door rejects
//! the same things with the same words.

use crate::StoreError;

fn invalid(field: &'static str, value: &str, reason: &'static str) -> StoreError {
    StoreError::Invalid {
        field,
        value: value.to_string(),
        reason,
    }
}

/// A plain dial-string token: `[0-9A-Za-z_.-]{1,32}`. Used for extension numbers and
/// trunk names, which end up in channel names (`SIP/110-0000001a`) and dialplan
/// patterns, where `/`, `*`, `#` or spaces would be ambiguous.
fn token(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 32 {
        return Err(invalid(field, value, "must be 1 to 32 characters long"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(invalid(
            field,
            value,
            "may only contain letters, digits, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// Extension numbers: see [`token`].
pub fn extension_number(value: &str) -> Result<(), StoreError> {
    token("extension number", value)
}

/// Trunk names: see [`token`].
pub fn trunk_name(value: &str) -> Result<(), StoreError> {
    token("trunk name", value)
}

/// Dialplan context names: `[0-9A-Za-z_.-]{1,79}` (Asterisk caps contexts at 80 bytes).
pub fn context(value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 79 {
        return Err(invalid("context", value, "must be 1 to 79 characters long"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(invalid(
            "context",
            value,
            "may only contain letters, digits, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// SIP secrets: 1 to 128 characters, no control characters (phones cannot type them).
pub fn secret(value: &str) -> Result<(), StoreError> {
    // The value itself is never echoed back in the error: it is a secret.
    if value.is_empty() || value.chars().count() > 128 {
        return Err(invalid("secret", "***", "must be 1 to 128 characters long"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            "secret",
            "***",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Secrets guessers try first (svcrack's and the usual dictionaries' first lines),
/// compared in lower case.
const COMMON_SECRETS: [&str; 24] = [
    "password",
    "password1",
    "password123",
    "passw0rd",
    "secret",
    "changeme",
    "letmein",
    "welcome",
    "qwerty",
    "qwerty123",
    "abc123",
    "admin",
    "admin123",
    "test",
    "test123",
    "sip",
    "voip",
    "asterisk",
    "freepbx",
    "123456",
    "1234567890",
    "000000",
    "111111",
    "iloveyou",
];

/// Why `secret` is a weak SIP secret for extension `number`, if it is: a digest
/// exchange seen once (or a guesser at 4 tries a minute) breaks it quickly. Only
/// a warning: the administrator decides (a lab phone may keep `1234`).
pub fn weak_secret(number: &str, secret: &str) -> Option<&'static str> {
    let lower = secret.to_lowercase();
    let distinct = {
        let mut c: Vec<char> = lower.chars().collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    if COMMON_SECRETS.contains(&lower.as_str()) {
        Some("it is one of the first secrets a guesser tries")
    } else if !number.is_empty() && lower.contains(&number.to_lowercase()) {
        Some("it contains the extension number")
    } else if secret.chars().count() < 10 {
        Some("it is shorter than 10 characters")
    } else if secret.chars().all(|c| c.is_ascii_digit()) {
        Some("it is digits only")
    } else if distinct < 5 {
        Some("it repeats too few different characters")
    } else {
        None
    }
}

/// Display names: up to 80 characters, no control characters.
pub fn display_name(value: &str) -> Result<(), StoreError> {
    if value.chars().count() > 80 {
        return Err(invalid("name", value, "must be at most 80 characters long"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            value,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Digest realms go inside a quoted header parameter: no quotes, backslashes or controls.
pub fn realm(value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 128 {
        return Err(invalid("realm", value, "must be 1 to 128 characters long"));
    }
    if value
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(invalid(
            "realm",
            value,
            "must not contain quotes, backslashes or control characters",
        ));
    }
    Ok(())
}

/// AstDB family and key names: 1 to 255 characters, no control characters.
pub fn db_name(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 255 {
        return Err(invalid(field, value, "must be 1 to 255 characters long"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, value, "must not contain control characters"));
    }
    Ok(())
}

/// Queue names: see [`token`].
pub fn queue_name(value: &str) -> Result<(), StoreError> {
    token("queue name", value)
}

/// Spy group names: see [`token`]. They travel in a channel's colon-separated
/// `SPYGROUP` and in ChanSpy's `g(a:b)`, so `:` is never part of one.
pub fn group_name(value: &str) -> Result<(), StoreError> {
    token("group name", value)
}

/// Spy group descriptions: up to 255 characters, no control characters.
pub fn group_description(value: &str) -> Result<(), StoreError> {
    if value.chars().count() > 255 {
        return Err(invalid(
            "description",
            &value.chars().take(80).collect::<String>(),
            "must be at most 255 characters long",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            "description",
            value,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// One end of an inbound monitoring range: 1 to 32 decimal digits.
pub fn range_end(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 32 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(field, value, "must be 1 to 32 digits"));
    }
    Ok(())
}

/// An inbound monitoring range `[low, high]`: both ends digits, `low <= high` as numbers.
pub fn range(low: &str, high: &str) -> Result<(), StoreError> {
    range_end("low", low)?;
    range_end("high", high)?;
    if cmp_digits(low, high) == std::cmp::Ordering::Greater {
        return Err(invalid("high", high, "must not be below low"));
    }
    Ok(())
}

/// Compares two strings of decimal digits as numbers, whatever their length
/// (`"0110" == "110"`, `"99" < "100"`).
pub fn cmp_digits(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Setting keys: `[0-9A-Za-z_.-]{1,128}`, e.g. `monitoring.open`.
pub fn setting_key(value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > 128 {
        return Err(invalid(
            "setting key",
            value,
            "must be 1 to 128 characters long",
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(invalid(
            "setting key",
            value,
            "may only contain letters, digits, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// Setting values: up to 1024 characters, no control characters.
pub fn setting_value(value: &str) -> Result<(), StoreError> {
    if value.chars().count() > 1024 {
        return Err(invalid(
            "setting value",
            &value.chars().take(80).collect::<String>(),
            "must be at most 1024 characters long",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            "setting value",
            value,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A recording file's path as stored: relative to the recordings folder, 1 to 255
/// characters of letters, digits, `-`, `_` and `.` in `/`-separated parts, no empty,
/// `.` or `..` part. The same rule is applied when a path is written and when one is
/// read back to serve or delete a file, so a row edited by hand cannot point a
/// download outside the folder.
pub fn recording_path(value: &str) -> Result<(), StoreError> {
    let shown: String = value.chars().take(80).collect();
    if value.is_empty() || value.len() > 255 {
        return Err(invalid(
            "recording path",
            &shown,
            "must be 1 to 255 characters long",
        ));
    }
    let plain = value.split('/').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !plain {
        return Err(invalid(
            "recording path",
            &shown,
            "must be relative to the recordings folder: letters, digits, '-', '_' and '.' \
             in '/'-separated parts, no '..'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_numbers() {
        for ok in ["110", "alice", "a.b-c_d", &"9".repeat(32)] {
            assert!(extension_number(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1 10", "*222", "110#", "a/b", "é", &"9".repeat(33)] {
            assert!(extension_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_not_echoed() {
        let err = secret("bad\u{7}secret").unwrap_err().to_string();
        assert!(!err.contains("bad"), "{err}");
        assert!(secret("").is_err());
        assert!(secret("x").is_ok());
    }

    #[test]
    fn realms_and_contexts() {
        assert!(realm("spygroup").is_ok());
        assert!(realm("a\"b").is_err());
        assert!(context("from-internal").is_ok());
        assert!(context("from internal").is_err());
        assert!(display_name("Alice Smith").is_ok());
        assert!(display_name("a\nb").is_err());
    }

    #[test]
    fn groups_ranges_settings() {
        assert!(group_name("sales.eu-1_b").is_ok());
        for bad in ["", "a:b", "a b", "a/b", &"g".repeat(33)] {
            assert!(group_name(bad).is_err(), "{bad}");
        }
        assert!(group_description("Sales, Europe").is_ok());
        assert!(group_description("a\nb").is_err());
        assert!(group_description(&"d".repeat(256)).is_err());

        assert!(range("110", "160").is_ok());
        assert!(range("110", "110").is_ok());
        assert!(range("99", "100").is_ok(), "numeric, not text order");
        let err = range("160", "110").unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "high", .. }),
            "{err}"
        );
        let err = range("1x", "2").unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "low", .. }),
            "{err}"
        );
        assert!(range("1", "").is_err());
        assert!(range("1", &"9".repeat(33)).is_err());

        use std::cmp::Ordering::*;
        assert_eq!(cmp_digits("0110", "110"), Equal);
        assert_eq!(cmp_digits("99", "100"), Less);
        assert_eq!(
            cmp_digits(&"9".repeat(30), &format!("1{}", "0".repeat(30))),
            Less
        );
        assert_eq!(cmp_digits("0", ""), Equal);

        assert!(setting_key("monitoring.open").is_ok());
        assert!(setting_key("a b").is_err());
        assert!(setting_value("true").is_ok());
        assert!(setting_value("a\u{1b}").is_err());
    }

    #[test]
    fn recording_paths() {
        for ok in ["a.wav", "calls/110-main.wav", "q/1/2/x_y.WAV", "..a/b..wav"] {
            assert!(recording_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.wav",
            "a/../../b",
            "a//b",
            "a/./b",
            "a/",
            "a\\..\\b",
            "a b.wav",
            "a\nb",
            "é.wav",
            &"x".repeat(256),
        ] {
            assert!(recording_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn weak_secrets_are_told_apart_from_strong_ones() {
        use super::weak_secret;
        assert!(weak_secret("110", "password123").is_some());
        assert!(weak_secret("110", "Password123").is_some());
        assert!(weak_secret("110", "x110-long-enough").is_some());
        assert!(weak_secret("110", "short1!").is_some());
        assert!(weak_secret("110", "98765432109876").is_some());
        assert!(weak_secret("110", "abababababab").is_some());
        assert_eq!(weak_secret("110", "correct-horse-battery"), None);
        assert_eq!(
            weak_secret("110", "s3cret-110"),
            Some("it contains the extension number")
        );
    }
}

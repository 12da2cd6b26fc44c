//! Image names as they arrive in request paths, checked before they come
//! anywhere near the file system. A name is one plain file name inside the
//! images folder: no separators, no `..`, nothing hidden (partial uploads
//! live in a hidden folder), no names DOS/Windows reserve for devices (a
//! target may copy the file off the drive), and a short, printable charset so
//! it also survives shells, URLs and FAT.

/// Longest name accepted, in bytes (FAT and ext4 allow 255).
pub const MAX_LEN: usize = 128;

/// Names Windows refuses as files, whatever the extension.
const DEVICE_NAMES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// `name` as it came in a request path (percent-encoded), decoded and checked.
pub fn parse(raw: &str) -> Result<String, String> {
    let decoded = percent_decode(raw)
        .ok_or_else(|| "image name is not valid percent-encoded UTF-8".to_string())?;
    check(&decoded)?;
    Ok(decoded)
}

/// Whether `name` may be an image's file name; the reason when not.
pub fn check(name: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("image name {name:?} refused: {why}"));
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_LEN {
        return refuse(&format!("longer than {MAX_LEN} bytes"));
    }
    if name.contains(['/', '\\']) {
        return refuse("it contains a path separator");
    }
    if name.starts_with('.') {
        return refuse("names starting with '.' are hidden or climb out of the folder");
    }
    if let Some(c) = name.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | ' ' | '(' | ')'))
    }) {
        return refuse(&format!(
            "{c:?} is not allowed; use letters, digits, space and . - _ + ( )"
        ));
    }
    if name.ends_with([' ', '.']) {
        return refuse("it ends with a space or a dot");
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_lowercase();
    if DEVICE_NAMES.contains(&stem.as_str()) {
        return refuse("it is a device name on Windows");
    }
    Ok(())
}

/// `%XX` sequences to bytes; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_plain_and_encoded() {
        assert_eq!(parse("debian-12.iso").unwrap(), "debian-12.iso");
        assert_eq!(parse("my%20disk%20(1).img").unwrap(), "my disk (1).img");
        assert_eq!(parse("a+b_c.raw").unwrap(), "a+b_c.raw");
    }

    #[test]
    fn test_parse_refuses_traversal_and_hidden() {
        for bad in [
            "..",
            ".",
            "%2e%2e",
            "..%2fetc%2fpasswd",
            "a%2fb",
            "a%5cb",
            "a/b",
            ".hidden",
            ".partial",
            "%00",
            "a%0ab",
            "",
            "%",
            "%zz",
            "%ff",
            "x.",
            "x ",
            "con",
            "NUL.img",
            "Com1.iso",
            "lpt9 .txt",
            "é.iso",
            "a*b",
            "a:b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse(&"a".repeat(MAX_LEN)).is_ok());
        assert!(parse(&"a".repeat(MAX_LEN + 1)).is_err());
        assert!(parse("console.img").is_ok());
    }

    #[test]
    fn test_refusal_names_the_reason() {
        let e = parse("..").unwrap_err();
        assert!(e.contains("\"..\"") && e.contains("'.'"), "{e}");
        let e = parse("a%2fb").unwrap_err();
        assert!(e.contains("separator"), "{e}");
    }
}

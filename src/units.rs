//! Sizes written by people: `512MiB`, `2GiB`, `1.5GB`, `1000000` (rule files and the command
//! line).

/// Parses `512MiB`, `2GiB`, `1.5GB`, `1000000`.
/// `n` of `what`, with the plural `whats` unless `n` is 1: "1 axis" needs [`plural_of`].
pub fn count(n: usize, what: &str) -> String {
    plural_of(n, what, &format!("{what}s"))
}

/// `n` with the singular or the plural form.
pub fn plural_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A size in bytes for people: `812 B`, `15.2 kB`, `3.4 MB`, `1.2 GB` (decimal units).
pub fn human_bytes(bytes: f64) -> String {
    match bytes {
        b if b < 1e3 => format!("{b:.0} B"),
        b if b < 1e6 => format!("{:.1} kB", b / 1e3),
        b if b < 1e9 => format!("{:.1} MB", b / 1e6),
        b => format!("{:.1} GB", b / 1e9),
    }
}

pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. 512MiB or 2GiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        u => {
            return Err(format!(
                "unknown size unit `{u}`; use B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    let bytes = n * mult;
    // Far more than any machine has: a typo, not a limit (and `as usize` would saturate).
    if !bytes.is_finite() || bytes > (1u64 << 60) as f64 {
        return Err(format!(
            "`{s}` is larger than any machine's memory; write e.g. 512MiB or 2GiB"
        ));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}

//! Sizes written by people: `512MiB`, `2GiB`, `1.5GB`, `1000000` (rule files and the command
//! line).

/// Parses `512MiB`, `2GiB`, `1.5GB`, `1000000`.
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

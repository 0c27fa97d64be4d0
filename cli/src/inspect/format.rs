//! Ages and times as the inspection tables print them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A duration as kubectl prints ages: `12s`, `5m`, `3h`, `2d` (two units below ten minutes
/// and below a day: `2m30s`, `23h59m`).
pub fn age(secs: u64) -> String {
    let (m, h, d) = (60, 3600, 86_400);
    match secs {
        s if s < 2 * m => format!("{s}s"),
        s if s < 10 * m && s % m != 0 => format!("{}m{}s", s / m, s % m),
        s if s < 2 * h => format!("{}m", s / m),
        s if s < 24 * h && (s % h) / m != 0 => format!("{}h{}m", s / h, (s % h) / m),
        s if s < 2 * d => format!("{}h", s / h),
        s => format!("{}d", s / d),
    }
}

/// A Unix time as `2026-11-22T07:00:12Z` (UTC, no time zone database needed).
pub fn timestamp(unix: u64) -> String {
    let days = unix / 86_400;
    let rest = unix % 86_400;
    let (y, mo, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 -> (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Time left until `not_after`, for certificate columns: `23h59m`, or `EXPIRED`.
pub fn expires_in(not_after: u64, now: u64) -> String {
    if not_after <= now {
        "EXPIRED".to_string()
    } else {
        age(not_after - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(119), "119s");
        assert_eq!(age(150), "2m30s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600 + 300), "3h5m");
        assert_eq!(age(24 * 3600), "24h");
        assert_eq!(age(3 * 86_400 + 5), "3d");
        assert_eq!(expires_in(10, 20), "EXPIRED");
        assert_eq!(expires_in(86_400 - 60, 0), "23h59m");
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_795_330_812), "2026-11-22T07:00:12Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }
}

//! Numbers as the dashboard prints them (the same units as `meshctl stat`).

use std::time::SystemTime;

/// `9.8rps`, `120rps`, `-` when idle.
pub fn rps(v: f64) -> String {
    if v <= 0.0 {
        "-".into()
    } else {
        format!("{}rps", num(v))
    }
}

/// `9.8/s`, compact for edge labels.
pub fn per_s(v: f64) -> String {
    format!("{}/s", num(v))
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 0.05 || v == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `99.95%` in tables.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0))
}

/// `100%`, `99.9%` in labels.
pub fn pct_short(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 1.0 => "100%".into(),
        Some(v) => format!("{:.1}%", (v * 1000.0).floor() / 10.0),
    }
}

/// `3.0ms`, `12ms`, `1.20s`.
pub fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        // Thresholds just under the next unit, so that 9.97 reads 10ms, not 10.0ms.
        Some(v) if v >= 999.5 => format!("{:.2}s", v / 1000.0),
        Some(v) if v >= 9.95 => format!("{v:.0}ms"),
        Some(v) => format!("{v:.1}ms"),
    }
}

/// `22.4MiB`.
pub fn bytes(v: Option<u64>) -> String {
    let Some(v) = v else { return "-".into() };
    let v = v as f64;
    if v >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1}GiB", v / (1024.0 * 1024.0 * 1024.0))
    } else if v >= 1024.0 * 1024.0 {
        format!("{:.1}MiB", v / (1024.0 * 1024.0))
    } else {
        format!("{:.0}KiB", v / 1024.0)
    }
}

/// `45s`, `3m12s`, `2h05m`, `3d04h`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Whole seconds from `then` to `now` (0 when `then` is later).
pub fn since(now: SystemTime, then: SystemTime) -> u64 {
    now.duration_since(then).unwrap_or_default().as_secs()
}

/// Seconds since the Unix epoch.
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// `text` cut to `width` characters, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(rps(9.76), "9.8rps");
        assert_eq!(rps(0.0), "-");
        assert_eq!(pct_short(Some(0.9996)), "99.9%");
        assert_eq!(pct_short(Some(1.0)), "100%");
        assert_eq!(ms(Some(4.96)), "5.0ms");
        assert_eq!(ms(Some(19.9)), "20ms");
        assert_eq!(ms(Some(9.97)), "10ms");
        assert_eq!(ms(Some(1500.0)), "1.50s");
        assert_eq!(age(192), "3m12s");
        assert_eq!(bytes(Some(23_498_752)), "22.4MiB");
        assert_eq!(fit("istio-ingressgateway", 8), "istio-i…");
    }
}

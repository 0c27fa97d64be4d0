//! Who is logged in: the `session` cookie, and the login form that sets it.
//!
//! Bookinfo has no passwords (Istio's accepts any name); the cookie simply carries the user
//! name, percent-encoded. Keeping it in the cookie, not in server memory, lets any
//! productpage replica serve any request, as Istio's signed Flask session does.

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// The cookie's name (Flask's session cookie name, as Istio's productpage uses).
pub const COOKIE_NAME: &str = "session";

/// The longest user name accepted, in bytes.
pub const MAX_USER_BYTES: usize = 256;

/// The logged-in user, from the request's cookies.
pub fn user(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .and_then(|(_, value)| percent_decode(value.trim_matches('"'), false))
        .filter(|u| valid_user(u).is_ok())
}

/// Checks a user name from the login form; the error says what is wrong.
pub fn valid_user(user: &str) -> Result<(), String> {
    if user.trim().is_empty() {
        return Err("the form field username is empty; send username=NAME".into());
    }
    if user.len() > MAX_USER_BYTES {
        return Err(format!(
            "the user name is longer than {MAX_USER_BYTES} bytes; choose a shorter one"
        ));
    }
    if user.chars().any(char::is_control) {
        return Err("the user name has control characters; choose a printable one".into());
    }
    Ok(())
}

/// `Set-Cookie` for a login.
pub fn login_cookie(user: &str) -> HeaderValue {
    let value = format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax",
        percent_encode(user)
    );
    // Percent-encoding leaves only visible ASCII.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("session=; Path=/"))
}

/// `Set-Cookie` for a logout: an expired, empty cookie.
pub fn logout_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
    )
}

/// The value of `field` in an `application/x-www-form-urlencoded` body or query string.
/// None when absent or not valid percent-encoded UTF-8.
pub fn form_field(form: &str, field: &str) -> Option<String> {
    form.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true)? == field).then_some(v)
        })
        .find_map(|v| percent_decode(v, true))
}

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`, as forms encode it).
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes everything but unreserved characters (RFC 3986), so the result is a valid cookie
/// value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, v.parse().expect("hv"));
        h
    }

    #[test]
    fn login_cookie_round_trips_any_printable_name() {
        for name in ["jason", "Jane Doe", "a;b=c,\"d\"", "zoë", "100%"] {
            let set = login_cookie(name);
            let pair = set
                .to_str()
                .expect("ascii")
                .split(';')
                .next()
                .expect("pair");
            assert_eq!(
                user(&cookies(&format!("theme=dark; {pair}"))).as_deref(),
                Some(name)
            );
        }
    }

    #[test]
    fn no_or_bad_cookie_is_nobody() {
        assert_eq!(user(&HeaderMap::new()), None);
        assert_eq!(user(&cookies("session=")), None);
        assert_eq!(user(&cookies("session=%ZZ")), None);
        assert_eq!(user(&cookies("session=%0A")), None);
        assert_eq!(user(&cookies("other=jason")), None);
    }

    #[test]
    fn form_fields() {
        assert_eq!(
            form_field("username=jason&passwd=x", "username").as_deref(),
            Some("jason")
        );
        assert_eq!(
            form_field("a=1&username=Jane+D%C3%B6e", "username").as_deref(),
            Some("Jane Döe")
        );
        assert_eq!(form_field("passwd=x", "username"), None);
        assert_eq!(form_field("username", "username").as_deref(), Some(""));
        assert!(valid_user("").is_err());
        assert!(valid_user(&"x".repeat(300)).is_err());
        assert!(valid_user("a\nb").is_err());
    }
}

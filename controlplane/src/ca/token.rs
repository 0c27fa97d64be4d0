//! Bootstrap proof on the local platform: per-workload tokens.
//!
//! Design: stateless HMAC-SHA256 tokens. `meshctl` issues one when it launches a workload's
//! sidecar; the token names the identity and an expiry, and the CA verifies the MAC with a
//! 256-bit secret kept 0600 next to the root key. Stateless because the control plane then
//! needs no token database that must survive restarts or stay consistent with the launcher;
//! the price is that one token cannot be revoked alone, so tokens are short-lived and rotating
//! the secret file revokes them all.
//!
//! Format: `mtk1.<hex(spiffe-id "\n" expiry-unix-seconds)>.<hex(HMAC(key, "mtk1.<hex>"))>`.
//! The version prefix is inside the MAC, so a future format cannot be confused with this one.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::files::{self, FileError, PRIVATE_MODE};
use super::identity::Identity;
use super::sign::hex;

/// The HMAC secret's file name in the CA directory.
pub const TOKEN_KEY_FILE: &str = "bootstrap-token-key";
const PREFIX: &str = "mtk1";
const KEY_LEN: usize = 32;

/// Checks a workload's bootstrap proof and says who it is. The local platform's
/// [`TokenAuthority`] is one; a Kubernetes TokenReview verifier will be another, which is why
/// the check is asynchronous (it calls the API server).
pub trait BootstrapVerifier: Send + Sync {
    fn verify_proof<'a>(
        &'a self,
        proof: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Identity, BootstrapError>> + Send + 'a>>;
}

/// A bootstrap proof was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("bootstrap proof rejected: {reason}")]
    Rejected { reason: String },
    #[error("cannot check the bootstrap proof right now ({reason}); retry later")]
    Unavailable { reason: String },
}

/// A token could not be issued or was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed bootstrap token ({reason}); pass the token meshctl wrote for this workload, unmodified")]
    Malformed { reason: &'static str },
    #[error("bootstrap token signature does not verify: it was altered or issued by another control plane; re-launch the workload to get a fresh token")]
    BadSignature,
    #[error("bootstrap token expired at unix time {expired_at}; re-launch the workload to get a fresh token")]
    Expired { expired_at: u64 },
    #[error("token key {path} must hold {KEY_LEN} hex-encoded bytes; delete it and restart the control plane to generate a new one (outstanding tokens become invalid)")]
    BadKeyFile { path: String },
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the system random number generator failed")]
    Random,
}

/// Issues and verifies per-workload bootstrap tokens.
#[derive(Clone)]
pub struct TokenAuthority {
    key: hmac::Key,
}

impl fmt::Debug for TokenAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenAuthority { key: <redacted> }")
    }
}

impl TokenAuthority {
    /// Loads the secret from `dir`, generating it (0600) on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, TokenError> {
        let path = dir.join(TOKEN_KEY_FILE);
        match files::read_private(&path) {
            Ok(text) => {
                let bytes = unhex(text.trim()).filter(|b| b.len() == KEY_LEN);
                let bytes = bytes.ok_or_else(|| TokenError::BadKeyFile {
                    path: path.display().to_string(),
                })?;
                Ok(Self::from_secret(&bytes))
            }
            Err(FileError::Missing { .. }) => {
                let mut secret = [0u8; KEY_LEN];
                SystemRandom::new()
                    .fill(&mut secret)
                    .map_err(|_| TokenError::Random)?;
                files::write_new(&path, hex(&secret).as_bytes(), PRIVATE_MODE)?;
                Ok(Self::from_secret(&secret))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An authority with a caller-held secret (tests, or a secret from a platform store).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// A token proving `identity`, valid for `ttl` from now.
    pub fn issue(&self, identity: &Identity, ttl: Duration) -> String {
        self.issue_at(identity, ttl, SystemTime::now())
    }

    /// [`TokenAuthority::issue`] with the clock injected.
    pub fn issue_at(&self, identity: &Identity, ttl: Duration, now: SystemTime) -> String {
        let expiry = unix_secs(now + ttl);
        let payload = format!("{}\n{expiry}", identity.spiffe_id());
        let signed = format!("{PREFIX}.{}", hex(payload.as_bytes()));
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", hex(tag.as_ref()))
    }

    /// The identity a token proves, if its MAC verifies and it has not expired.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        self.verify_at(token, SystemTime::now())
    }

    /// [`TokenAuthority::verify`] with the clock injected.
    pub fn verify_at(&self, token: &str, now: SystemTime) -> Result<Identity, TokenError> {
        let malformed = |reason| TokenError::Malformed { reason };
        let token = token.trim();
        let (signed, tag_hex) = token
            .rsplit_once('.')
            .ok_or(malformed("expected three '.'-separated parts"))?;
        let (prefix, payload_hex) = signed
            .split_once('.')
            .ok_or(malformed("expected three '.'-separated parts"))?;
        if prefix != PREFIX {
            return Err(malformed("unknown token version"));
        }
        let tag = unhex(tag_hex).ok_or(malformed("signature is not hex"))?;
        // Authenticate before interpreting anything else: ring compares in constant time.
        hmac::verify(&self.key, signed.as_bytes(), &tag).map_err(|_| TokenError::BadSignature)?;
        let payload = unhex(payload_hex)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(malformed("payload is not hex-encoded UTF-8"))?;
        let (spiffe_id, expiry) = payload
            .split_once('\n')
            .ok_or(malformed("payload lacks an expiry"))?;
        let expiry: u64 = expiry
            .parse()
            .map_err(|_| malformed("expiry is not a number"))?;
        if unix_secs(now) >= expiry {
            return Err(TokenError::Expired { expired_at: expiry });
        }
        Identity::from_spiffe_id(spiffe_id).map_err(|_| malformed("identity is not a SPIFFE ID"))
    }
}

impl BootstrapVerifier for TokenAuthority {
    fn verify_proof<'a>(
        &'a self,
        proof: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Identity, BootstrapError>> + Send + 'a>> {
        Box::pin(async move { self.verify(proof).map_err(BootstrapError::from) })
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // from_str_radix alone would also accept a sign ("+1"), giving two spellings of a token.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("+1"), None);
    }
}

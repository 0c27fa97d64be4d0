//! Workload identity as a SPIFFE ID: `spiffe://<trust-domain>/ns/<namespace>/sa/<account>`.
//!
//! The parser is deliberately strict (a subset of the SPIFFE spec): peers are authorized by
//! comparing these strings, so two spellings of one identity (percent-encoding, `..`, empty
//! segments, trailing slashes, upper-case trust domains) must not both be accepted.

use std::fmt;

/// The longest SPIFFE ID the spec allows.
const MAX_SPIFFE_ID_LEN: usize = 2048;
const SCHEME: &str = "spiffe://";

/// Who a workload is: the subject of its certificate and of authorization policies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub trust_domain: String,
    pub namespace: String,
    pub service_account: String,
}

/// Why a string is not a workload identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("{id:?} is not a SPIFFE ID: it must start with \"spiffe://\"")]
    NotSpiffe { id: String },
    #[error("SPIFFE ID is {len} bytes long; the limit is {MAX_SPIFFE_ID_LEN}")]
    TooLong { len: usize },
    #[error(
        "trust domain {domain:?} is invalid: use lower-case letters, digits, '.', '-' and '_' \
         (for example \"cluster.local\")"
    )]
    BadTrustDomain { domain: String },
    #[error(
        "SPIFFE ID {id:?} must have the form spiffe://<trust-domain>/ns/<namespace>/sa/<account>"
    )]
    BadPath { id: String },
    #[error(
        "{what} {value:?} is invalid: use letters, digits, '.', '-' and '_' (not empty, not \".\" or \"..\")"
    )]
    BadSegment { what: &'static str, value: String },
}

impl Identity {
    /// Builds an identity, checking each part as [`Identity::from_spiffe_id`] would.
    pub fn new(
        trust_domain: impl Into<String>,
        namespace: impl Into<String>,
        service_account: impl Into<String>,
    ) -> Result<Self, IdentityError> {
        let id = Self {
            trust_domain: trust_domain.into(),
            namespace: namespace.into(),
            service_account: service_account.into(),
        };
        check_trust_domain(&id.trust_domain)?;
        check_segment("namespace", &id.namespace)?;
        check_segment("service account", &id.service_account)?;
        Ok(id)
    }

    /// The URI that goes into the certificate's SAN.
    pub fn spiffe_id(&self) -> String {
        format!(
            "{SCHEME}{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }

    /// Parses exactly `spiffe://td/ns/X/sa/Y`; anything else is an error.
    pub fn from_spiffe_id(id: &str) -> Result<Self, IdentityError> {
        if id.len() > MAX_SPIFFE_ID_LEN {
            return Err(IdentityError::TooLong { len: id.len() });
        }
        let rest = id
            .strip_prefix(SCHEME)
            .ok_or_else(|| IdentityError::NotSpiffe { id: id.to_string() })?;
        let bad_path = || IdentityError::BadPath { id: id.to_string() };
        let (domain, path) = rest.split_once('/').ok_or_else(bad_path)?;
        check_trust_domain(domain)?;
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["ns", ns, "sa", sa] => Self::new(domain, *ns, *sa),
            _ => Err(bad_path()),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spiffe_id())
    }
}

/// Checks a trust domain as SPIFFE IDs and CA files must spell it.
pub fn check_trust_domain(domain: &str) -> Result<(), IdentityError> {
    // No ports, user info or upper case: the SPIFFE spec forbids them in trust domains.
    let ok = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::BadTrustDomain {
            domain: domain.to_string(),
        })
    }
}

fn check_segment(what: &'static str, value: &str) -> Result<(), IdentityError> {
    let ok = !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::BadSegment {
            what,
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() -> Result<(), IdentityError> {
        let id = Identity::new("cluster.local", "default", "reviews")?;
        assert_eq!(
            id.spiffe_id(),
            "spiffe://cluster.local/ns/default/sa/reviews"
        );
        assert_eq!(Identity::from_spiffe_id(&id.spiffe_id())?, id);
        Ok(())
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "http://cluster.local/ns/a/sa/b",
            "spiffe://",
            "spiffe://cluster.local",
            "spiffe://cluster.local/",
            "spiffe://cluster.local/ns/a/sa/b/",
            "spiffe://cluster.local/ns/a/sa/b/extra",
            "spiffe://cluster.local/ns//sa/b",
            "spiffe://cluster.local/ns/a/sa/",
            "spiffe:///ns/a/sa/b",
            "spiffe://Cluster.local/ns/a/sa/b",
            "spiffe://cluster.local:443/ns/a/sa/b",
            "spiffe://user@cluster.local/ns/a/sa/b",
            "spiffe://cluster.local/ns/../sa/b",
            "spiffe://cluster.local/ns/a%2Fb/sa/c",
            "spiffe://cluster.local/sa/b/ns/a",
            "spiffe://cluster.local/ns/a/sa/b?x=1",
            "spiffe://cluster.local/ns/a/sa/b#frag",
            "SPIFFE://cluster.local/ns/a/sa/b",
        ] {
            assert!(Identity::from_spiffe_id(bad).is_err(), "accepted {bad:?}");
        }
        let long = format!("spiffe://td/ns/a/sa/{}", "b".repeat(MAX_SPIFFE_ID_LEN));
        assert!(matches!(
            Identity::from_spiffe_id(&long),
            Err(IdentityError::TooLong { .. })
        ));
    }
}

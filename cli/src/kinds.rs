//! Kind names on the command line, as kubectl takes Istio's: `VirtualService`,
//! `virtualservices`, `vs`, `virtualservice.networking.istio.io`.

use mesh_api::istio::Kind;

/// The API group of a kind.
pub fn group(kind: Kind) -> &'static str {
    match kind {
        Kind::PeerAuthentication | Kind::AuthorizationPolicy => "security.istio.io",
        _ => "networking.istio.io",
    }
}

/// Istio's CRD short name.
pub fn short(kind: Kind) -> &'static str {
    match kind {
        Kind::VirtualService => "vs",
        Kind::DestinationRule => "dr",
        Kind::Gateway => "gw",
        Kind::ServiceEntry => "se",
        Kind::PeerAuthentication => "pa",
        Kind::AuthorizationPolicy => "ap",
    }
}

/// The plural, lower case (`serviceentries`, `gateways`).
pub fn plural(kind: Kind) -> String {
    let lower = kind.as_str().to_lowercase();
    match lower.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{lower}s"),
    }
}

/// `virtualservice.networking.istio.io/reviews`, as kubectl prints resources.
pub fn qualified(kind: Kind, name: &str) -> String {
    format!("{}.{}/{name}", kind.as_str().to_lowercase(), group(kind))
}

/// Parses a kind as kubectl would; for clap's `value_parser`.
pub fn parse(s: &str) -> Result<Kind, String> {
    let l = s.to_lowercase();
    let bare = l
        .split_once('.')
        .map(|(k, _)| k.to_string())
        .unwrap_or_else(|| l.clone());
    Kind::ALL
        .into_iter()
        .find(|k| {
            let name = k.as_str().to_lowercase();
            bare == name || bare == plural(*k) || l == short(*k)
        })
        .ok_or_else(|| {
            let valid: Vec<String> = Kind::ALL
                .iter()
                .map(|k| format!("{} ({})", k.as_str(), short(*k)))
                .collect();
            format!("unknown kind; use one of: {}", valid.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_are_istios_resource_names() {
        let all: Vec<String> = Kind::ALL.into_iter().map(plural).collect();
        assert_eq!(
            all,
            [
                "virtualservices",
                "destinationrules",
                "gateways",
                "serviceentries",
                "peerauthentications",
                "authorizationpolicies"
            ]
        );
        assert_eq!(parse("gateways"), Ok(Kind::Gateway));
    }

    #[test]
    fn parses_kubectl_spellings() {
        for s in [
            "VirtualService",
            "virtualservices",
            "vs",
            "virtualservice.networking.istio.io",
        ] {
            assert_eq!(parse(s), Ok(Kind::VirtualService), "{s}");
        }
        assert_eq!(parse("serviceentries"), Ok(Kind::ServiceEntry));
        assert_eq!(
            parse("authorizationpolicies"),
            Ok(Kind::AuthorizationPolicy)
        );
        assert_eq!(parse("ap"), Ok(Kind::AuthorizationPolicy));
        assert!(parse("pods")
            .expect_err("unknown")
            .contains("VirtualService (vs)"));
    }
}

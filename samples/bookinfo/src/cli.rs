//! The command line: one subcommand per Bookinfo service, each with `--listen` and
//! `--version`. Everything else (upstream names, proxy, instance name) comes from the
//! environment; see [`crate::env`].

use std::net::SocketAddr;

use clap::{Parser, Subcommand, ValueEnum};

/// Istio's Bookinfo sample, one service per subcommand.
#[derive(Parser, Debug)]
#[command(
    name = "bookinfo",
    about = "Istio's Bookinfo sample application: productpage, details, reviews v1/v2/v3, ratings",
    long_about = "Istio's Bookinfo sample application: productpage, details, reviews v1/v2/v3, ratings.\n\n\
        Services call each other by name (http://reviews:9080, ...) through HTTP_PROXY when it is \
        set (the local platform's sidecar); DETAILS_HOSTNAME, REVIEWS_HOSTNAME, RATINGS_HOSTNAME, \
        SERVICES_DOMAIN and the *_SERVICE_PORT variables point them elsewhere (no mesh).",
    after_help = "Examples:\n  \
        bookinfo ratings --listen 127.0.0.1:9083\n  \
        RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT=9083 bookinfo reviews --version v2 --listen 127.0.0.1:9082\n  \
        HTTP_PROXY=http://127.0.0.1:15001 bookinfo productpage"
)]
pub struct Cli {
    #[command(subcommand)]
    pub service: Service,
}

/// Which Bookinfo service this process is.
#[derive(Subcommand, Debug, Clone)]
pub enum Service {
    /// The web front end: /productpage, /api/v1/products/..., /login, /logout. Calls details,
    /// reviews (3 s timeout, one retry) and ratings.
    Productpage(ServeArgs),
    /// Book details: /details/<id>.
    Details(ServeArgs),
    /// Book reviews: /reviews/<id>. v1 shows no stars, v2 black stars, v3 red stars (v2 and
    /// v3 ask ratings).
    Reviews(ServeArgs),
    /// Book ratings: GET and POST /ratings/<id>.
    Ratings(ServeArgs),
}

impl Service {
    /// The service name, as Kubernetes and the mesh know it.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Productpage(_) => "productpage",
            Service::Details(_) => "details",
            Service::Reviews(_) => "reviews",
            Service::Ratings(_) => "ratings",
        }
    }

    pub fn args(&self) -> &ServeArgs {
        match self {
            Service::Productpage(a)
            | Service::Details(a)
            | Service::Reviews(a)
            | Service::Ratings(a) => a,
        }
    }

    /// The versions Bookinfo has of this service. Istio's other versions (details v2 calling
    /// Google Books, ratings v2 reading a database) are not part of this sample.
    pub fn versions(&self) -> &'static [Version] {
        match self {
            Service::Reviews(_) => &[Version::V1, Version::V2, Version::V3],
            _ => &[Version::V1],
        }
    }

    /// Checks `--version` against [`Self::versions`], with a message saying which exist.
    pub fn check_version(&self) -> Result<Version, String> {
        let v = self.args().version;
        if self.versions().contains(&v) {
            return Ok(v);
        }
        let valid: Vec<&str> = self.versions().iter().map(|v| v.as_str()).collect();
        Err(format!(
            "{} has no version {}; use --version {}",
            self.name(),
            v.as_str(),
            valid.join(" or ")
        ))
    }
}

/// Flags every service takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// The address to listen on. Kubernetes manifests pass 0.0.0.0:9080.
    #[arg(long, env = "BOOKINFO_LISTEN", default_value = "127.0.0.1:9080")]
    pub listen: SocketAddr,
    /// The service version (the `version` label): v1, v2 or v3 for reviews, v1 otherwise.
    #[arg(long, env = "BOOKINFO_VERSION", value_enum, default_value_t = Version::V1)]
    pub version: Version,
}

/// A Bookinfo version label.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    V3,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn reviews_takes_three_versions_others_one() {
        let cli = Cli::try_parse_from(["bookinfo", "reviews", "--version", "v3"]).expect("parse");
        assert_eq!(cli.service.check_version(), Ok(Version::V3));
        let cli = Cli::try_parse_from(["bookinfo", "details", "--version", "v2"]).expect("parse");
        let err = cli.service.check_version().expect_err("details has no v2");
        assert!(err.contains("use --version v1"), "{err}");
        assert!(Cli::try_parse_from(["bookinfo", "reviews", "--version", "v4"]).is_err());
    }

    #[test]
    fn listen_defaults_to_loopback() {
        let cli = Cli::try_parse_from(["bookinfo", "ratings"]).expect("parse");
        assert_eq!(cli.service.args().listen.to_string(), "127.0.0.1:9080");
    }
}

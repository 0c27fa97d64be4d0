//! The sample applications `meshctl samples` runs in the mesh, as values: which workloads
//! each has, its program and how each workload is started. Where each workload runs (the
//! local platform's address plan) is the platform's business
//! ([`crate::platform::local::samples`]); [`traffic`] is `meshctl samples traffic`'s load
//! generator.

pub mod traffic;

use std::net::SocketAddr;

/// One sample application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Its name on the command line (`bookinfo`).
    pub name: &'static str,
    /// The program every workload runs (one process per workload).
    pub program: &'static str,
    /// The namespace its workloads are in.
    pub namespace: &'static str,
    /// The port every service of the sample serves (the Kubernetes Service port).
    pub port: u16,
    /// Its workloads, in deploy order: the services others call come first, the front end
    /// last, so the page works once its workload is reported deployed.
    pub workloads: &'static [SampleWorkload],
    /// Variables every workload's app gets on top of those the platform sets.
    pub app_env: &'static [(&'static str, &'static str)],
}

/// One workload of a sample: a service at one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleWorkload {
    /// The service (`reviews`).
    pub service: &'static str,
    /// Its version label (`v2`).
    pub version: &'static str,
}

impl SampleWorkload {
    /// `reviews-v2`: the workload's name, as Kubernetes' Deployment is called.
    pub fn name(&self) -> String {
        format!("{}-{}", self.service, self.version)
    }

    /// `reviews-v2-0`: its one instance (the pod name; the proxy id is `<this>.<namespace>`).
    pub fn instance(&self) -> String {
        format!("{}-0", self.name())
    }
}

/// Istio's Bookinfo ([`samples/bookinfo`](../../../samples/bookinfo/README.md)).
pub const BOOKINFO: Sample = Sample {
    name: "bookinfo",
    program: "bookinfo",
    namespace: "default",
    port: 9080,
    workloads: &[
        SampleWorkload {
            service: "details",
            version: "v1",
        },
        SampleWorkload {
            service: "ratings",
            version: "v1",
        },
        SampleWorkload {
            service: "reviews",
            version: "v1",
        },
        SampleWorkload {
            service: "reviews",
            version: "v2",
        },
        SampleWorkload {
            service: "reviews",
            version: "v3",
        },
        SampleWorkload {
            service: "productpage",
            version: "v1",
        },
    ],
    app_env: &[("BOOKINFO_LOG", "info")],
};

/// Every sample.
pub const ALL: [Sample; 1] = [BOOKINFO];

/// The samples' names, for the command line.
pub const NAMES: [&str; 1] = [BOOKINFO.name];

/// The sample called `name`.
pub fn find(name: &str) -> Option<Sample> {
    ALL.into_iter().find(|s| s.name == name)
}

impl Sample {
    /// The service account of `w`'s service: `bookinfo-reviews`, as the Kubernetes manifest
    /// names it (so the SPIFFE IDs agree across platforms).
    pub fn service_account(&self, w: &SampleWorkload) -> String {
        format!("{}-{}", self.name, w.service)
    }

    /// The app's arguments: `reviews --version v2 --listen ADDR`.
    pub fn app_args(&self, w: &SampleWorkload, listen: SocketAddr) -> Vec<String> {
        vec![
            w.service.to_string(),
            "--version".into(),
            w.version.to_string(),
            "--listen".into(),
            listen.to_string(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookinfo_has_istios_six_workloads() {
        let names: Vec<String> = BOOKINFO.workloads.iter().map(|w| w.name()).collect();
        assert_eq!(
            names,
            [
                "details-v1",
                "ratings-v1",
                "reviews-v1",
                "reviews-v2",
                "reviews-v3",
                "productpage-v1"
            ]
        );
        let w = BOOKINFO.workloads[3];
        assert_eq!(w.instance(), "reviews-v2-0");
        assert_eq!(BOOKINFO.service_account(&w), "bookinfo-reviews");
        let listen = "127.0.10.4:9080".parse().expect("addr");
        assert_eq!(
            BOOKINFO.app_args(&w, listen),
            ["reviews", "--version", "v2", "--listen", "127.0.10.4:9080"]
        );
        assert_eq!(find("bookinfo"), Some(BOOKINFO));
        assert_eq!(find("nope"), None);
    }
}

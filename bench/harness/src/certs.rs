//! `mesh-bench certs`: a throwaway CA and SPIFFE workload certificates for benchmarks.
//!
//! The CA is the control plane's own (`mesh_controlplane::ca::Ca::ephemeral`, never written
//! anywhere but its certificate) and the workload keys and CSRs are the proxy's
//! (`WorkloadKey`), so the certificates are exactly what a mesh issues: an ECDSA P-256 leaf
//! whose only name is `spiffe://<trust-domain>/ns/<namespace>/sa/<name>`.
//!
//! Files written into `--dir` (which must exist), ready for `mesh-proxy run --cert-chain
//! --key --trust-bundle`:
//! - `ca.pem`: the trust bundle (the root);
//! - `<name>-chain.pem`: the workload's chain, leaf first;
//! - `<name>-key.pem`: its PKCS#8 private key (0600).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use mesh_controlplane::ca::{Ca, Identity, WorkloadKey};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Existing directory to write the PEM files into (files already there are overwritten).
    #[arg(long)]
    dir: PathBuf,
    /// Trust domain of the CA and of every SPIFFE ID.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// Namespace of every SPIFFE ID.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// A workload certificate to issue, named by its service account (repeatable).
    #[arg(long = "sa", required = true)]
    service_accounts: Vec<String>,
    /// Lifetime of the workload certificates, in hours.
    #[arg(long, default_value_t = 24)]
    ttl_hours: u64,
    /// Print one JSON object (the files and SPIFFE IDs) instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Written {
    trust_bundle: PathBuf,
    workloads: Vec<Workload>,
}

#[derive(Debug, Serialize)]
struct Workload {
    service_account: String,
    spiffe_id: String,
    cert_chain: PathBuf,
    key: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let written = issue(&args)?;
    if args.json {
        println!("{}", serde_json::to_string(&written)?);
    } else {
        println!("trust bundle {}", written.trust_bundle.display());
        for w in &written.workloads {
            println!(
                "{}  chain {}  key {}",
                w.spiffe_id,
                w.cert_chain.display(),
                w.key.display()
            );
        }
    }
    Ok(())
}

fn issue(args: &Args) -> anyhow::Result<Written> {
    anyhow::ensure!(
        args.dir.is_dir(),
        "{} is not a directory; create it first",
        args.dir.display()
    );
    anyhow::ensure!(args.ttl_hours > 0, "--ttl-hours must be at least 1");
    let ca = Ca::ephemeral(&args.trust_domain)
        .with_context(|| format!("could not create a CA for {:?}", args.trust_domain))?;
    let trust_bundle = args.dir.join("ca.pem");
    write_file(&trust_bundle, ca.trust_bundle_pem().as_bytes(), 0o644)?;
    let ttl = Duration::from_secs(args.ttl_hours * 3600);
    let mut workloads = Vec::new();
    for sa in &args.service_accounts {
        let id = Identity::new(ca.trust_domain(), &args.namespace, sa)
            .with_context(|| format!("--sa {sa:?} is not a usable service account name"))?;
        let key = WorkloadKey::generate().context("could not generate a workload key")?;
        let csr = key.csr_pem(&id).context("could not build a CSR")?;
        let issued = ca
            .sign_csr(&csr, &id, ttl)
            .with_context(|| format!("the CA would not sign {}", id.spiffe_id()))?;
        let cert_chain = args.dir.join(format!("{sa}-chain.pem"));
        let key_path = args.dir.join(format!("{sa}-key.pem"));
        write_file(&cert_chain, issued.chain_pem.as_bytes(), 0o644)?;
        write_file(&key_path, key.private_key_pem().as_bytes(), 0o600)?;
        workloads.push(Workload {
            service_account: sa.clone(),
            spiffe_id: issued.spiffe_id,
            cert_chain,
            key: key_path,
        });
    }
    Ok(Written {
        trust_bundle,
        workloads,
    })
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("could not write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_controlplane::ca::{x509, TrustBundle};

    #[test]
    fn issues_spiffe_certs_that_chain_to_the_bundle() {
        let dir = std::env::temp_dir().join(format!("mesh-bench-certs-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let args = Args {
            dir: dir.clone(),
            trust_domain: "cluster.local".into(),
            namespace: "default".into(),
            service_accounts: vec!["client".into(), "server".into()],
            ttl_hours: 1,
            json: false,
        };
        let written = issue(&args).expect("issued");
        let bundle = fs::read_to_string(&written.trust_bundle).expect("bundle");
        TrustBundle::from_pem(&bundle).expect("a usable trust bundle");
        let ids: Vec<_> = written
            .workloads
            .iter()
            .map(|w| {
                let chain = fs::read_to_string(&w.cert_chain).expect("chain");
                let certs = x509::certs_from_pem(&chain).expect("pem");
                let id = x509::spiffe_id_of(&certs[0]).expect("a SPIFFE SAN");
                assert!(fs::read_to_string(&w.key)
                    .expect("key")
                    .contains("PRIVATE KEY"));
                id
            })
            .collect();
        assert_eq!(
            ids,
            [
                "spiffe://cluster.local/ns/default/sa/client",
                "spiffe://cluster.local/ns/default/sa/server"
            ]
        );
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}

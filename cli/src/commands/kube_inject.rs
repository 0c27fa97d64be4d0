//! `meshctl kube-inject -f FILE|- [-o FILE]`: adds the mesh sidecar to every pod template of a
//! Kubernetes YAML file (or, with `--uninject`, takes it out), as `istioctl kube-inject` does.
//! The transform is `mesh_inject`'s; this module only picks its options (the `--profile` with
//! `--set`, then the flags), streams the input through it, and makes the output all or
//! nothing: the result goes to a temporary file that is renamed over `-o` (or copied to
//! stdout) only once every document succeeded. Skips are one-line warnings on stderr.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::builder::PossibleValuesParser;
use mesh_inject::{InjectOptions, TemplateOutcome};

use super::install::ValuesArgs;
use super::Interrupted;
use crate::profile::NAMES;

const EXAMPLES: &str = "\
Examples:
  meshctl kube-inject -f deployment.yaml -o deployment-injected.yaml
  kubectl get deploy web -o yaml | meshctl kube-inject -f - | kubectl apply -f -
  meshctl kube-inject -f app.yaml --proxy-image registry.example.com/mesh-proxy:1.0
  meshctl kube-inject -f app.yaml --set values.controlPlane.xdsTlsPort=25012
  meshctl kube-inject --uninject -f deployment-injected.yaml -o deployment.yaml

Exit codes: 0 done (skipped workloads are warnings on stderr), 1 the input cannot be
injected (the message names file:line:column, or the workload and annotation; nothing is
written), 2 usage error, 130 interrupted (no file left behind).";

/// `meshctl kube-inject`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The Kubernetes YAML (one or more documents), or - for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE|-")]
    pub filename: String,
    /// Write the result to FILE (replaced only when the whole input succeeded) instead of
    /// stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Remove the sidecar that injection added (ours or istioctl's) instead of adding it.
    #[arg(long)]
    pub uninject: bool,
    /// The install profile injected pods connect to (its control plane TLS port).
    #[arg(
        long,
        default_value = "default",
        value_parser = PossibleValuesParser::new(NAMES),
        conflicts_with = "uninject"
    )]
    pub profile: String,
    /// Set one value over the profile, as `meshctl install --set` (e.g.
    /// values.controlPlane.xdsTlsPort=25012). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "uninject")]
    pub sets: Vec<String>,
    /// The proxy image (it also runs the iptables init step, so it needs `iptables-restore`).
    /// Default: the profile's values.global.hub, values.global.proxy.image and
    /// values.global.tag (ghcr.io/meshctl/mesh-proxy at this meshctl's version).
    #[arg(long, value_name = "IMAGE", value_parser = parse_image, conflicts_with = "uninject")]
    pub proxy_image: Option<String>,
    /// The control plane as pods reach it. Default:
    /// mesh-controlplane.mesh-system.svc at the profile's values.controlPlane.xdsTlsPort.
    #[arg(
        long,
        value_name = "HOST:PORT",
        value_parser = parse_host_port,
        conflicts_with = "uninject"
    )]
    pub control_plane: Option<String>,
}

/// Runs `meshctl kube-inject`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let opts = if args.uninject {
        None
    } else {
        Some(options(&args)?)
    };
    // Listening before the temporary file exists, so that no signal can leave it behind.
    let stop = super::interrupted()?;
    let (name, input) = open_input(&args.filename)?;
    let out = Output::create(args.output.as_deref())?;
    let writer = out.writer()?;

    // The transform runs on its own thread so that Ctrl-C is noticed even while it waits on
    // stdin; returning then drops `out`, which deletes the temporary file.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(transform(&name, input, writer, opts.as_ref()));
    });
    let result = tokio::select! {
        r = rx => r.context("the injection thread stopped unexpectedly")?,
        _ = stop => return Err(Interrupted(format!("interrupted; {}", out.nothing_written())).into()),
    };
    if let Err(e) = result {
        bail!("{e}\n{}", out.nothing_written());
    }
    out.commit()
}

/// The library's options: the profile's (image, control plane port, sidecar resources, as
/// `manifest generate` renders them), then the flags.
fn options(args: &Args) -> anyhow::Result<InjectOptions> {
    let values = ValuesArgs {
        sets: args.sets.clone(),
        files: Vec::new(),
    };
    let spec = values.merge(&args.profile)?;
    let mut opts = crate::manifest::inject_options(&spec);
    if let Some(addr) = &args.control_plane {
        opts.control_plane = addr.clone();
    }
    if let Some(image) = &args.proxy_image {
        opts.proxy_image = image.clone();
    }
    Ok(opts)
}

/// The input as a buffered reader, and the name errors give it.
fn open_input(arg: &str) -> anyhow::Result<(String, Box<dyn BufRead + Send>)> {
    if arg == "-" {
        return Ok(("<stdin>".into(), Box::new(BufReader::new(std::io::stdin()))));
    }
    let path = Path::new(arg);
    if path.is_dir() {
        bail!("{arg} is a directory; kube-inject takes one file (or - for stdin)");
    }
    let file = File::open(path).with_context(|| format!("cannot open {arg}"))?;
    Ok((arg.to_string(), Box::new(BufReader::new(file))))
}

/// Streams `input` through injection (or uninjection) into `output`, printing each
/// template's warnings on stderr as they come.
fn transform(
    name: &str,
    input: Box<dyn BufRead + Send>,
    output: BufWriter<File>,
    opts: Option<&InjectOptions>,
) -> Result<(), mesh_inject::InjectError> {
    let mut report = |t: TemplateOutcome| {
        for w in t.warnings() {
            eprintln!("warning: {w}");
        }
    };
    match opts {
        Some(opts) => mesh_inject::inject_stream(name, input, output, opts, &mut report),
        None => mesh_inject::uninject_stream(name, input, output, &mut report),
    }
}

/// Where the result goes until it is complete: a temporary file next to `-o` (renamed over
/// it on success) or an anonymous one (copied to stdout on success). Dropped, it leaves
/// nothing behind.
enum Output {
    File {
        temp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    Stdout(File),
}

impl Output {
    fn create(target: Option<&Path>) -> anyhow::Result<Output> {
        let Some(target) = target else {
            let spool = tempfile::tempfile().context(
                "cannot create a temporary file for the output (check TMPDIR), or write to a \
                 file with -o",
            )?;
            return Ok(Output::Stdout(spool));
        };
        if target.is_dir() {
            bail!(
                "-o {} is a directory; name the file to write",
                target.display()
            );
        }
        // Through a symlink, replace the file it points to, not the link.
        let target = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let prefix = format!(
            ".{}.",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(&dir)
            .with_context(|| {
                format!(
                    "cannot create a temporary file in {} (next to -o {}); check that the \
                     directory exists and is writable",
                    dir.display(),
                    target.display()
                )
            })?;
        temp.as_file()
            .set_permissions(permissions_for(&target))
            .with_context(|| format!("cannot set permissions on {}", temp.path().display()))?;
        Ok(Output::File { temp, target })
    }

    /// A second handle on the temporary file, for the worker thread.
    fn writer(&self) -> anyhow::Result<BufWriter<File>> {
        let file = match self {
            Output::File { temp, .. } => temp.as_file(),
            Output::Stdout(spool) => spool,
        };
        let file = file
            .try_clone()
            .context("cannot open the temporary output file")?;
        Ok(BufWriter::new(file))
    }

    /// What an error message adds about the output.
    fn nothing_written(&self) -> String {
        match self {
            Output::File { target, .. } => format!("nothing was written to {}", target.display()),
            Output::Stdout(_) => "nothing was written".into(),
        }
    }

    /// Puts the complete result in place.
    fn commit(self) -> anyhow::Result<()> {
        match self {
            Output::File { temp, target } => {
                temp.persist(&target)
                    .with_context(|| format!("cannot write {}", target.display()))?;
                Ok(())
            }
            Output::Stdout(mut spool) => {
                spool
                    .rewind()
                    .context("cannot read back the temporary output file")?;
                let mut stdout = std::io::stdout().lock();
                match std::io::copy(&mut spool, &mut stdout).and_then(|_| stdout.flush()) {
                    Ok(()) => Ok(()),
                    // The reader stopped reading (`| head`): not an error.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    Err(e) => Err(e).context("cannot write to stdout"),
                }
            }
        }
    }
}

/// The mode the written file gets: an existing file's own, else what a new file gets under
/// the umask (a temporary file starts private).
fn permissions_for(target: &Path) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(target) {
        return meta.permissions();
    }
    let mask = rustix::process::umask(rustix::fs::Mode::empty());
    rustix::process::umask(mask);
    std::fs::Permissions::from_mode(0o666 & !mask.bits())
}

/// `--proxy-image`: a non-empty image reference without spaces.
fn parse_image(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(format!(
            "{s:?} is not an image reference; use e.g. registry.example.com/mesh-proxy:1.0"
        ));
    }
    Ok(s.to_string())
}

/// `--control-plane`: HOST:PORT with a port from 1 to 65535.
fn parse_host_port(s: &str) -> Result<String, String> {
    let ok = s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !host.chars().any(char::is_whitespace)
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if !ok {
        return Err(format!(
            "{s:?} is not HOST:PORT; use e.g. mesh-controlplane.mesh-system.svc:15012"
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_are_checked() {
        assert!(parse_image("ghcr.io/meshctl/mesh-proxy:1").is_ok());
        assert!(parse_image("").is_err());
        assert!(parse_image("a b").is_err());
        assert!(parse_host_port("cp.mesh-system.svc:15012").is_ok());
        assert!(parse_host_port("[::1]:15012").is_ok());
        for bad in ["cp", ":15012", "cp:0", "cp:x", "cp:70000"] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }

    fn args(sets: &[&str], control_plane: Option<&str>) -> Args {
        Args {
            filename: "-".into(),
            output: None,
            uninject: false,
            profile: "default".into(),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            proxy_image: None,
            control_plane: control_plane.map(String::from),
        }
    }

    #[test]
    fn the_control_plane_port_comes_from_the_profile_and_set() {
        let default = options(&args(&[], None)).expect("options");
        assert_eq!(default, InjectOptions::default());
        let moved =
            options(&args(&["values.controlPlane.xdsTlsPort=25012"], None)).expect("options");
        assert_eq!(
            moved.control_plane,
            "mesh-controlplane.mesh-system.svc:25012"
        );
        let flag = options(&args(
            &["values.controlPlane.xdsTlsPort=25012"],
            Some("cp.example:443"),
        ))
        .expect("options");
        assert_eq!(flag.control_plane, "cp.example:443");
        let bad = options(&args(&["values.controlPlane.xdsTlsPort=nope"], None));
        assert!(bad.is_err());
    }
}

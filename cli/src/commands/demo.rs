//! `meshctl demo`: the quickstart in one command, on the local platform. It installs the
//! `demo` profile (`meshctl install --profile demo`, with its confirmation), deploys Bookinfo
//! (`meshctl samples deploy bookinfo`), applies Bookinfo's gateway, its DestinationRules and
//! a canary for reviews (80% v1, 20% v2), sends `GET /productpage` through the ingress
//! gateway in the background (`meshctl samples traffic`, in this process), and opens the live
//! dashboard (`meshctl dashboard`) when stdout is a terminal, or else (or with
//! `--no-dashboard`) prints `meshctl stat`'s table every `--interval`, until `q` / Ctrl-C or
//! `--duration`. Then it stops its
//! traffic and leaves the mesh running, as istioctl's and linkerd's demos do, so the other
//! commands have something to show.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use anyhow::bail;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::install::{self, ValuesArgs};
use super::samples::{self as samples_cmd, DeployArgs};
use super::stat::{self, Window};
use super::{apply, Exit, Interrupted};
use crate::cli::GlobalArgs;
use crate::client::ApiClient;
use crate::manifests::Input;
use crate::output::Style;
use crate::platform::local::samples::FIRST_IP;
use crate::platform::Platform;
use crate::samples::{traffic, BOOKINFO};
use crate::ui::Step;

const EXAMPLES: &str = "\
Examples:
  meshctl demo                                  # asks, then runs until Ctrl-C
  meshctl demo -y --duration 1m                 # no prompt; stops after a minute
  meshctl demo -y --rps 50 --interval 2s
  meshctl demo --set values.ingressGateway.port=9080 --first-ip 127.0.20.1
Steps: install the demo profile, deploy Bookinfo, apply its gateway, DestinationRules and a
reviews canary (80% v1, 20% v2), send traffic through the ingress gateway, open the live
dashboard on a terminal (q quits it) or else print `meshctl stat` every --interval.
Quitting, Ctrl-C or --duration stops the traffic and leaves the mesh
running: look further with `meshctl proxy-status` and `meshctl stat`; remove everything with
`meshctl uninstall --purge -y`.";

/// The profile the demo installs.
const PROFILE: &str = "demo";

/// What the demo applies, in order: what it is, the file's path in this repository (the name
/// diagnostics show), its text. Embedded, so the demo runs from any directory. The canary is
/// 80/20 rather than 90/10 so that reviews-v2's share shows in the very first tables at a
/// few requests per second.
const ROUTING: [(&str, &str, &str); 3] = [
    (
        "Bookinfo's gateway",
        "samples/bookinfo/networking/bookinfo-gateway.yaml",
        include_str!("../../../samples/bookinfo/networking/bookinfo-gateway.yaml"),
    ),
    (
        "a subset per version",
        "samples/bookinfo/networking/destination-rule-all.yaml",
        include_str!("../../../samples/bookinfo/networking/destination-rule-all.yaml"),
    ),
    (
        "the canary: reviews 80% v1, 20% v2",
        "samples/bookinfo/networking/virtual-service-reviews-80-20.yaml",
        include_str!("../../../samples/bookinfo/networking/virtual-service-reviews-80-20.yaml"),
    ),
];

/// The page the traffic asks for.
const PAGE: &str = "/productpage";

/// `meshctl demo`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Values over the demo profile, as `meshctl install` takes them.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(short = 'y', long = "skip-confirmation", visible_alias = "yes")]
    pub yes: bool,
    /// How long each component and workload gets to become ready, and the page to answer
    /// through the ingress gateway.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: mesh_api::Duration,
    /// Local platform: Bookinfo's first workload address (as `samples deploy --first-ip`).
    #[arg(long, value_name = "IP", default_value_t = FIRST_IP)]
    pub first_ip: Ipv4Addr,
    /// Requests per second sent to the product page.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rps: u32,
    /// Print `meshctl stat` tables instead of opening the dashboard (the default without a
    /// terminal).
    #[arg(long)]
    pub no_dashboard: bool,
    /// How often the stat table is printed.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub interval: mesh_api::Duration,
    /// Stop after this long (default: run until Ctrl-C, with or without a terminal).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<mesh_api::Duration>,
    /// The window the stat table's numbers cover.
    #[arg(long, value_enum, default_value = "10s")]
    pub window: Window,
}

/// Runs `meshctl demo`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    if args.interval.as_std().is_zero() {
        return Err(Exit {
            code: 2,
            message: "--interval must be longer than 0 (e.g. 5s)".into(),
        }
        .into());
    }
    let install = install::Args {
        profile: PROFILE.into(),
        values: args.values.clone(),
        yes: args.yes,
        dry_run: false,
        timeout: args.timeout,
    };
    install::install(g, &install, false).await?;
    // From here on Ctrl-C ends the demo (install listened for it while it ran).
    let stop = super::interrupted()?;
    tokio::pin!(stop);
    let deploy = DeployArgs {
        name: BOOKINFO.name.into(),
        first_ip: args.first_ip,
        timeout: args.timeout,
    };
    samples_cmd::deploy(g, deploy, false).await?;
    let platform = super::platform(g, super::API_TIMEOUT)?;
    let ingress = match platform.ingress() {
        Ok(addr) => addr,
        Err(e) => {
            crate::outln!("{}", Style::stdout().fail(&e.to_string()));
            bail!(
                "the demo sends its traffic through the ingress gateway; do not switch it off                  (--set components.ingressGateway.enabled=false)"
            );
        }
    };
    let log = platform.state().log_file("ingressGateway");
    let setup = async {
        route(g).await?;
        wait_for_page(ingress, args.timeout.as_std(), &log.display().to_string()).await
    };
    tokio::select! {
        r = setup => r?,
        _ = &mut stop => {
            return Err(Interrupted(
                "interrupted: the mesh and Bookinfo stay installed; run `meshctl demo` again, \
                 or remove them with `meshctl uninstall --purge -y`"
                    .into(),
            )
            .into())
        }
    }
    watch(g, &args, ingress, stop).await?;
    next_steps(ingress);
    Ok(())
}

/// Applies [`ROUTING`], one file at a time, a line each.
async fn route(g: &GlobalArgs) -> anyhow::Result<()> {
    let style = Style::stdout();
    for (what, name, text) in ROUTING {
        let step = Step::start(&format!("Applying {what}"));
        let input = Input {
            name: name.into(),
            text: text.into(),
        };
        match apply::apply(g, &[input]).await {
            Ok(lines) => step.ok(&format!(
                "Applied {what} {}",
                style.dim(&format!("({name}: {})", lines.join(", ")))
            )),
            Err(e) => {
                step.fail(&format!("{name}: {e:#}"));
                bail!(
                    "the demo's routing was not applied; check the control plane with `meshctl \
                     verify-install`, then run `meshctl demo` again"
                );
            }
        }
    }
    Ok(())
}

/// Waits until the product page answers 200 through the ingress gateway (the gateway gets
/// its routes a moment after they are applied).
async fn wait_for_page(ingress: SocketAddr, timeout: Duration, log: &str) -> anyhow::Result<()> {
    let url = format!("http://{ingress}{PAGE}");
    let step = Step::start(&format!("Waiting for {url}"));
    let client = ApiClient::named("the ingress gateway", ingress, Duration::from_secs(5));
    let deadline = Instant::now() + timeout;
    loop {
        let last = match client.get(PAGE).await {
            Ok(r) if r.status.is_success() => {
                step.ok(&format!("{url} answers through the ingress gateway"));
                return Ok(());
            }
            Ok(r) => format!("it answered {}", r.status),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            step.fail(&format!(
                "{url} did not answer 200 within {} s: {last}",
                timeout.as_secs()
            ));
            bail!(
                "check that istio-ingressgateway and productpage are SYNCED (`meshctl \
                 proxy-status`) and read the gateway's log ({log}), then run `meshctl demo` again"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends the traffic and prints the stat table until Ctrl-C (`stop`) or `--duration`, then
/// sums the traffic up. Fails when no request succeeded.
async fn watch(
    g: &GlobalArgs,
    args: &Args,
    ingress: SocketAddr,
    stop: Pin<&mut impl Future<Output = ()>>,
) -> anyhow::Result<()> {
    let style = Style::stdout();
    let duration = args.duration.map(|d| d.as_std());
    // Without --duration the traffic runs until Ctrl-C; ten years stands for "no end".
    let opts = traffic::Options {
        target: ingress,
        path: PAGE.into(),
        rps: args.rps,
        duration: duration.unwrap_or(Duration::from_secs(10 * 365 * 24 * 3600)),
        user: None,
        timeout: Duration::from_secs(15),
    };
    let until = match args.duration {
        Some(d) => format!("for {d}"),
        None => "until Ctrl-C".into(),
    };
    crate::outln!(
        "{}",
        style.ok(&format!(
            "Sending GET http://{ingress}{PAGE} at {} rps through the ingress gateway {until}",
            args.rps
        ))
    );
    // A short timeout, so that a slow answer does not hold up Ctrl-C.
    let api = ApiClient::new(super::api(g)?.addr(), Duration::from_secs(5));
    // The traffic stops early only on Ctrl-C; at --duration it ends by itself.
    let (ctrl_c, ctrl_c_rx) = oneshot::channel::<()>();
    let traffic_stop = async move {
        if ctrl_c_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let dashboard = !args.no_dashboard && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let tables = async {
        let stopped = if dashboard {
            show_dashboard(api.addr(), args, duration, stop).await
        } else {
            print_tables(&api, args, duration, stop).await
        };
        if stopped {
            let _ = ctrl_c.send(());
        }
    };
    let (summary, ()) = tokio::join!(traffic::run(&opts, traffic_stop), tables);
    let summary = summary?;
    crate::outln!("{}", style.ok("Traffic stopped"));
    crate::out!("{}", summary.render(&opts));
    if summary.completed() > 0 && summary.succeeded() == 0 {
        crate::outln!("{}", style.fail("no request to the product page succeeded"));
        bail!(
            "check `meshctl proxy-status` and `meshctl verify-install`, then run `meshctl demo` \
             again"
        );
    }
    Ok(())
}

/// The live dashboard until it is quit or `stop` (true), or `duration` (false; leaving the
/// dashboard restores the terminal).
async fn show_dashboard(
    addr: SocketAddr,
    args: &Args,
    duration: Option<Duration>,
    stop: Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let mut opts = mesh_tui::DashboardOptions::new(addr);
    opts.window = args.window.as_str().parse().unwrap_or(opts.window);
    let deadline = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = mesh_tui::run(opts) => {
            if let Err(e) = r {
                eprintln!("meshctl: the dashboard stopped: {e}");
            }
            true
        }
        _ = stop => true,
        _ = deadline => false,
    }
}

/// Prints the stat table every `--interval` until `stop` (true) or `duration` (false).
async fn print_tables(
    api: &ApiClient,
    args: &Args,
    duration: Option<Duration>,
    mut stop: Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let style = Style::stdout();
    let interval = args.interval.as_std();
    let start = Instant::now();
    let end = duration.map(|d| start + d);
    let mut tick = tokio::time::interval_at(start + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let deadline = async {
            match end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => return true,
            _ = deadline => return false,
            _ = tick.tick() => {
                let secs = start.elapsed().as_secs();
                crate::outln!();
                crate::outln!(
                    "{}",
                    style.dim(&format!(
                        "meshctl stat --window {} ({secs}s of traffic; Ctrl-C stops)",
                        args.window.as_str()
                    ))
                );
                match stat::snapshot(api, args.window).await {
                    Ok(rows) if rows.is_empty() => crate::outln!("No workloads yet."),
                    Ok(rows) => crate::out!("{}", stat::render(&rows)),
                    // The next tick tries again; the traffic goes on.
                    Err(e) => crate::outln!("{}", style.dim(&format!("(no table: {e:#})"))),
                }
            }
        }
    }
}

/// Where to look once the demo is over; the mesh keeps running.
fn next_steps(ingress: SocketAddr) {
    crate::outln!(
        "The mesh and Bookinfo keep running. Look further:\n  \
         meshctl proxy-status                 # every proxy and whether its config is SYNCED\n  \
         meshctl stat                         # traffic per workload\n  \
         meshctl samples traffic --rps 20     # more traffic\n  \
         curl http://{ingress}{PAGE}\n  \
         meshctl uninstall --purge -y         # remove everything"
    );
}

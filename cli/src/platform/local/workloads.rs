//! Sample workloads on the local platform: each is two recorded processes, its app and its
//! sidecar ([`super::samples`] says what they run and where), started, kept, repaired and
//! stopped with the same machinery as the components (records, readiness, abort).

use std::net::{Ipv4Addr, SocketAddr};

use super::launch::{self, Launch};
use super::samples::{self, Addresses};
use super::{process, LocalPlatform};
use crate::platform::{
    Component, PlatformError, Problem, Stopped, WorkloadChange, WorkloadRemoved,
};
use crate::profile::MeshSpec;
use crate::samples::{Sample, SampleWorkload};

impl LocalPlatform {
    /// Moves the sample address plan to start at `first` (`--first-ip`); the error says
    /// why `first` cannot be used.
    pub fn set_first_ip(&mut self, first: Ipv4Addr, sample: &Sample) -> Result<(), String> {
        samples::plan(sample, first)?;
        self.first_ip = first;
        Ok(())
    }

    /// The installed spec, if the mesh is installed and its control plane runs; else what
    /// to do.
    fn mesh_spec(&self) -> Result<MeshSpec, PlatformError> {
        let root = self.state.root().display();
        let Some(install) = self.state.read_install()? else {
            return Err(PlatformError(format!(
                "the mesh is not installed in {root}; run `meshctl install` first (sample \
                 workloads need its control plane for their config and certificates)"
            )));
        };
        // Says what is wrong when the control plane is off or not running.
        crate::platform::Platform::control_plane(self)?;
        Ok(install.spec)
    }

    /// `w`'s addresses in the current plan.
    fn addresses(&self, sample: &Sample, w: &SampleWorkload) -> Result<Addresses, PlatformError> {
        samples::plan(sample, self.first_ip)
            .map_err(PlatformError)?
            .into_iter()
            .find(|(x, _)| x == w)
            .map(|(_, a)| a)
            .ok_or_else(|| PlatformError(format!("{} has no workload {}", sample.name, w.name())))
    }

    /// What runs for `w`: its app and its sidecar.
    fn workload_launches(
        &self,
        sample: &Sample,
        w: &SampleWorkload,
        spec: &MeshSpec,
    ) -> Result<[Launch; 2], PlatformError> {
        let a = self.addresses(sample, w)?;
        Ok(samples::launches(sample, w, &a, spec, self.state.root()))
    }

    pub(super) fn sample_problems(&self, sample: &Sample) -> Result<Vec<Problem>, PlatformError> {
        let spec = self.mesh_spec()?;
        // Every workload runs the same two programs: name each missing one once.
        let problems: Vec<Problem> = [sample.program, launch::PROXY_PROGRAM]
            .into_iter()
            .filter_map(|p| launch::find_program(p).err())
            .map(|message| Problem {
                component: None,
                message,
            })
            .collect();
        if !problems.is_empty() {
            return Ok(problems);
        }
        let mut problems = Vec::new();
        for w in sample.workloads {
            let problem = |message: String| Problem {
                component: None,
                message: format!("{}: {message}", w.name()),
            };
            for launch in self.workload_launches(sample, w, &spec)? {
                let Ok(argv) = Self::argv(&launch) else {
                    continue; // found above
                };
                let running = self
                    .state
                    .read_record(&launch.name)?
                    .filter(process::is_running);
                if running
                    .as_ref()
                    .is_some_and(|r| super::same(r, &launch, &argv))
                {
                    continue;
                }
                for (addr, flag, why) in Self::busy(&launch, running.as_ref()) {
                    problems.push(problem(format!(
                        "{addr} (the {}) {why}; stop that program, or move the sample's \
                         addresses with {flag} IP",
                        launch.title
                    )));
                }
            }
        }
        Ok(problems)
    }

    pub(super) async fn deploy(
        &mut self,
        sample: &Sample,
        w: &SampleWorkload,
    ) -> Result<WorkloadChange, PlatformError> {
        let spec = self.mesh_spec()?;
        let [app, sidecar] = self.workload_launches(sample, w, &spec)?;
        let app = self.ensure(&app).await?;
        let sidecar = self.ensure(&sidecar).await?;
        Ok(WorkloadChange { app, sidecar })
    }

    pub(super) fn remove(
        &mut self,
        sample: &Sample,
        w: &SampleWorkload,
    ) -> Result<WorkloadRemoved, PlatformError> {
        // The sidecar first: traffic stops coming before the app goes.
        let sidecar = self.stop_named(&samples::sidecar_record_name(sample, w))?;
        let app = self.stop_named(&samples::record_name(sample, w))?;
        Ok(WorkloadRemoved { app, sidecar })
    }

    /// Stops the process recorded as `name` and forgets it; None when there is no record.
    fn stop_named(&self, name: &str) -> Result<Option<Stopped>, PlatformError> {
        let Some(r) = self.state.read_record(name)? else {
            return Ok(None);
        };
        let was_running = self.stop_record(&r)?;
        Ok(Some(Stopped {
            name: r.name,
            pid: r.pid,
            was_running,
        }))
    }

    pub(super) fn ingress_address(&self) -> Result<SocketAddr, PlatformError> {
        let root = self.state.root().display();
        let Some(install) = self.state.read_install()? else {
            return Err(PlatformError(format!(
                "nothing is installed in {root}; run `meshctl install` (the default profile \
                 runs the ingress gateway)"
            )));
        };
        let c = Component::IngressGateway;
        if !c.enabled(&install.spec) {
            return Err(PlatformError(format!(
                "the installed profile ({}) has no ingress gateway; run `meshctl install` \
                 (the default profile runs one)",
                install.profile
            )));
        }
        match self.state.read_record(c.key())? {
            Some(r) if process::is_running(&r) => {}
            Some(r) => {
                return Err(PlatformError(format!(
                    "the ingress gateway (pid {}) is not running; run `meshctl install` to \
                     repair it (its log: {})",
                    r.pid,
                    r.log.display()
                )))
            }
            None => {
                return Err(PlatformError(format!(
                    "the ingress gateway is not running (no record in {root}); run `meshctl \
                     install` to repair it"
                )))
            }
        }
        let g = &install.spec.values.ingress_gateway;
        Ok(SocketAddr::new(g.address, g.port))
    }
}

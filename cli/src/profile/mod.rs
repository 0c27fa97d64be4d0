//! Install profiles: the YAML files in `profiles/` (embedded in the binary), and how `-f` files
//! and `--set` flags are merged over them and checked.
//!
//! - [`schema`]: the typed [`MeshSpec`] and the table of keys and their types.
//! - [`overlay`]: reading `-f` files and `--set key=value`, deep-merging, validating.
//! - [`positions`]: line and column of each key of a `-f` file, for error messages.
//! - [`suggest`]: the nearest valid keys to a mistyped one.

pub mod overlay;
pub mod positions;
pub mod schema;
pub mod suggest;

pub use overlay::{build, ValueError};
pub use schema::MeshSpec;

/// One built-in profile.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// `minimal`, `default`, `demo` or `empty`.
    pub name: &'static str,
    /// The file as shipped, comments included.
    pub text: &'static str,
}

/// The built-in profiles, smallest first after `empty`'s place at the end.
pub const PROFILES: [Profile; 4] = [
    Profile {
        name: "minimal",
        text: include_str!("../../../profiles/minimal.yaml"),
    },
    Profile {
        name: "default",
        text: include_str!("../../../profiles/default.yaml"),
    },
    Profile {
        name: "demo",
        text: include_str!("../../../profiles/demo.yaml"),
    },
    Profile {
        name: "empty",
        text: include_str!("../../../profiles/empty.yaml"),
    },
];

/// The profile names, for clap's possible values and error messages.
pub const NAMES: [&str; 4] = ["minimal", "default", "demo", "empty"];

/// The built-in profile called `name`.
pub fn builtin(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

impl Profile {
    /// The leading comment of the file, without `# name:`.
    pub fn description(&self) -> String {
        let lines: Vec<&str> = self
            .text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect();
        let text = lines.join(" ");
        text.strip_prefix(&format!("{}:", self.name))
            .unwrap_or(&text)
            .trim()
            .to_string()
    }

    /// The profile's `spec` as a JSON tree, the base that overlays merge into.
    pub fn spec_value(&self) -> Result<serde_json::Value, ValueError> {
        let doc: serde_json::Value =
            serde_saphyr::from_str(self.text).map_err(|e| self.broken(e.to_string()))?;
        doc.get("spec")
            .cloned()
            .ok_or_else(|| self.broken("no spec".to_string()))
    }

    /// The profile alone, typed.
    pub fn spec(&self) -> Result<MeshSpec, Vec<ValueError>> {
        build(self, &[], &[])
    }

    fn broken(&self, detail: String) -> ValueError {
        ValueError {
            origin: format!("built-in profile {}", self.name),
            path: String::new(),
            message: format!("{detail} (a bug in this meshctl build; please report it)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_complete_and_valid() {
        for p in PROFILES {
            let spec = p.spec().unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
            assert!(spec.check().is_empty(), "{}", p.name);
            assert!(!p.description().is_empty());
        }
        assert_eq!(PROFILES.map(|p| p.name), NAMES);
    }

    #[test]
    fn profiles_differ_as_documented() {
        let get = |n| builtin(n).and_then(|p| p.spec().ok()).expect("profile");
        let (minimal, default, demo, empty) =
            (get("minimal"), get("default"), get("demo"), get("empty"));
        let on = |s: &MeshSpec| {
            let c = &s.components;
            [
                c.control_plane.enabled,
                c.ingress_gateway.enabled,
                c.egress_gateway.enabled,
            ]
        };
        assert_eq!(on(&minimal), [true, false, false]);
        assert_eq!(on(&default), [true, true, false]);
        assert_eq!(on(&demo), [true, true, true]);
        assert_eq!(on(&empty), [false, false, false]);
        assert!(demo.values.access_logs.enabled && !default.values.access_logs.enabled);
        assert_eq!(demo.values.tracing.sampling, 100.0);
        assert_eq!(default.values.ingress_gateway.port, 8080);
        assert_eq!(minimal.values.control_plane.monitoring_port, 15014);
    }
}

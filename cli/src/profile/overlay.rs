//! `-f values.yaml` and `--set key=value` over a profile: read, check key by key against
//! [`schema::LEAVES`], deep-merge in order (profile, then each `-f`, then each `--set`, as
//! istioctl does), and type the result. Every problem is reported, each naming where it is
//! (`file:line:column` or the `--set` argument), the key path, and what to write instead.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::positions;
use super::schema::{self, LeafType, MeshSpec, API_VERSION, KIND};
use super::suggest::nearest;
use super::Profile;

/// One problem with the install configuration.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ValueError {
    /// Where: `values.yaml:3:7`, `--set a.b=c`, or what was checked.
    pub origin: String,
    /// The key path, e.g. `spec.values.controlPlane.xdsPort`; may be empty.
    pub path: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A `-f` file: its name (for messages) and text.
#[derive(Clone, Debug)]
pub struct ValuesFile {
    /// As given on the command line.
    pub name: String,
    /// Its contents.
    pub text: String,
}

/// The profile, then `files` in order, then `sets` in order; typed and checked.
pub fn build(
    profile: &Profile,
    files: &[ValuesFile],
    sets: &[String],
) -> Result<MeshSpec, Vec<ValueError>> {
    let mut merged = profile.spec_value().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for f in files {
        match read_file(f) {
            Ok(spec) => merge(&mut merged, spec),
            Err(mut e) => errors.append(&mut e),
        }
    }
    for s in sets {
        match parse_set(s) {
            Ok((path, value)) => set_path(&mut merged, &path, value),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let spec: MeshSpec = serde_json::from_value(merged).map_err(|e| {
        vec![ValueError {
            origin: format!("profile {}", profile.name),
            path: String::new(),
            message: format!("{e} (a bug in this meshctl build; please report it)"),
        }]
    })?;
    let problems: Vec<ValueError> = spec
        .check()
        .into_iter()
        .map(|(path, message)| ValueError {
            origin: "the merged configuration".to_string(),
            path,
            message,
        })
        .collect();
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems)
    }
}

/// Reads a `-f` file (the shape `meshctl profile dump` prints) into its `spec` tree.
fn read_file(file: &ValuesFile) -> Result<Value, Vec<ValueError>> {
    let at = |pos: mesh_api::istio::Pos| format!("{}:{}:{}", file.name, pos.line, pos.column);
    let positions = positions::scan(&file.text).map_err(|(pos, what)| {
        vec![ValueError {
            origin: at(pos),
            path: String::new(),
            message: format!("invalid YAML: {what}"),
        }]
    })?;
    let doc: Value = serde_saphyr::from_str(&file.text).map_err(|e| {
        vec![ValueError {
            origin: file.name.clone(),
            path: String::new(),
            message: format!("cannot read it: {e}"),
        }]
    })?;
    let mut errors = Vec::new();
    let mut report = |path: &str, message: String| {
        errors.push(ValueError {
            origin: at(positions.locate(path)),
            path: path.to_string(),
            message,
        })
    };
    let top = match doc {
        Value::Null => return Ok(Value::Object(Map::new())),
        Value::Object(m) => m,
        other => {
            report(
                "",
                format!(
                    "expected a mapping with apiVersion, kind and spec (as `meshctl profile \
                     dump` prints), got {}",
                    describe(&other)
                ),
            );
            return Err(errors);
        }
    };
    let mut spec = Value::Object(Map::new());
    for (key, value) in top {
        match key.as_str() {
            "apiVersion" if value != API_VERSION => {
                report("apiVersion", format!("must be {API_VERSION}"))
            }
            "kind" if value != KIND => report("kind", format!("must be {KIND}")),
            "apiVersion" | "kind" | "metadata" => {}
            "spec" => {
                check(&value, "", "spec", &mut report);
                spec = value;
            }
            other => {
                let hint = if schema::is_branch(other) {
                    format!("it belongs under spec: write spec.{other}")
                } else {
                    unknown_hint(other, &["apiVersion", "kind", "metadata", "spec"], "")
                };
                report(other, format!("unknown key {other:?}; {hint}"));
            }
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// Checks `value` at schema path `path` (`""` is spec); `shown` is the path as the user wrote
/// it (with `spec.` in files).
fn check(value: &Value, path: &str, shown: &str, report: &mut impl FnMut(&str, String)) {
    if let Some(leaf) = schema::leaf_at(path) {
        if let Err(m) = leaf_value(leaf.ty, value) {
            report(shown, m);
        }
        return;
    }
    let Value::Object(map) = value else {
        report(
            shown,
            format!(
                "expected a mapping with keys {}, got {}",
                schema::children(path).join(", "),
                describe(value)
            ),
        );
        return;
    };
    for (k, v) in map {
        let child = join(path, k);
        let child_shown = join(shown, k);
        if schema::leaf_at(&child).is_some() || schema::is_branch(&child) {
            check(v, &child, &child_shown, report);
        } else {
            report(
                &child_shown,
                format!(
                    "unknown key {k:?}; {}",
                    unknown_hint(k, &schema::children(path), path)
                ),
            );
        }
    }
}

/// "did you mean ...; valid keys here: ..." for an unknown `key` under `parent`.
fn unknown_hint(key: &str, valid: &[&str], parent: &str) -> String {
    let mut near: Vec<String> = nearest(key, valid)
        .into_iter()
        .map(|k| join(parent, k))
        .collect();
    // Written at the wrong depth, e.g. `accessLogs` instead of `values.accessLogs`.
    for l in schema::LEAVES {
        let dotted = format!(".{key}.");
        let full = format!("{}.", l.path);
        if let Some(i) = full.find(&dotted) {
            let p = full[..i + dotted.len() - 1].to_string();
            if !near.contains(&p) {
                near.push(p);
            }
        }
    }
    let valid = valid.join(", ");
    match near.as_slice() {
        [] => format!("valid keys here: {valid}"),
        _ => format!(
            "did you mean {}? (valid keys here: {valid})",
            near.join(" or ")
        ),
    }
}

/// Parses `--set path=value`: the path is under `spec` (as istioctl's), `spec.` may be written.
fn parse_set(arg: &str) -> Result<(String, Value), ValueError> {
    let err = |path: &str, message: String| ValueError {
        origin: format!("--set {arg}"),
        path: path.to_string(),
        message,
    };
    let Some((key, raw)) = arg.split_once('=') else {
        return Err(err(
            "",
            "expected key=value, e.g. --set values.controlPlane.monitoringPort=25014".into(),
        ));
    };
    let key = key.trim();
    let key = key.strip_prefix("spec.").unwrap_or(key);
    if let Some(leaf) = schema::leaf_at(key) {
        return set_value(leaf.ty, raw)
            .map(|v| (key.to_string(), v))
            .map_err(|m| err(key, m));
    }
    if schema::is_branch(key) {
        let keys: Vec<String> = schema::LEAVES
            .iter()
            .filter(|l| l.path.starts_with(&format!("{key}.")))
            .map(|l| l.path.to_string())
            .collect();
        return Err(err(
            key,
            format!("is a mapping; set one of its keys: {}", keys.join(", ")),
        ));
    }
    // The deepest known mapping, and the first unknown key below it.
    let segments: Vec<&str> = key.split('.').collect();
    let mut parent = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let next = join(&parent, seg);
        if schema::leaf_at(&next).is_some() {
            return Err(err(
                key,
                format!("{next} takes a value and has no keys below it"),
            ));
        }
        if !schema::is_branch(&next) {
            let rest = segments[i..].join(".");
            let mut hint = unknown_hint(seg, &schema::children(&parent), &parent);
            if i == 0 && schema::leaf_at(&rest).is_none() {
                // `accessLogs.enabled` for `values.accessLogs.enabled`.
                if let Some(l) = schema::LEAVES
                    .iter()
                    .find(|l| l.path.ends_with(&format!(".{rest}")))
                {
                    hint = format!("did you mean {}?", l.path);
                }
            }
            return Err(err(key, format!("unknown key {seg:?}; {hint}")));
        }
        parent = next;
    }
    Err(err(key, "unknown key".into()))
}

/// A `--set` value as its schema type (text on the command line is typed by the schema).
fn set_value(ty: LeafType, raw: &str) -> Result<Value, String> {
    let bad = || format!("expected {}, got {raw:?}", ty.expected());
    match ty {
        LeafType::Bool => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        LeafType::Port => match raw.parse::<u16>() {
            Ok(p) if p > 0 => Ok(Value::from(p)),
            _ => Err(bad()),
        },
        LeafType::Percent => match raw.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Value::from(p)),
            _ => Err(bad()),
        },
        LeafType::Count => match raw.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Value::from(n)),
            _ => Err(bad()),
        },
        LeafType::Duration | LeafType::Ip | LeafType::Text | LeafType::Quantity => {
            let v = Value::String(raw.to_string());
            leaf_value(ty, &v).map(|()| v)
        }
    }
}

/// Checks a typed YAML value against its leaf type.
fn leaf_value(ty: LeafType, v: &Value) -> Result<(), String> {
    let bad = || format!("expected {}, got {}", ty.expected(), describe(v));
    let ok = match (ty, v) {
        (LeafType::Bool, Value::Bool(_)) => true,
        (LeafType::Port, Value::Number(n)) => n.as_u64().is_some_and(|p| (1..=65535).contains(&p)),
        (LeafType::Percent, Value::Number(n)) => {
            n.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p))
        }
        (LeafType::Duration, Value::String(s)) => {
            return mesh_api::Duration::from_str(s)
                .map(|_| ())
                .map_err(|e| format!("expected {}: {e}", ty.expected()))
        }
        (LeafType::Ip, Value::String(s)) => IpAddr::from_str(s).is_ok(),
        (LeafType::Text, Value::String(s)) => !s.trim().is_empty(),
        (LeafType::Count, Value::Number(n)) => n
            .as_u64()
            .is_some_and(|c| (1..=u32::MAX as u64).contains(&c)),
        (LeafType::Quantity, Value::String(s)) => is_quantity(s),
        (LeafType::Quantity, Value::Number(n)) => n.as_u64().is_some(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A Kubernetes resource quantity: a decimal number with an optional suffix (`m`, `k`, `M`,
/// `G`, `T`, `P`, `E`, `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), as `resource.Quantity` parses it
/// (exponent forms such as `1e3` aside).
fn is_quantity(s: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E", "",
    ];
    SUFFIXES.iter().any(|suffix| {
        s.strip_suffix(suffix).is_some_and(|n| {
            let mut parts = n.splitn(2, '.');
            let whole = parts.next().unwrap_or("");
            let frac = parts.next();
            !n.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
                && !(whole.is_empty() && frac.is_none())
        })
    })
}

/// A value as error messages name it.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// Deep merge: mappings merge key by key, anything else replaces.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut over = value;
    for seg in path.rsplit('.') {
        let mut m = Map::new();
        m.insert(seg.to_string(), over);
        over = Value::Object(m);
    }
    merge(root, over);
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests;

//! The node's command line and environment as ROS 2 defines them: `--ros-args`
//! (remaps, `-p` parameters, `--params-file`, `--log-level`), params-file YAML
//! (`node_name:` / `/**:` -> `ros__parameters:`), name resolution with remaps, and
//! the `ROS_DOMAIN_ID`, `ROS_LOCALHOST_ONLY`, `ROS_AUTOMATIC_DISCOVERY_RANGE` and
//! `RMW_IMPLEMENTATION` variables.
//!
//! Pure parsing: reads the files it is told to read and the environment map it
//! is given, opens no sockets, and knows nothing of the face pipeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ros2_client::{ParameterValue, ServiceMapping};
use serde_yaml_ng::Value;

/// Everything that can be wrong with arguments, parameter files or ROS variables.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("--ros-args: {flag} needs a value")]
    MissingValue { flag: String },
    #[error("--ros-args: unknown option {0:?}")]
    UnknownOption(String),
    #[error("--ros-args: malformed rule {rule:?}: {why}")]
    BadRule { rule: String, why: String },
    #[error("cannot read parameters file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parameters file {path}: {why}")]
    BadFile { path: PathBuf, why: String },
    #[error("parameter {name:?}: {why}")]
    BadParameter { name: String, why: String },
    #[error("invalid ROS name {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error("environment variable {var}={value:?}: {why}")]
    BadEnv {
        var: &'static str,
        value: String,
        why: String,
    },
}

/// A `-r [node:]from:=to` rule (not `__ns` / `__node`, which are kept apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remap {
    /// Only for the node of this name, when given as `node:from:=to`.
    pub node: Option<String>,
    pub from: String,
    pub to: String,
}

/// A `-p [node:]name:=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamOverride {
    pub node: Option<String>,
    pub name: String,
    pub value: ParameterValue,
}

/// Where parameters come from, in command-line order.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSource {
    /// `--params-file PATH`.
    File(PathBuf),
    /// `-p [node:]name:=value`.
    Override(ParamOverride),
}

/// The ROS part of a command line (everything between `--ros-args` and `--` or the end;
/// there may be several such sections).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RosArgs {
    /// `-r __node:=name` (last wins), with its optional node prefix.
    pub node_name: Option<(Option<String>, String)>,
    /// `-r __ns:=/namespace` (last wins), with its optional node prefix.
    pub namespace: Option<(Option<String>, String)>,
    /// Topic and service remaps, in command-line order.
    pub remaps: Vec<Remap>,
    /// `--params-file` and `-p`, in command-line order (see [`Params::for_node`] for
    /// how they combine).
    pub param_sources: Vec<ParamSource>,
    /// `--log-level` rules: (logger name or `None` for the default, level in lower case).
    pub log_levels: Vec<(Option<String>, String)>,
    /// Arguments outside `--ros-args` sections, for the program itself.
    pub other: Vec<String>,
}

impl RosArgs {
    /// Splits a command line (without the program name) into ROS arguments and the rest.
    pub fn parse<I, S>(args: I) -> Result<Self, ParamsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out = RosArgs::default();
        let mut it = args.into_iter().map(Into::into);
        let mut in_ros = false;
        while let Some(arg) = it.next() {
            if !in_ros {
                if arg == "--ros-args" {
                    in_ros = true;
                } else {
                    out.other.push(arg);
                }
                continue;
            }
            let mut value_of = |flag: &str| -> Result<String, ParamsError> {
                it.next().ok_or_else(|| ParamsError::MissingValue { flag: flag.to_owned() })
            };
            match arg.as_str() {
                "--" => in_ros = false,
                "--ros-args" => {}
                "-r" | "--remap" => {
                    let rule = value_of(&arg)?;
                    out.add_remap(&rule)?;
                }
                "-p" | "--param" => {
                    let rule = value_of(&arg)?;
                    out.param_sources.push(ParamSource::Override(parse_param_rule(&rule)?));
                }
                "--params-file" => {
                    let path = value_of(&arg)?;
                    out.param_sources.push(ParamSource::File(PathBuf::from(path)));
                }
                "--log-level" => {
                    let rule = value_of(&arg)?;
                    out.log_levels.push(parse_log_level(&rule)?);
                }
                // Accepted and not needed here: they take a value.
                "-e" | "--enclave" | "--log-config-file" | "--log-file-name" => {
                    value_of(&arg)?;
                }
                // Accepted flags without a value.
                "--enable-rosout-logs"
                | "--disable-rosout-logs"
                | "--enable-stdout-logs"
                | "--disable-stdout-logs"
                | "--enable-external-lib-logs"
                | "--disable-external-lib-logs" => {}
                other => return Err(ParamsError::UnknownOption(other.to_owned())),
            }
        }
        Ok(out)
    }

    fn add_remap(&mut self, rule: &str) -> Result<(), ParamsError> {
        let bad = |why: &str| ParamsError::BadRule { rule: rule.to_owned(), why: why.to_owned() };
        let (lhs, to) = rule.split_once(":=").ok_or_else(|| bad("expected from:=to"))?;
        let (node, from) = split_node_prefix(lhs);
        if from.is_empty() || to.is_empty() {
            return Err(bad("empty name"));
        }
        match from {
            "__ns" => {
                validate_namespace(to)?;
                self.namespace = Some((node, to.to_owned()));
            }
            "__node" | "__name" => {
                validate_base_name(to)?;
                self.node_name = Some((node, to.to_owned()));
            }
            _ => self.remaps.push(Remap { node, from: from.to_owned(), to: to.to_owned() }),
        }
        Ok(())
    }

    /// The node's name after `__node` remaps (a remap prefixed with another
    /// node's name does not apply).
    pub fn resolved_node_name(&self, default_name: &str) -> String {
        match &self.node_name {
            Some((None, name)) => name.clone(),
            Some((Some(prefix), name)) if prefix == default_name => name.clone(),
            _ => default_name.to_owned(),
        }
    }

    /// The node's namespace after `__ns` remaps, always absolute.
    pub fn resolved_namespace(&self, default_name: &str, default_ns: &str) -> String {
        let ns = match &self.namespace {
            Some((None, ns)) => ns.as_str(),
            Some((Some(prefix), ns)) if prefix == default_name => ns.as_str(),
            _ => default_ns,
        };
        normalize_namespace(ns)
    }

    /// The `tracing` filter directive for `--log-level` (e.g. `info,facerec=debug`), if any
    /// level was given. ROS loggers `a.b` become tracing targets `a::b`.
    pub fn log_filter(&self) -> Option<String> {
        if self.log_levels.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .log_levels
            .iter()
            .map(|(logger, level)| match logger {
                None => level.clone(),
                Some(name) => format!("{}={level}", name.replace('.', "::")),
            })
            .collect();
        Some(parts.join(","))
    }
}

fn split_node_prefix(lhs: &str) -> (Option<String>, &str) {
    // `node:name` names a node; `rosservice://` / `rostopic://` prefixes are not node names.
    match lhs.split_once(':') {
        Some((node, rest)) if !node.is_empty() && !rest.starts_with("//") => (Some(node.to_owned()), rest),
        _ => (None, lhs),
    }
}

fn parse_param_rule(rule: &str) -> Result<ParamOverride, ParamsError> {
    let bad = |why: &str| ParamsError::BadRule { rule: rule.to_owned(), why: why.to_owned() };
    let (lhs, text) = rule.split_once(":=").ok_or_else(|| bad("expected name:=value"))?;
    let (node, name) = split_node_prefix(lhs);
    if name.is_empty() {
        return Err(bad("empty parameter name"));
    }
    let yaml: Value = serde_yaml_ng::from_str(text).map_err(|e| bad(&format!("value is not YAML: {e}")))?;
    let value = value_from_yaml(name, &yaml)?;
    Ok(ParamOverride { node, name: name.to_owned(), value })
}

fn parse_log_level(rule: &str) -> Result<(Option<String>, String), ParamsError> {
    let (logger, level) = match rule.split_once(":=") {
        Some((logger, level)) => (Some(logger.to_owned()), level),
        None => (None, rule),
    };
    let level = match level.to_ascii_lowercase().as_str() {
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "fatal" => "error",
        "unset" => "trace",
        _ => {
            return Err(ParamsError::BadRule {
                rule: rule.to_owned(),
                why: "level must be one of debug, info, warn, error, fatal, unset".to_owned(),
            })
        }
    };
    Ok((logger, level.to_owned()))
}

/// Converts one YAML value into a ROS parameter value (arrays must be homogeneous;
/// integers inside a float array are widened, as rcl does).
pub fn value_from_yaml(name: &str, value: &Value) -> Result<ParameterValue, ParamsError> {
    let bad = |why: &str| ParamsError::BadParameter { name: name.to_owned(), why: why.to_owned() };
    Ok(match value {
        Value::Null => ParameterValue::NotSet,
        Value::Bool(b) => ParameterValue::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                ParameterValue::Integer(i)
            } else if let Some(f) = n.as_f64() {
                ParameterValue::Double(f)
            } else {
                return Err(bad("number out of range"));
            }
        }
        Value::String(s) => ParameterValue::String(s.clone()),
        Value::Sequence(items) => array_from_yaml(items).ok_or_else(|| {
            bad("arrays must hold only booleans, only numbers or only strings")
        })?,
        Value::Tagged(t) => value_from_yaml(name, &t.value)?,
        Value::Mapping(_) => return Err(bad("a mapping is not a parameter value")),
    })
}

fn array_from_yaml(items: &[Value]) -> Option<ParameterValue> {
    let Some(first) = items.first() else {
        // rcl cannot type an empty array; a string array is the useful reading here.
        return Some(ParameterValue::StringArray(Vec::new()));
    };
    match first {
        Value::Bool(_) => items.iter().map(Value::as_bool).collect::<Option<Vec<_>>>().map(ParameterValue::BooleanArray),
        Value::String(_) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(ParameterValue::StringArray),
        Value::Number(_) => {
            if items.iter().all(|v| v.as_i64().is_some()) {
                items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>().map(ParameterValue::IntegerArray)
            } else {
                items.iter().map(Value::as_f64).collect::<Option<Vec<_>>>().map(ParameterValue::DoubleArray)
            }
        }
        _ => None,
    }
}

/// Parameters of one node, from files and overrides, by dotted name (`detector.model`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParameterValue>,
}

/// Parameters by node-name pattern, the way rcl stores them before a node picks its own:
/// one entry per pattern in order of first appearance; a params file appends to its
/// pattern's entry, a `-p` replaces the first value of that name in its entry (or appends).
#[derive(Debug, Default)]
struct ParamTable {
    entries: Vec<(String, Vec<(String, ParameterValue)>)>,
}

impl ParamTable {
    fn entry_mut(&mut self, pattern: &str) -> Option<&mut Vec<(String, ParameterValue)>> {
        self.entries.iter_mut().find(|(p, _)| p == pattern).map(|(_, values)| values)
    }

    fn append(&mut self, pattern: &str, values: Vec<(String, ParameterValue)>) {
        let pattern = normalize_node_key(pattern);
        match self.entry_mut(&pattern) {
            Some(entry) => entry.extend(values),
            None => self.entries.push((pattern, values)),
        }
    }

    fn add_override(&mut self, p: &ParamOverride) {
        let pattern = normalize_node_key(p.node.as_deref().unwrap_or("/**"));
        let Some(entry) = self.entry_mut(&pattern) else {
            self.entries.push((pattern, vec![(p.name.clone(), p.value.clone())]));
            return;
        };
        match entry.iter_mut().find(|(name, _)| *name == p.name) {
            Some((_, value)) => *value = p.value.clone(),
            None => entry.push((p.name.clone(), p.value.clone())),
        }
    }

    fn add_file(&mut self, text: &str, path: &Path) -> Result<(), ParamsError> {
        let bad = |why: String| ParamsError::BadFile { path: path.to_owned(), why };
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| bad(format!("not YAML: {e}")))?;
        let Value::Mapping(top) = doc else {
            return Err(bad("expected a mapping of node names at the top".to_owned()));
        };
        for (key, section) in &top {
            let key = key.as_str().ok_or_else(|| bad("node names must be strings".to_owned()))?;
            self.add_node_section(key, section, &bad)?;
        }
        Ok(())
    }

    fn add_node_section(
        &mut self,
        key: &str,
        section: &Value,
        bad: &dyn Fn(String) -> ParamsError,
    ) -> Result<(), ParamsError> {
        let Value::Mapping(map) = section else {
            return Err(bad(format!("section {key:?} is not a mapping")));
        };
        for (child_key, child) in map {
            let child_key = child_key.as_str().ok_or_else(|| bad(format!("non-string key in {key:?}")))?;
            if child_key == "ros__parameters" {
                let mut flat = Vec::new();
                flatten("", child, &mut flat, bad)?;
                let mut values = Vec::with_capacity(flat.len());
                for (name, value) in flat {
                    let value = value_from_yaml(&name, value)?;
                    values.push((name, value));
                }
                self.append(key, values);
            } else {
                // Namespaces may be nested: `robot: { facerec: { ros__parameters: ... } }`.
                let joined = format!("{}/{}", key.trim_end_matches('/'), child_key);
                self.add_node_section(&joined, child, bad)?;
            }
        }
        Ok(())
    }

    fn for_node(&self, node_fqn: &str) -> Params {
        let mut params = Params::default();
        for (pattern, values) in &self.entries {
            if node_pattern_matches(pattern, node_fqn) {
                for (name, value) in values {
                    params.values.insert(name.clone(), value.clone());
                }
            }
        }
        params
    }
}

fn normalize_node_key(key: &str) -> String {
    format!("/{}", key.trim_matches('/'))
}

impl Params {
    /// Gathers the parameters for the node `node_fqn` (e.g. `/robot/facerec`) exactly as
    /// rcl/rclcpp/rclpy do (checked against rclpy in `tests/ros_params.rs`): sections of
    /// `--params-file`s and `-p` rules (which count as a `/**` section, or as the section
    /// `/node` with a `node:` prefix) are collected per node pattern in order of first
    /// appearance; the node takes every matching pattern's values in that order, later
    /// values winning. So a `-p` does not beat a params-file section that names the node.
    /// Only the fully qualified name matters; `_node_name` is not consulted.
    pub fn for_node(args: &RosArgs, _node_name: &str, node_fqn: &str) -> Result<Self, ParamsError> {
        let mut table = ParamTable::default();
        for source in &args.param_sources {
            match source {
                ParamSource::File(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|source| ParamsError::ReadFile { path: path.clone(), source })?;
                    table.add_file(&text, path)?;
                }
                ParamSource::Override(p) => table.add_override(p),
            }
        }
        Ok(table.for_node(node_fqn))
    }

    /// Sets or replaces one parameter.
    pub fn set(&mut self, name: &str, value: ParameterValue) {
        self.values.insert(name.to_owned(), value);
    }

    /// All parameters, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParameterValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The raw value, if set.
    pub fn get(&self, name: &str) -> Option<&ParameterValue> {
        match self.values.get(name) {
            None | Some(ParameterValue::NotSet) => None,
            Some(v) => Some(v),
        }
    }

    fn wrong_type(name: &str, want: &str, got: &ParameterValue) -> ParamsError {
        ParamsError::BadParameter { name: name.to_owned(), why: format!("expected {want}, got {got:?}") }
    }

    /// A string parameter.
    pub fn get_str(&self, name: &str) -> Result<Option<&str>, ParamsError> {
        match self.get(name) {
            None => Ok(None),
            Some(ParameterValue::String(s)) => Ok(Some(s)),
            Some(other) => Err(Self::wrong_type(name, "a string", other)),
        }
    }

    /// A boolean parameter.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, ParamsError> {
        match self.get(name) {
            None => Ok(None),
            Some(ParameterValue::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(Self::wrong_type(name, "a boolean", other)),
        }
    }

    /// An integer parameter.
    pub fn get_i64(&self, name: &str) -> Result<Option<i64>, ParamsError> {
        match self.get(name) {
            None => Ok(None),
            Some(ParameterValue::Integer(i)) => Ok(Some(*i)),
            Some(other) => Err(Self::wrong_type(name, "an integer", other)),
        }
    }

    /// A non-negative integer parameter that fits `usize`/`u32` use.
    pub fn get_u32(&self, name: &str) -> Result<Option<u32>, ParamsError> {
        match self.get_i64(name)? {
            None => Ok(None),
            Some(i) => u32::try_from(i).map(Some).map_err(|_| ParamsError::BadParameter {
                name: name.to_owned(),
                why: format!("{i} is out of range 0..={}", u32::MAX),
            }),
        }
    }

    /// A floating-point parameter (an integer value is accepted too).
    pub fn get_f64(&self, name: &str) -> Result<Option<f64>, ParamsError> {
        match self.get(name) {
            None => Ok(None),
            Some(ParameterValue::Double(f)) => Ok(Some(*f)),
            #[allow(clippy::cast_precision_loss)]
            Some(ParameterValue::Integer(i)) => Ok(Some(*i as f64)),
            Some(other) => Err(Self::wrong_type(name, "a number", other)),
        }
    }

    /// A string-array parameter (a single string is read as a one-element array).
    pub fn get_str_array(&self, name: &str) -> Result<Option<Vec<String>>, ParamsError> {
        match self.get(name) {
            None => Ok(None),
            Some(ParameterValue::StringArray(v)) => Ok(Some(v.clone())),
            Some(ParameterValue::String(s)) => Ok(Some(vec![s.clone()])),
            Some(other) => Err(Self::wrong_type(name, "an array of strings", other)),
        }
    }
}

fn flatten<'a>(
    prefix: &str,
    value: &'a Value,
    out: &mut Vec<(String, &'a Value)>,
    bad: &dyn Fn(String) -> ParamsError,
) -> Result<(), ParamsError> {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let k = k.as_str().ok_or_else(|| bad(format!("non-string parameter name under {prefix:?}")))?;
                let name = if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
                flatten(&name, v, out, bad)?;
            }
            Ok(())
        }
        _ if prefix.is_empty() => Err(bad("ros__parameters must be a mapping".to_owned())),
        _ => {
            out.push((prefix.to_owned(), value));
            Ok(())
        }
    }
}

/// Whether a params-file node key (`/**`, `/**/facerec`, `/*/facerec`, `facerec`,
/// `/robot/facerec`) names the node `node_fqn`. `*` matches one name token, `**`
/// any number (also none); a key without a leading `/` is taken from the root.
pub fn node_pattern_matches(pattern: &str, node_fqn: &str) -> bool {
    let pattern = pattern.trim_start_matches('/');
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let name: Vec<&str> = node_fqn.split('/').filter(|s| !s.is_empty()).collect();
    tokens_match(&pat, &name)
}

fn tokens_match(pat: &[&str], name: &[&str]) -> bool {
    match (pat.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((&"**", rest)), _) => {
            // `**` takes zero tokens, or one and stays.
            tokens_match(rest, name) || name.split_first().is_some_and(|(_, n)| tokens_match(pat, n))
        }
        (Some((p, prest)), Some((n, nrest))) => (*p == "*" || p == n) && tokens_match(prest, nrest),
        _ => false,
    }
}

fn normalize_namespace(ns: &str) -> String {
    let trimmed = ns.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}")
    }
}

fn is_token(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate_base_name(name: &str) -> Result<(), ParamsError> {
    if is_token(name) {
        Ok(())
    } else {
        Err(ParamsError::BadName {
            name: name.to_owned(),
            why: "a node name is letters, digits and '_', not starting with a digit".to_owned(),
        })
    }
}

fn validate_namespace(ns: &str) -> Result<(), ParamsError> {
    let inner = ns.trim_matches('/');
    if inner.is_empty() || inner.split('/').all(is_token) {
        Ok(())
    } else {
        Err(ParamsError::BadName {
            name: ns.to_owned(),
            why: "namespace tokens are letters, digits and '_', not starting with a digit".to_owned(),
        })
    }
}

/// Where a node lives in the ROS graph, and the remaps that apply to its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameResolver {
    /// Absolute namespace, e.g. `/` or `/robot`.
    pub namespace: String,
    /// Base name, e.g. `facerec`.
    pub node_name: String,
    remaps: Vec<(String, String)>,
}

impl NameResolver {
    /// The node's final name and namespace (`__node`, `__ns` applied) and the remaps
    /// that apply to it, from the name and namespace the program chose.
    pub fn new(args: &RosArgs, default_name: &str, default_ns: &str) -> Result<Self, ParamsError> {
        let node_name = args.resolved_node_name(default_name);
        let namespace = args.resolved_namespace(default_name, default_ns);
        validate_base_name(&node_name)?;
        validate_namespace(&namespace)?;
        let mut resolver = Self { namespace, node_name, remaps: Vec::new() };
        for remap in &args.remaps {
            let applies = match &remap.node {
                None => true,
                Some(n) => n == default_name || *n == resolver.node_name,
            };
            if applies {
                let from = resolver.expand(&remap.from)?;
                let to = resolver.expand(&remap.to)?;
                resolver.remaps.push((from, to));
            }
        }
        Ok(resolver)
    }

    /// Fully qualified node name, e.g. `/robot/facerec`.
    pub fn node_fqn(&self) -> String {
        if self.namespace == "/" {
            format!("/{}", self.node_name)
        } else {
            format!("{}/{}", self.namespace, self.node_name)
        }
    }

    /// Expands a topic or service name without remapping: `~` and `~/x` are
    /// private to the node, relative names go into its namespace, `{node}` and
    /// `{ns}` are substituted.
    pub fn expand(&self, name: &str) -> Result<String, ParamsError> {
        let bad = |why: &str| ParamsError::BadName { name: name.to_owned(), why: why.to_owned() };
        let fqn = self.node_fqn();
        let substituted = name.replace("{node}", &self.node_name).replace("{ns}", &self.namespace);
        let expanded = if substituted == "~" {
            fqn
        } else if let Some(rest) = substituted.strip_prefix("~/") {
            format!("{fqn}/{rest}")
        } else if substituted.starts_with('/') {
            substituted
        } else if self.namespace == "/" {
            format!("/{substituted}")
        } else {
            format!("{}/{substituted}", self.namespace)
        };
        let inner = expanded.trim_start_matches('/');
        if inner.is_empty() {
            return Err(bad("empty name"));
        }
        if expanded.ends_with('/') || inner.contains("//") {
            return Err(bad("empty token"));
        }
        if !inner.split('/').all(is_token) {
            return Err(bad("tokens are letters, digits and '_', not starting with a digit"));
        }
        Ok(expanded)
    }

    /// Expands a name and applies the first matching remap (which is itself expanded).
    pub fn resolve(&self, name: &str) -> Result<String, ParamsError> {
        let expanded = self.expand(name)?;
        Ok(self
            .remaps
            .iter()
            .find(|(from, _)| *from == expanded)
            .map_or(expanded, |(_, to)| to.clone()))
    }
}

/// How this node finds peers on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryRange {
    /// Only this host (`ROS_LOCALHOST_ONLY=1` or `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`/`OFF`).
    Localhost,
    /// The DDS default: every interface.
    Subnet,
}

/// The ROS 2 environment variables that shape DDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosEnv {
    /// `ROS_DOMAIN_ID` (default 0).
    pub domain_id: u16,
    pub discovery: DiscoveryRange,
    /// `RMW_IMPLEMENTATION`, when set and non-empty.
    pub rmw_implementation: Option<String>,
    /// `ROS_DISTRO`, when set.
    pub ros_distro: Option<String>,
}

/// Highest domain id that maps to valid UDP ports with the default port parameters.
pub const MAX_DOMAIN_ID: u16 = 232;

impl RosEnv {
    /// Reads the variables from this process's environment.
    pub fn from_process() -> Result<Self, ParamsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the variables through `get` (for tests and embedding).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ParamsError> {
        let nonempty = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let domain_id = match nonempty("ROS_DOMAIN_ID") {
            None => 0,
            Some(v) => match v.parse::<u16>() {
                Ok(id) if id <= MAX_DOMAIN_ID => id,
                _ => {
                    return Err(ParamsError::BadEnv {
                        var: "ROS_DOMAIN_ID",
                        value: v,
                        why: format!("expected an integer 0..={MAX_DOMAIN_ID}"),
                    })
                }
            },
        };
        let localhost_only = match nonempty("ROS_LOCALHOST_ONLY").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ParamsError::BadEnv {
                    var: "ROS_LOCALHOST_ONLY",
                    value: other.to_owned(),
                    why: "expected 0 or 1".to_owned(),
                })
            }
        };
        let range = match nonempty("ROS_AUTOMATIC_DISCOVERY_RANGE") {
            None => None,
            Some(v) => match v.to_ascii_uppercase().as_str() {
                "LOCALHOST" | "OFF" => Some(DiscoveryRange::Localhost),
                "SUBNET" | "SYSTEM_DEFAULT" => Some(DiscoveryRange::Subnet),
                _ => {
                    return Err(ParamsError::BadEnv {
                        var: "ROS_AUTOMATIC_DISCOVERY_RANGE",
                        value: v,
                        why: "expected LOCALHOST, SUBNET, OFF or SYSTEM_DEFAULT".to_owned(),
                    })
                }
            },
        };
        let discovery = if localhost_only {
            DiscoveryRange::Localhost
        } else {
            range.unwrap_or(DiscoveryRange::Subnet)
        };
        Ok(Self {
            domain_id,
            discovery,
            rmw_implementation: nonempty("RMW_IMPLEMENTATION"),
            ros_distro: nonempty("ROS_DISTRO"),
        })
    }

    /// The service mapping the other nodes most likely speak: Cyclone DDS's when
    /// `RMW_IMPLEMENTATION` names it, otherwise the Enhanced mapping of rmw_fastrtps
    /// (the ROS 2 default) and rmw_connextdds.
    pub fn default_service_mapping(&self) -> ServiceMapping {
        match &self.rmw_implementation {
            Some(rmw) if rmw.to_ascii_lowercase().contains("cyclonedds") => ServiceMapping::Cyclone,
            _ => ServiceMapping::Enhanced,
        }
    }

    /// The service mapping for a `service_mapping` parameter value: `auto` (or unset)
    /// follows [`RosEnv::default_service_mapping`]; `enhanced`/`fastrtps`,
    /// `cyclone`/`cyclonedds` and `basic` force one.
    pub fn service_mapping(&self, parameter: Option<&str>) -> Result<ServiceMapping, ParamsError> {
        match parameter.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("auto") => Ok(self.default_service_mapping()),
            Some("enhanced") | Some("fastrtps") | Some("fastdds") => Ok(ServiceMapping::Enhanced),
            Some("cyclone") | Some("cyclonedds") => Ok(ServiceMapping::Cyclone),
            Some("basic") => Ok(ServiceMapping::Basic),
            Some(other) => Err(ParamsError::BadParameter {
                name: "service_mapping".to_owned(),
                why: format!("{other:?}: expected auto, enhanced, cyclone or basic"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> RosArgs {
        RosArgs::parse(line.split_whitespace()).unwrap()
    }

    #[test]
    fn ros_args_sections_remaps_params_and_rest() {
        let a = args(
            "--verbose --ros-args -r __node:=face_node -r __ns:=/robot -r image:=/head/image_raw \
             -p threshold:=0.4 -p cameras:=[/a,/b] -p use_gpu:=true -p workers:=3 -p name:=bob \
             --params-file /tmp/x.yaml --log-level facerec.node:=DEBUG --log-level warn -- extra",
        );
        assert_eq!(a.other, vec!["--verbose", "extra"]);
        assert_eq!(a.node_name, Some((None, "face_node".to_owned())));
        assert_eq!(a.namespace, Some((None, "/robot".to_owned())));
        assert_eq!(a.remaps, vec![Remap { node: None, from: "image".into(), to: "/head/image_raw".into() }]);
        assert_eq!(a.param_sources.last(), Some(&ParamSource::File(PathBuf::from("/tmp/x.yaml"))));
        let p: Vec<_> = a
            .param_sources
            .iter()
            .filter_map(|s| match s {
                ParamSource::Override(p) => Some((p.name.as_str(), p.value.clone())),
                ParamSource::File(_) => None,
            })
            .collect();
        assert_eq!(
            p,
            vec![
                ("threshold", ParameterValue::Double(0.4)),
                ("cameras", ParameterValue::StringArray(vec!["/a".into(), "/b".into()])),
                ("use_gpu", ParameterValue::Boolean(true)),
                ("workers", ParameterValue::Integer(3)),
                ("name", ParameterValue::String("bob".into())),
            ]
        );
        assert_eq!(a.log_filter().as_deref(), Some("facerec::node=debug,warn"));
        assert_eq!(a.resolved_node_name("facerec"), "face_node");
        assert_eq!(a.resolved_namespace("facerec", "/"), "/robot");
    }

    #[test]
    fn node_prefixed_rules_apply_only_to_that_node() {
        let a = args("--ros-args -r other:__node:=x -r other:__ns:=/y -r other:a:=b -r facerec:c:=d -p other:t:=1");
        assert_eq!(a.resolved_node_name("facerec"), "facerec");
        assert_eq!(a.resolved_namespace("facerec", "/"), "/");
        let r = NameResolver::new(&a, "facerec", "/").unwrap();
        assert_eq!(r.resolve("a").unwrap(), "/a");
        assert_eq!(r.resolve("c").unwrap(), "/d");
        let p = Params::for_node(&a, "facerec", "/facerec").unwrap();
        assert_eq!(p.get("t"), None);
    }

    #[test]
    fn bad_ros_args_are_errors() {
        for line in [
            "--ros-args -r",
            "--ros-args -r nothing",
            "--ros-args -p x",
            "--ros-args --bogus",
            "--ros-args -r __node:=9bad",
            "--ros-args -r __ns:=/a//b-c",
            "--ros-args --log-level loud",
            "--ros-args -p x:=[1,true]",
        ] {
            assert!(RosArgs::parse(line.split_whitespace()).is_err(), "{line}");
        }
    }

    #[test]
    fn name_expansion_and_remaps() {
        let a = args("--ros-args -r __ns:=/robot -r image_raw:=/head_camera/image_raw -r ~/faces:=/people/faces -r /abs:=rel");
        let r = NameResolver::new(&a, "facerec", "/").unwrap();
        assert_eq!(r.node_fqn(), "/robot/facerec");
        assert_eq!(r.resolve("image_raw").unwrap(), "/head_camera/image_raw");
        assert_eq!(r.resolve("/robot/image_raw").unwrap(), "/head_camera/image_raw");
        assert_eq!(r.resolve("~/faces").unwrap(), "/people/faces");
        assert_eq!(r.resolve("~/detections").unwrap(), "/robot/facerec/detections");
        assert_eq!(r.resolve("/abs").unwrap(), "/robot/rel");
        assert_eq!(r.resolve("{node}/x").unwrap(), "/robot/facerec/x");
        assert_eq!(r.resolve("/other").unwrap(), "/other");
        for bad in ["", "/", "a//b", "a/", "1abc", "a-b", "~x"] {
            assert!(r.resolve(bad).is_err(), "{bad:?}");
        }
        let root = NameResolver::new(&RosArgs::default(), "facerec", "").unwrap();
        assert_eq!(root.resolve("camera/image_raw").unwrap(), "/camera/image_raw");
        assert_eq!(root.resolve("~/enroll").unwrap(), "/facerec/enroll");
    }

    #[test]
    fn node_patterns() {
        let fqn = "/robot/facerec";
        for yes in ["/**", "**", "/**/facerec", "/*/facerec", "/robot/facerec", "robot/facerec", "/robot/*", "/robot/**"] {
            assert!(node_pattern_matches(yes, fqn), "{yes}");
        }
        for no in ["facerec", "/facerec", "/*", "/other/facerec", "/robot/facerec/x", "/robot/face"] {
            assert!(!node_pattern_matches(no, fqn), "{no}");
        }
        assert!(node_pattern_matches("facerec", "/facerec"));
        assert!(node_pattern_matches("/**/facerec", "/facerec"));
    }

    const FILE: &str = r#"
/**:
  ros__parameters:
    cameras: ["/cam_a/image_raw", "/cam_b/image_raw/compressed"]
    match_threshold: 0.3
    detector:
      model: retinaface.onnx
      input_size: 640
other_node:
  ros__parameters:
    match_threshold: 0.9
/robot/facerec:
  ros__parameters:
    match_threshold: 0.45
    publish_annotated: true
robot:
  facerec:
    ros__parameters:
      threads: 2
"#;

    #[test]
    fn params_file_layout_and_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, FILE).unwrap();
        let line = format!("--ros-args --params-file {} -p detector.input_size:=320 -p facerec:threads:=4", path.display());
        let a = args(&line);
        let p = Params::for_node(&a, "facerec", "/robot/facerec").unwrap();
        assert_eq!(
            p.get_str_array("cameras").unwrap().unwrap(),
            vec!["/cam_a/image_raw".to_owned(), "/cam_b/image_raw/compressed".to_owned()]
        );
        assert_eq!(p.get_f64("match_threshold").unwrap(), Some(0.45));
        assert_eq!(p.get_bool("publish_annotated").unwrap(), Some(true));
        assert_eq!(p.get_str("detector.model").unwrap(), Some("retinaface.onnx"));
        assert_eq!(p.get_u32("detector.input_size").unwrap(), Some(320));
        // `facerec:` names the node /facerec, not /robot/facerec.
        assert_eq!(p.get_i64("threads").unwrap(), Some(2));
        assert!(p.get_bool("match_threshold").is_err());
        assert_eq!(p.get_str("missing").unwrap(), None);

        // A node elsewhere sees only the wildcard section.
        let q = Params::for_node(&a, "facerec", "/facerec").unwrap();
        assert_eq!(q.get_f64("match_threshold").unwrap(), Some(0.3));
        assert_eq!(q.get_bool("publish_annotated").unwrap(), None);
        assert_eq!(q.get_i64("threads").unwrap(), Some(4));
        // Integers read as floats where a float is asked for.
        assert_eq!(q.get_f64("detector.input_size").unwrap(), Some(320.0));
    }

    #[test]
    fn bad_params_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (i, text) in [
            "- a\n- b\n",
            "/**:\n  ros__parameters: 3\n",
            "/**:\n  ros__parameters:\n    x: [1, \"a\"]\n",
            "/**: [\n",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("{i}.yaml"));
            std::fs::write(&path, text).unwrap();
            let a = RosArgs { param_sources: vec![ParamSource::File(path)], ..RosArgs::default() };
            assert!(Params::for_node(&a, "facerec", "/facerec").is_err(), "{text}");
        }
        let missing =
            RosArgs { param_sources: vec![ParamSource::File(dir.path().join("nope.yaml"))], ..RosArgs::default() };
        assert!(matches!(Params::for_node(&missing, "n", "/n"), Err(ParamsError::ReadFile { .. })));
    }

    fn env(pairs: &[(&str, &str)]) -> Result<RosEnv, ParamsError> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        RosEnv::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn ros_environment() {
        let e = env(&[]).unwrap();
        assert_eq!((e.domain_id, e.discovery), (0, DiscoveryRange::Subnet));
        assert_eq!(e.default_service_mapping(), ServiceMapping::Enhanced);

        let e = env(&[("ROS_DOMAIN_ID", "42"), ("ROS_LOCALHOST_ONLY", "1"), ("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp")]).unwrap();
        assert_eq!((e.domain_id, e.discovery), (42, DiscoveryRange::Localhost));
        assert_eq!(e.default_service_mapping(), ServiceMapping::Cyclone);
        assert_eq!(e.service_mapping(Some("auto")).unwrap(), ServiceMapping::Cyclone);
        assert_eq!(e.service_mapping(Some("enhanced")).unwrap(), ServiceMapping::Enhanced);
        assert!(e.service_mapping(Some("zenoh")).is_err());

        let e = env(&[("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"), ("ROS_AUTOMATIC_DISCOVERY_RANGE", "localhost")]).unwrap();
        assert_eq!(e.discovery, DiscoveryRange::Localhost);
        assert_eq!(e.service_mapping(None).unwrap(), ServiceMapping::Enhanced);
        assert_eq!(e.service_mapping(Some("cyclone")).unwrap(), ServiceMapping::Cyclone);

        assert_eq!(env(&[("ROS_DOMAIN_ID", "")]).unwrap().domain_id, 0);
        for bad in [
            [("ROS_DOMAIN_ID", "233")],
            [("ROS_DOMAIN_ID", "-1")],
            [("ROS_DOMAIN_ID", "one")],
            [("ROS_LOCALHOST_ONLY", "yes")],
            [("ROS_AUTOMATIC_DISCOVERY_RANGE", "everywhere")],
        ] {
            assert!(env(&bad).is_err(), "{bad:?}");
        }
    }
}

//! Parameter values: YAML into ROS parameter values, params files (`node_name:` / `/**:` ->
//! `ros__parameters:`) and `-p` rules gathered per node pattern as rcl stores them, and the
//! [`Params`] one node gets, with typed getters. Reads the params files it is told to.

use std::collections::BTreeMap;
use std::path::Path;

use ros2_client::ParameterValue;
use serde_yaml_ng::Value;

use super::args::{ParamOverride, ParamSource, RosArgs};
use super::ParamsError;

/// Converts one YAML value into a ROS parameter value (arrays must be homogeneous;
/// integers inside a float array are widened, as rcl does).
pub fn value_from_yaml(name: &str, value: &Value) -> Result<ParameterValue, ParamsError> {
    let bad = |why: &str| ParamsError::BadParameter {
        name: name.to_owned(),
        why: why.to_owned(),
    };
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
        Value::Sequence(items) => {
            array_from_yaml(items).ok_or_else(|| bad("arrays must hold only booleans, only numbers or only strings"))?
        }
        Value::Tagged(t) => value_from_yaml(name, &t.value)?,
        Value::Mapping(_) => return Err(bad("a mapping is not a parameter value")),
    })
}

pub(super) fn array_from_yaml(items: &[Value]) -> Option<ParameterValue> {
    let Some(first) = items.first() else {
        // rcl cannot type an empty array; a string array is the useful reading here.
        return Some(ParameterValue::StringArray(Vec::new()));
    };
    match first {
        Value::Bool(_) => items
            .iter()
            .map(Value::as_bool)
            .collect::<Option<Vec<_>>>()
            .map(ParameterValue::BooleanArray),
        Value::String(_) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(ParameterValue::StringArray),
        Value::Number(_) => {
            if items.iter().all(|v| v.as_i64().is_some()) {
                items
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<_>>>()
                    .map(ParameterValue::IntegerArray)
            } else {
                items
                    .iter()
                    .map(Value::as_f64)
                    .collect::<Option<Vec<_>>>()
                    .map(ParameterValue::DoubleArray)
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
        self.entries
            .iter_mut()
            .find(|(p, _)| p == pattern)
            .map(|(_, values)| values)
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
        let bad = |why: String| ParamsError::BadFile {
            path: path.to_owned(),
            why,
        };
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|source| ParamsError::FileNotYaml {
            path: path.to_owned(),
            source,
        })?;
        let Value::Mapping(top) = doc else {
            return Err(bad("expected a mapping of node names at the top".to_owned()));
        };
        for (key, section) in &top {
            let key = key
                .as_str()
                .ok_or_else(|| bad("node names must be strings".to_owned()))?;
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
            let child_key = child_key
                .as_str()
                .ok_or_else(|| bad(format!("non-string key in {key:?}")))?;
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

pub(super) fn normalize_node_key(key: &str) -> String {
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
                    let text = std::fs::read_to_string(path).map_err(|source| ParamsError::ReadFile {
                        path: path.clone(),
                        source,
                    })?;
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
        ParamsError::BadParameter {
            name: name.to_owned(),
            why: format!("expected {want}, got {got:?}"),
        }
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

pub(super) fn flatten<'a>(
    prefix: &str,
    value: &'a Value,
    out: &mut Vec<(String, &'a Value)>,
    bad: &dyn Fn(String) -> ParamsError,
) -> Result<(), ParamsError> {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let k = k
                    .as_str()
                    .ok_or_else(|| bad(format!("non-string parameter name under {prefix:?}")))?;
                let name = if prefix.is_empty() {
                    k.to_owned()
                } else {
                    format!("{prefix}.{k}")
                };
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

pub(super) fn tokens_match(pat: &[&str], name: &[&str]) -> bool {
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

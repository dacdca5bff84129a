//! The ROS part of a command line: `--ros-args` sections with remaps (`-r`), parameters
//! (`-p`), params files (`--params-file`) and log levels (`--log-level`), parsed as rcl does.
//! Pure parsing; values go through [`super::table::value_from_yaml`].

use std::path::PathBuf;

use ros2_client::ParameterValue;
use serde_yaml_ng::Value;

use super::names::{normalize_namespace, validate_base_name, validate_namespace};
use super::table::value_from_yaml;
use super::ParamsError;

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
    /// `--log-level` rules: (logger name or `None` for the default, level in lower case:
    /// `debug`, `info`, `warn`, `error`, `fatal` or `unset`).
    pub log_levels: Vec<(Option<String>, String)>,
    /// `--disable-rosout-logs` (last of it and `--enable-rosout-logs` wins).
    pub disable_rosout_logs: bool,
    /// `--disable-stdout-logs` (last of it and `--enable-stdout-logs` wins).
    pub disable_stdout_logs: bool,
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
                it.next()
                    .ok_or_else(|| ParamsError::MissingValue { flag: flag.to_owned() })
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
                "--enable-rosout-logs" => out.disable_rosout_logs = false,
                "--disable-rosout-logs" => out.disable_rosout_logs = true,
                "--enable-stdout-logs" => out.disable_stdout_logs = false,
                "--disable-stdout-logs" => out.disable_stdout_logs = true,
                // Accepted flags without a value, not needed here.
                "--enable-external-lib-logs" | "--disable-external-lib-logs" => {}
                other => return Err(ParamsError::UnknownOption(other.to_owned())),
            }
        }
        Ok(out)
    }

    fn add_remap(&mut self, rule: &str) -> Result<(), ParamsError> {
        let bad = |why: &str| ParamsError::BadRule {
            rule: rule.to_owned(),
            why: why.to_owned(),
        };
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
            _ => self.remaps.push(Remap {
                node,
                from: from.to_owned(),
                to: to.to_owned(),
            }),
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
            .map(|(logger, level)| {
                // tracing has no FATAL, and `unset` lets everything through.
                let level = match level.as_str() {
                    "fatal" => "error",
                    "unset" => "trace",
                    other => other,
                };
                match logger {
                    None => level.to_owned(),
                    Some(name) => format!("{}={level}", name.replace('.', "::")),
                }
            })
            .collect();
        Some(parts.join(","))
    }
}

pub(super) fn split_node_prefix(lhs: &str) -> (Option<String>, &str) {
    // `node:name` names a node; `rosservice://` / `rostopic://` prefixes are not node names.
    match lhs.split_once(':') {
        Some((node, rest)) if !node.is_empty() && !rest.starts_with("//") => (Some(node.to_owned()), rest),
        _ => (None, lhs),
    }
}

pub(super) fn parse_param_rule(rule: &str) -> Result<ParamOverride, ParamsError> {
    let bad = |why: &str| ParamsError::BadRule {
        rule: rule.to_owned(),
        why: why.to_owned(),
    };
    let (lhs, text) = rule.split_once(":=").ok_or_else(|| bad("expected name:=value"))?;
    let (node, name) = split_node_prefix(lhs);
    if name.is_empty() {
        return Err(bad("empty parameter name"));
    }
    let yaml: Value = serde_yaml_ng::from_str(text).map_err(|source| ParamsError::ValueNotYaml {
        rule: rule.to_owned(),
        source,
    })?;
    let value = value_from_yaml(name, &yaml)?;
    Ok(ParamOverride {
        node,
        name: name.to_owned(),
        value,
    })
}

pub(super) fn parse_log_level(rule: &str) -> Result<(Option<String>, String), ParamsError> {
    let (logger, level) = match rule.split_once(":=") {
        Some((logger, level)) => (Some(logger.to_owned()), level),
        None => (None, rule),
    };
    let level = match level.to_ascii_lowercase().as_str() {
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" => "error",
        "fatal" => "fatal",
        "unset" => "unset",
        _ => {
            return Err(ParamsError::BadRule {
                rule: rule.to_owned(),
                why: "level must be one of debug, info, warn, error, fatal, unset".to_owned(),
            })
        }
    };
    Ok((logger, level.to_owned()))
}

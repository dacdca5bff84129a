//! Name resolution: the node's namespace and base name (`__ns`, `__node`), validation of ROS
//! names, and expansion of relative and private (`~/`) names with the remaps that apply.

use super::args::RosArgs;
use super::ParamsError;

pub(super) fn normalize_namespace(ns: &str) -> String {
    let trimmed = ns.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}")
    }
}

pub(super) fn is_token(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn validate_base_name(name: &str) -> Result<(), ParamsError> {
    if is_token(name) {
        Ok(())
    } else {
        Err(ParamsError::BadName {
            name: name.to_owned(),
            why: "a node name is letters, digits and '_', not starting with a digit".to_owned(),
        })
    }
}

pub(super) fn validate_namespace(ns: &str) -> Result<(), ParamsError> {
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
        let mut resolver = Self {
            namespace,
            node_name,
            remaps: Vec::new(),
        };
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
        let bad = |why: &str| ParamsError::BadName {
            name: name.to_owned(),
            why: why.to_owned(),
        };
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

//! The node's command line and environment as ROS 2 defines them: `--ros-args`
//! (remaps, `-p` parameters, `--params-file`, `--log-level`), params-file YAML
//! (`node_name:` / `/**:` -> `ros__parameters:`), name resolution with remaps, and
//! the `ROS_DOMAIN_ID`, `ROS_LOCALHOST_ONLY`, `ROS_AUTOMATIC_DISCOVERY_RANGE` and
//! `RMW_IMPLEMENTATION` variables.
//!
//! Pure parsing: reads the files it is told to read and the environment map it
//! is given, opens no sockets, and knows nothing of the face pipeline.
//!
//! Four rooms: [`args`] (the `--ros-args` command line), [`table`] (parameter values, params
//! files and which section applies to a node), [`names`] (namespace, node name, remaps and name
//! expansion) and [`env`] (the ROS environment variables). Their public items are re-exported
//! here, which is how the rest of the crate names them.

use std::path::PathBuf;

mod args;
mod env;
mod names;
mod table;

pub use args::{ParamOverride, ParamSource, Remap, RosArgs};
pub use env::{DiscoveryRange, RosEnv, MAX_DOMAIN_ID};
pub use names::NameResolver;
pub use table::{node_pattern_matches, value_from_yaml, Params};

/// Everything that can be wrong with arguments, parameter files or ROS variables.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("--ros-args: {flag} needs a value")]
    MissingValue { flag: String },
    #[error("--ros-args: unknown option {0:?}")]
    UnknownOption(String),
    #[error("--ros-args: malformed rule {rule:?}: {why}")]
    BadRule { rule: String, why: String },
    #[error("cannot read parameters file {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parameters file {path}: {why}")]
    BadFile { path: PathBuf, why: String },
    #[error("parameters file {path}: not YAML")]
    FileNotYaml {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error("--ros-args: malformed rule {rule:?}: value is not YAML")]
    ValueNotYaml {
        rule: String,
        #[source]
        source: serde_yaml_ng::Error,
    },
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ros2_client::{ParameterValue, ServiceMapping};

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
        assert_eq!(
            a.remaps,
            vec![Remap {
                node: None,
                from: "image".into(),
                to: "/head/image_raw".into()
            }]
        );
        assert_eq!(
            a.param_sources.last(),
            Some(&ParamSource::File(PathBuf::from("/tmp/x.yaml")))
        );
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
        assert!(!a.disable_rosout_logs && !a.disable_stdout_logs);
        assert_eq!(a.resolved_node_name("facerec"), "face_node");
        assert_eq!(a.resolved_namespace("facerec", "/"), "/robot");
    }

    #[test]
    fn log_flags_and_levels() {
        let a = args(
            "--ros-args --disable-rosout-logs --disable-stdout-logs --enable-stdout-logs \
             --log-level FATAL --log-level facerec:=Unset",
        );
        assert!(
            a.disable_rosout_logs && !a.disable_stdout_logs,
            "the last of enable/disable wins"
        );
        assert_eq!(
            a.log_levels,
            vec![
                (None, "fatal".to_owned()),
                (Some("facerec".to_owned()), "unset".to_owned())
            ]
        );
        assert_eq!(a.log_filter().as_deref(), Some("error,facerec=trace"));
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
        let a = args(
            "--ros-args -r __ns:=/robot -r image_raw:=/head_camera/image_raw -r ~/faces:=/people/faces -r /abs:=rel",
        );
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
        for yes in [
            "/**",
            "**",
            "/**/facerec",
            "/*/facerec",
            "/robot/facerec",
            "robot/facerec",
            "/robot/*",
            "/robot/**",
        ] {
            assert!(node_pattern_matches(yes, fqn), "{yes}");
        }
        for no in [
            "facerec",
            "/facerec",
            "/*",
            "/other/facerec",
            "/robot/facerec/x",
            "/robot/face",
        ] {
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
        let line = format!(
            "--ros-args --params-file {} -p detector.input_size:=320 -p facerec:threads:=4",
            path.display()
        );
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
            let a = RosArgs {
                param_sources: vec![ParamSource::File(path)],
                ..RosArgs::default()
            };
            assert!(Params::for_node(&a, "facerec", "/facerec").is_err(), "{text}");
        }
        let missing = RosArgs {
            param_sources: vec![ParamSource::File(dir.path().join("nope.yaml"))],
            ..RosArgs::default()
        };
        assert!(matches!(
            Params::for_node(&missing, "n", "/n"),
            Err(ParamsError::ReadFile { .. })
        ));
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

        let e = env(&[
            ("ROS_DOMAIN_ID", "42"),
            ("ROS_LOCALHOST_ONLY", "1"),
            ("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp"),
        ])
        .unwrap();
        assert_eq!((e.domain_id, e.discovery), (42, DiscoveryRange::Localhost));
        assert_eq!(e.default_service_mapping(), ServiceMapping::Cyclone);
        assert_eq!(e.service_mapping(Some("auto")).unwrap(), ServiceMapping::Cyclone);
        assert_eq!(e.service_mapping(Some("enhanced")).unwrap(), ServiceMapping::Enhanced);
        assert!(e.service_mapping(Some("zenoh")).is_err());

        let e = env(&[
            ("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
            ("ROS_AUTOMATIC_DISCOVERY_RANGE", "localhost"),
        ])
        .unwrap();
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

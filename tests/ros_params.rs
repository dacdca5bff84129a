//! `facerec::ros::params` against ROS 2's own argument handling.
//!
//! `tests/fixtures/ros_args/cases.json` holds what real rclpy (rcl, Jazzy) made of
//! several command lines (`tests/interop/make_args_fixtures.py`): the node's name,
//! namespace and parameters, resolved topic and service names, and the non-ROS
//! arguments. The same command lines go through `RosArgs`, `NameResolver` and `Params`
//! here and must give the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::collections::BTreeMap;

use facerec::ros::params::{NameResolver, Params, RosArgs};
use ros2_client::ParameterValue;
use serde_json::Value;

fn expected_value(v: &Value) -> ParameterValue {
    let value = &v["value"];
    let strings = || {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    match v["type"].as_str().unwrap() {
        "bool" => ParameterValue::Boolean(value.as_bool().unwrap()),
        "integer" => ParameterValue::Integer(value.as_i64().unwrap()),
        "double" => ParameterValue::Double(value.as_f64().unwrap()),
        "string" => ParameterValue::String(value.as_str().unwrap().to_owned()),
        "bool_array" => {
            ParameterValue::BooleanArray(value.as_array().unwrap().iter().map(|x| x.as_bool().unwrap()).collect())
        }
        "integer_array" => {
            ParameterValue::IntegerArray(value.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect())
        }
        "double_array" => {
            ParameterValue::DoubleArray(value.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        }
        "string_array" => ParameterValue::StringArray(strings()),
        other => panic!("unknown parameter type {other}"),
    }
}

#[test]
fn arguments_resolve_like_rcl() {
    // Integration tests run in the package root, where the cases' relative paths point.
    let root = env!("CARGO_MANIFEST_DIR");
    std::env::set_current_dir(root).unwrap();
    let text = std::fs::read_to_string("tests/fixtures/ros_args/cases.json").unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 9);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let exp = &case["expected"];
        let argv: Vec<String> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let args = RosArgs::parse(argv).unwrap_or_else(|e| panic!("{id}: {e}"));
        let other: Vec<&str> = exp["non_ros_args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args.other, other, "{id}: non-ROS arguments");

        let names = NameResolver::new(
            &args,
            case["default_name"].as_str().unwrap(),
            case["default_namespace"].as_str().unwrap(),
        )
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(names.node_name, exp["node_name"].as_str().unwrap(), "{id}: node name");
        assert_eq!(names.namespace, exp["namespace"].as_str().unwrap(), "{id}: namespace");
        assert_eq!(
            names.node_fqn(),
            exp["fqn"].as_str().unwrap(),
            "{id}: fully qualified name"
        );
        for kind in ["topics", "services"] {
            for (name, resolved) in exp[kind].as_object().unwrap() {
                assert_eq!(
                    &names.resolve(name).unwrap(),
                    resolved.as_str().unwrap(),
                    "{id}: {kind} {name}"
                );
            }
        }

        let params =
            Params::for_node(&args, &names.node_name, &names.node_fqn()).unwrap_or_else(|e| panic!("{id}: {e}"));
        let got: BTreeMap<&str, &ParameterValue> = params.iter().collect();
        let want: BTreeMap<&str, ParameterValue> = exp["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), expected_value(v)))
            .collect();
        let want_refs: BTreeMap<&str, &ParameterValue> = want.iter().map(|(k, v)| (*k, v)).collect();
        assert_eq!(got, want_refs, "{id}: parameters");
    }
}

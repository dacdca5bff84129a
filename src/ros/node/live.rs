//! The parameters that change while the node runs (`ros2 param set`): the match threshold,
//! `publish_annotated`, the enroll defaults and rules, the tracker's limits (`tracking.*` but
//! `enabled`), `learning.enabled`, `anonymous.expire_s` and `tf.enabled`. The node's parameter validator and set
//! action (run by ros2-client's `set_parameters` service) come here; workers and services read
//! the current values for each frame or request. Values are checked with the same rules as at
//! start (`config`); a restart-only parameter is refused with that reason, and a refused value
//! leaves the old one in place.
//!
//! Touches only the node's settings; knows nothing of DDS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use ros2_client::ParameterValue;

use super::config::{self, EnrollDefaults, NodeConfig};
use super::declared::{self, Change};
use crate::people::PeopleConfig;
use crate::ros::params::{Params, ParamsError};
use crate::track::{TrackLimits, TrackerConfig};

/// The settings that may change at run time.
#[derive(Debug, Clone)]
pub struct Live {
    pub match_threshold: f32,
    pub publish_annotated: bool,
    pub enroll: EnrollDefaults,
    /// Applied to every camera's tracker before its next frame.
    pub track_limits: TrackLimits,
    /// The people rules of the next update (`anonymous.mode` stays as started).
    pub people: PeopleConfig,
    /// Publish face TF frames.
    pub tf: bool,
}

impl Live {
    /// The values the node started with.
    pub fn from_config(config: &NodeConfig) -> Self {
        Self {
            match_threshold: config.pipeline.match_threshold,
            publish_annotated: config.publish_annotated,
            enroll: config.enroll.clone(),
            track_limits: TrackLimits::of(config.tracking.as_ref().unwrap_or(&TrackerConfig::default())),
            people: config.people.clone(),
            tf: config.tf,
        }
    }

    /// These settings with parameter `name` set to `value`, checked as at start.
    pub fn with(&self, name: &str, value: &ParameterValue) -> Result<Self, ParamsError> {
        let mut one = Params::default();
        one.set(name, value.clone());
        Ok(Self {
            match_threshold: config::match_threshold(&one, self.match_threshold)?,
            publish_annotated: one.get_bool("publish_annotated")?.unwrap_or(self.publish_annotated),
            enroll: config::enroll_defaults(&one, &self.enroll)?,
            track_limits: config::track_limits(&one, &self.track_limits)?,
            people: config::people_live(&one, &self.people)?,
            tf: one.get_bool("tf.enabled")?.unwrap_or(self.tf),
        })
    }
}

/// The current live settings, shared by the parameter service, the workers and the services.
#[derive(Debug)]
pub struct LiveSettings {
    current: RwLock<Live>,
    /// Before the node exists ros2-client runs the validator and set action on the initial
    /// values, which `NodeConfig` has already checked: they pass untouched.
    started: AtomicBool,
}

impl LiveSettings {
    pub fn new(initial: Live) -> Self {
        Self {
            current: RwLock::new(initial),
            started: AtomicBool::new(false),
        }
    }

    /// A copy of the current settings.
    pub fn get(&self) -> Live {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// From now on, sets are checked and applied.
    pub fn start(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    /// The parameter validator: whether `name` may take `value` now. ros2-client has already
    /// refused undeclared names and type changes.
    pub fn check(&self, name: &str, value: &ParameterValue) -> Result<(), String> {
        if !self.started.load(Ordering::SeqCst) {
            return Ok(());
        }
        match declared::find(name) {
            None => Ok(()),
            Some(d) if d.change == Change::Restart => Err(format!(
                "parameter '{name}' is read at start only: restart the node to change it (the node keeps its current value)"
            )),
            Some(_) => self
                .get()
                .with(name, value)
                .map(|_| ())
                .map_err(|e| format!("{e} (the node keeps its current value)")),
        }
    }

    /// The parameter set action: applies an accepted value (from the next frame or request).
    pub fn apply(&self, name: &str, value: &ParameterValue) -> Result<(), String> {
        if !self.started.load(Ordering::SeqCst) || declared::find(name).map(|d| d.change) != Some(Change::Live) {
            return Ok(());
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let next = current.with(name, value).map_err(|e| e.to_string())?;
        *current = next;
        tracing::info!("parameter {name} set to {value:?}; applied from the next frame");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::enroll::EnrollPolicy;

    fn live() -> LiveSettings {
        let s = LiveSettings::new(Live {
            match_threshold: 0.455,
            publish_annotated: false,
            enroll: EnrollDefaults {
                samples: 5,
                timeout: Duration::from_secs(10),
                policy: EnrollPolicy::default(),
            },
            track_limits: TrackLimits::of(&TrackerConfig::default()),
            people: PeopleConfig::default(),
            tf: false,
        });
        s.start();
        s
    }

    #[test]
    fn live_parameters_apply_and_bad_values_keep_the_old_one() {
        let s = live();
        s.check("match_threshold", &ParameterValue::Double(0.6))
            .expect("in range");
        s.apply("match_threshold", &ParameterValue::Double(0.6))
            .expect("applied");
        assert!((s.get().match_threshold - 0.6).abs() < 1e-6);

        for (name, bad) in [
            ("match_threshold", ParameterValue::Double(1.5)),
            ("match_threshold", ParameterValue::Double(f64::NAN)),
            ("enroll.samples", ParameterValue::Integer(0)),
            ("enroll.timeout_s", ParameterValue::Double(-1.0)),
            ("enroll.dominance_ratio", ParameterValue::Double(0.5)),
            ("publish_annotated", ParameterValue::Integer(1)),
            ("tracking.confirm_hits", ParameterValue::Integer(0)),
            ("tracking.max_miss_s", ParameterValue::Double(0.0)),
            ("tracking.max_tracks", ParameterValue::Integer(5000)),
            ("anonymous.expire_s", ParameterValue::Double(-3.0)),
            ("learning.enabled", ParameterValue::String("yes".into())),
            ("tf.enabled", ParameterValue::Double(1.0)),
        ] {
            let err = s.check(name, &bad).expect_err(name);
            assert!(err.contains(name), "{err}");
            assert!(err.contains("keeps its current value"), "{err}");
        }
        assert!((s.get().match_threshold - 0.6).abs() < 1e-6);
        assert_eq!(s.get().enroll.samples, 5);

        s.apply("enroll.samples", &ParameterValue::Integer(3)).expect("applied");
        s.apply("enroll.min_face_px", &ParameterValue::Double(80.0))
            .expect("applied");
        s.apply("publish_annotated", &ParameterValue::Boolean(true))
            .expect("applied");
        let now = s.get();
        assert_eq!(now.enroll.samples, 3);
        assert!((now.enroll.policy.min_face_px - 80.0).abs() < 1e-6);
        assert!(now.publish_annotated);
        assert!((now.match_threshold - 0.6).abs() < 1e-6, "other settings untouched");

        s.apply("tracking.confirm_hits", &ParameterValue::Integer(7))
            .expect("applied");
        s.apply("tracking.max_miss_s", &ParameterValue::Double(2.5))
            .expect("applied");
        s.apply("learning.enabled", &ParameterValue::Boolean(true))
            .expect("applied");
        s.apply("anonymous.expire_s", &ParameterValue::Double(60.0))
            .expect("applied");
        s.apply("tf.enabled", &ParameterValue::Boolean(true)).expect("applied");
        let now = s.get();
        assert_eq!(now.track_limits.confirm_hits, 7);
        assert_eq!(now.track_limits.max_miss_ns, 2_500_000_000);
        assert_eq!(now.track_limits.max_tracks, 64, "other limits untouched");
        assert!(now.people.learning.enabled);
        assert_eq!(now.people.anonymous_expire_ns, 60_000_000_000);
        assert!(now.tf);
    }

    #[test]
    fn restart_only_parameters_are_refused_with_the_reason() {
        let s = live();
        for name in [
            "workers",
            "detector.model",
            "cameras",
            "execution_provider",
            "tracking.enabled",
            "anonymous.mode",
            "hri.enabled",
            "depth_topics",
        ] {
            let err = s.check(name, &ParameterValue::String("x".into())).expect_err(name);
            assert!(err.contains("restart the node"), "{err}");
        }
    }

    #[test]
    fn before_start_everything_passes_untouched() {
        let s = LiveSettings::new(live().get());
        s.check("workers", &ParameterValue::Integer(3))
            .expect("initial values pass");
        s.apply("match_threshold", &ParameterValue::Double(0.9)).expect("no-op");
        assert!((s.get().match_threshold - 0.455).abs() < 1e-6);
    }
}

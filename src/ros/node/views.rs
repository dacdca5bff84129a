//! What the node knows of each camera's geometry, as it arrives: the latest intrinsics (from
//! `sensor_msgs/CameraInfo`) and the latest aligned depth image, so the workers can give every
//! face a 3D position ([`crate::locate`]). Bad messages are refused here with the reason
//! (logged once per camera and reason kind, counted per camera), keeping the last good value.
//!
//! Touches only this shared state; the subscriptions live in `node`, the message conversions
//! in `convert`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::locate::{DepthMap, Intrinsics, LocateError};

/// A depth image is used for a colour frame when their stamps are at most this far apart.
pub const DEPTH_MAX_SKEW_NS: i64 = 100_000_000;

/// Depth images kept per camera, newest last: a colour frame processed late (a busy worker)
/// still finds the depth image stamped with it.
const DEPTH_KEPT: usize = 8;

#[derive(Default)]
struct View {
    intrinsics: Option<Intrinsics>,
    /// The latest depth images with their header stamps, oldest first.
    depth: std::collections::VecDeque<(i64, Arc<DepthMap>)>,
    /// Refused CameraInfo / depth messages, and whether each kind was logged already.
    refused_info: u64,
    refused_depth: u64,
    warned_info: bool,
    warned_depth: bool,
    /// Frames whose intrinsics or depth image did not fit them.
    misfits: u64,
    warned_misfit: bool,
}

/// One [`View`] per camera, in camera order.
pub struct CameraViews {
    views: Vec<Mutex<View>>,
}

impl CameraViews {
    pub fn new(cameras: usize) -> Self {
        Self {
            views: (0..cameras).map(|_| Mutex::new(View::default())).collect(),
        }
    }

    fn view(&self, camera: usize) -> Option<MutexGuard<'_, View>> {
        self.views
            .get(camera)
            .map(|v| v.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A CameraInfo for `camera`: the intrinsics, or why it was refused (logged once).
    pub fn set_intrinsics(&self, camera: usize, topic: &str, info: Result<Intrinsics, String>) {
        let Some(mut v) = self.view(camera) else { return };
        match info {
            Ok(k) => {
                if v.intrinsics.is_none() {
                    tracing::info!(
                        "{topic}: camera intrinsics received (fx {:.1} px); faces get 3D positions",
                        k.fx_px
                    );
                }
                v.intrinsics = Some(k);
            }
            Err(why) => {
                v.refused_info += 1;
                if !std::mem::replace(&mut v.warned_info, true) {
                    tracing::warn!("{topic}: CameraInfo refused ({why}); positions use the last good one, if any");
                }
            }
        }
    }

    /// A depth image for `camera` stamped `stamp_ns`, or why it was refused (logged once).
    pub fn set_depth(&self, camera: usize, topic: &str, stamp_ns: i64, depth: Result<DepthMap, String>) {
        let Some(mut v) = self.view(camera) else { return };
        match depth {
            Ok(d) => {
                if v.depth.len() >= DEPTH_KEPT {
                    v.depth.pop_front();
                }
                v.depth.push_back((stamp_ns, Arc::new(d)));
            }
            Err(why) => {
                v.refused_depth += 1;
                if !std::mem::replace(&mut v.warned_depth, true) {
                    tracing::warn!(
                        "{topic}: depth image refused ({why}); positions fall back to the monocular estimate"
                    );
                }
            }
        }
    }

    /// The intrinsics of `camera` and the depth image stamped closest to `stamp_ns`, when one is
    /// within [`DEPTH_MAX_SKEW_NS`].
    pub fn geometry(&self, camera: usize, stamp_ns: i64) -> (Option<Intrinsics>, Option<Arc<DepthMap>>) {
        let Some(v) = self.view(camera) else {
            return (None, None);
        };
        let depth = v
            .depth
            .iter()
            .min_by_key(|(at, _)| at.abs_diff(stamp_ns))
            .filter(|(at, _)| at.abs_diff(stamp_ns) <= DEPTH_MAX_SKEW_NS.unsigned_abs())
            .map(|(_, d)| Arc::clone(d));
        (v.intrinsics, depth)
    }

    /// A frame of `camera` whose intrinsics or depth image did not fit it (logged once).
    pub fn problem(&self, camera: usize, e: &LocateError) {
        let Some(mut v) = self.view(camera) else { return };
        v.misfits += 1;
        if !std::mem::replace(&mut v.warned_misfit, true) {
            tracing::warn!("camera {camera}: {e}; faces fall back to the monocular position, or none");
        }
    }

    /// Refused CameraInfo and depth messages of `camera` so far, and frames they did not fit
    /// (for /diagnostics).
    pub fn refused(&self, camera: usize) -> (u64, u64, u64) {
        self.view(camera)
            .map_or((0, 0, 0), |v| (v.refused_info, v.refused_depth, v.misfits))
    }

    /// Whether `camera` has intrinsics.
    pub fn has_intrinsics(&self, camera: usize) -> bool {
        self.view(camera).is_some_and(|v| v.intrinsics.is_some())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn bad_messages_keep_the_last_good_values_and_are_counted() {
        let views = CameraViews::new(2);
        assert_eq!(views.geometry(0, 0), (None, None));
        let k = Intrinsics::new(500.0, 500.0, 320.0, 240.0, 640, 480).unwrap();
        views.set_intrinsics(0, "/c/camera_info", Ok(k));
        views.set_intrinsics(0, "/c/camera_info", Err("focal length 0".into()));
        assert_eq!(views.geometry(0, 0).0, Some(k));
        assert_eq!(views.refused(0), (1, 0, 0));
        assert!(!views.has_intrinsics(1) && views.has_intrinsics(0));
        // Out of range cameras are ignored.
        views.set_intrinsics(5, "/x", Ok(k));
        assert_eq!(views.geometry(5, 0), (None, None));

        let depth = DepthMap::new(2, 1, vec![1.0, 2.0]).unwrap();
        views.set_depth(0, "/c/depth", 1_000_000_000, Ok(depth.clone()));
        views.set_depth(0, "/c/depth", 1_100_000_000, Err("size".into()));
        assert_eq!(views.refused(0), (1, 1, 0));
        views.problem(0, &LocateError::FocalLength { fx_px: 0.0, fy_px: 0.0 });
        assert_eq!(views.refused(0), (1, 1, 1));
        // Used only for frames stamped close to it.
        assert_eq!(views.geometry(0, 1_050_000_000).1.as_deref(), Some(&depth));
        assert!(views.geometry(0, 1_200_000_001).1.is_none());
        assert!(views.geometry(0, 800_000_000).1.is_none());
        // A frame processed late finds the depth image of its own time among newer ones; the
        // oldest are forgotten.
        for i in 1..=8_i64 {
            let later = DepthMap::new(1, 1, vec![i as f32]).unwrap();
            views.set_depth(0, "/c/depth", 1_000_000_000 + i * 33_000_000, Ok(later));
        }
        let found = views.geometry(0, 1_000_000_000 + 2 * 33_000_000 + 1).1.unwrap();
        assert_eq!(*found, DepthMap::new(1, 1, vec![2.0]).unwrap());
        assert_ne!(views.geometry(0, 990_000_000).1.as_deref(), Some(&depth), "forgotten");
    }
}

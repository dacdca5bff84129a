//! Hand-written SVG plots of evaluation reports: for verification the ROC curve (log FAR axis)
//! beside the histograms of same-person and different-people scores with the chosen threshold;
//! for identification the rates across thresholds with the recommended one. Text output only.

use std::fmt::Write as _;

use super::identify::IdentificationReport;
use super::verify::VerificationReport;

const W: f64 = 1000.0;
const H: f64 = 420.0;
const BLUE: &str = "#1f77b4";
const ORANGE: &str = "#d62728";
const GREEN: &str = "#2ca02c";
const GREY: &str = "#7f7f7f";
const PURPLE: &str = "#9467bd";

/// A rectangle of the canvas with data ranges on both axes.
struct Panel {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
    log_x: bool,
}

impl Panel {
    fn px(&self, x: f64) -> f64 {
        let (x, lo, hi) = if self.log_x {
            (x.max(1e-12).log10(), self.xmin.log10(), self.xmax.log10())
        } else {
            (x, self.xmin, self.xmax)
        };
        self.x0 + (x.clamp(lo, hi) - lo) / (hi - lo) * self.w
    }

    fn py(&self, y: f64) -> f64 {
        self.y0 + self.h - (y.clamp(self.ymin, self.ymax) - self.ymin) / (self.ymax - self.ymin) * self.h
    }

    fn frame(
        &self,
        svg: &mut String,
        title: &str,
        xlabel: &str,
        ylabel: &str,
        xticks: &[(f64, String)],
        yticks: &[(f64, String)],
    ) {
        let _ = writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
            self.x0, self.y0, self.w, self.h
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            self.x0 + self.w / 2.0,
            self.y0 - 10.0,
            esc(title)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            self.x0 + self.w / 2.0,
            self.y0 + self.h + 38.0,
            esc(xlabel)
        );
        let _ = writeln!(
            svg,
            r#"<text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            self.x0 - 45.0,
            self.y0 + self.h / 2.0,
            esc(ylabel)
        );
        for (v, label) in xticks {
            let x = self.px(*v);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/>"##,
                self.y0,
                self.y0 + self.h
            );
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                self.y0 + self.h + 16.0,
                esc(label)
            );
        }
        for (v, label) in yticks {
            let y = self.py(*v);
            let _ = writeln!(
                svg,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/>"##,
                self.x0,
                self.x0 + self.w
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"#,
                self.x0 - 6.0,
                y + 4.0,
                esc(label)
            );
        }
    }

    fn polyline(&self, svg: &mut String, points: &[(f64, f64)], color: &str, dash: bool) {
        let pts: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", self.px(x), self.py(y)))
            .collect();
        let dash = if dash { r#" stroke-dasharray="6,4""# } else { "" };
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            pts.join(" ")
        );
    }

    fn vline(&self, svg: &mut String, x: f64, color: &str, label: &str) {
        let px = self.px(x);
        let _ = writeln!(
            svg,
            r#"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="{color}" stroke-dasharray="4,3"/>"#,
            self.y0,
            self.y0 + self.h
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" fill="{color}">{}</text>"#,
            px + 4.0,
            self.y0 + 0.45 * self.h,
            esc(label)
        );
    }

    /// Legend with its top-left corner at canvas point (x, y).
    fn legend(&self, svg: &mut String, x: f64, y: f64, items: &[(&str, &str)]) {
        for (i, (color, label)) in items.iter().enumerate() {
            let y = y + 12.0 + 16.0 * i as f64;
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="12" height="10" fill="{color}"/>"#,
                y - 9.0
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{y:.1}" font-size="11">{}</text>"#,
                x + 18.0,
                esc(label)
            );
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn begin(title: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="20" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    svg
}

fn linear_ticks(lo: f64, hi: f64, step: f64, digits: usize) -> Vec<(f64, String)> {
    let n = ((hi - lo) / step).round() as i64;
    (0..=n)
        .map(|i| lo + i as f64 * step)
        .map(|v| (v, format!("{v:.digits$}")))
        .collect()
}

/// ROC curve and score histograms of a verification report.
pub fn verification_svg(report: &VerificationReport, title: &str) -> String {
    let mut svg = begin(title);
    // Zoom the TAR axis onto the curve's range over the plotted FARs (in steps of 0.05).
    let low_tar = report
        .roc
        .iter()
        .filter(|p| p.far >= 1e-3)
        .map(|p| p.tar)
        .fold(1.0_f64, f64::min);
    let ymin = ((low_tar * 20.0).floor() / 20.0 - 0.05).clamp(0.0, 0.95);
    let roc = Panel {
        x0: 70.0,
        y0: 60.0,
        w: 360.0,
        h: 290.0,
        xmin: 1e-3,
        xmax: 1.0,
        ymin,
        ymax: 1.0,
        log_x: true,
    };
    let xt: Vec<(f64, String)> = [1e-3, 1e-2, 1e-1, 1.0].iter().map(|&v| (v, format!("{v}"))).collect();
    let ystep = if 1.0 - ymin > 0.5 {
        0.2
    } else if 1.0 - ymin > 0.2 {
        0.05
    } else {
        0.01
    };
    let yticks = linear_ticks(ymin, 1.0, ystep, 2);
    roc.frame(
        &mut svg,
        &format!("ROC (AUC {:.4})", report.roc_auc),
        "false acceptance rate (log)",
        "true acceptance rate",
        &xt,
        &yticks,
    );
    // FAR 0 cannot sit on a log axis: draw it at the left edge.
    let pts: Vec<(f64, f64)> = report.roc.iter().map(|p| (p.far.max(1e-3), p.tar)).collect();
    roc.polyline(&mut svg, &pts, BLUE, false);

    let s = &report.same_scores;
    let d = &report.different_scores;
    let (lo, hi) = (f64::from(s.hist_lo), f64::from(s.hist_hi));
    let bins = s.histogram.len().max(1);
    let width = (hi - lo) / bins as f64;
    // Show the range where there is data, in whole tenths.
    let data_lo = (f64::from(s.min.min(d.min)) * 10.0).floor() / 10.0;
    let data_hi = (f64::from(s.max.max(d.max)) * 10.0).ceil() / 10.0;
    let (xmin, xmax) = if data_lo.is_finite() && data_hi.is_finite() && data_hi > data_lo {
        (data_lo.max(lo), data_hi.min(hi))
    } else {
        (lo, hi)
    };
    let frac = |counts: &[usize], total: usize| -> Vec<f64> {
        counts
            .iter()
            .map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 })
            .collect()
    };
    let sf = frac(&s.histogram, s.count);
    let df = frac(&d.histogram, d.count);
    let ymax = sf.iter().chain(&df).copied().fold(0.0_f64, f64::max).max(1e-3) * 1.35;
    let hist = Panel {
        x0: 560.0,
        y0: 60.0,
        w: 400.0,
        h: 290.0,
        xmin,
        xmax,
        ymin: 0.0,
        ymax,
        log_x: false,
    };
    let ystep = if ymax > 0.25 {
        0.1
    } else if ymax > 0.1 {
        0.05
    } else {
        0.02
    };
    hist.frame(
        &mut svg,
        "Score distributions",
        "cosine similarity",
        "share of pairs per bin",
        &linear_ticks(xmin, xmax, if xmax - xmin > 1.0 { 0.2 } else { 0.1 }, 1),
        &linear_ticks(0.0, (ymax / ystep).floor() * ystep, ystep, 2),
    );
    let steps = |fr: &[f64]| -> Vec<(f64, f64)> {
        let mut pts = Vec::with_capacity(2 * fr.len() + 2);
        pts.push((lo, 0.0));
        for (i, &v) in fr.iter().enumerate() {
            let x = lo + i as f64 * width;
            pts.push((x, v));
            pts.push((x + width, v));
        }
        pts.push((hi, 0.0));
        pts
    };
    hist.polyline(&mut svg, &steps(&sf), GREEN, false);
    hist.polyline(&mut svg, &steps(&df), ORANGE, false);
    hist.vline(
        &mut svg,
        f64::from(report.threshold),
        GREY,
        &format!("threshold {:.3}", report.threshold),
    );
    hist.legend(
        &mut svg,
        hist.x0 + hist.w - 190.0,
        hist.y0 + 6.0,
        &[
            (GREEN, &format!("same person ({})", s.count)),
            (ORANGE, &format!("different people ({})", d.count)),
        ],
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}-fold accuracy {:.2}% ± {:.2}, F1 {:.4}, pairs without a face: {} same / {} different</text>"#,
        W / 2.0,
        H - 12.0,
        report.folds,
        report.kfold.mean_accuracy * 100.0,
        report.kfold.std_accuracy * 100.0,
        report.f1,
        report.missing.same,
        report.missing.different
    );
    svg.push_str("</svg>\n");
    svg
}

/// Identification rates across thresholds.
pub fn identification_svg(report: &IdentificationReport, title: &str) -> String {
    let mut svg = begin(title);
    let p = Panel {
        x0: 80.0,
        y0: 60.0,
        w: 640.0,
        h: 290.0,
        xmin: 0.0,
        xmax: 1.0,
        ymin: 0.0,
        ymax: 1.0,
        log_x: false,
    };
    p.frame(
        &mut svg,
        &format!(
            "Open set: {} enrolled, {} known probes, {} strangers",
            report.enrolled, report.known_probes, report.strangers
        ),
        "match threshold (cosine similarity)",
        "share of probes",
        &linear_ticks(0.0, 1.0, 0.1, 1),
        &linear_ticks(0.0, 1.0, 0.2, 1),
    );
    let line = |f: fn(&super::identify::OperatingPoint) -> f64| -> Vec<(f64, f64)> {
        report.sweep.iter().map(|o| (f64::from(o.threshold), f(o))).collect()
    };
    p.polyline(&mut svg, &line(|o| o.stranger_acceptance), ORANGE, false);
    p.polyline(&mut svg, &line(|o| o.known_identified), GREEN, false);
    p.polyline(&mut svg, &line(|o| o.known_rejected), BLUE, true);
    p.polyline(&mut svg, &line(|o| o.known_misidentified), PURPLE, true);
    let r = &report.recommended;
    p.vline(
        &mut svg,
        f64::from(r.threshold),
        GREY,
        &format!(
            "{:.3}: strangers accepted {:.2}%",
            r.threshold,
            r.stranger_acceptance * 100.0
        ),
    );
    p.legend(
        &mut svg,
        p.x0 + p.w + 20.0,
        p.y0 + 10.0,
        &[
            (ORANGE, "strangers accepted"),
            (GREEN, "known people named correctly"),
            (BLUE, "known people rejected"),
            (PURPLE, "known people misnamed"),
        ],
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">rank-1 {:.2}%; at {:.3}: known named {:.2}%, rejected {:.2}%, misnamed {:.2}%</text>"#,
        W / 2.0,
        H - 12.0,
        report.rank1_rate * 100.0,
        r.threshold,
        r.known_identified * 100.0,
        r.known_rejected * 100.0,
        r.known_misidentified * 100.0
    );
    svg.push_str("</svg>\n");
    svg
}

//! One Prometheus metric family and its text rendering (format 0.0.4).

use std::fmt::Write;

/// One metric family: a name, its type and help, and its samples. A sample's key is what
/// follows the name: labels (`{env="production"}`), or a suffix and labels for histograms
/// (`_bucket{le="0.005"}`), or nothing.
pub struct Family {
    /// Metric name.
    pub name: &'static str,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Samples.
    pub samples: Vec<(String, f64)>,
}

impl Family {
    /// A family of one unlabelled sample.
    pub fn single(name: &'static str, kind: &'static str, help: &'static str, value: f64) -> Self {
        Self {
            name,
            kind,
            help,
            samples: vec![(String::new(), value)],
        }
    }

    /// Appends the family in Prometheus text format 0.0.4.
    pub fn render(&self, out: &mut String) {
        let Self {
            name, kind, help, ..
        } = self;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (key, value) in &self.samples {
            let _ = writeln!(out, "{name}{key} {value}");
        }
    }
}

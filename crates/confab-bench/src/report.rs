//! What a scenario reports: named figures, latency percentiles, and the `--check` verdict.

use serde::Serialize;

use crate::latency::Percentiles;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// The sizes and rates the run used.
    pub parameters: serde_json::Value,
    /// Measured figures, by name (rates per second, times in seconds, sizes in bytes).
    pub figures: Vec<(String, f64)>,
    /// Latency distributions, by name.
    pub latency: Vec<(String, Percentiles)>,
    /// `None` without `--check`; otherwise what the check found (empty: all good).
    pub check: Option<Vec<String>>,
    /// The connections the measured clients opened to each node (one entry per `--server`;
    /// empty for scenarios that do not spread over nodes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeConnections>,
}

/// How many connections went to one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeConnections {
    /// `host:port`.
    pub server: String,
    pub connections: u64,
}

impl Report {
    pub fn new(scenario: &'static str, parameters: serde_json::Value) -> Self {
        Self {
            scenario,
            parameters,
            figures: Vec::new(),
            latency: Vec::new(),
            check: None,
            nodes: Vec::new(),
        }
    }

    pub fn figure(&mut self, name: &str, value: f64) {
        self.figures.push((name.to_owned(), value));
    }

    /// True unless `--check` found a problem.
    pub fn passed(&self) -> bool {
        self.check.as_ref().is_none_or(Vec::is_empty)
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut out = format!("{} {}\n", self.scenario, self.parameters);
        for (name, value) in &self.figures {
            out.push_str(&format!("  {name:<28} {value:>14.2}\n"));
        }
        for (name, p) in &self.latency {
            out.push_str(&format!(
                "  {name:<28} n={} p50={:.3}ms p90={:.3}ms p99={:.3}ms p99.9={:.3}ms max={:.3}ms\n",
                p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms
            ));
        }
        for node in &self.nodes {
            out.push_str(&format!(
                "  connections to {:<15} {:>14}\n",
                node.server, node.connections
            ));
        }
        match &self.check {
            None => {}
            Some(problems) if problems.is_empty() => {
                out.push_str("  check: every message reached every recipient exactly once\n")
            }
            Some(problems) => {
                out.push_str(&format!("  CHECK FAILED ({} problems):\n", problems.len()));
                for problem in problems.iter().take(20) {
                    out.push_str(&format!("    {problem}\n"));
                }
            }
        }
        out
    }
}

//! Latency recording: an HDR histogram in microseconds, summarised as percentiles.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// Records `micros`, saturating at the histogram's bound.
pub fn record(histogram: &mut Histogram<u64>, micros: u64) {
    histogram.saturating_record(micros.max(1));
}

pub fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Percentiles {
        count: histogram.len(),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: histogram.max() as f64 / 1000.0,
    }
}

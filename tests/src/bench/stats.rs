//! Samples in milliseconds, their percentiles, and the printed table (with ratios to the floor).

/// One figure's samples, in milliseconds.
#[derive(Default, Clone)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    pub fn push(&mut self, ms: f64) {
        self.0.push(ms);
    }

    /// Arithmetic mean; NaN when empty.
    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }

    /// Nearest-rank percentile (`q` in 0..=100); NaN when empty.
    pub fn pct(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((q / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    }
}

/// The printed table: a header once, then one row per figure.
pub struct Table {
    /// p50 of one commit + one LISTEN/NOTIFY round trip + one tmux command (0 before measured).
    pub floor_ms: f64,
}

impl Table {
    pub fn header(&self, title: &str) {
        println!("\n## {title}\n");
        println!("| figure (ms) | n | p50 | p95 | p99 | max | p50 / floor |");
        println!("|---|---|---|---|---|---|---|");
    }

    pub fn row(&self, name: &str, s: &Samples) {
        let ratio = if self.floor_ms > 0.0 {
            format!("{:.1}×", s.pct(50.0) / self.floor_ms)
        } else {
            "–".into()
        };
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {ratio} |",
            s.0.len(),
            s.pct(50.0),
            s.pct(95.0),
            s.pct(99.0),
            s.pct(100.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Samples((1..=100).map(f64::from).collect());
        assert_eq!(
            (s.pct(50.0), s.pct(99.0), s.pct(100.0)),
            (50.0, 99.0, 100.0)
        );
        assert!(Samples::default().pct(50.0).is_nan());
        assert_eq!(s.mean(), 50.5);
    }
}

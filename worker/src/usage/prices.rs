//! The price table: what a million tokens of each kind cost per model, and each model's context
//! window. Built in for current Claude models (list prices, US dollars, checked 2026-12 against
//! Anthropic's model pages, e.g. `claude-opus-4-8`: $5 input, $25 output per million tokens, a
//! 1M-token window; cache reads at 0.1× and 5-minute cache writes at 1.25× the input price);
//! `PALIADIN_PRICES` adds models or overrides them (`docs/operations.md`, "Usage and cost").
//!
//! Format of `PALIADIN_PRICES`: entries separated by `;`, each
//! `<model prefix>=<input>,<output>,<cache read>,<cache write>[,<context window>]` (dollars per
//! million tokens; the window in tokens), e.g.
//! `claude-sonnet-4=3,15,0.3,3.75,200000;my-proxy-model=1,2,0.1,1.25`. A model is priced by the
//! longest prefix that matches its name; a model no entry matches gets tokens only, no cost.

use paliadin_shared::domain::usage::Usage;

/// The context window assumed for a model whose entry gives none (Claude's standard window).
pub const DEFAULT_CONTEXT_WINDOW: i64 = 200_000;

/// Dollars per million tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub prefix: String,
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub context_window: i64,
}

/// The built-in entries (prefix, input, output, cache read, cache write, context window).
/// Opus 4.5 and later cost a third of Opus 4 and 4.1, which the bare `claude-opus-4` prefix
/// keeps: each later Opus needs its own entry (a newer one still missing here is priced as Opus
/// 4 until `PALIADIN_PRICES` names it).
const BUILT_IN: &[(&str, f64, f64, f64, f64, i64)] = &[
    ("claude-opus-4-8", 5.0, 25.0, 0.5, 6.25, 1_000_000),
    (
        "claude-opus-4-7",
        5.0,
        25.0,
        0.5,
        6.25,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-opus-4-6",
        5.0,
        25.0,
        0.5,
        6.25,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-opus-4-5",
        5.0,
        25.0,
        0.5,
        6.25,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-opus-4",
        15.0,
        75.0,
        1.5,
        18.75,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-sonnet-4",
        3.0,
        15.0,
        0.3,
        3.75,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-3-7-sonnet",
        3.0,
        15.0,
        0.3,
        3.75,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-haiku-4-5",
        1.0,
        5.0,
        0.1,
        1.25,
        DEFAULT_CONTEXT_WINDOW,
    ),
    (
        "claude-3-5-haiku",
        0.8,
        4.0,
        0.08,
        1.0,
        DEFAULT_CONTEXT_WINDOW,
    ),
];

/// Every model's price, longest prefix first.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable(Vec<Price>);

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::parse("").expect("no entries")
    }
}

impl PriceTable {
    /// The built-in table with `spec`'s entries added or replacing ones of the same prefix.
    pub fn parse(spec: &str) -> Result<PriceTable, String> {
        let mut prices: Vec<Price> = BUILT_IN
            .iter()
            .map(
                |&(prefix, input, output, cache_read, cache_write, context_window)| Price {
                    prefix: prefix.into(),
                    input,
                    output,
                    cache_read,
                    cache_write,
                    context_window,
                },
            )
            .collect();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let price = entry_of(entry)?;
            prices.retain(|p| p.prefix != price.prefix);
            prices.push(price);
        }
        prices.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
        Ok(PriceTable(prices))
    }

    /// The entry for `model`: the longest prefix of its name.
    pub fn of(&self, model: &str) -> Option<&Price> {
        self.0.iter().find(|p| model.starts_with(&p.prefix))
    }

    /// `usage` with its cost and its model's context window filled in (the window's default
    /// for a model the table lacks, which also gets no cost).
    pub fn priced(&self, mut usage: Usage) -> Usage {
        let price = self.of(&usage.model);
        usage.context_window = Some(price.map_or(DEFAULT_CONTEXT_WINDOW, |p| p.context_window));
        usage.cost_usd = price.map(|p| {
            let per = |n: i64, dollars: f64| n as f64 * dollars / 1e6;
            let cost = per(usage.input, p.input)
                + per(usage.output, p.output)
                + per(usage.cache_read, p.cache_read)
                + per(usage.cache_creation, p.cache_write);
            // Rounded to a millionth of a dollar, as stored.
            (cost * 1e6).round() / 1e6
        });
        usage
    }
}

fn entry_of(entry: &str) -> Result<Price, String> {
    let bad = |why: &str| format!("PALIADIN_PRICES entry {entry:?}: {why}");
    let (prefix, numbers) = entry.split_once('=').ok_or_else(|| {
        bad("expected <model prefix>=<input>,<output>,<cache read>,<cache write>")
    })?;
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return Err(bad("the model prefix is empty"));
    }
    let parts: Vec<&str> = numbers.split(',').map(str::trim).collect();
    if !(4..=5).contains(&parts.len()) {
        return Err(bad("expected four prices and an optional context window"));
    }
    let mut dollars = [0f64; 4];
    for (d, p) in dollars.iter_mut().zip(&parts) {
        *d = p
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad(&format!("{p:?} is not a price")))?;
    }
    let context_window = match parts.get(4) {
        None => DEFAULT_CONTEXT_WINDOW,
        Some(w) => w
            .parse::<i64>()
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| bad(&format!("{w:?} is not a context window")))?,
    };
    Ok(Price {
        prefix: prefix.into(),
        input: dollars[0],
        output: dollars[1],
        cache_read: dollars[2],
        cache_write: dollars[3],
        context_window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_the_longest_prefix_and_leaves_unknown_models_unpriced() {
        let t = PriceTable::parse("claude-sonnet-4-9=1,2,0.5,4,1000000; scripted=1,1,1,1").unwrap();
        let u = Usage {
            model: "claude-sonnet-4-9-2027".into(),
            input: 1_000_000,
            output: 2_000_000,
            cache_read: 500_000,
            cache_creation: 250_000,
            ..Usage::default()
        };
        let p = t.priced(u.clone());
        assert_eq!(p.cost_usd, Some(1.0 + 4.0 + 0.25 + 1.0));
        assert_eq!(p.context_window, Some(1_000_000));
        let sonnet = t.priced(Usage {
            model: "claude-sonnet-4-5-20250929".into(),
            ..u.clone()
        });
        assert_eq!(sonnet.cost_usd, Some(3.0 + 30.0 + 0.15 + 0.9375));
        let unknown = t.priced(Usage {
            model: "gpt-x".into(),
            ..u
        });
        assert_eq!(unknown.cost_usd, None);
        assert_eq!(unknown.context_window, Some(DEFAULT_CONTEXT_WINDOW));
    }

    #[test]
    fn opus_4_8_has_its_own_list_price_and_window_and_can_be_overridden() {
        let million = |model: &str| Usage {
            model: model.into(),
            input: 1_000_000,
            output: 1_000_000,
            cache_read: 1_000_000,
            cache_creation: 1_000_000,
            ..Usage::default()
        };
        let t = PriceTable::default();
        let p = t.priced(million("claude-opus-4-8"));
        assert_eq!(p.cost_usd, Some(5.0 + 25.0 + 0.5 + 6.25));
        assert_eq!(p.context_window, Some(1_000_000));
        assert_eq!(
            t.priced(million("claude-opus-4-1-20250805")).cost_usd,
            Some(15.0 + 75.0 + 1.5 + 18.75),
            "Opus 4.1 keeps the older price"
        );
        let t = PriceTable::parse("claude-opus-4-8=4,20,0.2,5").unwrap();
        let p = t.priced(million("claude-opus-4-8"));
        assert_eq!(p.cost_usd, Some(4.0 + 20.0 + 0.2 + 5.0));
        assert_eq!(p.context_window, Some(DEFAULT_CONTEXT_WINDOW));
    }

    #[test]
    fn refuses_malformed_entries() {
        for bad in [
            "x",
            "=1,2,3,4",
            "m=1,2,3",
            "m=1,2,3,-4",
            "m=1,2,3,4,0",
            "m=a,2,3,4",
        ] {
            assert!(PriceTable::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Recognising an agent that retries its model's API by itself (overloaded, rate-limited): no
//! hook reports it, so the worker reads it from the screen and reports
//! `status {state: "retrying", attempt, of, next_in}` instead of a turn that looks stuck.
//!
//! Claude Code 2.1.197 shows, in its status line while it waits before the next attempt:
//! `✻ API error · Retrying in 1s · attempt 1/2` (on the last attempt the error's own text
//! replaces `API error`; a rate limit with a known reset adds ` (resets …)` after the delay).

/// How many of the screen's last non-blank lines are searched (the status line is near the
/// bottom, above the input box).
const BOTTOM_LINES: usize = 12;

/// One retry the agent is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// How many retries the agent makes at most.
    pub of: u32,
    /// Seconds until the next attempt, as shown.
    pub next_in: u64,
}

/// The retry shown at the bottom of `screen`, if any.
pub fn retry(screen: &str) -> Option<Retry> {
    screen
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(BOTTOM_LINES)
        .find_map(parse_line)
}

fn parse_line(line: &str) -> Option<Retry> {
    let (_, after) = line.split_once("Retrying in ")?;
    let (delay, rest) = after.split_once(" · attempt ")?;
    let delay = delay.split(" (").next().unwrap_or(delay);
    let (attempt, of) = rest.split_once('/')?;
    let digits = |s: &str| -> Option<u32> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    Some(Retry {
        attempt: digits(attempt.trim())?,
        of: digits(of)?,
        next_in: seconds(delay.trim())?,
    })
}

/// `1s`, `45s`, `1m 30s`, `2h 5m` → seconds.
fn seconds(text: &str) -> Option<u64> {
    let mut total = 0u64;
    for part in text.split_whitespace() {
        let split = part.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = part.split_at(split);
        let n: u64 = n.parse().ok()?;
        total += n * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return None,
        };
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_claudes_retry_line() {
        let screen =
            "❯ [PALIADIN:x] hi\n\n✻ API error · Retrying in 1s · attempt 1/2\n\n──\n❯ \n──\n";
        assert_eq!(
            retry(screen),
            Some(Retry {
                attempt: 1,
                of: 2,
                next_in: 1
            })
        );
        let last = "✻ Overloaded · Retrying in 1m 5s (resets 3pm) · attempt 10/10";
        assert_eq!(
            retry(last),
            Some(Retry {
                attempt: 10,
                of: 10,
                next_in: 65
            })
        );
        assert_eq!(retry("Retrying in soon"), None);
        assert_eq!(retry("nothing here"), None);
    }
}

//! A bounded, cancel-safe line reader for the JSON-lines channel (both ends use it).
//!
//! A line longer than the limit is never held in memory: its bytes are dropped up to the next
//! newline and the caller is told how long it was, so one oversized request costs an error
//! response, not the connection. `next` keeps its state in the reader, so it may be cancelled
//! inside `select!` without losing bytes.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// One read from the channel.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its `\n` (a last line without `\n` before EOF counts too).
    Text(Vec<u8>),
    /// A line over the limit was skipped; its length in bytes.
    TooLong(usize),
    /// The peer closed the channel.
    Eof,
}

pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
    buf: Vec<u8>,
    /// Bytes of an oversized line dropped so far (`Some` while skipping one).
    skipping: Option<usize>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            max,
            buf: Vec::new(),
            skipping: None,
        }
    }

    /// The next line. Cancel-safe.
    pub async fn next(&mut self) -> std::io::Result<Line> {
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                if let Some(n) = self.skipping.take() {
                    return Ok(Line::TooLong(n));
                }
                if self.buf.is_empty() {
                    return Ok(Line::Eof);
                }
                return Ok(Line::Text(std::mem::take(&mut self.buf)));
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            match &mut self.skipping {
                Some(n) => *n += take,
                None if self.buf.len() + take > self.max => {
                    self.skipping = Some(self.buf.len() + take);
                    self.buf = Vec::new();
                }
                None => self.buf.extend_from_slice(&chunk[..take]),
            }
            self.inner.consume(take + usize::from(done));
            if done {
                if let Some(n) = self.skipping.take() {
                    return Ok(Line::TooLong(n));
                }
                return Ok(Line::Text(std::mem::take(&mut self.buf)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_lines_and_skips_oversized_ones() {
        let mut input = b"a\n".to_vec();
        input.extend(vec![b'x'; 100]);
        input.extend(b"\nbc\nlast");
        let mut r = LineReader::new(&input[..], 10);
        assert_eq!(r.next().await.unwrap(), Line::Text(b"a".to_vec()));
        assert_eq!(r.next().await.unwrap(), Line::TooLong(100));
        assert_eq!(r.next().await.unwrap(), Line::Text(b"bc".to_vec()));
        assert_eq!(r.next().await.unwrap(), Line::Text(b"last".to_vec()));
        assert_eq!(r.next().await.unwrap(), Line::Eof);
    }
}

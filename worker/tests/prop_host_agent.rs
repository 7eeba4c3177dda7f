//! Property-based tests of the host-agent protocol's parsers (`paliadin_worker::host_agent`): the
//! bounded line reader both ends use (`lines`), and the JSON lines it carries (`proto`:
//! requests the host agent reads, responses the worker reads, error codes). Never a panic on
//! arbitrary bytes, lines never over their limit whatever the chunking, and every response and
//! code survives the wire unchanged. Cases: `PROPTEST_CASES` (default 256).

use paliadin_shared::domain::trailer::Trailer;
use paliadin_worker::host_agent::lines::{Line, LineReader};
use paliadin_worker::host_agent::proto::{self, Body, Request, Response, WireCode};
use proptest::prelude::*;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Hands out its bytes in the given chunk sizes (cycled), as a pipe or a socket would.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = size.min(buf.remaining()).min(self.data.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// Every line of `data` through a reader with limit `max`, fed in chunks of `sizes`.
fn read_all(data: &[u8], max: usize, sizes: Vec<usize>) -> Vec<Line> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let input = Chunked {
            data: data.to_vec(),
            at: 0,
            sizes,
            turn: 0,
        };
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        loop {
            match r.next().await.expect("in-memory read") {
                Line::Eof => return out,
                line => out.push(line),
            }
        }
    })
}

/// What the reader must return: each `\n`-separated piece, or its length when over `max`.
fn model(data: &[u8], max: usize) -> Vec<Line> {
    let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.is_empty() || data.ends_with(b"\n") {
        pieces.pop();
    }
    pieces
        .into_iter()
        .map(|p| match p.len() {
            n if n > max => Line::TooLong(n),
            _ => Line::Text(p.to_vec()),
        })
        .collect()
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![3 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'{')],
        0..600,
    )
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..40).prop_map(|v| v.into_iter().collect())
}

fn code() -> impl Strategy<Value = WireCode> {
    prop_oneof![
        text().prop_map(WireCode::from),
        prop::sample::select(vec![
            "timeout",
            "cancelled",
            "abandoned",
            "worker_lost",
            "session_lost",
            "bad_request",
            "too_large",
            "unknown_op",
            "unknown_turn",
            "busy",
            "host_unreachable",
        ])
        .prop_map(|s| WireCode::from(s.to_owned())),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::Delivered),
        Just(Body::ok()),
        text().prop_map(|delta| Body::Content { delta }),
        text().prop_map(|text| Body::Activity { text }),
        (text(), "[a-z0-9_-]{1,32}", 0..=i32::MAX).prop_map(|(text, tag, rows)| Body::Reply {
            text,
            trailer: Trailer {
                used_tools: vec!["Read".into()],
                rows_seen: rows,
                chip_count: 0,
                classifier_tag: tag,
            },
            usage: Vec::new(),
            agent: None,
        }),
        (code(), text(), prop::option::of(text())).prop_map(|(code, message, text)| {
            Body::Error {
                code,
                message,
                text,
            }
        }),
        (any::<u32>(), text(), any::<usize>()).prop_map(|(protocol, server, max_line)| {
            Body::Hello {
                protocol,
                server,
                max_line,
            }
        }),
    ]
}

proptest! {
    #[test]
    fn the_line_reader_matches_its_model_whatever_the_chunking(
        data in bytes(),
        max in 0usize..80,
        sizes in prop::collection::vec(1usize..97, 1..6),
    ) {
        let lines = read_all(&data, max, sizes);
        for l in &lines {
            if let Line::Text(t) = l {
                prop_assert!(t.len() <= max && !t.contains(&b'\n'));
            }
        }
        prop_assert_eq!(lines, model(&data, max));
    }

    #[test]
    fn arbitrary_lines_never_panic_either_end(line in bytes()) {
        let _ = serde_json::from_slice::<Request>(&line);
        let _ = serde_json::from_slice::<Response>(&line);
        let _ = serde_json::from_slice::<serde_json::Value>(&line);
    }

    #[test]
    fn json_shaped_lines_never_panic(
        op in prop::sample::select(proto::OPS.to_vec()),
        ty in "[a-z_]{1,12}",
        field in text(),
        id in any::<i64>(),
    ) {
        let lines = [
            serde_json::json!({"id": id, "op": op, "turn_id": field, "session": field}),
            serde_json::json!({"id": id, "op": op, "turn_id": uuid::Uuid::nil(), "user_id": uuid::Uuid::nil(),
                "session": field, "message": field, "timeout_ms": id}),
            serde_json::json!({"id": id, "type": ty, "delta": field, "code": field, "message": field}),
        ];
        for l in lines {
            let _ = serde_json::from_value::<Request>(l.clone());
            let _ = serde_json::from_value::<Response>(l);
        }
    }

    #[test]
    fn every_response_survives_the_wire(id in prop::option::of(any::<u64>()), body in body()) {
        let r = Response { id, body };
        let line = proto::line(&r);
        prop_assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let back: Response = serde_json::from_str(line.trim_end()).expect("a rendered line parses");
        prop_assert_eq!(back, r);
    }

    #[test]
    fn an_error_code_round_trips_as_a_string(s in text()) {
        let code = WireCode::from(s.clone());
        prop_assert_eq!(code.as_str(), s.as_str());
    }
}

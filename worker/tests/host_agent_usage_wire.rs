//! The host-agent wire's `reply` with usage (`docs/hosts.md`): a reply carries the tokens the
//! host agent read from the agent's transcript and survives the wire; a reply from an older
//! host agent, without `usage` or `agent`, still parses (with none).

use paliadin_shared::domain::AgentKind;
use paliadin_shared::domain::trailer::Trailer;
use paliadin_shared::domain::usage::{TurnUsage, Usage};
use paliadin_worker::host_agent::proto::{self, Body, Response};
use uuid::Uuid;

#[test]
fn a_reply_carries_its_usage_and_an_older_one_parses_without() {
    let usage = vec![TurnUsage {
        turn_id: Uuid::now_v7(),
        usage: Usage {
            model: "claude-x".into(),
            input: 1,
            output: 2,
            cache_read: 3,
            cache_creation: 4,
            context: 8,
            ..Usage::default()
        },
    }];
    let r = Response {
        id: Some(4),
        body: Body::Reply {
            text: "hi".into(),
            trailer: Trailer::default(),
            usage: usage.clone(),
            agent: Some(AgentKind::Codex),
        },
    };
    let line = proto::line(&r);
    assert!(line.contains("\"cache_creation\":4"), "{line}");
    assert!(line.contains("\"agent\":\"codex\""), "{line}");
    let back: Response = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(back.body, r.body);

    let old = r#"{"id":4,"type":"reply","text":"hi","trailer":{"used_tools":[],"rows_seen":0,"chip_count":0,"classifier_tag":"x"}}"#;
    let back: Response = serde_json::from_str(old).unwrap();
    let Body::Reply { usage, agent, .. } = back.body else {
        panic!("a reply")
    };
    assert!(usage.is_empty());
    assert_eq!(agent, None);

    let newer = old.replace("}}", r#"},"agent":"gemini"}"#);
    let back: Response = serde_json::from_str(&newer).unwrap();
    let Body::Reply { agent, .. } = back.body else {
        panic!("a reply")
    };
    assert_eq!(agent, None, "an unknown agent is none, not a refused reply");
}

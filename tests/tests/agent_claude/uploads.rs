//! Files sent from the page reach the real Claude Code: an image and a text file are uploaded,
//! the turn's envelope names their paths under the working directory, and the scripted model
//! (`read-files`) asks Claude to `Read` each path. Claude's tool results for both are
//! successes — the image arrives as an image block, the text with its lines — and the turn
//! ends with the reply.

use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::uploads::{PNG, uploaded};
use serde_json::{Value, json};

/// Every `tool_result` block in the requests Claude sent the model, by its tool use id.
fn tool_results(sys: &ClaudeSys) -> Vec<Value> {
    sys.claude
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/messages")
        .filter_map(|r| r.body["messages"].as_array().cloned())
        .flatten()
        .filter_map(|m| m["content"].as_array().cloned())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .collect()
}

/// The `Read` tool calls' `file_path`s, with their tool use ids, in the requests' order.
fn reads(sys: &ClaudeSys) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in sys.claude.server.requests() {
        let Some(messages) = r.body["messages"].as_array() else {
            continue;
        };
        for b in messages
            .iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
        {
            if b["type"] == "tool_use" && b["name"] == "Read" {
                let item = (
                    b["id"].as_str().unwrap_or_default().to_owned(),
                    b["input"]["file_path"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_reads_the_image_and_the_file_sent_with_a_message() {
    let Some(sys) = ClaudeSys::start("cc-up1", &[]).await else {
        return;
    };
    let text = b"line one of the notes\nline two\n";
    let ids = [
        uploaded(&sys.c, "screenshot.png", PNG).await,
        uploaded(&sys.c, "notes.txt", text).await,
    ];
    let body = json!({"user_message": "read-files please look at these", "upload_ids": ids});
    let (s, v) = sys.c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let turn = v["turn_id"].as_str().expect("turn id").to_owned();
    let evs = sys
        .c
        .stream_all(v["sse_url"].as_str().expect("sse url"), None, 90)
        .await;
    let end = last(&evs);
    assert_eq!(end.event, "end", "{evs:?}");
    assert_eq!(
        end.data["text"].as_str().map(str::trim),
        Some("Read 2 files."),
        "{end:?}"
    );

    let dir = sys
        .claude
        .workdir
        .canonicalize()
        .unwrap()
        .join("uploads")
        .join(&turn);
    let reads = reads(&sys);
    let paths: Vec<&str> = reads.iter().map(|(_, p)| p.as_str()).collect();
    let want = [dir.join("screenshot.png"), dir.join("notes.txt")];
    let want: Vec<&str> = want.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(paths, want, "Claude read the paths the envelope named");

    let results = tool_results(&sys);
    let result_of = |id: &str| {
        results
            .iter()
            .find(|r| r["tool_use_id"] == id)
            .unwrap_or_else(|| panic!("a result for {id} in {results:?}"))
            .clone()
    };
    let image = result_of(&reads[0].0);
    assert_ne!(image["is_error"], true, "reading the image: {image}");
    let blocks = image["content"].as_array().cloned().unwrap_or_default();
    assert!(
        blocks
            .iter()
            .any(|b| b["type"] == "image" && b["source"]["type"] == "base64"),
        "the image reached the model as an image: {image}"
    );
    let notes = result_of(&reads[1].0);
    assert_ne!(notes["is_error"], true, "reading the text: {notes}");
    assert!(
        notes.to_string().contains("line one of the notes"),
        "the text reached the model: {notes}"
    );
}

//! Runs the scripted model server by itself (for trying Claude Code by hand): prints its base
//! URL, then logs a line per request (`--dump DIR` also writes each request body as JSON).
//!
//! `cargo run -p paliadin-e2e --bin scripted-model`, then
//! `ANTHROPIC_BASE_URL=<url> ANTHROPIC_API_KEY=sk-test claude`.

use paliadin_e2e::model::ModelServer;

#[tokio::main]
async fn main() {
    let dump = std::env::args().skip_while(|a| a != "--dump").nth(1);
    let server = ModelServer::start().await;
    println!("{}", server.base_url);
    let mut seen = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let all = server.requests();
        for (i, r) in all.iter().enumerate().skip(seen) {
            let view = paliadin_e2e::model::request::turn_view(&r.body);
            eprintln!("#{i} {} step={:?}", r.path, view.map(|v| v.step));
            if let Some(dir) = &dump {
                let path = format!("{dir}/{i:04}.json");
                let text = serde_json::to_string_pretty(&r.body).expect("json");
                std::fs::write(path, text).expect("dump");
            }
        }
        seen = all.len();
    }
}

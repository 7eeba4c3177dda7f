//! Codex on OpenAI's own provider, logged in with an API key: the operator leaves
//! `model_provider` alone (the built-in `openai`), points it elsewhere only for the test
//! (`openai_base_url`, the scripted model on loopback) and runs `deploy/agents/codex/install.sh`
//! with `OPENAI_API_KEY` in its environment, which logs Codex in with that key
//! (`$CODEX_HOME/auth.json`). The agent's own environment holds no key, yet the first start
//! shows no sign-in screen and every request carries the key.

use paliadin_e2e::codex::{API_KEY, Provider, dialog_on};
use paliadin_e2e::codex_sys::{CodexSys, last};
use paliadin_e2e::model_openai::script::default_body;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_s_own_provider_starts_logged_in_with_the_installer_s_api_key() {
    let Some(sys) = CodexSys::start_with("cx-login", Provider::OpenAi, &[]).await else {
        return;
    };
    let auth = std::fs::read_to_string(sys.codex.codex_home.join("auth.json")).expect("auth.json");
    assert!(
        auth.contains(API_KEY),
        "the installer logged Codex in: {auth}"
    );
    let wrapper = std::fs::read_to_string(&sys.codex.agent_cmd).expect("wrapper");
    assert!(
        !wrapper.contains(API_KEY),
        "the agent's environment has no key"
    );

    let (id, evs) = sys.turn("hello openai").await;
    sys.assert_end(&evs, "hello openai");
    assert_eq!(last(&evs).data["text"], default_body("hello openai"));
    assert_eq!(last(&evs).data["agent"], "codex");
    let screen = sys.rig.screen(&sys.session());
    assert_eq!(dialog_on(&screen), None, "a screen is open:\n{screen}");
    assert_eq!(sys.prompts(), [(id, "hello openai".to_owned())]);
    let bearer = format!("Bearer {API_KEY}");
    let asked: Vec<_> = sys
        .codex
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/responses" && !r.body.is_null())
        .collect();
    assert!(!asked.is_empty(), "Codex asked the scripted model");
    for r in &asked {
        assert_eq!(
            r.authorization.as_deref(),
            Some(bearer.as_str()),
            "{}",
            r.path
        );
    }
}

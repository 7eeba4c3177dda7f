//! Keeps the OpenAPI document (`GET /api/openapi.json`) in sync with the router and valid:
//! every JSON route registered anywhere in `api/src` (`/api/…`, `/healthz`, `/readyz`) appears
//! with its method and nothing else does; every `$ref` and security scheme resolves; every path
//! parameter is declared; every operation has a described 2xx response. Anonymous callers get
//! the plain 404; any signed-in user gets the document.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The text of a balanced `( … )` starting at `s[0] == '('`, skipping string literals.
fn balanced(s: &str) -> &str {
    let (mut depth, mut in_str, mut esc) = (0, false, false);
    for (i, c) in s.char_indices() {
        match (in_str, c) {
            (true, '\\') if !esc => esc = true,
            (true, '"') if !esc => in_str = false,
            (true, _) => esc = false,
            (false, '"') => in_str = true,
            (false, '(') => depth += 1,
            (false, ')') => {
                depth -= 1;
                if depth == 0 {
                    return &s[1..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced .route(")
}

/// Every `(method, path)` registered with `.route("path", method(..).method(..))` in `api/src`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("api/src") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("read source");
            for (at, _) in text.match_indices(".route(") {
                let inner = balanced(&text[at + 6..]);
                let path = inner.split('"').nth(1).expect("route path literal");
                let rest = &inner[inner.find(',').expect("method router")..];
                for m in METHODS {
                    let call = format!("{m}(");
                    let calls = rest.match_indices(&call).filter(|(i, _)| {
                        rest[..*i]
                            .chars()
                            .last()
                            .is_none_or(|c| !c.is_alphanumeric() && c != '_')
                    });
                    if calls.count() > 0 {
                        out.insert((m.to_owned(), path.to_owned()));
                    }
                }
            }
        }
    }
    out
}

fn is_json_route(path: &str) -> bool {
    path.starts_with("/api/") || path == "/healthz" || path == "/readyz"
}

/// Every `$ref` in the document.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_covers_every_json_route_and_is_valid() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (status, _) = Client::new(&api.base, None).get("/api/openapi.json").await;
    assert_eq!(status, 404, "anonymous callers get the plain 404");
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (status, doc) = Client::new(&api.base, Some(&token))
        .get("/api/openapi.json")
        .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(
        doc,
        serde_json::to_value(paliadin_api::openapi::document()).unwrap()
    );

    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        doc["info"]["version"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    let source = routes_in_source();
    let json: BTreeSet<_> = source
        .iter()
        .filter(|(_, p)| is_json_route(p))
        .cloned()
        .collect();
    assert!(
        json.len() >= 10,
        "the source scan found too few routes: {json:?}"
    );
    assert!(json.contains(&("get".into(), "/api/admin/paliadin/stats".into())));
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            documented.insert((method.clone(), path.clone()));
            let ops = format!("{method} {path}");
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{ops}: responses"));
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{ops}: no 2xx response"
            );
            for (code, r) in responses {
                assert!(
                    r["description"].as_str().is_some(),
                    "{ops} {code}: description"
                );
            }
            let params: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            for seg in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            {
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == seg && p["in"] == "path" && p["required"] == true),
                    "{ops}: path parameter {seg} is not declared"
                );
            }
            for req in op["security"].as_array().into_iter().flatten() {
                for scheme in req.as_object().unwrap().keys() {
                    assert!(
                        doc["components"]["securitySchemes"][scheme].is_object(),
                        "{ops}: unknown security scheme {scheme}"
                    );
                }
            }
        }
    }
    let missing: Vec<_> = json.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "JSON routes missing from the OpenAPI document: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&source).collect();
    assert!(
        stale.is_empty(),
        "documented routes the router does not have: {stale:?}"
    );

    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {r}"
        );
    }
}

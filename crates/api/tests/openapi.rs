//! The OpenAPI document lists every route, and every route it lists is served.

mod common;

use std::collections::BTreeSet;

use common::Server;
use serde_json::Value;

/// Every (method, path) the API serves.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("get", "/api/v1/extensions"),
    ("post", "/api/v1/extensions"),
    ("get", "/api/v1/extensions/{number}"),
    ("patch", "/api/v1/extensions/{number}"),
    ("delete", "/api/v1/extensions/{number}"),
    ("get", "/api/v1/extensions/{number}/groups"),
    ("get", "/api/v1/queues"),
    ("post", "/api/v1/queues"),
    ("get", "/api/v1/queues/{name}"),
    ("patch", "/api/v1/queues/{name}"),
    ("delete", "/api/v1/queues/{name}"),
    ("put", "/api/v1/queues/{name}/members/{extension}"),
    ("delete", "/api/v1/queues/{name}/members/{extension}"),
    ("get", "/api/v1/queues/{name}/stats"),
    ("get", "/api/v1/agents"),
    ("put", "/api/v1/agents/{extension}/queues/{queue}"),
    ("delete", "/api/v1/agents/{extension}/queues/{queue}"),
    ("put", "/api/v1/agents/{extension}/pause"),
    ("delete", "/api/v1/agents/{extension}/pause"),
    ("get", "/api/v1/trunks"),
    ("post", "/api/v1/trunks"),
    ("get", "/api/v1/trunks/{name}"),
    ("delete", "/api/v1/trunks/{name}"),
    ("get", "/api/v1/groups"),
    ("post", "/api/v1/groups"),
    ("get", "/api/v1/groups/{name}"),
    ("delete", "/api/v1/groups/{name}"),
    ("get", "/api/v1/groups/{name}/members"),
    ("post", "/api/v1/groups/{name}/members"),
    ("put", "/api/v1/groups/{name}/notice"),
    ("delete", "/api/v1/groups/{name}/members/{extension}"),
    ("get", "/api/v1/supervisors"),
    ("get", "/api/v1/supervisors/{extension}"),
    ("put", "/api/v1/supervisors/{extension}"),
    ("delete", "/api/v1/supervisors/{extension}"),
    ("get", "/api/v1/rules"),
    ("post", "/api/v1/rules"),
    ("get", "/api/v1/rules/{id}"),
    ("delete", "/api/v1/rules/{id}"),
    ("get", "/api/v1/db"),
    ("get", "/api/v1/db/{family}/{key}"),
    ("put", "/api/v1/db/{family}/{key}"),
    ("delete", "/api/v1/db/{family}/{key}"),
    ("get", "/api/v1/calls"),
    ("post", "/api/v1/calls/{id}/monitor"),
    ("patch", "/api/v1/monitors/{id}"),
    ("delete", "/api/v1/monitors/{id}"),
    ("get", "/api/v1/conferences"),
    ("patch", "/api/v1/conferences/{room}/members/{channel}"),
    ("delete", "/api/v1/conferences/{room}/members/{channel}"),
    ("get", "/api/v1/security/lockouts"),
    ("get", "/api/v1/security/lockouts/history"),
    ("delete", "/api/v1/security/lockouts/{id}"),
    ("get", "/metrics"),
    ("get", "/api/v1/cdr"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/recordings"),
    ("get", "/api/v1/recordings/{id}"),
    ("delete", "/api/v1/recordings/{id}"),
    ("get", "/api/v1/recordings/{id}/tracks/{track}"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/dialplan/reload"),
    ("post", "/console/session"),
    ("get", "/console/session"),
    ("delete", "/console/session"),
];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn document_lists_every_route_and_the_server_serves_each() {
    let s = Server::start().await;
    let doc = s.call("GET", "/openapi.json", None, None).await;
    let doc = doc.expect(200).clone();
    let want: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented(&doc), want);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]
    );
    assert_eq!(
        doc["paths"]["/health"]["get"]["security"],
        serde_json::json!([{}])
    );
    let desc = doc["paths"]["/api/v1/calls/{id}/monitor"]["post"]["description"]
        .as_str()
        .unwrap();
    assert!(desc.contains("rings the supervisor"), "{desc}");
    let wav = &doc["paths"]["/api/v1/recordings/{id}/tracks/{track}"]["get"]["responses"]["200"];
    assert!(wav["content"]["audio/wav"].is_object(), "{wav}");
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(!info.contains("not implemented"), "{info}");

    // Each documented operation reaches a handler: never the JSON 404/405 fallbacks.
    for (method, path) in &want {
        let concrete = path
            .replace("{number}", "201")
            .replace("{extension}", "201")
            .replace("{name}", "nope")
            .replace("{id}", "1")
            .replace("{family}", "F")
            .replace("{key}", "K")
            .replace("{track}", "mixed");
        let body = matches!(method.as_str(), "post" | "put" | "patch").then_some("{}");
        let r = s
            .call(&method.to_uppercase(), &concrete, Some(&s.admin), body)
            .await;
        assert_ne!(r.status, 405, "{method} {concrete}: {}", r.body);
        let fallback = r.body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no such resource"));
        assert!(!fallback, "{method} {concrete} is not routed: {}", r.body);
    }
    s.stop().await;
}

#[test]
fn document_is_available_without_a_server() {
    let doc = serde_json::to_value(api::openapi()).unwrap();
    assert!(doc["paths"]["/api/v1/events"]["get"].is_object());
    assert!(doc["info"]["description"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
}

#[test]
#[ignore]
fn print_document() {
    println!("{}", serde_json::to_string_pretty(&api::openapi()).unwrap());
}
